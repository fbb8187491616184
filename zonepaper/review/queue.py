"""The review queue, without the web: who may see which item, claims with leases, and
versioned decisions, each one an event in the hash-chained log.

An item is one field in `review`. A reviewer claims an item for LEASE_SECONDS; nobody else
is shown it while the claim holds. A decision names the version it was made on; if the
field changed meanwhile (another decision, another tab) it is refused, so no decision is
applied twice or lost silently. The caller runs these functions on the single writer
connection (see review/writer.py).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field

from zonepaper.fields import REPLY_FIELDS, REVIEW_ORDER
from zonepaper.layout import Layout
from zonepaper.review.values import BadValue, field_kind, normalize_value
from zonepaper.store.database import write_transaction
from zonepaper.store.freeze import ensure_not_frozen
from zonepaper.store.records import settle_application
from zonepaper.store.state import record_application_event
from zonepaper.zone import Zone

LEASE_SECONDS = 120.0
BATCH_SIZE = 20
ROLES = ("reviewer", "coordinator", "auditor", "station")  # station: only sends scans (scan send)
# Order of work (the schema's): fields that decide the draw first, then the rest.
ORDER_SQL = "CASE f.name " + " ".join(f"WHEN '{n}' THEN {i}" for i, n in enumerate(REVIEW_ORDER)) + " ELSE 99 END"


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    language: str = "es"

    @property
    def may_decide(self) -> bool:
        return self.role in ("reviewer", "coordinator")

    @property
    def is_coordinator(self) -> bool:
        return self.role == "coordinator"

    @property
    def is_station(self) -> bool:
        """A scanning station's account: it sends scans and sees no family's data."""
        return self.role == "station"

    @property
    def may_upload(self) -> bool:
        """Whether this account may send scanned files to the cycle (`zonepaper scan send`)."""
        return self.role in ("station", "coordinator")


@dataclass(frozen=True)
class Item:
    """One field to look at: what the machine read, why it is unsure, where it is on the page."""

    id: int
    serial: str
    name: str
    value: str
    status: str
    version: int
    illegible: bool
    reasons: tuple[str, ...]
    page_id: int | None
    box: tuple[int, int, int, int] | None
    votes: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return field_kind(self.name)


class QueueError(Exception):
    """A decision that cannot be applied: key under [web.error] (conflict, not_yours, forbidden, gone)."""

    def __init__(self, key: str, bad: BadValue | None = None, item: int | None = None,
                 others: tuple[tuple[int, BadValue], ...] = ()) -> None:
        super().__init__(key)
        self.key, self.bad, self.item = key, bad, item
        self.others = others  # (item, reason) of every value refused in the same batch


ITEM_COLUMNS = ("f.rowid, f.serial, f.name, f.value, f.status, f.version, f.illegible, f.reasons, f.page_id, "
                "f.box, f.votes")


def _item(row: tuple) -> Item:
    rowid, serial, name, value, status, version, illegible, reasons, page_id, box, votes = row
    return Item(rowid, serial, name, value or "", status, version, bool(illegible), tuple(json.loads(reasons or "[]")),
                page_id, tuple(json.loads(box)) if box else None, json.loads(votes or "{}"))


def key(item_id: int) -> str:
    return f"f:{item_id}"


def get_item(conn: sqlite3.Connection, item_id: int) -> Item | None:
    row = conn.execute(f"SELECT {ITEM_COLUMNS} FROM fields f WHERE f.rowid = ?", (item_id,)).fetchone()
    return _item(row) if row else None


def _open_items_sql(user: User, field_name: str | None, skipped: bool = False) -> tuple[str, list]:
    """Items this user may be shown now: in review, not claimed by another, not skipped by them (with
    skipped=True: only those they skipped, which come back after the rest). Items marked illegible
    wait for a coordinator."""
    sql = (f"SELECT {ITEM_COLUMNS} FROM fields f WHERE f.status = 'review' "
           "AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.item = 'f:' || f.rowid) "
           f"AND {'' if skipped else 'NOT '}EXISTS (SELECT 1 FROM skips s WHERE s.item = 'f:' || f.rowid "
           "AND s.user_id = ?) ")
    params: list = [user.id]
    if not user.is_coordinator:
        sql += "AND f.illegible = 0 "
    if field_name:
        sql += "AND f.name = ? "
        params.append(field_name)
    order = "f.illegible DESC, " if user.is_coordinator else ""
    return sql + f"ORDER BY {order}{ORDER_SQL}, f.serial", params


def _held_by(conn: sqlite3.Connection, user: User, field_name: str | None, limit: int) -> list[Item]:
    sql = (f"SELECT {ITEM_COLUMNS} FROM fields f JOIN claims c ON c.item = 'f:' || f.rowid "
           "WHERE c.user_id = ? AND f.status IN ('review', 'confirmed') ")
    params: list = [user.id]
    if field_name:
        sql += "AND f.name = ? "
        params.append(field_name)
    return [_item(r) for r in conn.execute(sql + f"ORDER BY {ORDER_SQL}, f.serial LIMIT ?", (*params, limit))]


SEES_ALL = ("coordinator", "auditor")
_DECIDED_BY = ("SELECT 1 FROM events WHERE actor = ? AND kind IN ('review.decided', 'review.illegible') "
               "AND json_extract(payload, '$.item') = {item}")


def _holder(conn: sqlite3.Connection, item_id: int) -> tuple[int, float] | None:
    """(user id, lease end) of the claim on an item, or None."""
    return conn.execute("SELECT user_id, expires_at FROM claims WHERE item = ?", (key(item_id),)).fetchone()


def _another_holds(holder: tuple[int, float] | None, user: User, now: float) -> bool:
    return bool(holder) and holder[0] != user.id and holder[1] >= now


def _claim(conn: sqlite3.Connection, user: User, item_ids: list[int], now: float) -> None:
    """These items are this user's for a lease from now (a new claim, or one renewed)."""
    conn.executemany("INSERT OR REPLACE INTO claims (item, user_id, expires_at) VALUES (?, ?, ?)",
                     [(key(i), user.id, now + LEASE_SECONDS) for i in item_ids])


