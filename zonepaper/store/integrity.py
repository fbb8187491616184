"""Whether the database is what the event log says it is: the check behind `zonepaper verify`,
and the guard every draw, print and waitlist step runs first.

The event log is hash-chained (store/events.py). What the draw, the letters and the offers read
is covered by it:

* each application's rows, by the state digest its events record (store/state.py);
* the tables below, by a digest of each that every event changing them records under "covers":
  the cycle's secret, the issued serials (batches, serials, what each batch's marks mean), the
  freezes, the draws with their results, the offers and withdrawals.

A table whose rows differ from its last recorded digest was changed behind the tool's back. The
tail of the log is checked too: SQLite's counter of event ids remembers the last id ever given,
so a deleted last event shows, and the append-only guard must still be in place. The chain head
(the last event's hash) is printed on every receipt and report: `verify --head` checks the log
against one of those printed values, so a log recomputed from start to end is found as well.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Iterable

from zonepaper.errors import ConflictError
from zonepaper.store.events import GENESIS, append_event, find_broken_events
from zonepaper.store.state import changed_applications

# What each covered table's digest is over; columns that only say where a file was written while
# it was being made (batches.output, batches.owner, freezes.receipt) are left out.
COVERED: dict[str, tuple[str, ...]] = {
    "secret": ("SELECT key, value FROM cycle_info WHERE key IN ('cycle_id', 'secret') ORDER BY key",),
    "serials": ("SELECT id, label, paper, count, status FROM batches ORDER BY id",
                "SELECT serial, number, batch_id FROM serials ORDER BY number",
                "SELECT batch_id, grid FROM printed_grids ORDER BY batch_id"),
    "uploads": ("SELECT sha256, name, size, received, user_id, status FROM uploads ORDER BY sha256",),  # unread ones stop a freeze
    "freezes": ("SELECT id, status, input_digest, inputs, mechanism, unreviewed_reason, unfreeze_reason, created_at "
                "FROM freezes ORDER BY id",),
    "draws": ("SELECT id, freeze_id, status, sources, key_string, entropy_bits, result_digest, bundle, "
              "supersede_reason, created_at FROM draws ORDER BY id",
              "SELECT draw_id, serial, grade, lottery, assigned, rank, reason, waitlist FROM draw_results "
              "ORDER BY draw_id, serial"),
    "offers": ("SELECT id, draw_id, serial, program, position, status, created_at, answered_at, letter FROM offers "
               "ORDER BY id",
               "SELECT draw_id, serial, reason, created_at FROM withdrawals ORDER BY draw_id, serial"),
}
GUARDS = ("events_append_only_update", "events_append_only_delete")


def table_digest(conn: sqlite3.Connection, table: str) -> str:
    """SHA-256 over the covered rows of one table group (canonical JSON, one line per row)."""
    h = hashlib.sha256()
    for sql in COVERED[table]:
        h.update(b"\x1e")
        for row in conn.execute(sql):
            h.update(json.dumps(list(row), ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
    return h.hexdigest()


def record_event(conn: sqlite3.Connection, actor: str, kind: str, payload: dict[str, Any], subject: str | None,
                 covers: Iterable[str]) -> int:
    """Append an event that changed these tables, with each one's digest after the change."""
    payload = {**payload, "covers": {t: table_digest(conn, t) for t in covers}}
    return append_event(conn, actor, kind, payload, subject=subject)


def record_all(conn: sqlite3.Connection, actor: str, kind: str, payload: dict[str, Any]) -> int:
    """An event vouching for every covered table as it is now (a new cycle; an older cycle brought up to date)."""
    return record_event(conn, actor, kind, payload, "cycle", COVERED)


def changed_tables(conn: sqlite3.Connection, tables: Iterable[str] = tuple(COVERED)) -> list[tuple[str, str]]:
    """(table, 'changed' or 'not_in_log') for each covered table that is not what the log last recorded."""
    recorded: dict[str, str] = {}
    for (payload,) in conn.execute("SELECT payload FROM events WHERE payload LIKE '%\"covers\":%' ORDER BY id"):
        recorded.update(json.loads(payload).get("covers") or {})
    problems = []
    for table in tables:
        now = table_digest(conn, table)
        if table in recorded:
            if now != recorded[table]:
                problems.append((table, "changed"))
        elif now != _empty_digest(table):
            problems.append((table, "not_in_log"))
    return problems


def _empty_digest(table: str) -> str:
    """A group's digest when all its tables are empty."""
    return hashlib.sha256(b"\x1e" * len(COVERED[table])).hexdigest()


def log_tail_problems(conn: sqlite3.Connection) -> list[tuple[str, dict]]:
    """The tail of the log cut (ids were given that no event holds now) or its append-only guard removed."""
    problems: list[tuple[str, dict]] = []
    last = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    given = row[0] if row else 0
    if given > last:
        problems.append(("tail_cut", {"missing": given - last, "given": given, "last": last}))
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    if not set(GUARDS) <= present:
        problems.append(("guard_removed", {}))
    return problems


def chain_head(conn: sqlite3.Connection) -> tuple[int, str]:
    """(number of events, hash of the last one): the value printed on receipts and reports."""
    row = conn.execute("SELECT COUNT(*), (SELECT hash FROM events ORDER BY id DESC LIMIT 1) FROM events").fetchone()
    return int(row[0]), row[1] or GENESIS


def grouped(digest: str) -> str:
    """A 64-digit hex value in groups of 8, as it is printed for people to compare."""
    return " ".join(digest[i: i + 8] for i in range(0, len(digest), 8))


def find_head(conn: sqlite3.Connection, head: str) -> tuple[int, int] | None:
    """(event id, events after it) of the event whose hash is this printed head, or None if no event has it."""
    wanted = "".join(head.split()).lower()
    row = conn.execute("SELECT id FROM events WHERE hash = ?", (wanted,)).fetchone()
    if row is None:
        return None
    after = conn.execute("SELECT COUNT(*) FROM events WHERE id > ?", (row[0],)).fetchone()[0]
    return int(row[0]), int(after)


@dataclass
class Findings:
    """Everything `zonepaper verify` finds; empty when the database is what the log says."""

    broken_events: list[int] = field(default_factory=list)
    applications: list[tuple[str, str]] = field(default_factory=list)  # (serial, problem)
    tables: list[tuple[str, str]] = field(default_factory=list)  # (table, problem)
    log: list[tuple[str, dict]] = field(default_factory=list)  # (problem, params)
    other: list[tuple[str, dict]] = field(default_factory=list)  # (message key, params), from later stages

    @property
    def count(self) -> int:
        return len(self.broken_events) + len(self.applications) + len(self.tables) + len(self.log) + len(self.other)


def check_store(conn: sqlite3.Connection) -> Findings:
    """The checks the store can make on its own."""
    return Findings(find_broken_events(conn), changed_applications(conn), changed_tables(conn),
                    log_tail_problems(conn))


def refuse_if_tables_changed(conn: sqlite3.Connection, tables: Iterable[str]) -> None:
    """Before a command records a new digest of these tables: they are still what the log last recorded
    (otherwise the new digest would vouch for a change made behind the tool's back)."""
    changed = changed_tables(conn, tables)
    if changed:
        raise ConflictError("store.tampered", count=len(changed))


def refuse_if_tampered(conn: sqlite3.Connection, findings: Findings | None = None) -> None:
    """Nothing is drawn, printed or offered on data `zonepaper verify` would flag."""
    findings = findings if findings is not None else check_store(conn)
    if findings.count:
        raise ConflictError("store.tampered", count=findings.count)
