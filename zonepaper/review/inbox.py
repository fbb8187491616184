"""The server's inbox: files the stations sent are read by `zonepaper scan ingest`, in its own process.

Reading is the same pipeline, crash safety and idempotence as at the command line (one ingest per
cycle at a time: a `scan ingest` already running is waited for), and it runs in another process, so
that reviewers are never kept waiting by it. Files are taken in the order they arrived, those of one
received batch together. A file stays `stored` until its ingest has finished: a server stopped or
killed in the middle reads it again when it starts (every page still ends up stored once).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from typing import Callable

from zonepaper.cycle import Cycle
from zonepaper.errors import ExitCode
from zonepaper.review.station import incoming_folder, incoming_path
from zonepaper.review.writer import Writer
from zonepaper.store.database import write_transaction
from zonepaper.store.integrity import record_event
from zonepaper.store.migrations import now_iso

# another ingest running; a full disk; poppler missing on the server: said in the log, tried again
RETRY_SECONDS = {ExitCode.conflict: 5.0, ExitCode.disk_full: 60.0, ExitCode.missing_dependency: 60.0}


def _mark(conn, shas: list[str], status: str, detail: str | None) -> None:  # noqa: ANN001
    with write_transaction(conn):
        for sha in shas:
            conn.execute("UPDATE uploads SET status = ?, detail = ?, finished_at = ? WHERE sha256 = ?",
                         (status, detail, now_iso(), sha))
            record_event(conn, "zonepaper", f"station.file_{status}", {"sha256": sha, "detail": detail},
                         f"file:{sha[:12]}", ("uploads",))


def _retry_failed(conn) -> None:  # noqa: ANN001
    """A server started again tries once more the files it could not read before (the cause was the
    machine's: a full disk, a missing program, a crash; a file that is no scan is quarantined, not failed)."""
    with write_transaction(conn):
        failed = [r[0] for r in conn.execute("SELECT sha256 FROM uploads WHERE status = 'failed'")]
        if failed:
            conn.execute("UPDATE uploads SET status = 'stored', detail = NULL WHERE status = 'failed'")
            record_event(conn, "zonepaper", "station.files_retried", {"files": failed}, None, ("uploads",))


class Inbox:
    """A thread that ingests the stored uploads, one `scan ingest` process at a time."""

    def __init__(self, cycle: Cycle, writer: Writer, log: Callable[[str], None]) -> None:
        self.cycle, self.writer, self.log = cycle, writer, log
        self._wake, self._stop = threading.Event(), threading.Event()
        self._process: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._run, name="zonepaper-inbox", daemon=True)

    @property
    def started(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> "Inbox":
        if not self.started:
            self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()  # ingest stops cleanly between pages; the file is read again next time
        self._thread.join(timeout=30)

    def _pending(self) -> list[tuple[str, str, str]]:
        return self.writer.run(lambda conn: conn.execute(
            "SELECT sha256, name, received FROM uploads WHERE status = 'stored' ORDER BY created_at, sha256"
        ).fetchall())

    def _run(self) -> None:
        self.writer.run(_retry_failed)
        while not self._stop.is_set():
            pending = self._pending()
            if not pending:
                self._wake.wait(timeout=5)
                self._wake.clear()
                continue
            received = pending[0][2]
            group = [(sha, name) for sha, name, r in pending if r == received]
            paths = [incoming_path(self.cycle, sha, name) for sha, name in group]
            missing = [sha for (sha, _), p in zip(group, paths) if not p.is_file()]
            if missing:  # removed behind the server's back: said, and the station may send it again
                self.writer.run(_mark, missing, "failed", "the file was no longer in incoming/")
                continue
            code, detail = self._ingest([str(p) for p in paths], received)
            if self._stop.is_set():
                return
            if code == 0:
                self.writer.run(_mark, [sha for sha, _ in group], "ingested", None)
                for sha, _ in group:
                    shutil.rmtree(incoming_folder(self.cycle, sha), ignore_errors=True)
                self.log(f"inbox: {len(group)} file(s) read")
            elif code in RETRY_SECONDS:
                self.log(f"inbox: waiting ({detail})")
                self._stop.wait(RETRY_SECONDS[ExitCode(code)])
            else:
                self.writer.run(_mark, [sha for sha, _ in group], "failed", detail)
                self.log(f"inbox: ingest failed ({detail})")

    def _ingest(self, paths: list[str], received: str) -> tuple[int, str]:
        command = [sys.executable, "-m", "zonepaper", "scan", "ingest", *paths, "--received", received,
                   "--cycle", str(self.cycle.root)]
        if shutil.which("nice"):  # reading yields the processor to the reviewers' requests
            command = ["nice", "-n", "10", *command]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            _, err = self._process.communicate()
        finally:
            code, self._process = self._process.returncode, None
        lines = [line for line in (err or "").splitlines() if line.strip() and "%" not in line]  # not the bar
        return code, (lines[-1] if lines else f"exit {code}")[:500]