def _expire(conn: sqlite3.Connection, now: float) -> None:
    conn.execute("DELETE FROM claims WHERE expires_at < ?", (now,))


def claim_items(conn: sqlite3.Connection, user: User, field_name: str | None = None, size: int = 1,
                now: float | None = None) -> list[Item]:
    """Claim up to `size` items for this user (what they already hold first) and return them."""
    if not user.may_decide:
        raise QueueError("forbidden")
    now = time.time() if now is None else now
    with write_transaction(conn):
        _expire(conn, now)
        items = _held_by(conn, user, field_name, size)
        for skipped in (False, True):  # what they skipped comes back to them once the rest is done
            if len(items) < size:
                sql, params = _open_items_sql(user, field_name, skipped)
                items += [_item(r) for r in conn.execute(sql + " LIMIT ?", (*params, size - len(items)))]
        _claim(conn, user, [i.id for i in items], now)
    return items


def next_item(conn: sqlite3.Connection, user: User, field_name: str | None = None,
              now: float | None = None) -> Item | None:
    """The item this user should look at now (claimed for them), or None when the queue is empty for them."""
    items = claim_items(conn, user, field_name, 1, now)
    return items[0] if items else None


@dataclass(frozen=True)
class Decision:
    item_id: int
    version: int
    action: str  # accept | illegible | skip | as_written (a coordinator: "the form really says this")
    value: str | None = None  # what was typed; None keeps the machine's guess


def decide(conn: sqlite3.Connection, user: User, decision: Decision, zone: Zone, layout: Layout,
           now: float | None = None) -> Item:
    """Apply one decision; returns the item as it is now."""
    return decide_many(conn, user, [decision], zone, layout, now)[0]


def decide_many(conn: sqlite3.Connection, user: User, decisions: list[Decision], zone: Zone, layout: Layout,
                now: float | None = None) -> list[Item]:
    """Apply several decisions in one transaction: all of them, or (on any problem) none."""
    if not user.may_decide:
        raise QueueError("forbidden")
    now = time.time() if now is None else now
    with write_transaction(conn):
        items = [get_item(conn, d.item_id) for d in decisions]
        if not all(i is not None and i.name in REPLY_FIELDS for i in items):
            ensure_not_frozen(conn)  # answers to the letters come after the draw; the draw's inputs do not change
        stored, refused = {}, []
        for d, item in zip(decisions, items):  # the values to store; every one that cannot be, said at once
            if item is not None and d.action in ("accept", "as_written"):
                try:
                    stored[d.item_id] = normalize_value(item.name, item.value if d.value is None else d.value,
                                                        zone, layout, as_written=d.action == "as_written")
                except BadValue as bad:
                    refused.append((d.item_id, bad))
        if refused:
            raise QueueError("bad_value", refused[0][1], item=refused[0][0], others=tuple(refused))
        return [_apply(conn, user, d, stored.get(d.item_id), now) for d in decisions]


