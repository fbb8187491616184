"""The review page's routes through Starlette's TestClient (no browser): who may use each route,
what a malformed request gets, the headers on every reply, and the draw's freeze; and a few raw
requests to the real uvicorn server that no well-behaved client would send."""

from __future__ import annotations

import re
import socket

import pytest
from starlette.testclient import TestClient

from zonepaper.draw.ceremony import freeze
from zonepaper.review.routes import LOCAL_HOSTS, ROUTES, build_app
from zonepaper.review.serve import make_server, reachable_names
from zonepaper.serial import display_serial

PASSWORD = "a good password"


@pytest.fixture
def site(desk):  # the small cycle of conftest: three applications, four users
    c = desk[0]
    app, state = build_app(c, log=lambda line: None, allowed_hosts=LOCAL_HOSTS + ("testserver",))
    yield c, app
    state.close()


def logged_in(app, name: str) -> tuple[TestClient, str]:
    client = TestClient(app, follow_redirects=False)
    page = client.get("/login?lang=en")
    pre = re.search(r'name="pre" value="([^"]+)"', page.text).group(1)
    reply = client.post("/login", data={"pre": pre, "name": name, "password": PASSWORD, "lang": "en"})
    assert reply.status_code == 303, reply.text
    boot = client.get("/form").text
    csrf = re.search(r'"csrf": "([^"]+)"', boot).group(1)
    return client, csrf


def test_every_route_is_refused_without_a_login(site) -> None:
    _, app = site
    client = TestClient(app, follow_redirects=False)
    for method, path, need, *_ in ROUTES:
        url = path.replace("{id}", "1")
        reply = client.request(method, url)
        if need == "public":
            assert reply.status_code in (200, 303, 401), (method, path, reply.status_code)
        elif method == "GET" and not path.startswith(("/api/", "/img/")):
            assert reply.status_code == 303 and reply.headers["location"] == "/login", (method, path)
        else:
            assert reply.status_code in (401, 403), (method, path, reply.status_code)


@pytest.mark.parametrize("who, path, status", [
    ("bob", "/quarantine", 403), ("bob", "/quarantine/1", 403), ("aud", "/field", 403), ("aud", "/api/items", 403),
    ("aud", "/quarantine", 200), ("ana", "/quarantine", 200), ("bob", "/dashboard", 200), ("bob", "/field", 200),
])
def test_roles_are_checked_per_route(site, who: str, path: str, status: int) -> None:
    client, _ = logged_in(site[1], who)
    assert client.get(path).status_code == status


@pytest.mark.parametrize("path", ["/form/" + "9" * 20, "/img/page/99999999999999999999", "/img/field/%C3%A9",
                                  "/quarantine/-1", "/form/1e3", "/img/page/٣"])
def test_a_malformed_id_is_not_found_never_a_server_error(site, path: str) -> None:
    client, _ = logged_in(site[1], "ana")
    reply = client.get(path)
    assert reply.status_code == 404, (path, reply.status_code, reply.text[:200])


def test_malformed_bodies_get_a_4xx(site) -> None:
    client, csrf = logged_in(site[1], "bob")
    head = {"X-CSRF-Token": csrf}
    cases = [(b"not json", "application/json"), (b"[1, 2]", "application/json"),
             (b'{"decisions": "all"}', "application/json"),
             (b'{"decisions": [{"id": 99999999999999999999999, "version": 1, "action": "accept"}]}',
              "application/json"),
             (b'{"decisions": [{"id": 1, "version": 1, "action": "drop tables"}]}', "application/json"),
             (b"x" * 70_000, "application/json")]
    for body, kind in cases:
        reply = client.post("/api/decide", content=body, headers={**head, "Content-Type": kind})
        assert 400 <= reply.status_code < 500, (body[:60], reply.status_code, reply.text[:200])


def test_an_unknown_host_is_refused(site) -> None:
    client = TestClient(site[1], base_url="http://evil.example.org", follow_redirects=False)
    assert client.get("/login").status_code == 400
    names = reachable_names("0.0.0.0", ("review.office.lan",))
    assert "review.office.lan" in names and "127.0.0.1" in names and socket.gethostname() in names


