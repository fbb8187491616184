"""`zonepaper scan send`: a scanning station sends its scanned files to the cycle's server.

Every file is named by its content hash (SHA-256) before anything is sent: the server says whether it
has it already (skipped), has part of it (sent on from there) or not. Files go in chunks; a chunk the
server already has is never appended twice, so a send killed at any moment and run again ends with
each file on the server exactly once. The station keeps its own small log of what each server
confirmed (`.zonepaper-sent.jsonl` in the folder sent), so that it can scan offline and send later,
and a second send skips what was sent without asking again.

Children's data crosses the network here: plain HTTP is refused to anything but this computer
unless the user says --insecure; a server with its own certificate is trusted with --ca-cert.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from zonepaper.errors import ConflictError, InvalidInputError
from zonepaper.scan.ingest import display_name, file_sha256, parse_received
from zonepaper.scan.raster import find_files

LOG_NAME = ".zonepaper-sent.jsonl"
CHUNK = 1024 * 1024
TRIES = 4  # a chunk whose answer is lost is sent again this many times, waiting longer each time


@dataclass
class SendSummary:
    files: int = 0
    sent: int = 0
    skipped: int = 0  # the server had them already
    resumed: int = 0  # sent on from where an earlier send stopped
    bytes_sent: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file, why), in the user's language
    not_read: list[str] = field(default_factory=list)  # files in the folders that are not scans
    log: Path | None = None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, insecure: bool) -> bool:
    """Whether the server's address may be used; True when it is plain HTTP beyond this computer (the
    user said --insecure and is warned). Plain HTTP to another computer without --insecure is refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError("send.bad_url", url=url)
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        if not insecure:
            raise InvalidInputError("send.plain_http", url=url)
        return True
    return False


