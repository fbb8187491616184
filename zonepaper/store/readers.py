"""Which digit reader the cycle reads with: the committed networks, or the last layers
`zonepaper models adapt` fitted to this cycle's confirmed handwriting.

Every switch is a row of `digit_readers` (append-only) and an event in the log, in one
transaction; the reader in use is the latest row. A reader's name carries the SHA-256 of its
stored last layers, so that layers changed behind the tool's back are refused, not read with.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from zonepaper.errors import StoreError
from zonepaper.store.events import append_event
from zonepaper.store.migrations import now_iso

COMMITTED = "committed"
ADAPT_AFTER_DIGITS = 2000  # confirmed digits before adapting is worth offering


@dataclass(frozen=True)
class StoredReader:
    reader: str  # COMMITTED or adapted-<first 12 hex digits of the heads' SHA-256>
    heads: bytes | None
    figures: dict
    created_at: str


def reader_name(heads: bytes) -> str:
    return "adapted-" + hashlib.sha256(heads).hexdigest()[:12]


def current_reader(conn: sqlite3.Connection) -> StoredReader:
    """The reader in use; refuses one whose stored last layers are not the ones switched to."""
    row = conn.execute("SELECT reader, heads, figures, created_at FROM digit_readers ORDER BY id DESC LIMIT 1"
                       ).fetchone()
    if row is None:
        return StoredReader(COMMITTED, None, {}, "")
    reader, heads, figures, created_at = row
    if reader != COMMITTED and (heads is None or reader_name(bytes(heads)) != reader):
        raise StoreError("models.tampered", reader=reader)
    return StoredReader(reader, bytes(heads) if heads is not None else None, json.loads(figures), created_at)


def switch_reader(conn: sqlite3.Connection, actor: str, heads: bytes | None, figures: dict[str, Any]) -> str:
    """Read with these last layers from now on (None: the committed ones); the caller holds the write transaction."""
    reader = COMMITTED if heads is None else reader_name(heads)
    conn.execute("INSERT INTO digit_readers (reader, heads, figures, created_at) VALUES (?, ?, ?, ?)",
                 (reader, heads, json.dumps(figures, sort_keys=True), now_iso()))
    append_event(conn, actor, "models.switched", {"reader": reader, "figures": figures}, subject="models")
    return reader


def confirmed_digits(conn: sqlite3.Connection, names: tuple[str, ...]) -> int:
    """How many digits people have confirmed in these fields (what adapting learns from)."""
    marks = ",".join("?" * len(names))
    row = conn.execute(f"SELECT coalesce(sum(length(replace(value, '-', ''))), 0) FROM fields WHERE status = "
                       f"'confirmed' AND illegible = 0 AND page_id IS NOT NULL AND name IN ({marks})", names).fetchone()
    return int(row[0])
