"""Whether the draw's inputs are frozen, and the guard every change to applications goes through."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from zonepaper.errors import ConflictError


@dataclass(frozen=True)
class Freeze:
    id: int
    digest: str
    mechanism: str
    inputs: dict
    created_at: str


def active_freeze(conn: sqlite3.Connection) -> Freeze | None:
    row = conn.execute("SELECT id, input_digest, mechanism, inputs, created_at FROM freezes WHERE status = 'frozen' "
                       "ORDER BY id DESC LIMIT 1").fetchone()
    return Freeze(row[0], row[1], row[2], json.loads(row[3]), row[4]) if row else None


def ensure_not_frozen(conn: sqlite3.Connection) -> None:
    """Refuse a change to applications while the draw's inputs are frozen."""
    freeze = active_freeze(conn)
    if freeze is not None:
        raise ConflictError("draw.frozen", freeze=freeze.id)
