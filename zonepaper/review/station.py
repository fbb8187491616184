"""Scanning stations send their scanned files to the cycle's server (`zonepaper scan send`).

The station asks what the server has of a file by its content hash (SHA-256) first: a file already
there is skipped, a file half sent goes on from where it stopped. The file arrives in chunks,
appended to `incoming/<sha>.part` only at the offset the server has (a repeated or late chunk changes
nothing); the first chunk must begin as a scan does (PDF, TIFF, PNG, JPEG, BMP, WebP, GIF), and no
file may be larger than the server's limit. When the station says it is done, the server checks the
size, the hash and the type against the name, records the upload (an event names the station and
the received batch it gave) and hands the file to the inbox, which ingests it through the same
pipeline as `scan ingest`. Only accounts with the role `station` (or coordinators) may send.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import unicodedata
from pathlib import Path

from starlette.responses import Response

from zonepaper.cycle import Cycle, private_umask
from zonepaper.fields import received_time
from zonepaper.review import accounts
from zonepaper.review.app import t
from zonepaper.review.routes import Ctx, log_in, route
from zonepaper.store.database import write_transaction
from zonepaper.store.integrity import record_event
from zonepaper.store.migrations import now_iso

INCOMING = "incoming"
CHUNK_MAX = 4 * 1024 * 1024  # bytes in one request; scan send sends 1 MiB
SHA = re.compile(r"[0-9a-f]{64}")
MAGIC = {  # what ingest reads (scan.raster's suffixes), by the bytes each kind of file begins with
    ".pdf": (b"%PDF-",), ".png": (b"\x89PNG\r\n\x1a\n",), ".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",),
    ".tif": (b"II*\x00", b"MM\x00*"), ".tiff": (b"II*\x00", b"MM\x00*"), ".bmp": (b"BM",),
    ".gif": (b"GIF87a", b"GIF89a"), ".webp": (b"RIFF",)}
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def looks_like_scan(head: bytes, suffix: str | None = None) -> bool:
    """Whether a file's first bytes are those of a scan (of the kind its suffix names, when given)."""
    kinds = [suffix] if suffix else list(MAGIC)
    for kind in kinds:
        for magic in MAGIC.get(kind, ()):
            if head.startswith(magic) and (kind != ".webp" or head[8:12] == b"WEBP"):
                return True
    return False


def safe_name(name: str) -> str:
    """A station's file name as the server stores it: no folders, no control characters, at most 120
    characters, its suffix kept (a hostile name such as ../../zonepaper.db becomes zonepaper.db)."""
    base = unicodedata.normalize("NFC", re.split(r"[/\\]", name or "")[-1])
    base = "".join(c for c in base if c.isprintable()).strip()
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = f".{suffix.lower()}" if dot else ""
    stem = stem.strip().lstrip(".")  # never a hidden file
    return (stem[: 120 - len(suffix)] or "scan") + suffix


