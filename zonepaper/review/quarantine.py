"""Resolving quarantined pages (coordinators only), without the web.

What a coordinator can do depends on why the page was set aside:

* any page: `not_a_form` (it is kept, and counted, but is no application);
* corners not found or the file unreadable: `rescan` (noted; the new scan is ingested as usual);
* code unreadable or its check digit wrong: `serial` with the number typed from the sheet;
  the page is then read like any form, or, when that number was already received, it becomes a
  second sheet of that form (below) and waits beside the first;
* a second sheet with a serial already received: `keep_first` (this one is a copy),
  `use_this` (this sheet replaces the first one's reading) or `both` (two different
  applicants who used copies of one form: this one gets a new serial of its own);
* another cycle's form, a code that does not match, a number never printed: `accept` with a
  reason; the sheet is read and gets a new serial of this cycle;
* a form that came while the draw's inputs were frozen: `read` it once the freeze is lifted;
* a second reply slip for one letter: `keep_first`; a slip for no known application: set aside;
* a confirmation letter's correction slip: the coordinator corrects the fields it names from the
  whole-form view (each one an event), then says `corrected` or `nothing_to_change`.

Reading a page is slow work and is done before the write (see `read_stored_page`); the
resolution itself is one transaction and one event.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from zonepaper.review.queue import QueueError, User
from zonepaper.scan.page import FieldResult, ReadContext, read_fields, stored_aligned
from zonepaper.serial import is_valid_serial, normalize_serial
from zonepaper.store.database import write_transaction
from zonepaper.store.events import append_event
from zonepaper.store.freeze import ensure_not_frozen
from zonepaper.store.records import create_read_application, hold_duplicate, settled_status
from zonepaper.store.serials import reserve_serials
from zonepaper.store.state import record_application_event

ALIGNED_REASONS = ("serial_unreadable", "bad_check_digit", "other_cycle", "bad_tag", "not_issued", "duplicate",
                   "after_freeze")
ACTIONS = {
    "unreadable_file": ("rescan", "not_a_form"),
    "page_too_large": ("rescan", "not_a_form"),
    "markers_not_found": ("rescan", "not_a_form"),
    "not_a_form": ("not_a_form", "rescan"),
    "read_error": ("rescan", "not_a_form"),
    "serial_unreadable": ("serial", "rescan", "not_a_form"),
    "bad_check_digit": ("serial", "rescan", "not_a_form"),
    "duplicate": ("keep_first", "use_this", "both", "not_a_form"),
    "other_cycle": ("accept", "not_a_form"),
    "bad_tag": ("accept", "not_a_form"),
    "not_issued": ("accept", "serial", "not_a_form"),
    "after_freeze": ("read", "not_a_form"),
    "duplicate_reply": ("keep_first", "not_a_form"),
    "reply_unknown": ("not_a_form", "rescan"),
    "correction_slip": ("corrected", "nothing_to_change", "not_a_form"),
    "correction_unknown": ("not_a_form", "rescan"),
}
WITH_FORM = ("duplicate", "correction_slip")  # shown beside the first sheet with its number
NEEDS_READING = ("serial", "use_this", "both", "accept", "read")


@dataclass(frozen=True)
class QuarantinedPage:
    id: int
    reason: str
    serial: str | None
    file_name: str
    page_number: int
    image: str | None  # the stored page image, relative to the cycle folder
    resolution: dict | None

    @property
    def actions(self) -> tuple[str, ...]:
        return ACTIONS.get(self.reason, ("rescan", "not_a_form"))

    @property
    def has_image(self) -> bool:
        return bool(self.image)

    @property
    def aligned(self) -> bool:
        """Its stored image is the page warped onto the form's grid, so its fields can be read."""
        return bool(self.image) and self.reason in ALIGNED_REASONS


def _page(row: tuple) -> QuarantinedPage:
    id_, reason, serial, name, index, image, resolution = row
    return QuarantinedPage(id_, reason or "read_error", serial, name, index + 1, image,
                           json.loads(resolution) if resolution else None)


PAGE_SQL = ("SELECT p.id, p.reason, p.serial, f.original_name, p.page_index, p.image, p.resolution "
            "FROM pages p JOIN files f ON f.sha256 = p.file_sha256 WHERE p.kind = 'quarantined' ")


def quarantined_pages(conn: sqlite3.Connection, open_only: bool = True) -> list[QuarantinedPage]:
    """Quarantined pages in the order they came in (unresolved ones only, unless told otherwise)."""
    sql = PAGE_SQL + ("AND p.resolution IS NULL " if open_only else "") + "ORDER BY p.id"
    return [_page(r) for r in conn.execute(sql)]


def get_page(conn: sqlite3.Connection, page_id: int) -> QuarantinedPage | None:
    row = conn.execute(PAGE_SQL + "AND p.id = ?", (page_id,)).fetchone()
    return _page(row) if row else None


def read_stored_page(root: Path, image: str, ctx: ReadContext) -> tuple[FieldResult, ...]:
    """Read the fields of a stored aligned page again (for a serial typed by a person, or a copy kept)."""
    return read_fields(stored_aligned((root / image).read_bytes(), ctx.layout), ctx)


def reading_for(root: Path, page: QuarantinedPage, action: str, ctx: ReadContext) -> tuple[FieldResult, ...] | None:
    """The page's fields when the action makes an application of it (the slow part: do it off the writer)."""
    if action not in NEEDS_READING or not page.aligned:
        return None
    return read_stored_page(root, page.image or "", ctx)


