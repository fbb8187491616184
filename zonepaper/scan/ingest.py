"""`zonepaper scan ingest`: files in, pages read (in worker processes), results stored by one writer.

Crash-safe and idempotent: every original is kept content-addressed (SHA-256) before its
pages are read; each page is stored in its own transaction, keyed by (file, page); a
file is marked done only after its last page. Killed at any moment and run again, the
pages already stored are skipped and the rest are read: every page ends up in the
database exactly once. A file already done is skipped whole.
"""

from __future__ import annotations

import fcntl
import hashlib
import multiprocessing
import os
import shutil
import sqlite3
import tempfile
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from zonepaper.cycle import Cycle, private_umask
from zonepaper.errors import ConflictError, InvalidInputError, MissingDependencyError, ZonepaperError
from zonepaper.fields import received_time
from zonepaper.scan.page import PageResult, ReadContext, quarantine, read_context, read_page
from zonepaper.scan.raster import RasterPage, UnreadableFile, count_pages, find_files, read_pages
from zonepaper.store.database import write_transaction
from zonepaper.store.events import append_event
from zonepaper.store.freeze import active_freeze
from zonepaper.store.migrations import now_iso
from zonepaper.store.records import create_read_application, hold_duplicate, insert_fields
from zonepaper.store.state import record_application_event

if TYPE_CHECKING:
    from zonepaper.scan.cluster import Cluster

PAGES_DIR = "pages"
LOCK_FILE = ".ingest.lock"
POPPLER = ("pdfinfo", "pdfimages", "pdftoppm")
IN_FLIGHT = 4  # pages handed to each worker ahead of the writer: memory stays bounded


class WorkerDied(ZonepaperError):
    """A reading process stopped (killed, out of memory): the run stops, what was stored stays."""

    exit_code = ConflictError.exit_code


def check_programs() -> None:
    """The system programs reading needs, before any file is touched: a file read without them
    would be quarantined as unreadable."""
    missing = next((p for p in POPPLER if shutil.which(p) is None), None)
    if missing:
        raise MissingDependencyError("scan.program_missing", program=missing, package="poppler-utils")


