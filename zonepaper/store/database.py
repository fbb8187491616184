"""Opening the cycle's SQLite database."""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlite_utils

from zonepaper.errors import StoreError, known_failure
from zonepaper.store.migrations import apply_migrations, schema_pending


def connect(path: Path, create: bool = False, check: bool = False) -> sqlite_utils.Database:
    """Open (or with create=True, make) the database, in WAL mode, migrated to the current schema;
    with check=True, refused if SQLite's quick_check finds it damaged (nothing is written into it).

    In a folder that cannot be written (a write-protected stick, a read-only share) it is opened
    read-only, so that the commands that only read (verify, scan status, export) still work; a
    command that writes is then refused with a message saying the folder cannot be written."""
    if not create and not path.is_file():
        raise StoreError("store.missing", file=str(path))
    if not create and path.stat().st_size == 0:  # SQLite would take it as a new, empty database
        raise StoreError("store.empty", file=str(path))
    if not create and not writable(path):
        return _connect_read_only(path)
    try:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so transactions are explicit.
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        if check:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                conn.close()
                raise StoreError("store.damaged", file=str(path), detail=problems[0][:120])
        apply_migrations(conn)
    except sqlite3.DatabaseError as exc:
        known = known_failure(exc, str(path.parent))
        if known is not None:
            raise known from None
        raise StoreError("store.unreadable", file=str(path), reason=str(exc)) from None
    return sqlite_utils.Database(conn)


def writable(path: Path) -> bool:
    """Whether the database and its folder (where SQLite keeps its journal) can be written."""
    return os.access(path.parent, os.W_OK) and os.access(path, os.W_OK)


def copy_source(path: Path) -> sqlite3.Connection:
    """A connection to copy the database from (the online backup API), read-only where nothing can write."""
    if writable(path):
        return sqlite3.connect(str(path), timeout=30)
    return sqlite3.connect(_read_only_uri(path), uri=True)


def _read_only_uri(path: Path) -> str:
    """Nothing can write there, so SQLite reads the file as it is (immutable: no lock or journal files)."""
    return f"{path.resolve().as_uri()}?mode=ro&immutable=1"


def _connect_read_only(path: Path) -> sqlite_utils.Database:
    """The database of a folder that cannot be written, opened read-only."""
    try:
        conn = sqlite3.connect(_read_only_uri(path), uri=True, isolation_level=None)
        pending = schema_pending(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError("store.unreadable", file=str(path), reason=str(exc)) from None
    if pending:
        raise StoreError("store.read_only_old", folder=str(path.parent))
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
