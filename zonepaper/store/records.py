"""The application record: one row in `applications`, one row per field in `fields`, and the event.

Scanning (a form read), quarantine resolution (a sheet a coordinator let in), import (a row of a
CSV) and the reply slips all create or extend applications through these functions, inside the
caller's transaction, so an application is written one way whichever stage it comes from.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Iterable, Protocol

from zonepaper.store.migrations import now_iso
from zonepaper.store.state import record_application_event


class FieldValue(Protocol):
    """What is stored of one field: the reader's result, or a value typed or imported."""

    name: str
    value: str
    status: str
    confidence: float | None
    votes: dict
    reasons: tuple[str, ...]
    box: tuple[int, int, int, int] | None


@dataclass(frozen=True)
class Given:
    """A field value that no reader saw: typed at the desk or imported."""

    name: str
    value: str
    status: str
    confidence: float | None = None
    votes: dict = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    box: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class NewApplication:
    """The application row; its status follows from the fields unless given."""

    serial: str
    source: str = "scan"  # scan | import
    received_batch: str | None = None
    received_form: str | None = None
    flags: tuple[str, ...] = ()
    status: str | None = None  # complete | review | held; None: review if any field is in review


def insert_fields(conn: sqlite3.Connection, serial: str, fields: Iterable[FieldValue], page_id: int | None) -> None:
    """Store each field with its value, status, confidence, votes, reasons and box."""
    conn.executemany(
        "INSERT INTO fields (serial, name, value, status, confidence, votes, reasons, page_id, box) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(serial, f.name, f.value, f.status, f.confidence,
          json.dumps(f.votes, sort_keys=True),
          json.dumps(list(f.reasons)), page_id, json.dumps(list(f.box)) if f.box is not None else None)
         for f in fields])


def create_application(conn: sqlite3.Connection, app: NewApplication, fields: Iterable[FieldValue],
                       page_id: int | None, actor: str, event: str, note: dict) -> None:
    """Insert an application and its fields (inside the caller's transaction), with its event."""
    fields = tuple(fields)
    status = app.status or ("review" if any(f.status == "review" for f in fields) else "complete")
    conn.execute(
        "INSERT INTO applications (serial, source, status, received_batch, received_form, flags, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (app.serial, app.source, status, app.received_batch or None, app.received_form or None,
         json.dumps(list(app.flags)), now_iso()))
    insert_fields(conn, app.serial, fields, page_id)
    record_application_event(conn, actor, event, app.serial, note)


def create_read_application(conn: sqlite3.Connection, serial: str, fields: tuple[FieldValue, ...], page_id: int,
                            received: str | None, actor: str = "zonepaper", flags: tuple[str, ...] = (),
                            note: dict | None = None) -> None:
    """An application read from a scanned sheet (by ingest, or let in from quarantine by a coordinator).

    The office's received date on the form, when the machine is sure of it, is stored beside the batch's.
    """
    form_received = next((f for f in fields if f.name == "received_date"), None)
    received_form = form_received.value if form_received and form_received.status == "auto" else None
    create_application(conn, NewApplication(serial, "scan", received, received_form, flags), fields, page_id, actor,
                       "application.scanned",
                       {"page": page_id, "review": [f.name for f in fields if f.status == "review"], **(note or {}),
                        "auto": sorted(f.name for f in fields if f.status == "auto")})


def settled_status(conn: sqlite3.Connection, serial: str) -> str:
    """'review' while any field of the application waits for a person, else 'complete'."""
    open_fields = conn.execute("SELECT count(*) FROM fields WHERE serial = ? AND status = 'review'",
                               (serial,)).fetchone()[0]
    return "review" if open_fields else "complete"


def settle_application(conn: sqlite3.Connection, serial: str) -> None:
    """An application whose last field is decided is complete (a held one stays held)."""
    status = settled_status(conn, serial)
    conn.execute("UPDATE applications SET status = ?, version = version + 1 WHERE serial = ? AND status != 'held' "
                 "AND status != ?", (status, serial, status))


def hold_duplicate(conn: sqlite3.Connection, serial: str, page_id: int, actor: str = "zonepaper") -> None:
    """A second sheet with this serial: the application waits (held) until a person compares the two."""
    row = conn.execute("SELECT flags FROM applications WHERE serial = ?", (serial,)).fetchone()
    if row is None:
        return
    flags = json.loads(row[0])
    if "duplicate" not in flags:
        flags.append("duplicate")
    conn.execute("UPDATE applications SET status = 'held', flags = ?, version = version + 1 WHERE serial = ?",
                 (json.dumps(flags), serial))
    record_application_event(conn, actor, "application.held", serial, {"reason": "duplicate", "page": page_id})
