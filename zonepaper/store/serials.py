"""Issuing serials: the cycle's register of every form number it handed out, never one twice.

`forms print` issues them before it draws a PDF; a coordinator who lets in a form of another
cycle (or one never printed) issues one for it from the review page.
"""

from __future__ import annotations

import os
import socket
import sqlite3

from zonepaper.errors import InvalidInputError
from zonepaper.serial import MAX_SEQUENCE, make_serial
from zonepaper.store.integrity import record_event, refuse_if_tables_changed
from zonepaper.store.migrations import now_iso


def this_process() -> str:
    """Who is printing: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def gone(owner: str | None) -> bool:
    """Whether the process that owned a run has stopped (only known for this host; a run from
    before owners were recorded counts as stopped)."""
    if not owner:
        return True
    host, _, pid = owner.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not process_alive(int(pid))


def process_alive(pid: int) -> bool:
    """Whether a process of this machine is still running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reserve_serials(conn: sqlite3.Connection, count: int, label: str, paper: str, actor: str,
                    status: str = "printing", grid_json: str | None = None) -> tuple[int, list[str]]:
    """Inside the caller's transaction: a new batch of `count` serials (status 'printed' when no paper is made),
    with what its forms' marks mean (`grid_json`) when they are printed."""
    refuse_if_tables_changed(conn, ("serials",))
    last = conn.execute("SELECT COALESCE(MAX(number), 0) FROM serials").fetchone()[0]
    if last + count > MAX_SEQUENCE:
        raise InvalidInputError("forms.serials_exhausted", left=MAX_SEQUENCE - last)
    at = now_iso()
    batch_id = conn.execute(
        "INSERT INTO batches (label, paper, count, status, created_at, owner) VALUES (?, ?, ?, ?, ?, ?)",
        (label, paper, count, status, at, this_process()),
    ).lastrowid
    serials = [make_serial(n) for n in range(last + 1, last + count + 1)]
    conn.executemany(
        "INSERT INTO serials (serial, number, batch_id, issued_at) VALUES (?, ?, ?, ?)",
        [(s, last + 1 + i, batch_id, at) for i, s in enumerate(serials)],
    )
    if grid_json is not None:
        conn.execute("INSERT INTO printed_grids (batch_id, grid) VALUES (?, ?)", (batch_id, grid_json))
    record_event(conn, actor, "forms.issued", {"batch": batch_id, "label": label, "paper": paper, "count": count,
                                               "first": serials[0], "last": serials[-1]},
                 f"batch:{batch_id}", ("serials",))
    return int(batch_id), serials


def abandoned_batches(conn: sqlite3.Connection) -> list[tuple[int, int, str | None]]:
    """(batch, count, the unfinished file) of every batch still 'printing' whose process has stopped."""
    rows = conn.execute("SELECT id, count, output, owner FROM batches WHERE status = 'printing' ORDER BY id").fetchall()
    return [(batch_id, count, output) for batch_id, count, output, owner in rows if gone(owner)]


def printed_grids(conn: sqlite3.Connection) -> list[tuple[int, str, str]]:
    """(batch id, label, grid as JSON) of every batch of forms printed with its grid recorded, oldest first."""
    return conn.execute("SELECT g.batch_id, b.label, g.grid FROM printed_grids g JOIN batches b ON b.id = g.batch_id "
                        "WHERE b.status != 'failed' ORDER BY g.batch_id").fetchall()
