"""Numbered schema migrations. Each runs in its own transaction and is recorded in _migrations.

Never edit a migration that has shipped: add a new one. A database made by an older
version opens and is brought up to date; one made by a newer version is refused.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import Callable

from zonepaper.errors import StoreError

Migration = tuple[int, str, str]
REBUILD_MARK = "-- rebuilds a table"

MIGRATIONS: list[Migration] = [
    (
        1,
        "cycle, events, batches, serials",
        """
        CREATE TABLE cycle_info (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT,
            payload TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE
        );
        CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
        CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
        CREATE TABLE batches (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            label TEXT NOT NULL,
            paper TEXT NOT NULL,
            count INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('printing', 'printed', 'failed')),
            created_at TEXT NOT NULL,
            output TEXT
        );
        CREATE TABLE serials (
            serial TEXT PRIMARY KEY,
            number INTEGER NOT NULL UNIQUE,
            batch_id INTEGER NOT NULL REFERENCES batches(id),
            issued_at TEXT NOT NULL
        );
        CREATE INDEX serials_batch ON serials(batch_id);
        """,
    ),
    (
        2,
        "scanned files, pages, applications, fields",
        """
        CREATE TABLE files (
            sha256 TEXT PRIMARY KEY,
            original_name TEXT NOT NULL,
            stored_as TEXT NOT NULL,
            size INTEGER NOT NULL,
            received_batch TEXT,
            status TEXT NOT NULL CHECK (status IN ('ingesting', 'done')),
            page_count INTEGER,
            started_at TEXT NOT NULL,
            finished_at TEXT
        );
        CREATE TABLE pages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            file_sha256 TEXT NOT NULL REFERENCES files(sha256),
            page_index INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('front', 'back', 'blank', 'quarantined')),
            serial TEXT,
            reason TEXT,
            detail TEXT,
            rotation INTEGER,
            registration_error REAL,
            image TEXT,
            created_at TEXT NOT NULL,
            resolution TEXT,
            UNIQUE (file_sha256, page_index)
        );
        CREATE INDEX pages_serial ON pages(serial);
        CREATE INDEX pages_kind ON pages(kind, reason);
        CREATE TABLE applications (
            serial TEXT PRIMARY KEY,
            source TEXT NOT NULL CHECK (source IN ('scan', 'import')),
            status TEXT NOT NULL CHECK (status IN ('complete', 'review', 'held')),
            received_batch TEXT,
            received_form TEXT,
            flags TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE fields (
            serial TEXT NOT NULL REFERENCES applications(serial),
            name TEXT NOT NULL,
            value TEXT,
            status TEXT NOT NULL CHECK (status IN ('auto', 'review', 'confirmed')),
            confidence REAL,
            votes TEXT NOT NULL DEFAULT '{}',
            reasons TEXT NOT NULL DEFAULT '[]',
            page_id INTEGER REFERENCES pages(id),
            box TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (serial, name)
        );
        CREATE INDEX fields_status ON fields(status, name);
        """,
    ),
    (
        3,
        "review: users, sessions, claims on review items",
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('reviewer', 'coordinator', 'auditor')),
            password TEXT NOT NULL,
            language TEXT NOT NULL DEFAULT 'es' CHECK (language IN ('es', 'en')),
            failed_logins INTEGER NOT NULL DEFAULT 0,
            last_failed_at TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            csrf TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at REAL NOT NULL
        );
        CREATE TABLE claims (
            item TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            expires_at REAL NOT NULL
        );
        CREATE TABLE skips (
            item TEXT NOT NULL,
            user_id INTEGER NOT NULL REFERENCES users(id),
            PRIMARY KEY (item, user_id)
        );
        CREATE INDEX events_actor ON events(actor, kind, id);
        ALTER TABLE fields ADD COLUMN illegible INTEGER NOT NULL DEFAULT 0;
        """,
    ),
    (
        4,
        "the draw: freezes, draws and their results",
        """
        CREATE TABLE freezes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            status TEXT NOT NULL CHECK (status IN ('frozen', 'unfrozen')),
            input_digest TEXT NOT NULL,
            inputs TEXT NOT NULL,
            mechanism TEXT NOT NULL,
            unreviewed_reason TEXT,
            unfreeze_reason TEXT,
            created_at TEXT NOT NULL,
            receipt TEXT
        );
        CREATE TABLE draws (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            freeze_id INTEGER NOT NULL REFERENCES freezes(id),
            status TEXT NOT NULL CHECK (status IN ('current', 'superseded')),
            sources TEXT NOT NULL,
            key_string TEXT NOT NULL,
            entropy_bits REAL NOT NULL,
            result_digest TEXT NOT NULL,
            bundle TEXT NOT NULL,
            supersede_reason TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE draw_results (
            draw_id INTEGER NOT NULL REFERENCES draws(id),
            serial TEXT NOT NULL,
            grade INTEGER NOT NULL,
            lottery TEXT NOT NULL,
            assigned TEXT,
            rank INTEGER NOT NULL,
            reason TEXT NOT NULL,
            waitlist TEXT NOT NULL,
            PRIMARY KEY (draw_id, serial)
        );
        """,
    ),
    (
        5,
        "pages may be reply slips of letters",
        """
        -- rebuilds a table: pages, to allow kind 'reply'
        CREATE TABLE pages_new (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            file_sha256 TEXT NOT NULL REFERENCES files(sha256),
            page_index INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('front', 'back', 'blank', 'quarantined', 'reply')),
            serial TEXT,
            reason TEXT,
            detail TEXT,
            rotation INTEGER,
            registration_error REAL,
            image TEXT,
            created_at TEXT NOT NULL,
            resolution TEXT,
            UNIQUE (file_sha256, page_index)
        );
        INSERT INTO pages_new SELECT * FROM pages;
        DROP TABLE pages;
        ALTER TABLE pages_new RENAME TO pages;
        CREATE INDEX pages_serial ON pages(serial);
        CREATE INDEX pages_kind ON pages(kind, reason);
        """,
    ),
    (
        6,
        "waitlist offers and withdrawals",
        """
        CREATE TABLE offers (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            draw_id INTEGER NOT NULL REFERENCES draws(id),
            serial TEXT NOT NULL,
            program TEXT NOT NULL,
            position INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('offered', 'accepted', 'declined')),
            created_at TEXT NOT NULL,
            answered_at TEXT,
            UNIQUE (draw_id, serial, program)
        );
        CREATE TABLE withdrawals (
            draw_id INTEGER NOT NULL REFERENCES draws(id),
            serial TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (draw_id, serial)
        );
        """,
    ),
    (
        7,
        "what the marks of each printed batch of forms mean",
        """
        CREATE TABLE printed_grids (
            batch_id INTEGER PRIMARY KEY REFERENCES batches(id),
            grid TEXT NOT NULL
        );
        """,
    ),
    (
        8,
        "the digit reader in use: the committed networks, or last layers adapted to the cycle's handwriting",
        """
        CREATE TABLE digit_readers (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            reader TEXT NOT NULL,
            heads BLOB,
            figures TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        );
        CREATE TRIGGER digit_readers_append_only_update BEFORE UPDATE ON digit_readers
        BEGIN SELECT RAISE(ABORT, 'the digit readers are append-only'); END;
        """,
    ),
    (
        9,
        "which process prints a batch, so that a batch whose printing was killed can be told from one still printing",
        """
        ALTER TABLE batches ADD COLUMN owner TEXT;
        """,
    ),
    (
        10,
        "whether each waitlist offer's letter was written, so that a killed run's letters are written by the next",
        """
        ALTER TABLE offers ADD COLUMN letter TEXT;
        """,
    ),
    (
        11,
        "the event log vouches for the tables the draw, letters and offers read (their digests, under 'covers')",
        "",
    ),
    (
        12,
        "review accounts: disabled, locked after repeated failed logins, last login; a session's last use",
        """
        ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE users ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE users ADD COLUMN last_login_at TEXT;
        ALTER TABLE sessions ADD COLUMN last_seen REAL;
        """,
    ),
    (
        13,
        "scanning stations: the role 'station', and the files stations send to the cycle's server",
        """
        -- rebuilds a table: users, for its new role (SQLite cannot change a CHECK in place)
        CREATE TABLE users_new (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('reviewer', 'coordinator', 'auditor', 'station')),
            password TEXT NOT NULL,
            language TEXT NOT NULL DEFAULT 'es' CHECK (language IN ('es', 'en')),
            failed_logins INTEGER NOT NULL DEFAULT 0,
            last_failed_at TEXT,
            created_at TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            locked INTEGER NOT NULL DEFAULT 0,
            last_login_at TEXT
        );
        INSERT INTO users_new (id, name, role, password, language, failed_logins, last_failed_at, created_at,
                               disabled, locked, last_login_at)
            SELECT id, name, role, password, language, failed_logins, last_failed_at, created_at,
                   disabled, locked, last_login_at FROM users;
        DROP TABLE users;
        ALTER TABLE users_new RENAME TO users;
        CREATE TABLE uploads (
            sha256 TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            size INTEGER NOT NULL,
            received TEXT NOT NULL,
            user_id INTEGER NOT NULL REFERENCES users(id),
            status TEXT NOT NULL CHECK (status IN ('stored', 'ingested', 'failed')),
            detail TEXT,
            created_at TEXT NOT NULL,
            finished_at TEXT
        );
        """,
    ),
]


