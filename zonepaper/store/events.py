"""The append-only, hash-chained event log: every change of state is one row."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from zonepaper.store.migrations import now_iso

GENESIS = "0" * 64


def event_hash(prev_hash: str, at: str, actor: str, kind: str, subject: str | None, payload: str) -> str:
    """SHA-256 over the previous hash and this event's canonical fields."""
    body = json.dumps([prev_hash, at, actor, kind, subject, payload], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append_event(conn: sqlite3.Connection, actor: str, kind: str, payload: dict[str, Any],
                 subject: str | None = None) -> int:
    """Append one event; the caller holds the write transaction. Returns the event id."""
    row = conn.execute("SELECT hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
    prev = row[0] if row else GENESIS
    at = now_iso()
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = event_hash(prev, at, actor, kind, subject, body)
    cur = conn.execute(
        "INSERT INTO events (at, actor, kind, subject, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (at, actor, kind, subject, body, prev, digest),
    )
    return int(cur.lastrowid)


def find_broken_events(conn: sqlite3.Connection) -> list[int]:
    """Ids of events whose hash or link to the previous event does not match (edited behind the tool's back)."""
    broken, prev = [], GENESIS
    for id_, at, actor, kind, subject, payload, prev_hash, digest in conn.execute(
        "SELECT id, at, actor, kind, subject, payload, prev_hash, hash FROM events ORDER BY id"
    ):
        if prev_hash != prev or event_hash(prev_hash, at, actor, kind, subject, payload) != digest:
            broken.append(id_)
        prev = digest
    return broken