def test_every_reply_carries_the_security_headers(site) -> None:
    client, _ = logged_in(site[1], "ana")
    for path in ("/login", "/dashboard", "/static/app.js", "/nowhere", "/api/dashboard"):
        reply = client.get(path)
        assert "default-src 'none'" in reply.headers["content-security-policy"], path
        assert reply.headers["x-frame-options"] == "DENY" and reply.headers["x-content-type-options"] == "nosniff"
    assert "no-store" in client.get("/dashboard").headers["cache-control"]


def test_a_hostile_file_name_is_escaped_by_the_templates(site, desk) -> None:
    conn = desk[1]
    hostile = "<img src=x onerror=alert(1)>.png"
    conn.execute("INSERT INTO files (sha256, original_name, stored_as, size, status, started_at) "
                 "VALUES ('ab', ?, 'x', 1, 'done', '2009-03-02')", (hostile,))
    conn.execute("INSERT INTO pages (file_sha256, page_index, kind, created_at) VALUES ('ab', 0, 'blank', '2009')")
    client, _ = logged_in(site[1], "ana")
    page = client.get("/blanks").text
    assert hostile not in page and "&lt;img src=x onerror=alert(1)&gt;.png" in page


def test_during_a_freeze_a_decision_is_refused_with_the_reason_and_every_page_says_so(site, desk) -> None:
    c = desk[0]
    freeze(c, allow_unreviewed=True, reason="testing the page")
    client, csrf = logged_in(site[1], "bob")
    item = client.get("/api/items?n=1").json()["items"]
    page = client.get("/field").text
    assert 'id="frozen"' in page and "draw unfreeze" in page
    assert item, "no item to decide"
    if item:
        reply = client.post("/api/decide", json={"decisions": [{"id": item[0]["id"], "version": item[0]["version"],
                                                                "action": "accept"}]},
                            headers={"X-CSRF-Token": csrf})
        assert reply.status_code == 409 and "draw unfreeze" in reply.json()["error"]


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data:
                break
    return data


