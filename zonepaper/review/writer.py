"""One writer for the whole app: every write runs on one thread with one connection, in order.

Web requests run on many threads; they read through their own connections (WAL lets
readers go on while the writer writes) and hand every write to the writer, waiting for its
answer. That keeps SQLite from ever seeing two writers, so a write never waits on a lock.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from zonepaper.store.database import connect


class Writer:
    def __init__(self, db_path: Path) -> None:
        self._path = db_path
        self._jobs: queue.Queue[tuple[Callable[..., Any], tuple, Future] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="zonepaper-writer", daemon=True)
        self._ready = threading.Event()
        self._thread.start()
        self._ready.wait()

    def _run(self) -> None:
        db = connect(self._path)
        self._ready.set()
        try:
            while (job := self._jobs.get()) is not None:
                fn, args, future = job
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(fn(db.conn, *args))
                except BaseException as exc:  # handed back to the request that asked
                    future.set_exception(exc)
        finally:
            db.close()

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run fn(conn, *args) on the writer and return its result (or raise its exception)."""
        future: Future = Future()
        self._jobs.put((fn, args, future))
        return future.result()

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=10)


class Readers:
    """A small pool of read-only connections shared by the request threads."""

    def __init__(self, db_path: Path) -> None:
        self._path = db_path
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = sqlite3.connect(str(self._path), isolation_level=None, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA query_only=ON")
            with self._lock:
                self._all.append(conn)
        try:
            yield conn
        finally:
            self._idle.put(conn)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