class StationLog:
    """What this station sent and each server confirmed: one JSON line per file, appended and synced."""

    def __init__(self, path: Path, server: str) -> None:
        self.path, self.server = path, server
        self.known: dict[tuple[str, int, int], str] = {}  # (name, size, mtime) -> sha: no need to hash again
        self.confirmed: set[str] = set()
        try:
            path.open("a", encoding="utf-8").close()  # said before anything is sent, not after the first file
        except OSError as exc:
            raise InvalidInputError("send.log_unwritable", file=str(path), reason=exc.strerror or str(exc)) from None
        if path.is_file():
            for line in path.read_text("utf-8", "replace").splitlines():
                try:
                    row = json.loads(line)
                    self.known[(row["path"], int(row["size"]), int(row["mtime_ns"]))] = row["sha256"]
                    if row.get("server") == server:
                        self.confirmed.add(row["sha256"])
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a killed send: the file is asked about again

    def sha(self, path: Path, key: tuple[str, int, int]) -> str:
        return self.known.get(key) or file_sha256(path)

    def add(self, key: tuple[str, int, int], sha: str, state: str) -> None:
        row = {"path": key[0], "size": key[1], "mtime_ns": key[2], "sha256": sha, "server": self.server,
               "state": state, "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.known[key] = sha
        self.confirmed.add(sha)


class Station:
    """The station's side of the conversation with the server (httpx2)."""

    def __init__(self, url: str, ca_cert: Path | None = None, timeout: float = 60.0) -> None:
        import httpx2

        self.httpx = httpx2
        self.url = url.rstrip("/")
        self.client = httpx2.Client(base_url=self.url, timeout=timeout,
                                    verify=str(ca_cert) if ca_cert else True, follow_redirects=False)
        self.csrf, self.chunk, self.max_bytes = "", CHUNK, 0

    def close(self) -> None:
        self.client.close()

    def call(self, method: str, path: str, headers: dict | None = None, **kwargs) -> tuple[int, dict]:
        """One request, sent again after a lost answer or a dropped connection (every request here may
        be repeated safely); the server's status and JSON answer."""
        headers = {**({"X-CSRF-Token": self.csrf} if self.csrf else {}), **(headers or {})}
        for attempt in range(TRIES):
            try:
                reply = self.client.request(method, path, headers=headers, **kwargs)
                break
            except self.httpx.TransportError as exc:
                if "CERTIFICATE_VERIFY_FAILED" in str(exc):  # sending again would not help
                    raise InvalidInputError("send.certificate", url=self.url, reason=str(exc)) from None
                if attempt == TRIES - 1:
                    raise ConflictError("send.unreachable", url=self.url, reason=str(exc) or type(exc).__name__
                                        ) from None
                time.sleep(0.5 * 2 ** attempt)
        try:
            body = reply.json()
        except ValueError:
            body = {"error": reply.text[:200]}
        return reply.status_code, body if isinstance(body, dict) else {}

    def login(self, name: str, password: str) -> None:
        status, body = self.call("POST", "/api/station/login", json={"name": name, "password": password})
        if status != 200:
            raise InvalidInputError("send.login_refused", url=self.url, name=name, reason=body.get("error", status))
        self.csrf = body["csrf"]
        self.chunk = int(body.get("chunk", CHUNK))
        self.max_bytes = int(body.get("max_bytes", 0))

    def state(self, sha: str) -> dict:
        status, body = self.call("GET", "/api/station/file", params={"sha": sha})
        if status != 200:
            raise ConflictError("send.server_refused", url=self.url, reason=body.get("error", status))
        return body


def _received_for(path: Path, received: str | None) -> str:
    """The received batch a file is sent with: --received, else the day the file was scanned (written)."""
    if received:
        return parse_received(received)
    return date.fromtimestamp(path.stat().st_mtime).isoformat()


def send(paths: list[Path], url: str, user: str, password: str, received: str | None = None,
         insecure: bool = False, ca_cert: Path | None = None, log_path: Path | None = None,
         on_bytes: Callable[[int, int], None] | None = None, chunk: int = CHUNK) -> SendSummary:
    """Send every scan file in paths to the server; on_bytes(sent now, total) as chunks go."""
    for p in paths:
        if not p.exists():
            raise InvalidInputError("scan.path_missing", path=str(p))
    if received:
        parse_received(received)  # a bad date is said before anything is sent
    check_url(url, insecure)
    files, other = find_files(paths)
    first = paths[0] if paths[0].is_dir() else paths[0].parent
    log = StationLog(log_path or first / LOG_NAME, url.rstrip("/"))
    summary = SendSummary(files=len(files), not_read=[display_name(p) for p in other], log=log.path)
    station = Station(url, ca_cert)
    try:
        station.login(user, password)
        station.chunk = max(4096, min(station.chunk, chunk))
        sizes = {p: p.stat().st_size for p in files}
        total = sum(sizes.values())
        for path in files:
            _send_file(station, log, path, sizes[path], received, summary, total, on_bytes)
    finally:
        station.close()
    return summary


def _send_file(station: Station, log: StationLog, path: Path, size: int, received: str | None,
               summary: SendSummary, total: int, on_bytes: Callable[[int, int], None] | None) -> None:
    stat = path.stat()
    key = (str(path.resolve()), size, stat.st_mtime_ns)
    name = display_name(path)
    progress = on_bytes or (lambda sent, whole: None)
    if station.max_bytes and size > station.max_bytes:
        summary.refused.append((name, f"> {station.max_bytes // (1024 * 1024)} MB"))
        progress(size, total)
        return
    sha = log.sha(path, key)
    if sha in log.confirmed:
        summary.skipped += 1
        progress(size, total)
        return
    state = station.state(sha)
    if state["state"] in ("stored", "ingested", "failed"):  # the server has it whole (failed: said there)
        log.add(key, sha, state["state"])
        summary.skipped += 1
        progress(size, total)
        return
    offset = int(state.get("received") or 0)
    if offset:
        summary.resumed += 1
        progress(offset, total)
    with path.open("rb") as fh:
        while offset < size:
            fh.seek(offset)
            data = fh.read(station.chunk)
            status, body = station.call("POST", "/api/station/chunk", params={"sha": sha, "offset": offset},
                                        content=data, headers={"Content-Type": "application/octet-stream"})
            if status == 409 and isinstance(body.get("received"), int):  # the server has more, or less: go on there
                offset = body["received"]
                continue
            if status != 200:
                summary.refused.append((name, str(body.get("error", status))))
                return
            if body.get("state") != "partial":  # the whole file reached the server by another way meanwhile
                break
            progress(body["received"] - offset, total)
            summary.bytes_sent += body["received"] - offset
            offset = body["received"]
    status, body = station.call("POST", "/api/station/done", json={"sha": sha, "name": name, "size": size,
                                                                     "received": _received_for(path, received)})
    if status != 200:
        summary.refused.append((name, str(body.get("error", status))))
        return
    log.add(key, sha, body.get("state", "stored"))
    summary.sent += 1