def _apply(conn: sqlite3.Connection, user: User, d: Decision, value: str | None, now: float) -> Item:
    """One decision; `value` is what an accept stores (normalized by decide_many)."""
    item = get_item(conn, d.item_id)
    if item is None or item.status == "auto":
        raise QueueError("gone", item=d.item_id)
    holder = _holder(conn, item.id)
    if _another_holds(holder, user, now):
        raise QueueError("not_yours", item=d.item_id)
    if item.version != d.version:
        raise QueueError("conflict", item=d.item_id)
    if item.status == "confirmed" and not holder:
        raise QueueError("conflict", item=d.item_id)  # reopening a decided item goes through reopen()
    if item.illegible and not user.is_coordinator and d.action != "skip":
        raise QueueError("forbidden", item=d.item_id)
    conn.execute("DELETE FROM claims WHERE item = ?", (key(item.id),))
    if d.action == "skip":
        conn.execute("INSERT OR IGNORE INTO skips (item, user_id) VALUES (?, ?)", (key(item.id), user.id))
        return item
    if d.action == "illegible":
        new_value, new_status, illegible = item.value, "review", 1
    elif d.action in ("accept", "as_written") and value is not None:
        if d.action == "as_written" and not user.is_coordinator:
            raise QueueError("forbidden", item=d.item_id)
        new_value, new_status, illegible = value, "confirmed", 0
    else:
        raise QueueError("bad_action", item=d.item_id)
    changed = conn.execute(
        "UPDATE fields SET value = ?, status = ?, illegible = ?, version = version + 1 "
        "WHERE rowid = ? AND version = ?", (new_value, new_status, illegible, item.id, item.version)).rowcount
    if changed != 1:
        raise QueueError("conflict", item=d.item_id)
    conn.execute("DELETE FROM skips WHERE item = ?", (key(item.id),))
    settle_application(conn, item.serial)
    record_application_event(conn, user.name, "review.illegible" if d.action == "illegible" else "review.decided",
                             item.serial, {"item": item.id, "field": item.name, "old": item.value,
                                           "new": new_value, "old_status": item.status, "new_status": new_status,
                                           "changed": new_value != item.value,
                                           "as_written": d.action == "as_written"})
    return get_item(conn, item.id)  # type: ignore[return-value]


def reopen_last(conn: sqlite3.Connection, user: User, before: int | None = None,
                now: float | None = None) -> Item | None:
    """Go back: the item this user decided last (before event id `before`), claimed again to change it."""
    if not user.may_decide:
        raise QueueError("forbidden")
    now = time.time() if now is None else now
    sql = "SELECT id, payload FROM events WHERE actor = ? AND kind IN ('review.decided', 'review.illegible') "
    params: list = [user.name]
    if before:
        sql += "AND id < ? "
        params.append(before)
    with write_transaction(conn):
        for _event_id, payload in conn.execute(sql + "ORDER BY id DESC LIMIT 20", params).fetchall():
            item = get_item(conn, json.loads(payload)["item"])
            if item is None or item.status == "auto":
                continue
            if _another_holds(_holder(conn, item.id), user, now):
                continue
            _claim(conn, user, [item.id], now)
            return item
    return None


def renew_claims(conn: sqlite3.Connection, user: User, item_ids: list[int], now: float | None = None) -> list[int]:
    """A page still open and in use keeps its items: their leases start again. Returns the ids this user
    no longer holds (another reviewer took them after a lease ran out)."""
    now = time.time() if now is None else now
    lost = []
    with write_transaction(conn):
        for item_id in item_ids:
            row, item = _holder(conn, item_id), get_item(conn, item_id)
            if _another_holds(row, user, now) or item is None or item.status == "auto":
                lost.append(item_id)
            elif row or item.status == "review":  # still theirs, or free again: held on
                _claim(conn, user, [item_id], now)
    return lost


def reopen(conn: sqlite3.Connection, user: User, item_id: int, now: float | None = None) -> Item:
    """Open one field again, claimed for this user: one they decided (any of their recent decisions), or
    for a coordinator any field, also one the machine accepted on its own (a family called to correct a
    name). A field accepted on its own goes back to review, recorded as an event."""
    if not user.may_decide:
        raise QueueError("forbidden")
    now = time.time() if now is None else now
    with write_transaction(conn):
        item = get_item(conn, item_id)
        if item is None:
            raise QueueError("gone", item=item_id)
        mine = conn.execute(_DECIDED_BY.format(item="?"), (user.name, item_id)).fetchone()
        if not (mine or user.is_coordinator):
            raise QueueError("forbidden", item=item_id)
        if _another_holds(_holder(conn, item_id), user, now):
            raise QueueError("not_yours", item=item_id)
        if item.status == "auto":
            ensure_not_frozen(conn)
            conn.execute("UPDATE fields SET status = 'review', reasons = ?, version = version + 1 WHERE rowid = ?",
                         (json.dumps(["reopened"]), item_id))
            settle_application(conn, item.serial)
            record_application_event(conn, user.name, "review.reopened", item.serial,
                                     {"item": item_id, "field": item.name, "value": item.value})
        _claim(conn, user, [item_id], now)
        return get_item(conn, item_id)  # type: ignore[return-value]


