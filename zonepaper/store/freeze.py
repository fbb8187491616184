"""The freeze, a state of the cycle: whether the draw's inputs are frozen, and the guard every change
to applications goes through.

The draw sets it (`draw freeze` / `draw unfreeze` write the freezes table); scanning, review,
import and the waitlists only read it here, so no stage before the draw imports `draw/`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from zonepaper.errors import ConflictError


@dataclass(frozen=True)
class Freeze:
    """One freeze of the draw's inputs: their digest, the method, the inputs themselves."""

    id: int
    digest: str
    mechanism: str
    inputs: dict
    created_at: str


def active_freeze(conn: sqlite3.Connection) -> Freeze | None:
    """The freeze in force, or None."""
    row = conn.execute("SELECT id, input_digest, mechanism, inputs, created_at FROM freezes WHERE status = 'frozen' "
                       "ORDER BY id DESC LIMIT 1").fetchone()
    return Freeze(row[0], row[1], row[2], json.loads(row[3]), row[4]) if row else None


def ensure_not_frozen(conn: sqlite3.Connection) -> None:
    """Refuse a change to applications while the draw's inputs are frozen."""
    freeze = active_freeze(conn)
    if freeze is not None:
        raise ConflictError("draw.frozen", freeze=freeze.id)


def record_freeze(conn: sqlite3.Connection, digest: str, inputs_json: str, mechanism: str, reason: str,
                  at: str) -> int:
    """Set the cycle frozen on these canonical inputs (inside the caller's transaction); returns its id."""
    return int(conn.execute(
        "INSERT INTO freezes (status, input_digest, inputs, mechanism, unreviewed_reason, created_at) "
        "VALUES ('frozen', ?, ?, ?, ?, ?)", (digest, inputs_json, mechanism, reason or None, at)).lastrowid)


def lift_freeze(conn: sqlite3.Connection, freeze_id: int, reason: str) -> None:
    """The cycle is no longer frozen (inside the caller's transaction); the freeze row stays, with the reason."""
    conn.execute("UPDATE freezes SET status = 'unfrozen', unfreeze_reason = ? WHERE id = ?", (reason, freeze_id))