@contextmanager
def ingest_lock(cycle: Cycle) -> Iterator[None]:
    """One ingest at a time per cycle: a second one is told another is running."""
    with private_umask():
        fd = os.open(cycle.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConflictError("scan.ingest_running", cycle=str(cycle.root)) from None
        yield
    finally:
        os.close(fd)  # closing lets the lock go


@dataclass
class IngestSummary:
    """What one run did."""

    files_seen: int = 0
    files_skipped: int = 0
    pages: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    applications: int = 0
    seconds: float = 0.0
    not_read: list[str] = field(default_factory=list)  # files in the folders that are not scans

    def count(self, stored_kind: str, reason: str | None) -> None:
        self.pages += 1
        self.kinds[stored_kind] = self.kinds.get(stored_kind, 0) + 1
        if stored_kind == "quarantined" and reason:
            self.quarantined[reason] = self.quarantined.get(reason, 0) + 1


def parse_received(text: str | None) -> str:
    """--received: a date (2009-03-14) or a date and time (2009-03-14T16:30); default now."""
    if text is None or not text.strip():
        return datetime.now().replace(microsecond=0).isoformat()
    value = received_time(text)
    if value is None:
        raise InvalidInputError("scan.bad_received", value=text.strip())
    return value


def display_name(path: Path) -> str:
    """A file's name as it can be stored and shown: bytes that are not UTF-8 (a name written by
    another system) are kept as \\x escapes instead of stopping the batch."""
    return os.fsencode(path.name).decode("utf-8", "backslashreplace")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def store_original(cycle: Cycle, path: Path, sha: str) -> Path:
    """Keep the original file under originals/, named by its content; returns where it is."""
    suffix = os.fsencode(path.suffix).decode("ascii", "ignore").lower()  # what the reader goes by
    target = cycle.originals / sha[:2] / f"{sha}{suffix}"
    if target.is_file():
        return target
    with private_umask():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return target


# --- worker processes --------------------------------------------------------------------
_context: ReadContext | None = None


def _init_worker(ctx: ReadContext) -> None:
    global _context
    _context = ctx
    import cv2

    cv2.setNumThreads(1)


def _read_in_worker(page: RasterPage) -> PageResult:
    assert _context is not None
    return _read_safely(page, _context)


def _read_safely(page: RasterPage, ctx: ReadContext) -> PageResult:
    """A page that makes the reader fail is quarantined with the error, never a crash of the batch."""
    if page.image is None:
        return quarantine(page.index, page.problem or "unreadable_file", "")
    try:
        return read_page(page.index, page.image, ctx)
    except Exception as exc:  # one bad page must not stop the other pages
        return quarantine(page.index, "read_error", f"{type(exc).__name__}: {exc}", page.image)


# --- the run -----------------------------------------------------------------------------
def ingest(cycle: Cycle, paths: list[Path], received: str | None = None, workers: int = 1,
           on_page: Callable[[IngestSummary, int], None] | None = None, cluster: str | None = None) -> IngestSummary:
    """Ingest files and folders; returns counts. on_page(summary, total_pages) after each page. With
    `cluster` (a Dask scheduler's address, or local:N) the pages are read on that cluster."""
    for p in paths:
        if not p.exists():
            raise InvalidInputError("scan.path_missing", path=str(p))
    received_at = parse_received(received)
    check_programs()
    ctx = read_context(cycle)
    files, other = find_files(paths)
    with ingest_lock(cycle):
        if cluster:
            from zonepaper.scan.cluster import connect

            engine = connect(cluster)
            try:
                return _ingest(cycle, ctx, files, other, received_at, workers, on_page, engine)
            finally:
                engine.close()
        return _ingest(cycle, ctx, files, other, received_at, workers, on_page)


def _ingest(cycle: Cycle, ctx: ReadContext, files: list[Path], other: list[Path], received_at: str, workers: int,
            on_page: Callable[[IngestSummary, int], None] | None, cluster: "Cluster | None" = None
            ) -> IngestSummary:
    summary = IngestSummary(files_seen=len(files), not_read=[display_name(p) for p in other])
    start = time.perf_counter()
    db = cycle.db(check=True)
    conn = db.conn
    plan = []
    for path in files:
        sha = file_sha256(path)
        row = conn.execute("SELECT status FROM files WHERE sha256 = ?", (sha,)).fetchone()
        if row and row[0] == "done":
            summary.files_skipped += 1
            continue
        try:
            pages = count_pages(path)
        except UnreadableFile:
            pages = 1
        plan.append((path, sha, pages))
    total = sum(p for _, _, p in plan)
    if cluster is not None:
        try:
            _read_on(cluster, cycle, conn, ctx, plan, received_at, summary, lambda: on_page and on_page(summary, total))
        finally:
            summary.applications = conn.execute("SELECT count(*) FROM applications").fetchone()[0]
            db.close()
        summary.seconds = time.perf_counter() - start
        return summary
    pool = None
    if workers > 1:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                                   initargs=(ctx,))
    try:
        for path, sha, _ in plan:
            stored, done = _open_file(conn, cycle, path, sha, received_at)
            results: Iterator[PageResult]
            count = len(done)
            try:
                pages_iter = read_pages(stored, skip=done)
                if pool is not None:
                    results = _in_order(pool, pages_iter, workers * IN_FLIGHT, display_name(path))
                else:
                    results = (_read_safely(p, ctx) for p in pages_iter)
                for result in results:
                    kind, reason = store_page(conn, cycle, sha, result, received_at)
                    summary.count(kind, reason)
                    count += 1
                    if on_page:
                        on_page(summary, total)
            except UnreadableFile as exc:
                if 0 not in done:
                    result = PageResult(0, "quarantined", reason="unreadable_file", detail=str(exc))
                    kind, reason = store_page(conn, cycle, sha, result, received_at)
                    summary.count(kind, reason)
                    if on_page:
                        on_page(summary, total)
                count = max(count, 1)
            _finish_file(conn, sha, count)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        summary.applications = conn.execute("SELECT count(*) FROM applications").fetchone()[0]
        db.close()
    summary.seconds = time.perf_counter() - start
    return summary