def test_requests_no_browser_sends_get_a_4xx_from_the_real_server(desk) -> None:
    server, _ = make_server(desk[0], "127.0.0.1", 0, log=lambda line: None)
    server.start()
    try:
        bad_length = _raw(server.port, b"POST /api/decide HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n")
        huge = _raw(server.port, b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999\r\n"
                                 b"Connection: close\r\n\r\nx")
        host = _raw(server.port, b"GET /login HTTP/1.1\r\nHost: evil.example.org\r\nConnection: close\r\n\r\n")
        ok = _raw(server.port, b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    finally:
        server.stop()
    for reply in (bad_length, huge, host):
        assert re.match(rb"HTTP/1\.1 4\d\d ", reply), reply[:120]
    assert ok.startswith(b"HTTP/1.1 200 ")


def test_a_reviewer_sees_only_the_pages_and_crops_of_items_they_hold_or_decided(site, desk) -> None:
    c, conn = desk[0], desk[1]
    with conn:  # three pages: a quarantined one, a blank one, and the front of the first application
        conn.execute("INSERT INTO files (sha256, original_name, stored_as, size, status, started_at) "
                     "VALUES ('cd', 'scan.pdf', 'x', 1, 'done', '2009-03-02')")
        (c.root / "pages").mkdir(exist_ok=True)
        (c.root / "pages" / "p.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
        ids = [conn.execute("INSERT INTO pages (file_sha256, page_index, kind, serial, image, created_at) "
                            "VALUES ('cd', ?, ?, ?, 'pages/p.jpg', '2009')", (n, kind, serial)).lastrowid
               for n, (kind, serial) in enumerate((("quarantined", None), ("blank", None), ("front", desk[5][0])))]
        conn.execute("UPDATE fields SET page_id = ? WHERE serial = ?", (ids[2], desk[5][0]))
    quarantined, blank, front = ids
    bob, _ = logged_in(site[1], "bob")
    for page_id in (quarantined, blank, front):  # ids are sequential: a reviewer tries them all
        assert bob.get(f"/img/page/{page_id}").status_code == 404
        assert bob.get(f"/form/{page_id}").status_code == 404
    assert bob.get("/blanks").status_code == 403
    item = bob.get("/api/items?n=1").json()["items"][0]  # now bob holds a field of one form
    other = conn.execute("SELECT rowid FROM fields WHERE serial != ? AND status = 'review' LIMIT 1",
                         (desk[5][0],)).fetchone()[0]
    assert bob.get(f"/img/field/{other}").status_code == 404  # a crop of a field he does not hold
    assert item["serial"] == display_serial(desk[5][0])  # the first form's field (shown as printed): his to see
    assert bob.get(f"/img/page/{front}").status_code == 200 and bob.get(f"/form/{front}").status_code == 200
    aud, _ = logged_in(site[1], "aud")
    for page_id in (quarantined, blank, front):
        assert aud.get(f"/img/page/{page_id}").status_code == 200


def _try_login(client: TestClient, name: str, password: str):
    page = client.get("/login?lang=en")
    pre = re.search(r'name="pre" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"pre": pre, "name": name, "password": password, "lang": "en"})


def test_a_locked_account_is_named_only_with_its_password_and_many_failures_from_one_address_wait(
        site, desk, monkeypatch) -> None:
    import zonepaper.review.routes as routes
    from zonepaper.review import accounts

    monkeypatch.setattr(routes.time, "sleep", lambda seconds: None)  # the waits are measured elsewhere
    conn = desk[1]
    with conn:
        conn.execute("UPDATE users SET locked = 1 WHERE name = 'cat'")
    client = TestClient(site[1], follow_redirects=False)
    assert "was locked" in _try_login(client, "cat", PASSWORD).text
    assert "was locked" not in _try_login(client, "cat", "a guess").text
    for i in range(accounts.Throttle.PER_ADDRESS):
        _try_login(client, f"guess{i}", "a guess")
    refused = _try_login(client, "bob", PASSWORD)  # even the right password: this address waits
    assert refused.status_code == 429 and "Too many failed tries" in refused.text


def test_numbers_read_as_spanish_in_spanish(site) -> None:
    client, _ = logged_in(site[1], "bob")  # bob reads Spanish
    assert "0,0 por minuto" in client.get("/dashboard").text


def test_a_crop_shows_its_own_label_and_part_hints_and_not_the_next_fields_label(site) -> None:
    from zonepaper.review.queue import Item
    from zonepaper.scan.page import K

    from zonepaper.review.app import ReviewApp

    app = ReviewApp(site[0], log=lambda line: None)
    try:
        labels = [d.rect for d in app.layout.decorations if d.kind == "field_label"]
        for name in ("last_name", "first_name", "birth_date", "zip", "phone", "address"):
            r = app.layout.field(name).rect
            box = (int(r.x * K), int(r.y * K), int(r.w * K), int(r.h * K))
            item = Item(1, "0000013", name, "", "review", 1, False, (), 1, box)
            x, y, w, h = app.crop_window(item)
            below = [lab for lab in labels if lab.y * K > box[1] + box[3] and x < lab.x * K < x + w]
            assert all(y + h <= lab.y * K for lab in below), name  # no next field's label in the crop
            hints = [d.rect for d in app.layout.decorations if d.kind == "part_hint" and box[0] - 5 <= d.rect.x * K
                     <= box[0] + box[2] and 0 <= d.rect.y * K - (box[1] + box[3]) < 20]
            assert all(y + h >= (hint.y + hint.h) * K for hint in hints), name  # mes / month stays
    finally:
        app.close()


@pytest.mark.parametrize("lang", ["es", "en"])
def test_every_key_and_button_a_help_text_names_is_on_its_page(site, lang: str) -> None:
    """The help line of field and batch mode names keys (F2, Ctrl+Enter ...): each one is a key button on
    that page (or a key every browser has); a quoted name in a message is a label of the page."""
    import html

    client, csrf = logged_in(site[1], "ana")
    client.post("/lang", data={"lang": lang, "back": "/", "csrf": csrf})
    for path in ("/field", "/batch?field=zip"):
        page = client.get(path).text
        help_line = html.unescape(re.search(r'<p class="help">(.*?)</p>', page, re.S).group(1))
        keys = set(re.findall(r"\b(F\d+|Ctrl\+Enter|Enter|Tab|Esc)\b", help_line))
        assert keys, (path, help_line)
        on_page = {html.unescape(k) for k in re.findall(r"<kbd>([^<]+)</kbd>", page)}
        assert keys - on_page <= {"Tab"}, (path, lang, keys - on_page)
        named = re.findall(r"«([^»]+)»|'([^']+)'", help_line)
        assert all(any(n in page for n in pair if n) for pair in named), (path, named)


def test_a_returned_correction_slip_is_read_set_aside_and_closed_by_a_coordinator(site, capsys) -> None:
    """A confirmation letter's correction slip comes back through scan ingest (on the whole letter, or torn off
    and upside down): the machine finds its form number by the slip's own markers and code and sets it aside
    for a coordinator (the draw's freeze waits for it); the coordinator opens the application from it and
    closes it, an event in the application's history. A second scan of the same files changes nothing."""
    from pdf2image import convert_from_path
    from PIL import ImageDraw

    from conftest import cli
    from zonepaper.errors import ZonepaperError
    from zonepaper.scan.ingest import ingest

    c, app = site
    serials = [r[0] for r in c.db().conn.execute("SELECT serial FROM applications ORDER BY serial")]
    assert cli("print", "confirmations", "--date", "2009-03-10", "--cycle", str(c.root)) == 0
    letters = c.root / "output" / "confirmations-2009-03-10.pdf"
    first, second = (convert_from_path(letters, dpi=200, first_page=p, last_page=p, grayscale=True)[0]
                     for p in (1, 3))
    scans = c.root / "returned"
    scans.mkdir()
    for page in (first, second):  # the family's pen on the slip's lines
        ImageDraw.Draw(page).text((200, page.height - 260), "LA FECHA ES 03 15 1995", fill=0)
    first.save(scans / "whole-letter.png")
    torn = second.crop((0, second.height - 3 * 200, second.width, second.height)).rotate(180)
    torn.save(scans / "torn-off.jpg", quality=80)
    ingest(c, [scans], "2009-03-12")
    db = c.db()
    rows = db.conn.execute("SELECT p.id, p.reason, p.serial, f.original_name FROM pages p JOIN files f ON "
                           "f.sha256 = p.file_sha256 WHERE p.kind = 'quarantined' ORDER BY f.original_name").fetchall()
    assert [(r[1], r[2], r[3]) for r in rows] == [("correction_slip", serials[1], "torn-off.jpg"),
                                                  ("correction_slip", serials[0], "whole-letter.png")]
    with pytest.raises(ZonepaperError):  # the draw waits for the slips
        freeze(c, "da")
    client, csrf = logged_in(app, "ana")
    head = {"X-CSRF-Token": csrf}
    page = client.get(f"/quarantine/{rows[1][0]}")
    assert page.status_code == 200 and "La familia escribió qué está mal" in page.text
    assert "Hecho: corregí la solicitud" in page.text and "No hay nada que cambiar" in page.text
    reviewer, reviewer_csrf = logged_in(app, "bob")
    refused = reviewer.post("/api/quarantine", json={"page": rows[1][0], "action": "corrected"},
                            headers={"X-CSRF-Token": reviewer_csrf})
    assert refused.status_code in (403, 404)
    for (page_id, *_), action in zip(rows, ("nothing_to_change", "corrected")):
        reply = client.post("/api/quarantine", json={"page": page_id, "action": action}, headers=head)
        assert reply.status_code == 200, reply.text
    events = db.conn.execute("SELECT subject, json_extract(payload, '$.action') FROM events WHERE kind = "
                             "'quarantine.resolved' ORDER BY id").fetchall()
    assert [(s.split(":")[-1], a) for s, a in events] == [(serials[1], "nothing_to_change"),
                                                          (serials[0], "corrected")]
    ingest(c, [scans], "2009-03-12")
    assert db.conn.execute("SELECT count(*) FROM pages WHERE kind = 'quarantined'").fetchone()[0] == 2
    db.close()
