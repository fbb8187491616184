"""What the event log says an application looks like, so that `zonepaper verify` can tell
when a row was changed behind the tool's back.

Every event that changes an application (scanned, imported, held, a review decision, a
quarantine resolution) records the application's state digest after the change. The digest
covers what the draw and the letters use: the application row and each field's value,
status, version and illegible mark.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from zonepaper.store.events import append_event


def application_state(conn: sqlite3.Connection, serial: str) -> str:
    """SHA-256 over the application's row and its fields (canonical JSON)."""
    app = conn.execute("SELECT serial, source, status, received_batch, received_form, flags, version "
                       "FROM applications WHERE serial = ?", (serial,)).fetchone()
    fields = conn.execute("SELECT name, value, status, version, illegible FROM fields WHERE serial = ? "
                          "ORDER BY name", (serial,)).fetchall()
    body = json.dumps([list(app) if app else None, [list(f) for f in fields]], ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record_application_event(conn: sqlite3.Connection, actor: str, kind: str, serial: str,
                             payload: dict[str, Any]) -> int:
    """Append an event about one application, with its state digest after the change."""
    payload = {**payload, "serial": serial, "state": application_state(conn, serial)}
    return append_event(conn, actor, kind, payload, subject=f"application:{serial}")


def changed_applications(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(serial, problem) for every application whose rows differ from the last state the log recorded."""
    recorded: dict[str, str] = {}
    for subject, payload in conn.execute(
            "SELECT subject, payload FROM events WHERE subject LIKE 'application:%' ORDER BY id"):
        state = json.loads(payload).get("state")
        if state:
            recorded[subject.split(":", 1)[1]] = state
    problems = []
    for (serial,) in conn.execute("SELECT serial FROM applications ORDER BY serial"):
        if serial not in recorded:
            problems.append((serial, "not_in_log"))
        elif application_state(conn, serial) != recorded[serial]:
            problems.append((serial, "changed"))
    for serial in sorted(set(recorded) - {r[0] for r in conn.execute("SELECT serial FROM applications")}):
        problems.append((serial, "deleted"))
    return problems