def _read_on(cluster: "Cluster", cycle: Cycle, conn: sqlite3.Connection, ctx: ReadContext,
             plan: list[tuple[Path, str, int]], received_at: str, summary: IngestSummary,
             step: Callable[[], object]) -> None:
    """The pages of every planned file read on a Dask cluster (in any order, as workers come free) and
    stored here in the order of files and pages; a file is marked done once its last page is stored."""
    from zonepaper.scan.cluster import read_on_cluster

    stored: dict[str, int] = {}
    expected: dict[str, int] = {}

    def work() -> Iterator[tuple[str, Path, int, int]]:
        for path, sha, pages in plan:
            original, done = _open_file(conn, cycle, path, sha, received_at)
            stored[sha], expected[sha] = len(done), pages
            if len(done) >= pages:
                _finish_file(conn, sha, len(done))
                continue
            for index in range(pages):
                if index not in done:
                    yield sha, original, index, pages

    for sha, result in read_on_cluster(cluster, ctx, work()):
        kind, reason = store_page(conn, cycle, sha, result, received_at)
        summary.count(kind, reason)
        stored[sha] += 1
        if stored[sha] == expected[sha]:
            _finish_file(conn, sha, stored[sha])
        step()


def _in_order(pool: ProcessPoolExecutor, pages: Iterable[RasterPage], ahead: int, name: str) -> Iterator[PageResult]:
    """The pages read by the workers, in page order, with at most `ahead` of them in flight.

    A worker that dies (killed, out of memory) breaks the pool: the run stops with a message
    naming the page, instead of waiting for it forever; every page stored so far stays, and
    running the same command again reads the rest."""
    waiting: deque[tuple[int, Future]] = deque()
    source = iter(pages)
    current = 0  # the page being waited for
    try:
        while True:
            while len(waiting) < ahead and (page := next(source, None)) is not None:
                waiting.append((page.index, pool.submit(_read_in_worker, page)))  # refused once the pool broke
            if not waiting:
                return
            current, future = waiting.popleft()
            yield future.result()
    except BrokenProcessPool:
        raise WorkerDied("scan.worker_died", page=current + 1, file=name) from None


def _open_file(conn: sqlite3.Connection, cycle: Cycle, path: Path, sha: str, received: str
               ) -> tuple[Path, set[int]]:
    """A file about to be read: its original kept, its row begun; (where the original is, its pages already
    stored by an earlier run)."""
    stored = store_original(cycle, path, sha)
    _begin_file(conn, sha, path, stored, cycle, received)
    done = {r[0] for r in conn.execute("SELECT page_index FROM pages WHERE file_sha256 = ?", (sha,))}
    return stored, done


def _begin_file(conn: sqlite3.Connection, sha: str, path: Path, stored: Path, cycle: Cycle, received: str) -> None:
    with write_transaction(conn):
        if conn.execute("SELECT 1 FROM files WHERE sha256 = ?", (sha,)).fetchone() is None:
            conn.execute(
                "INSERT INTO files (sha256, original_name, stored_as, size, received_batch, status, started_at) "
                "VALUES (?, ?, ?, ?, ?, 'ingesting', ?)",
                (sha, display_name(path), stored.relative_to(cycle.root).as_posix(), stored.stat().st_size, received,
                 now_iso()))
            append_event(conn, "zonepaper", "scan.file_received", {"sha256": sha, "name": display_name(path),
                                                                   "received": received}, subject=f"file:{sha[:12]}")