def recent_decisions(conn: sqlite3.Connection, user: User, limit: int = 10) -> list[tuple[int, Item]]:
    """(event id, the item as it is now) of this user's last decisions, newest first, one per item."""
    out, seen = [], set()
    for event_id, payload in conn.execute("SELECT id, payload FROM events WHERE actor = ? AND kind IN "
                                          "('review.decided', 'review.illegible') ORDER BY id DESC LIMIT ?",
                                          (user.name, limit * 3)):
        item_id = json.loads(payload)["item"]
        item = get_item(conn, item_id)
        if item is not None and item_id not in seen:
            seen.add(item_id)
            out.append((event_id, item))
    return out[:limit]


def waiting_on_people(conn: sqlite3.Connection) -> list[tuple[str, str, Item]]:
    """('skipped' or 'illegible', by whom, the item) for every field in review that a person set aside."""
    out = []
    for item_key, name in conn.execute("SELECT s.item, u.name FROM skips s JOIN users u ON u.id = s.user_id "
                                       "ORDER BY u.name, s.item"):
        item = get_item(conn, int(item_key.split(":", 1)[1]))
        if item is not None and item.status == "review":
            out.append(("skipped", name, item))
    for (payload_actor, rowid) in conn.execute(
            "SELECT (SELECT actor FROM events e WHERE e.kind = 'review.illegible' AND json_extract(e.payload, "
            "'$.item') = f.rowid ORDER BY e.id DESC LIMIT 1), f.rowid FROM fields f "
            "WHERE f.status = 'review' AND f.illegible = 1 ORDER BY f.serial"):
        out.append(("illegible", payload_actor or "zonepaper", get_item(conn, rowid)))
    return out


def may_see_item(conn: sqlite3.Connection, user: User, item_id: int, now: float | None = None) -> bool:
    """A field's crop: coordinators and auditors see every one; a reviewer those they hold or decided."""
    if user.role in SEES_ALL:
        return True
    now = time.time() if now is None else now
    held = conn.execute("SELECT 1 FROM claims WHERE item = ? AND user_id = ? AND expires_at >= ?",
                        (key(item_id), user.id, now)).fetchone()
    return bool(held or conn.execute(_DECIDED_BY.format(item="?"), (user.name, item_id)).fetchone())


def may_see_page(conn: sqlite3.Connection, user: User, page_id: int, now: float | None = None) -> bool:
    """A whole page: coordinators and auditors see every one (quarantined and blank pages too); a reviewer
    only a form's page holding a field they hold or decided (ids are sequential: never any other)."""
    if user.role in SEES_ALL:
        return True
    kind = conn.execute("SELECT kind FROM pages WHERE id = ?", (page_id,)).fetchone()
    if kind is None or kind[0] not in ("front", "back", "reply"):
        return False
    now = time.time() if now is None else now
    return bool(conn.execute(
        "SELECT 1 FROM fields f WHERE f.page_id = ? AND (EXISTS (SELECT 1 FROM claims c WHERE c.item = 'f:' || "
        "f.rowid AND c.user_id = ? AND c.expires_at >= ?) OR EXISTS (" + _DECIDED_BY.format(item="f.rowid") + "))",
        (page_id, user.id, now, user.name)).fetchone())


def release_claims(conn: sqlite3.Connection, user: User) -> None:
    """Give back everything this user holds (logout)."""
    with write_transaction(conn):
        conn.execute("DELETE FROM claims WHERE user_id = ?", (user.id,))


def field_counts(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Per field name: how many are in review, illegible, confirmed and auto."""
    out: dict[str, dict[str, int]] = {}
    for name, status, illegible, n in conn.execute(
            "SELECT name, status, illegible, count(*) FROM fields GROUP BY name, status, illegible"):
        bucket = out.setdefault(name, {"review": 0, "illegible": 0, "confirmed": 0, "auto": 0})
        bucket["illegible" if illegible and status == "review" else status] += n
    return out