def _record_covered_tables(conn: sqlite3.Connection) -> None:
    """A cycle made by an older version: its tables are recorded as they are now, so that a change
    from here on is found (a new cycle records them with its first event)."""
    from zonepaper.store.integrity import record_all

    if conn.execute("SELECT 1 FROM events LIMIT 1").fetchone():
        record_all(conn, "zonepaper", "store.tables_recorded", {"schema": 11})


# Steps in Python, run inside the migration's transaction after its SQL.
PYTHON_STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {11: _record_covered_tables}


def now_iso() -> str:
    """The current time in UTC, ISO 8601 with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def schema_pending(conn: sqlite3.Connection) -> bool:
    """Whether migrations are still to apply (read-only: nothing is changed)."""
    try:
        applied = {row[0] for row in conn.execute("SELECT id FROM _migrations")}
    except sqlite3.OperationalError:
        return True
    return not {number for number, _, _ in MIGRATIONS} <= applied


def apply_migrations(conn: sqlite3.Connection, on_apply: Callable[[int, str], None] | None = None) -> int:
    """Bring the schema up to date; returns the schema version."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied = {row[0] for row in conn.execute("SELECT id FROM _migrations")}
    latest = MIGRATIONS[-1][0]
    if applied and max(applied) > latest:
        raise StoreError("store.too_new", version=max(applied), supported=latest)
    for number, name, sql in MIGRATIONS:
        if number in applied:
            continue
        # A migration that rebuilds a table others refer to runs with foreign keys off, as SQLite's
        # documented procedure says, and checks them before it commits.
        rebuild = REBUILD_MARK in sql
        if rebuild:
            conn.execute("PRAGMA foreign_keys=OFF")
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _split_sql(sql):
                conn.execute(statement)
            if number in PYTHON_STEPS:
                PYTHON_STEPS[number](conn)
            if rebuild and conn.execute("PRAGMA foreign_key_check").fetchone():
                raise StoreError("store.unreadable", file="zonepaper.db",
                                 reason=f"migration {number} broke a reference")
            conn.execute("INSERT INTO _migrations (id, name, applied_at) VALUES (?, ?, ?)", (number, name, now_iso()))
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        finally:
            if rebuild:
                conn.execute("PRAGMA foreign_keys=ON")
        if on_apply:
            on_apply(number, name)
    return latest


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        joined = "\n".join(current).strip()
        if sqlite3.complete_statement(joined):
            statements.append(joined)
            current = []
    if "".join(current).strip():
        statements.append("\n".join(current))
    return statements
