"""Scanning stations: who may send, what the server takes (type, size, hash, offsets, hostile names),
and a real station process sending to a real TLS server while two reviewers work, killed halfway."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent.parent / "scripts"))
from bench_review import Person  # noqa: E402  (scripts/bench_review.py: a person's browser on the review page)

from zonepaper.errors import InvalidInputError
from zonepaper.review import accounts
from zonepaper.review.routes import LOCAL_HOSTS, build_app
from zonepaper.review.station import INCOMING, MAGIC, safe_name
from zonepaper.scan.raster import SUFFIXES, count_pages
from zonepaper.scan.send import check_url

PASSWORD = "a good password"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100


@pytest.fixture
def site(desk):
    c, conn = desk[0], desk[1]
    accounts.add_user(conn, "sta", "station", PASSWORD)
    app, state = build_app(c, log=lambda line: None, allowed_hosts=LOCAL_HOSTS + ("testserver",))
    yield c, app, state, conn
    state.close()


def station_client(app, name: str = "sta") -> tuple[TestClient, dict]:
    client = TestClient(app, follow_redirects=False)
    reply = client.post("/api/station/login", json={"name": name, "password": PASSWORD})
    return client, reply.json() | {"status": reply.status_code}


def put(client: TestClient, csrf: str, data: bytes, offset: int = 0, sha: str | None = None):
    sha = sha or hashlib.sha256(data).hexdigest()
    return client.post(f"/api/station/chunk?sha={sha}&offset={offset}", content=data,
                       headers={"X-CSRF-Token": csrf, "Content-Type": "application/octet-stream"})


def test_only_stations_and_coordinators_may_send_and_a_station_sees_no_familys_data(site) -> None:
    _, app, _, _ = site
    client, login = station_client(app)
    assert login["status"] == 200 and login["role"] == "station"
    for path in ("/api/items", "/img/page/1", "/img/field/1", "/api/dashboard", "/api/recent"):
        assert client.get(path).status_code == 403, path
    for path in ("/dashboard", "/form", "/form/1", "/quarantine", "/quarantine/1", "/field", "/blanks"):
        reply = client.get(path)  # a page: back to the station's own
        assert reply.status_code == 303 and reply.headers["location"] == "/station", path
    assert client.get("/station").status_code == 200
    assert client.get("/").headers["location"] == "/station"
    _, refused = station_client(app, "bob")  # a reviewer
    assert refused["status"] == 403 and refused["code"] == "not_a_station"
    anonymous = TestClient(app, follow_redirects=False)
    assert put(anonymous, "x", PNG).status_code == 401
    _, coordinator = station_client(app, "ana")
    assert coordinator["status"] == 200
    assert put(client, "not the token", PNG).status_code == 403  # the CSRF token is needed as on every POST


def test_a_file_arrives_once_whatever_chunks_are_repeated_late_or_out_of_order(site) -> None:
    c, app, _, conn = site
    client, login = station_client(app)
    csrf = login["csrf"]
    data = PNG + os.urandom(5000)
    sha = hashlib.sha256(data).hexdigest()
    assert client.get(f"/api/station/file?sha={sha}").json() == {"state": "absent", "received": 0}
    assert put(client, csrf, data[:1000], 0, sha).json()["received"] == 1000
    again = put(client, csrf, data[:1000], 0, sha)  # the answer was lost: the same chunk once more
    assert again.status_code == 409 and again.json()["received"] == 1000
    early = put(client, csrf, data[3000:4000], 3000, sha)
    assert early.status_code == 409 and early.json()["received"] == 1000
    assert put(client, csrf, data[1000:], 1000, sha).json()["received"] == len(data)
    assert client.get(f"/api/station/file?sha={sha}").json() == {"state": "partial", "received": len(data)}
    done = client.post("/api/station/done", json={"sha": sha, "name": "../../zonepaper.db.png", "size": len(data),
                                                  "received": "2009-03-14"}, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200, done.text
    stored = c.root / INCOMING / sha / "zonepaper.db.png"
    assert stored.read_bytes() == data and (c.root / "zonepaper.db").stat().st_size > len(data) * 0 + 1000
    row = conn.execute("SELECT name, size, received, status FROM uploads WHERE sha256 = ?", (sha,)).fetchone()
    assert row == ("zonepaper.db.png", len(data), "2009-03-14", "stored")
    assert conn.execute("SELECT count(*) FROM events WHERE kind = 'station.file_received'").fetchone()[0] == 1
    twice = client.post("/api/station/done", json={"sha": sha, "name": "x.png", "size": len(data)},
                        headers={"X-CSRF-Token": csrf})
    assert twice.json()["state"] == "stored"  # said again: nothing changes
    assert put(client, csrf, data[:10], 0, sha).json()["state"] == "stored"
    assert conn.execute("SELECT count(*) FROM uploads").fetchone()[0] == 1


def test_what_is_not_a_scan_too_large_or_damaged_is_refused_before_it_is_stored(site) -> None:
    c, app, state, conn = site
    client, login = station_client(app)
    csrf = login["csrf"]
    script = b"#!/bin/sh\nrm -rf /\n" + b"x" * 100
    reply = put(client, csrf, script)
    assert reply.status_code == 415 and "PDF" in reply.json()["error"]
    assert not list((c.root / INCOMING).glob("*.part")) if (c.root / INCOMING).exists() else True
    state.max_upload = 2000
    big = PNG + b"\1" * 3000
    assert put(client, csrf, big).status_code == 413
    state.max_upload = 10 ** 9
    pdf_named_png = b"%PDF-1.4\n" + b"\2" * 300  # a PDF sent under a PNG's name
    sha = hashlib.sha256(pdf_named_png).hexdigest()
    assert put(client, csrf, pdf_named_png, 0, sha).status_code == 200
    wrong = client.post("/api/station/done", json={"sha": sha, "name": "scan.png", "size": len(pdf_named_png)},
                        headers={"X-CSRF-Token": csrf})
    assert wrong.status_code == 415
    other = PNG + b"\3" * 300
    claimed = hashlib.sha256(b"something else").hexdigest()  # bytes that are not what the station hashed
    assert put(client, csrf, other, 0, claimed).status_code == 200
    damaged = client.post("/api/station/done", json={"sha": claimed, "name": "a.png", "size": len(other)},
                          headers={"X-CSRF-Token": csrf})
    assert damaged.status_code == 422 and damaged.json()["code"] == "hash_mismatch"
    assert client.get(f"/api/station/file?sha={claimed}").json()["state"] == "absent"  # sent again from the start
    bad_date = client.post("/api/station/done", json={"sha": claimed, "name": "a.png", "size": 1,
                                                      "received": "14/03/2009"}, headers={"X-CSRF-Token": csrf})
    assert bad_date.status_code == 422
    assert conn.execute("SELECT count(*) FROM uploads").fetchone()[0] == 0


@pytest.mark.parametrize("name, expected", [("../../x.pdf", "x.pdf"), ("C:\\scans\\Lote 1.PDF", "Lote 1.pdf"),
                                            ("..pdf", "scan.pdf"), ("a\x00b\nc.tif", "abc.tif"),
                                            ("é" * 300 + ".png", "é" * 116 + ".png")])
def test_hostile_file_names_are_made_safe(name: str, expected: str) -> None:
    assert safe_name(name) == expected


def test_the_server_takes_every_kind_of_file_ingest_reads_and_no_other() -> None:
    assert set(MAGIC) == SUFFIXES


def test_plain_http_is_refused_beyond_this_computer_unless_told_insecure() -> None:
    assert check_url("https://review.office.lan:8765", False) is False
    assert check_url("http://127.0.0.1:8765", False) is False
    assert check_url("http://[::1]:8765", False) is False
    with pytest.raises(InvalidInputError) as refused:
        check_url("http://192.168.1.20:8765", False)
    assert refused.value.key == "send.plain_http"
    assert check_url("http://192.168.1.20:8765", True) is True  # allowed, and the command warns
    with pytest.raises(InvalidInputError):
        check_url("ftp://server/", True)


# --- a real station, a real server --------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def zonepaper(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "zonepaper", *args], **kwargs)


class Reviewer(threading.Thread):
    """A person on the review page (over https): asks for the next item and accepts it, until told to stop."""

    def __init__(self, port: int, name: str, context: ssl.SSLContext, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.name_, self.context, self.stop = port, name, context, stop
        self.decided, self.error = 0, None

    def run(self) -> None:
        try:
            person = Person(http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30, context=self.context))
            csrf = person.log_in(self.name_, PASSWORD)
            while not self.stop.is_set():
                _, status = person.accept_next(csrf)
                if status is None:
                    time.sleep(0.2)
                self.decided += status == 200
        except Exception as exc:  # reported by the test
            self.error = f"{type(exc).__name__}: {exc}"


@pytest.mark.slow
def test_a_station_killed_halfway_resumes_and_every_page_is_stored_exactly_once(tmp_path: Path) -> None:
    from zonepaper.cycle import init_cycle
    from zonepaper.forms.batch import print_forms
    from zonepaper.simulate import simulate

    c = init_cycle(tmp_path / "cycle", "belmont")
    print_forms(c, 40, "t")
    scans = tmp_path / "station"
    simulate(c, 36, scans, seed=5)
    (scans / "truth.json").unlink()
    files = sorted(p for p in scans.iterdir() if p.is_file())
    pages = sum(count_pages(p) for p in files)
    assert pages >= 40 and len(files) >= 3
    db = c.db()
    for name, role in (("ana", "coordinator"), ("bob", "reviewer"), ("sta", "station")):
        accounts.add_user(db.conn, name, role, PASSWORD)
    db.close()
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    port = free_port()
    env = {**os.environ, "ZONEPAPER_LANG": "en", "ZONEPAPER_PASSWORD": PASSWORD}
    server = zonepaper("review", "serve", "--cycle", str(c.root), "--port", str(port), "--tls-cert", str(cert),
                       "--tls-key", str(key), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    stop = threading.Event()
    try:
        assert "https://127.0.0.1" in server.stdout.readline()
        context = ssl.create_default_context(cafile=str(cert))
        reviewers = [Reviewer(port, name, context, stop) for name in ("ana", "bob")]
        for r in reviewers:
            r.start()
        send = ["scan", "send", str(scans), "--to", f"https://127.0.0.1:{port}", "--user", "sta", "--ca-cert",
                str(cert), "--chunk-kb", "64", "--received", "2009-03-14"]
        station = zonepaper(*send, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        incoming, total = c.root / INCOMING, sum(p.stat().st_size for p in files)
        deadline = time.time() + 120
        while time.time() < deadline:  # killed once about half of the bytes have arrived
            arrived = sum(p.stat().st_size for p in incoming.rglob("*") if p.is_file()) if incoming.exists() else 0
            if arrived + sum(p.stat().st_size for p in (c.root / "originals").rglob("*") if p.is_file()) > total / 2:
                break
            time.sleep(0.02)
        station.send_signal(signal.SIGKILL)
        station.wait()
        assert list(incoming.glob("*.part")), "the station was to be killed in the middle of a file"
        again = zonepaper(*send, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        out, err = again.communicate(timeout=300)
        assert again.returncode == 0, err
        assert re.search(r"(\d+) continued where they had stopped", out).group(1) == "1", out
        assert "already on the server" in out
        deadline = time.time() + 300
        db = c.db()
        while time.time() < deadline:
            waiting = db.conn.execute("SELECT count(*) FROM uploads WHERE status != 'ingested'").fetchone()[0]
            if not waiting:
                break
            time.sleep(0.5)
        assert waiting == 0
        rows = db.conn.execute("SELECT file_sha256, page_index FROM pages").fetchall()
        assert len(rows) == len(set(rows)) == pages  # every page exactly once
        shas = {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
        assert {r[0] for r in db.conn.execute("SELECT sha256 FROM files WHERE status = 'done'")} == shas
        assert {r[0] for r in db.conn.execute("SELECT DISTINCT received_batch FROM files")} == {"2009-03-14"}
        assert db.conn.execute("SELECT count(*) FROM uploads").fetchone()[0] == len(files)
        assert not any(incoming.iterdir())  # read, and the copies waiting for it gone
        db.close()
        time.sleep(1)
        stop.set()
        for r in reviewers:
            r.join(timeout=30)
            assert r.error is None, r.error
        assert sum(r.decided for r in reviewers) > 0
        verify = subprocess.run([sys.executable, "-m", "zonepaper", "verify", "--cycle", str(c.root)],
                                capture_output=True, text=True, env=env)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        stop.set()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_every_role_has_its_name_in_both_languages() -> None:
    from zonepaper.review.app import t
    from zonepaper.review.queue import ROLES

    for role in ROLES:
        for lang in ("es", "en"):
            assert t(lang, f"role.{role}") != f"role.{role}", (role, lang)


def test_a_file_not_yet_read_stops_a_freeze_and_marking_it_read_behind_the_tools_back_is_found(site) -> None:
    from zonepaper.draw.inputs import unfinished
    from zonepaper.store.integrity import changed_tables

    _, app, _, conn = site
    client, login = station_client(app)
    data = PNG + b"\4" * 200
    sha = hashlib.sha256(data).hexdigest()
    assert put(client, login["csrf"], data, 0, sha).status_code == 200
    assert client.post("/api/station/done", json={"sha": sha, "name": "a.png", "size": len(data),
                                                  "received": "2009-03-14"},
                       headers={"X-CSRF-Token": login["csrf"]}).status_code == 200
    left = unfinished(conn)
    assert left.uploads == 1 and left.any
    assert changed_tables(conn, ["uploads"]) == []
    conn.execute("UPDATE uploads SET status = 'ingested'")  # so that a freeze would go ahead without it
    assert changed_tables(conn, ["uploads"]) == [("uploads", "changed")]


def test_the_inbox_reads_what_arrived_says_what_it_could_not_and_tries_again_when_started(site, tmp_path) -> None:
    import numpy as np
    from PIL import Image

    from zonepaper.review.inbox import Inbox
    from zonepaper.review.station import _record, incoming_path
    from zonepaper.review.writer import Writer

    c, _, _, conn = site
    station = conn.execute("SELECT id FROM users WHERE name = 'sta'").fetchone()[0]
    blank = incoming_path(c, "a" * 64, "hoja.png")
    blank.parent.mkdir(parents=True)
    Image.fromarray(np.full((2200, 1700), 250, np.uint8)).save(blank)  # a blank sheet: read, and kept as blank
    _record(conn, "a" * 64, "hoja.png", blank.stat().st_size, "2009-03-14", station, "sta")
    _record(conn, "b" * 64, "gone.pdf", 10, "2009-03-14", station, "sta")  # its file removed behind our back
    writer = Writer(c.db_path)
    lines: list[str] = []
    for attempt in range(2):
        inbox = Inbox(c, writer, lines.append).start()
        deadline = time.time() + 120
        while time.time() < deadline:  # until this start's inbox said again that it could not read the file
            states = dict(conn.execute("SELECT name, status FROM uploads").fetchall())
            said = conn.execute("SELECT count(*) FROM events WHERE kind = 'station.file_failed'").fetchone()[0]
            if "stored" not in states.values() and said == attempt + 1:
                break
            time.sleep(0.2)
        inbox.stop()
        assert states == {"hoja.png": "ingested", "gone.pdf": "failed"}, (attempt, states, lines)
    writer.close()
    assert conn.execute("SELECT original_name, page_count FROM files").fetchall() == [("hoja.png", 1)]
    assert not blank.parent.exists()  # read: the waiting copy is gone, the original kept under originals/
    kinds = [r[0] for r in conn.execute("SELECT kind FROM events WHERE kind LIKE 'station.%' ORDER BY id")]
    assert kinds.count("station.file_failed") == 2 and "station.files_retried" in kinds


def test_a_station_that_cannot_keep_its_log_is_told_before_anything_is_sent(tmp_path: Path) -> None:
    from zonepaper.scan.send import send

    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / "a.png").write_bytes(PNG)
    with pytest.raises(InvalidInputError) as refused:
        send([scans], "https://127.0.0.1:1", "sta", "x", log_path=tmp_path / "no" / "such" / "log.jsonl")
    assert refused.value.key == "send.log_unwritable" and "--log" in refused.value.message("en")