def _lock(sha: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(sha, threading.Lock())


def part_path(cycle: Cycle, sha: str) -> Path:
    return cycle.root / INCOMING / f"{sha}.part"


def incoming_folder(cycle: Cycle, sha: str) -> Path:
    """Where a whole upload waits for the inbox: a folder of its own, so that its name is the station's."""
    return cycle.root / INCOMING / sha


def incoming_path(cycle: Cycle, sha: str, name: str) -> Path:
    return incoming_folder(cycle, sha) / name


def state_of(ctx: Ctx, sha: str) -> dict:
    """What the server has of a file: ingested, stored (waiting to be read), failed, partial or absent."""
    with ctx.app.readers.connection() as conn:
        row = conn.execute("SELECT status, size FROM uploads WHERE sha256 = ?", (sha,)).fetchone()
        done = conn.execute("SELECT 1 FROM files WHERE sha256 = ? AND status = 'done'", (sha,)).fetchone()
    if row:
        return {"state": row[0], "received": row[1]}
    if done:  # read by a `scan ingest` of this cycle's own folder
        return {"state": "ingested", "received": None}
    part = part_path(ctx.app.cycle, sha)
    return {"state": "partial", "received": part.stat().st_size} if part.is_file() else \
        {"state": "absent", "received": 0}


def _sha(value: str) -> str | None:
    return value if SHA.fullmatch(value or "") else None


def _refuse(ctx: Ctx, status: int, key: str, **params: object) -> Response:
    return ctx.json({"error": t(ctx.lang, f"station.{key}", **params), "code": key}, status)


@route("POST", "/api/station/login", "public")
def station_login(ctx: Ctx) -> Response:
    """A station's login from the command line: JSON name and password; the session cookie and the CSRF
    token back. Only an account that may send files gets a session."""
    data = ctx.data()
    user, why = log_in(ctx, str(data.get("name", "")), str(data.get("password", "")))
    if user is None:
        return ctx.json({"error": t(ctx.lang, why), "code": why}, 429 if why == "login.too_many" else 401)
    if not user.may_upload:
        return _refuse(ctx, 403, "not_a_station", role=user.role)
    token, csrf = ctx.app.writer.run(accounts.start_session, user)
    return ctx.with_session(ctx.json({"csrf": csrf, "name": user.name, "role": user.role,
                                      "max_bytes": ctx.app.max_upload, "chunk": CHUNK_MAX}), token)


@route("GET", "/api/station/file", "upload")
def station_file(ctx: Ctx) -> Response:
    sha = _sha(ctx.arg("sha"))
    if sha is None:
        return _refuse(ctx, 400, "bad_hash")
    return ctx.json(state_of(ctx, sha))


@route("POST", "/api/station/chunk", "upload", max_body=CHUNK_MAX)
def station_chunk(ctx: Ctx) -> Response:
    """Append one chunk at `offset`, which must be what the server has; answers what it has now."""
    sha, offset = _sha(ctx.arg("sha")), ctx.arg("offset")
    if sha is None or not (offset.isascii() and offset.isdigit()):
        return _refuse(ctx, 400, "bad_hash")
    at, data = int(offset), ctx.body
    with _lock(sha):
        state = state_of(ctx, sha)
        if state["state"] not in ("partial", "absent"):
            return ctx.json(state)  # the whole file is there already: nothing to add
        if at != state["received"]:
            return ctx.json({**state, "error": "offset"}, 409)
        if at == 0 and not looks_like_scan(data[:16]):
            return _refuse(ctx, 415, "not_a_scan")
        if at + len(data) > ctx.app.max_upload:
            return _refuse(ctx, 413, "too_large", mb=ctx.app.max_upload // (1024 * 1024))
        part = part_path(ctx.app.cycle, sha)
        with private_umask():
            part.parent.mkdir(parents=True, exist_ok=True)
            with part.open("ab") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        return ctx.json({"state": "partial", "received": at + len(data)})


def _record(conn, sha: str, name: str, size: int, received: str, user_id: int, user_name: str) -> None:
    with write_transaction(conn):
        conn.execute("INSERT OR IGNORE INTO uploads (sha256, name, size, received, user_id, status, created_at) "
                     "VALUES (?, ?, ?, ?, ?, 'stored', ?)", (sha, name, size, received, user_id, now_iso()))
        record_event(conn, user_name, "station.file_received",
                     {"sha256": sha, "name": name, "size": size, "received": received}, f"file:{sha[:12]}", ("uploads",))


@route("POST", "/api/station/done", "upload")
def station_done(ctx: Ctx) -> Response:
    """The station has sent every byte: check the file whole and hand it to the inbox."""
    data, cycle = ctx.data(), ctx.app.cycle
    sha = _sha(str(data.get("sha", "")))
    size, name = data.get("size"), safe_name(str(data.get("name", "")))
    if sha is None or not isinstance(size, int):
        return _refuse(ctx, 400, "bad_hash")
    suffix = os.path.splitext(name)[1]
    if suffix not in MAGIC:
        return _refuse(ctx, 415, "not_a_scan")
    given = str(data.get("received") or "")
    received = received_time(given) if given else now_iso()[:10]  # (a station always says; else today)
    if received is None:
        return _refuse(ctx, 422, "bad_received", value=given[:40])
    with _lock(sha):
        state = state_of(ctx, sha)
        if state["state"] not in ("partial", "absent"):
            return ctx.json(state)
        part = part_path(cycle, sha)
        if state["received"] != size:
            return ctx.json({**state, "error": "size"}, 409)
        digest = hashlib.sha256()
        with part.open("rb") as fh:
            head = fh.read(16)
            digest.update(head)
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != sha or not looks_like_scan(head, suffix):
            part.unlink()  # not what the station hashed, or not what its name says: sent again from the start
            return _refuse(ctx, 422 if digest.hexdigest() != sha else 415,
                           "hash_mismatch" if digest.hexdigest() != sha else "not_a_scan")
        target = incoming_path(cycle, sha, name)
        with private_umask():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, target)
        ctx.app.writer.run(_record, sha, name, size, received, ctx.user.id, ctx.user.name)
    if ctx.app.inbox is not None:
        ctx.app.inbox.wake()
    return ctx.json({"state": "stored", "received": size})


@route("GET", "/station", "upload")
def station_page(ctx: Ctx) -> Response:
    """What this account has sent: each file, when, its received batch and whether it was read yet."""
    with ctx.app.readers.connection() as conn:
        rows = conn.execute("SELECT u.name, u.size, u.received, u.status, u.created_at, f.page_count FROM uploads u "
                            "LEFT JOIN files f ON f.sha256 = u.sha256 WHERE u.user_id = ? "
                            "ORDER BY u.created_at DESC LIMIT 200", (ctx.user.id,)).fetchall()
        counts = dict(conn.execute("SELECT status, count(*) FROM uploads WHERE user_id = ? GROUP BY status",
                                   (ctx.user.id,)).fetchall())
    url = str(ctx.request.base_url).rstrip("/")
    return ctx.page("station.html", "nav.station", {"mode": "station"}, rows=rows, counts=counts, url=url)