def _finish_file(conn: sqlite3.Connection, sha: str, pages: int) -> None:
    with write_transaction(conn):
        conn.execute("UPDATE files SET status = 'done', page_count = ?, finished_at = ? WHERE sha256 = ?",
                     (pages, now_iso(), sha))
        append_event(conn, "zonepaper", "scan.file_done", {"sha256": sha, "pages": pages}, subject=f"file:{sha[:12]}")


def _write_image(cycle: Cycle, sha: str, index: int, data: bytes | None) -> str | None:
    if data is None:
        return None
    rel = f"{PAGES_DIR}/{sha[:2]}/{sha[:16]}-{index:04d}.jpg"
    target = cycle.root / rel
    with private_umask():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return rel


def store_page(conn: sqlite3.Connection, cycle: Cycle, sha: str, result: PageResult,
               received: str) -> tuple[str, str | None]:
    """Store one page and what it says, in one transaction. Returns (kind stored, quarantine reason)."""
    image = _write_image(cycle, sha, result.index, result.image)
    kind, reason, detail = result.kind, result.reason, result.detail
    with write_transaction(conn):
        if conn.execute("SELECT 1 FROM pages WHERE file_sha256 = ? AND page_index = ?",
                        (sha, result.index)).fetchone():
            return kind, reason  # stored by an earlier run
        if kind == "front":
            issued = conn.execute("SELECT 1 FROM serials WHERE serial = ?", (result.serial,)).fetchone()
            existing = conn.execute("SELECT serial FROM applications WHERE serial = ?", (result.serial,)).fetchone()
            if not issued:
                kind, reason, detail = "quarantined", "not_issued", result.serial
            elif existing:
                kind, reason, detail = "quarantined", "duplicate", result.serial
            elif active_freeze(conn):  # a new application would change the draw's frozen inputs
                kind, reason, detail = "quarantined", "after_freeze", result.serial
        elif kind == "reply":
            known = conn.execute("SELECT 1 FROM applications WHERE serial = ?", (result.serial,)).fetchone()
            answered = conn.execute("SELECT 1 FROM fields WHERE serial = ? AND name = 'reply'",
                                    (result.serial,)).fetchone()
            if not known:
                kind, reason, detail = "quarantined", "reply_unknown", result.serial
            elif answered:
                kind, reason, detail = "quarantined", "duplicate_reply", result.serial
        elif reason == "correction_slip":  # a confirmation letter's correction: set aside for a coordinator
            if not conn.execute("SELECT 1 FROM applications WHERE serial = ?", (result.serial,)).fetchone():
                reason = "correction_unknown"
        page_id = conn.execute(
            "INSERT INTO pages (file_sha256, page_index, kind, serial, reason, detail, rotation, registration_error, "
            "image, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (sha, result.index, kind, result.serial, reason, detail, result.rotation, result.registration_error,
             image, now_iso())).lastrowid
        subject = f"page:{sha[:12]}:{result.index}"
        if kind == "front":
            create_read_application(conn, result.serial or "", result.fields, page_id, received)
        elif kind == "reply":
            _store_reply(conn, result, page_id)
        elif kind == "quarantined":
            append_event(conn, "zonepaper", "scan.page_quarantined",
                         {"page": page_id, "reason": reason, "serial": result.serial}, subject=subject)
            if reason == "duplicate":
                hold_duplicate(conn, result.serial or "", page_id)
        else:
            append_event(conn, "zonepaper", f"scan.page_{kind}", {"page": page_id, "serial": result.serial},
                         subject=subject)
    return kind, reason


def _store_reply(conn: sqlite3.Connection, result: PageResult, page_id: int) -> None:
    """A family's answer to its assignment letter: two more fields of its application, and an event."""
    serial = result.serial or ""
    insert_fields(conn, serial, result.fields, page_id)
    answer = next(f for f in result.fields if f.name == "reply")
    record_application_event(conn, "zonepaper", "reply.scanned", serial,
                             {"page": page_id, "answer": answer.value, "status": answer.status})