@dataclass(frozen=True)
class Resolution:
    page_id: int
    action: str
    serial: str | None = None  # typed by the coordinator (action "serial")
    reason: str = ""  # why (required for "accept" and "both")


def resolve(conn: sqlite3.Connection, user: User, r: Resolution, fields: tuple[FieldResult, ...] | None = None,
            received: str | None = None) -> dict:
    """Apply a coordinator's resolution in one transaction; returns what was recorded."""
    if not user.is_coordinator:
        raise QueueError("forbidden")
    with write_transaction(conn):
        ensure_not_frozen(conn)
        page = get_page(conn, r.page_id)
        if page is None:
            raise QueueError("gone")
        if page.resolution is not None:
            raise QueueError("conflict")
        if r.action not in page.actions:
            raise QueueError("bad_action")
        if r.action in NEEDS_READING and (fields is None or not page.aligned):
            raise QueueError("no_image")
        if r.action in ("accept", "both") and not r.reason.strip():
            raise QueueError("reason_needed")
        if received is None:
            received = conn.execute("SELECT f.received_batch FROM pages p JOIN files f ON f.sha256 = p.file_sha256 "
                                    "WHERE p.id = ?", (page.id,)).fetchone()[0]
        outcome = {"action": r.action, "by": user.name, "reason": r.reason.strip()[:300]}
        if r.action in ("serial", "read"):  # read: a form that came after a freeze, now lifted
            serial = normalize_serial(r.serial or "") if r.action == "serial" else (page.serial or "")
            if not is_valid_serial(serial):
                raise QueueError("bad_serial")
            if not conn.execute("SELECT 1 FROM serials WHERE serial = ?", (serial,)).fetchone():
                raise QueueError("serial_not_issued")
            if conn.execute("SELECT 1 FROM applications WHERE serial = ?", (serial,)).fetchone():
                return _now_a_duplicate(conn, user, page, serial)
            create_read_application(conn, serial, fields or (), page.id, received, user.name,
                                    note={"resolved": "serial_typed" if r.action == "serial" else "read_after_freeze"})
            outcome["serial"] = serial
        elif r.action in ("accept", "both"):
            _, (serial,) = reserve_serials(conn, 1, f"quarantine page {page.id}", "none", user.name, status="printed")
            flags = (f"copy_of:{page.serial}",) if r.action == "both" else (f"accepted:{page.reason}",)
            create_read_application(conn, serial, fields or (), page.id, received, user.name, flags=flags,
                                    note={"resolved": r.action, "reason": outcome["reason"]})
            outcome["serial"] = serial
        elif r.action == "use_this":
            _replace_fields(conn, page.serial or "", fields or (), page.id)
            _release_hold(conn, page.serial or "", page.id)
        if page.reason == "duplicate" and r.action != "use_this":
            _release_hold(conn, page.serial or "", page.id)
        conn.execute("UPDATE pages SET resolution = ? WHERE id = ?", (json.dumps(outcome), page.id))
        if page.reason in WITH_FORM and page.serial:
            record_application_event(conn, user.name, "quarantine.resolved", page.serial,
                                     {"page": page.id, **outcome})
        else:
            append_event(conn, user.name, "quarantine.resolved", {"page": page.id, **outcome},
                         subject=f"page:{page.id}")
    return outcome


def _now_a_duplicate(conn: sqlite3.Connection, user: User, page: QuarantinedPage, serial: str) -> dict:
    """The number on the sheet is one already received: the page is a second sheet of that form. It waits
    beside the first, for the coordinator to say which counts (as a duplicate found while scanning)."""
    conn.execute("UPDATE pages SET reason = 'duplicate', serial = ?, detail = ? WHERE id = ?",
                 (serial, serial, page.id))
    hold_duplicate(conn, serial, page.id, user.name)
    append_event(conn, user.name, "quarantine.now_duplicate", {"page": page.id, "serial": serial, "was": page.reason},
                 subject=f"page:{page.id}")
    return {"action": "now_duplicate", "by": user.name, "serial": serial}


def _replace_fields(conn: sqlite3.Connection, serial: str, fields: tuple[FieldResult, ...], page_id: int) -> None:
    """The application's reading now comes from this sheet (every field, its status and votes)."""
    for f in fields:
        conn.execute("UPDATE fields SET value = ?, status = ?, confidence = ?, votes = ?, reasons = ?, page_id = ?, "
                     "box = ?, illegible = 0, version = version + 1 WHERE serial = ? AND name = ?",
                     (f.value, f.status, f.confidence, json.dumps(f.votes, sort_keys=True), json.dumps(list(f.reasons)),
                      page_id, json.dumps(list(f.box)), serial, f.name))


def _release_hold(conn: sqlite3.Connection, serial: str, resolving: int) -> None:
    """A duplicate checked by a person: the application is no longer held (unless another copy still waits)."""
    row = conn.execute("SELECT flags FROM applications WHERE serial = ? AND status = 'held'", (serial,)).fetchone()
    waiting = conn.execute("SELECT count(*) FROM pages WHERE serial = ? AND kind = 'quarantined' AND reason = "
                           "'duplicate' AND resolution IS NULL AND id != ?", (serial, resolving)).fetchone()[0]
    if row is None or waiting:
        return
    flags = [f for f in json.loads(row[0]) if f != "duplicate"] + ["duplicate_checked"]
    conn.execute("UPDATE applications SET status = ?, flags = ?, version = version + 1 WHERE serial = ?",
                 (settled_status(conn, serial), json.dumps(flags), serial))
