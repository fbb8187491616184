"""Opening the cycle's SQLite database."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlite_utils

from zonepaper.errors import StoreError, disk_full
from zonepaper.store.migrations import apply_migrations


def connect(path: Path, create: bool = False) -> sqlite_utils.Database:
    """Open (or with create=True, make) the database, in WAL mode, migrated to the current schema."""
    if not create and not path.is_file():
        raise StoreError("store.missing", file=str(path))
    if not create and path.stat().st_size == 0:  # SQLite would take it as a new, empty database
        raise StoreError("store.empty", file=str(path))
    try:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so transactions are explicit.
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        apply_migrations(conn)
    except sqlite3.DatabaseError as exc:
        full = disk_full(exc, str(path.parent))
        if full is not None:
            raise full from None
        raise StoreError("store.unreadable", file=str(path), reason=str(exc)) from None
    return sqlite_utils.Database(conn)


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: BEGIN IMMEDIATE (waits for other writers), COMMIT, or ROLLBACK on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
