"""Printing a batch of forms: issue serials in the database, then write the PDF.

Serials are issued and committed before the PDF is drawn, so two runs can never hand out
the same serial. If drawing fails, the batch is marked failed and its serials are never
reused; the PDF appears only when it is complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from zonepaper.cycle import Cycle, private_umask
from zonepaper.errors import ConflictError, InvalidInputError
from zonepaper.forms.document import write_forms_pdf
from zonepaper.layout import build_layout, form_grid
from zonepaper.serial import BACK, FRONT, make_payload
from zonepaper.store.database import write_transaction
from zonepaper.store.integrity import record_event
from zonepaper.store.serials import abandoned_batches, reserve_serials

MAX_PER_RUN = 20000


@dataclass(frozen=True)
class PrintedBatch:
    """What one `forms print` run produced."""

    id: int
    label: str
    paper: str
    serials: tuple[str, ...]
    path: Path
    abandoned: tuple[tuple[int, int], ...] = ()  # (batch, count) of earlier runs found killed and closed


def close_abandoned(cycle: Cycle) -> tuple[tuple[int, int], ...]:
    """Batches whose printing was killed: marked failed (their serials are never printed again) and
    their unfinished PDF removed. Returns (batch, count) of each, for the user to be told."""
    db = cycle.db()
    closed = []
    try:
        with write_transaction(db.conn) as conn:
            for batch_id, count, partial in abandoned_batches(conn):
                if partial and partial.endswith(".part"):
                    Path(partial).unlink(missing_ok=True)
                conn.execute("UPDATE batches SET status = 'failed', output = NULL WHERE id = ?", (batch_id,))
                record_event(conn, "zonepaper", "forms.failed",
                             {"batch": batch_id, "output": None, "error": "stopped before its PDF was written"},
                             f"batch:{batch_id}", ("serials",))
                closed.append((batch_id, count))
    finally:
        db.close()
    return tuple(closed)


def _note_partial(cycle: Cycle, batch_id: int, partial: str) -> None:
    """While printing, the batch's output is its unfinished file (removed if the run is killed)."""
    db = cycle.db()
    try:
        with write_transaction(db.conn) as conn:
            conn.execute("UPDATE batches SET output = ? WHERE id = ?", (partial, batch_id))
    finally:
        db.close()


def issue_serials(cycle: Cycle, count: int, label: str, paper: str, actor: str = "zonepaper",
                  grid: dict | None = None) -> tuple[int, list[str]]:
    """Reserve `count` new serials under a new batch, with what its forms' marks mean, in one transaction."""
    db = cycle.db()
    try:
        with write_transaction(db.conn) as conn:
            return reserve_serials(conn, count, label, paper, actor,
                                   grid_json=None if grid is None else json.dumps(grid, sort_keys=True))
    finally:
        db.close()


def _finish_batch(cycle: Cycle, batch_id: int, status: str, output: str | None, detail: str | None = None) -> None:
    db = cycle.db()
    try:
        with write_transaction(db.conn) as conn:
            conn.execute("UPDATE batches SET status = ?, output = ? WHERE id = ?", (status, output, batch_id))
            payload = {"batch": batch_id, "output": output}
            if detail:
                payload["error"] = detail
            record_event(conn, "zonepaper", f"forms.{status}", payload, f"batch:{batch_id}", ("serials",))
    finally:
        db.close()


def print_forms(cycle: Cycle, count: int, label: str | None = None, paper: str = "letter",
                out: Path | None = None, on_form: Callable[[int], None] | None = None) -> PrintedBatch:
    """Issue `count` serials and write their forms (front and back) to one PDF."""
    if not 1 <= count <= MAX_PER_RUN:
        raise InvalidInputError("forms.bad_count", count=count, max=MAX_PER_RUN)
    zone = cycle.printed_zone()  # new forms must mean what those already printed mean
    layout = build_layout(zone, paper)  # a zone that does not fit fails here, before any serial is issued
    label = (label or "").strip() or datetime.now().strftime("%Y-%m-%d %H:%M")
    if out is not None and out.exists():
        raise ConflictError("forms.output_exists", file=str(out))
    info = cycle.info()
    secret, cycle_id = bytes.fromhex(info["secret"]), info["cycle_id"]
    abandoned = close_abandoned(cycle)
    batch_id, serials = issue_serials(cycle, count, label, paper, grid=form_grid(zone))
    if out is None:
        out = cycle.output / f"forms-batch-{batch_id:03d}.pdf"
    out = out.expanduser()
    payloads = ((make_payload(secret, cycle_id, s, FRONT), make_payload(secret, cycle_id, s, BACK)) for s in serials)
    tmp = None
    try:
        with private_umask():
            out.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
            os.close(fd)
            _note_partial(cycle, batch_id, str(Path(tmp).resolve()))
            write_forms_pdf(Path(tmp), layout, zone, cycle_id, payloads, on_form)
            os.replace(tmp, out)
    except BaseException as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        _finish_batch(cycle, batch_id, "failed", None, f"{type(exc).__name__}: {exc}")
        raise
    _finish_batch(cycle, batch_id, "printed", str(out))
    return PrintedBatch(batch_id, label, paper, tuple(serials), out, abandoned)
