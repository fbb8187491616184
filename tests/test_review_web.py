"""The review web app in a real browser: Debian's Chromium, headless, driven by Playwright.

The server runs in this process on 127.0.0.1 (a free port) and is shut down when the module ends.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import playwright.sync_api as playwright  # noqa: E402  (installed with the test extras; no browser download)
import pytest

from zonepaper.cycle import init_cycle
from zonepaper.forms.batch import print_forms
from zonepaper.review import accounts
from zonepaper.review.serve import make_server
from zonepaper.scan.ingest import ingest
from zonepaper.simulate import simulate
from zonepaper.store.database import write_transaction
from zonepaper.store.state import changed_applications, record_application_event

expect = playwright.expect
CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)
PASSWORD = "a good password"
pytestmark = pytest.mark.slow
SERVED: dict = {}  # the running review app, for a test that slows its answers down


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    if CHROMIUM is None:
        pytest.fail("Chromium is missing: run 'bash scripts/setup.sh' (it installs the chromium package, "
                    "or chromium-browser on Ubuntu)")
    root = tmp_path_factory.mktemp("web")
    cycle = init_cycle(root / "cycle", "belmont")
    print_forms(cycle, 14, "t")
    simulate(cycle, 10, root / "scans", seed=4)
    ingest(cycle, [root / "scans"], "2009-03-02")
    db = cycle.db()
    _return_a_correction_slip(cycle, db.conn, root / "slips")
    for name, role in (("ana", "coordinator"), ("bob", "reviewer"), ("cat", "reviewer"), ("aud", "auditor")):
        accounts.add_user(db.conn, name, role, PASSWORD, "en")
    db.close()
    server, app = make_server(cycle, "127.0.0.1", 0, log=lambda line: print(line) if "error" in line else None)
    SERVED["app"] = app
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield cycle, base, browser
        browser.close()
    server.stop()


def _return_a_correction_slip(cycle, conn, folder: Path) -> None:
    """The first confirmation letter comes back, scanned whole: its correction slip waits in quarantine."""
    from datetime import date

    from pdf2image import convert_from_path

    from zonepaper.paper.confirmations import write_confirmations_pdf

    letters, _ = write_confirmations_pdf(cycle, conn, date(2009, 3, 10))
    folder.mkdir()
    convert_from_path(letters, dpi=200, first_page=1, last_page=1, grayscale=True)[0].save(folder / "slip.png")
    ingest(cycle, [folder], "2009-03-12")


def login(browser, base: str, name: str, password: str = PASSWORD, size: tuple[int, int] = (1280, 900),
          bypass_csp: bool = False):
    """A fresh browser logged in as this person (bypass_csp: for a test's own watcher script)."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, bypass_csp=bypass_csp)
    page = context.new_page()
    page.goto(base + "/login?lang=en")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    return page


def query(cycle, sql: str, *params):
    db = cycle.db()
    try:
        return db.conn.execute(sql, params).fetchall()
    finally:
        db.close()


def confirmed(cycle, item_id: int) -> str:
    """The field's value once the page's background save has landed (the next item shows at once)."""
    for _ in range(50):
        rows = query(cycle, "SELECT value FROM fields WHERE rowid = ? AND status = 'confirmed'", item_id)
        if rows:
            return rows[0][0]
        time.sleep(0.1)
    raise AssertionError(f"item {item_id} was not saved")


def current(page) -> tuple[str, str]:
    """The item on screen, once a person could have looked at it (an item cannot be decided sooner)."""
    page.wait_for_selector("#card:not([hidden])")
    page.wait_for_timeout(350)
    return page.text_content("#serial"), page.text_content("#label")


def test_login_refuses_a_wrong_password_then_lets_in(site) -> None:
    _, base, browser = site
    page = login(browser, base, "bob", "not the password")
    assert page.url.endswith("/login")
    assert "do not match" in page.text_content(".error")
    page.fill("input[name=name]", "bob")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.endswith("/field"), page.content()[-1500:]
    cookie = next(c for c in page.context.cookies() if c["name"] == "zp_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.context.close()


def fits(page) -> None:
    """The crop, the value, the reason and the key buttons are all on screen without scrolling."""
    height = page.viewport_size["height"]
    for selector in ("#crop", "#value", ".why", ".keys"):
        box = page.locator(selector).bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= height, (selector, box, height)
    assert page.evaluate("window.scrollY") == 0


def test_correct_a_field_with_the_keyboard_only(site) -> None:
    cycle, base, browser = site
    page = login(browser, base, "bob", size=(1366, 768))
    serial, label = current(page)
    fits(page)
    assert label == "Choices" or label  # the first item of the queue, whatever it is
    item_id = int(page.get_attribute("#crop", "src").rsplit("/", 1)[1])
    name, = query(cycle, "SELECT name FROM fields WHERE rowid = ?", item_id)[0]
    typed = {"choices": "2 5", "birth_date": "03141995", "zip": "90033", "phone": "3235550147"}.get(name, "X")
    page.keyboard.type(typed)  # the guess is selected: typing replaces it
    page.keyboard.press("Enter")
    expect(page.locator("#crop")).not_to_have_attribute("src", f"/img/field/{item_id}")
    value = confirmed(cycle, item_id)
    assert value == {"choices": "lahsa,international", "birth_date": "1995-03-14"}.get(name, value)
    last = query(cycle, "SELECT actor FROM events WHERE kind = 'review.decided' ORDER BY id DESC LIMIT 1")
    assert last == [("bob",)]
    page.context.close()


def test_accept_a_batch_with_one_key(site) -> None:
    cycle, base, browser = site
    page = login(browser, base, "cat")
    page.goto(base + "/batch?field=zip")
    page.wait_for_selector(".cell input")
    ids = [int(src.rsplit("/", 1)[1]) for src in page.eval_on_selector_all(".cell img", "els => els.map(e => e.src)")]
    assert ids
    inputs = page.query_selector_all(".cell input")
    inputs[0].fill("90031")  # one of them was wrong
    if len(ids) > 1:  # one cannot be read: the F2 button (the key the help names) marks the cell typed in last
        inputs[1].focus()
        page.click("#illegible-cell")
        expect(page.locator(".cell.illegible")).to_have_count(1)
    page.keyboard.press("Control+Enter")
    assert confirmed(cycle, ids[0]) == "90031"
    rows = query(cycle, f"SELECT rowid, value, status, illegible FROM fields WHERE rowid IN "
                        f"({','.join('?' * len(ids))})", *ids)
    marked = ids[1:2]
    assert all(status == "confirmed" for rowid, _, status, _ in rows if rowid not in marked)
    assert dict((r[0], r[1]) for r in rows)[ids[0]] == "90031"
    assert [r[3] for r in rows if r[0] in marked] == [1] * len(marked)
    page.context.close()


def test_resolve_a_duplicate_in_quarantine(site) -> None:
    cycle, base, browser = site
    (page_id, serial), = query(cycle, "SELECT id, serial FROM pages WHERE reason = 'duplicate'")
    assert query(cycle, "SELECT status FROM applications WHERE serial = ?", serial)[0][0] == "held"
    page = login(browser, base, "ana")
    page.goto(base + "/quarantine")
    page.click(f"a[href='/quarantine/{page_id}']")
    assert page.locator(".qimg").count() == 2  # this sheet and the first one with the same number
    page.click("button[data-action=keep_first]")
    page.wait_for_url("**/quarantine")
    resolution, = query(cycle, "SELECT resolution FROM pages WHERE id = ?", page_id)[0]
    assert '"keep_first"' in resolution and '"ana"' in resolution
    assert query(cycle, "SELECT status FROM applications WHERE serial = ?", serial)[0][0] != "held"
    assert changed_applications(cycle.db().conn) == []
    page.context.close()


def test_switch_language_is_remembered(site) -> None:
    cycle, base, browser = site
    page = login(browser, base, "cat")
    page.goto(base + "/dashboard")
    assert page.text_content("h1") == "Dashboard"
    page.click("#lang")
    page.wait_for_load_state()
    assert page.text_content("h1") == "Panel" and page.get_attribute("html", "lang") == "es"
    assert query(cycle, "SELECT language FROM users WHERE name = 'cat'")[0][0] == "es"
    page.goto(base + "/dashboard")
    assert page.text_content("h1") == "Panel"
    page.click("#lang")
    page.context.close()


def test_two_reviewers_at_once_never_see_the_same_item(site) -> None:
    cycle, base, browser = site
    pages = {"bob": login(browser, base, "bob"), "cat": login(browser, base, "cat")}
    for _ in range(5):
        shown = {}
        for name, page in pages.items():
            current(page)
            shown[name] = int(page.get_attribute("#crop", "src").rsplit("/", 1)[1])
        assert shown["bob"] != shown["cat"]
        for name, item_id in shown.items():  # and the one on screen is claimed by the person looking at it
            holder = query(cycle, "SELECT u.name FROM claims c JOIN users u ON u.id = c.user_id WHERE c.item = ?",
                           f"f:{item_id}")
            assert holder == [(name,)]
        for page in pages.values():
            src = page.get_attribute("#crop", "src")
            page.keyboard.press("Enter")  # accept the machine's reading; the next one appears
            expect(page.locator("#crop")).not_to_have_attribute("src", src)
    for page in pages.values():
        page.context.close()


def test_an_auditor_reads_but_cannot_change_anything(site) -> None:
    cycle, base, browser = site
    page = login(browser, base, "aud")
    page.wait_for_url("**/dashboard")
    assert page.locator("nav a[href='/field']").count() == 0
    csrf = page.evaluate("JSON.parse(document.getElementById('boot').textContent).csrf")
    item_id, version = query(cycle, "SELECT rowid, version FROM fields WHERE status = 'review' LIMIT 1")[0]
    reply = page.request.post(base + "/api/decide", headers={"X-CSRF-Token": csrf},
                              data={"decisions": [{"id": item_id, "version": version, "action": "accept"}]})
    assert reply.status == 403
    page.goto(base + "/quarantine")
    link = page.query_selector(".qlist a")
    if link:
        link.click()
        assert page.locator(".q-action").count() == 0
    assert query(cycle, "SELECT status FROM fields WHERE rowid = ?", item_id)[0][0] == "review"
    page.context.close()


def test_a_post_without_the_csrf_token_is_refused(site) -> None:
    cycle, base, browser = site
    page = login(browser, base, "bob")
    current(page)
    item_id, version = query(cycle, "SELECT rowid, version FROM fields WHERE status = 'review' LIMIT 1")[0]
    reply = page.request.post(base + "/api/decide",
                              data={"decisions": [{"id": item_id, "version": version, "action": "accept"}]})
    assert reply.status == 403
    reply = page.request.post(base + "/api/decide", headers={"X-CSRF-Token": "forged"},
                              data={"decisions": [{"id": item_id, "version": version, "action": "accept"}]})
    assert reply.status == 403
    assert query(cycle, "SELECT status, version FROM fields WHERE rowid = ?", item_id)[0] == ("review", version)
    page.context.close()


def test_pages_and_images_need_a_login_and_ids(site) -> None:
    _, base, browser = site
    context = browser.new_context()
    assert context.request.get(base + "/img/page/1").status == 401
    assert context.request.get(base + "/api/items").status == 401
    assert context.request.get(base + "/img/page/..%2f..%2fzonepaper.db").status == 404
    assert context.request.get(base + "/static/../cli.py").status == 404
    context.close()


def test_screenshots_of_each_mode(site, tmp_path: Path) -> None:
    """Saved for a person to look at (kept under ZONEPAPER_SCREENSHOTS when set); each shows its mode's content."""
    import os

    cycle, base, browser = site
    front = query(cycle, "SELECT id FROM pages WHERE kind = 'front' ORDER BY id LIMIT 1")[0][0]
    held = query(cycle, "SELECT id FROM pages WHERE kind = 'quarantined' ORDER BY id LIMIT 1")[0][0]
    slip = query(cycle, "SELECT id FROM pages WHERE reason = 'correction_slip'")[0][0]
    page = login(browser, base, "ana", size=(1366, 768))  # a volunteer's laptop
    out = Path(os.environ.get("ZONEPAPER_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    for lang in ("en", "es"):
        for name, url, selector in (("field", "/field", "#card:not([hidden]), #empty:not([hidden])"),
                                    ("batch", "/batch?field=birth_date", ".cell, #empty:not([hidden])"),
                                    ("form", f"/form/{front}", "svg.sheet"), ("quarantine", "/quarantine", "h1"),
                                    ("quarantined", f"/quarantine/{held}", "h1"),
                                    ("correction", f"/quarantine/{slip}", "h1"),
                                    ("dashboard", "/dashboard", "#blocks"), ("blanks", "/blanks", "h1")):
            page.goto(base + url)
            page.wait_for_selector(selector)
            page.wait_for_timeout(300)
            page.screenshot(path=str(out / f"review-{name}-{lang}.png"))
            assert (out / f"review-{name}-{lang}.png").stat().st_size > 10_000
            assert page.get_attribute("html", "lang") == lang
        with page.expect_navigation():
            page.click("#lang")  # the other language, remembered for this person (twice: English again)
    page.context.close()
    anonymous = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    for lang in ("en", "es"):
        anonymous.goto(base + f"/login?lang={lang}")
        anonymous.screenshot(path=str(out / f"review-login-{lang}.png"))
        assert anonymous.get_attribute("html", "lang") == lang
    anonymous.context.close()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_the_pages_taken_as_blank_can_be_looked_at_from_the_dashboard(site) -> None:
    cycle, base, browser = site
    blanks = query(cycle, "SELECT count(*) FROM pages WHERE kind = 'blank'")[0][0]
    assert blanks >= 1  # the simulation scans a blank sheet
    page = login(browser, base, "aud")  # coordinators and auditors look at whole pages (a reviewer cannot)
    page.goto(base + "/dashboard")
    link = page.locator("a[href='/blanks']")
    assert link.locator("xpath=../../td").inner_text() == str(blanks)
    assert "original reader" in page.locator("#reader").inner_text()
    link.click()
    page.wait_for_selector(".blanks figure")
    assert page.locator(".blanks figure").count() == blanks
    widths = page.eval_on_selector_all(".blanks img", "imgs => imgs.map(i => i.complete && i.naturalWidth)")
    assert widths and all(w == 400 for w in widths)  # each thumbnail is there to see
    page.context.close()


def test_choices_are_corrected_by_clicking_the_grid(site) -> None:
    cycle, base, browser = site
    db = cycle.db()
    with write_transaction(db.conn):  # put one form's choices back in the queue, as the reader does with an
        serial = db.conn.execute("SELECT serial FROM fields WHERE name = 'choices' AND page_id IS NOT NULL "
                                 "ORDER BY serial DESC LIMIT 1").fetchone()[0]  # unsure grid (and records it)
        db.conn.execute("UPDATE fields SET status = 'review', reasons = '[\"faint_mark\"]' "
                        "WHERE serial = ? AND name = 'choices'", (serial,))
        record_application_event(db.conn, "test", "test.back_in_review", serial, {"field": "choices"})
    accounts.add_user(db.conn, "eve", "coordinator", PASSWORD, "en")  # holds nothing yet: gets choices first
    db.close()
    page = login(browser, base, "eve", size=(1280, 720))
    current(page)
    assert page.text_content("#label") == "Choices"
    page.wait_for_timeout(300)  # the grid's image laid out
    fits(page)  # the whole grid, its value and the keys on a small laptop
    assert page.locator("#bubbles button").count() == 19 * 5
    page.click("#bubbles button[data-program='2'][data-rank='1']")
    assert page.input_value("#value").split()[0] == "2"
    assert page.locator("#bubbles button.on[data-program='2'][data-rank='1']").count() == 1
    item_id = int(page.get_attribute("#crop", "src").rsplit("/", 1)[1])
    page.keyboard.press("Enter")
    expect(page.locator("#crop")).not_to_have_attribute("src", f"/img/field/{item_id}")
    assert confirmed(cycle, item_id).split(",")[0] == "lahsa"
    page.context.close()


def test_a_choice_list_that_may_have_lost_marks_says_to_look_at_the_paper_and_fits_a_laptop(site, tmp_path: Path
                                                                                            ) -> None:
    """The longest reason the reader gives a grid, in both languages, beside the whole grid on 1366x768."""
    import os

    cycle, base, browser = site
    db = cycle.db()
    with write_transaction(db.conn):  # as the reader leaves a sure list on a page whose grade has no mark
        row = db.conn.execute("SELECT rowid, serial FROM fields WHERE name = 'choices' AND status = 'auto' "
                              "AND page_id IS NOT NULL ORDER BY serial LIMIT 1").fetchone()
        db.conn.execute("UPDATE fields SET status = 'review', reasons = '[\"marks_missing_elsewhere\"]' "
                        "WHERE rowid = ?", (row[0],))
        record_application_event(db.conn, "test", "test.back_in_review", row[1], {"field": "choices"})
    user = accounts.add_user(db.conn, "fay", "coordinator", PASSWORD, "en")
    db.conn.execute("INSERT INTO claims (item, user_id, expires_at) VALUES (?, ?, ?)",
                    (f"f:{row[0]}", user.id, time.time() + 600))  # hers first, whatever else waits
    db.conn.commit()
    db.close()
    out = Path(os.environ.get("ZONEPAPER_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    page = login(browser, base, "fay", size=(1366, 768))
    page.goto(base + "/field")
    for lang, words in (("en", "look at the paper form"), ("es", "mire el formulario en papel")):
        current(page)
        page.wait_for_timeout(300)  # the grid's image laid out
        assert page.get_attribute("html", "lang") == lang and page.text_content("#label") in ("Choices", "Opciones")
        assert words in page.text_content("#why")
        fits(page)
        page.screenshot(path=str(out / f"review-choices-marks-lost-{lang}.png"))
        with page.expect_navigation():
            page.click("#lang")  # the other language (twice: English again)
    page.context.close()


def _decisions_by(cycle, name: str) -> int:
    return query(cycle, "SELECT count(*) FROM events WHERE actor = ? AND kind = 'review.decided'", name)[0][0]


def test_a_double_press_of_enter_decides_one_item_only(site) -> None:
    cycle, base, browser = site
    page = login(browser, base, "bob")
    current(page)  # the crop has been on screen for a moment: a person looked at it
    before = _decisions_by(cycle, "bob")
    for gap in (30, 120, 250):  # 12 of 12 such double presses accepted the next item unseen
        page.keyboard.press("Enter")
        page.wait_for_timeout(gap)
        page.keyboard.press("Enter")
        page.wait_for_timeout(500)
    page.wait_for_timeout(500)
    assert _decisions_by(cycle, "bob") - before == 3  # one per pair: the second press came too soon
    page.context.close()


def test_a_late_refusal_never_pulls_the_item_back_over_the_one_being_typed(site) -> None:
    cycle, base, browser = site
    page = login(browser, base, "cat")
    first, _ = current(page)

    def slow_refusal(route) -> None:  # the answer comes back late (a slow network), and it is a refusal
        time.sleep(1.0)
        route.fulfill(status=422, content_type="application/json",
                      body='{"error": "refused for the test", "code": "bad_value"}')

    page.route("**/api/decide", slow_refusal)
    page.keyboard.press("Enter")
    expect(page.locator("#serial")).not_to_have_text(first)
    second = page.text_content("#serial")
    page.keyboard.type("TYPED")  # the volunteer is typing into the next item when the refusal arrives
    page.wait_for_timeout(1500)
    assert page.text_content("#serial") == second and page.input_value("#value") == "TYPED"
    page.unroute("**/api/decide")
    page.keyboard.press("F3")  # the next one on screen is the refused item, with its reason
    expect(page.locator("#serial")).to_have_text(first)
    assert "refused for the test" in page.text_content("#problem")
    page.context.close()


def test_during_a_freeze_the_page_says_so_and_what_was_typed_stays(site) -> None:
    from zonepaper.draw.ceremony import freeze, unfreeze

    cycle, base, browser = site
    page = login(browser, base, "ana")
    current(page)
    item_id = int(page.get_attribute("#crop", "src").rsplit("/", 1)[1])
    version = query(cycle, "SELECT version FROM fields WHERE rowid = ?", item_id)[0][0]
    page.keyboard.type("12345")
    freeze(cycle, allow_unreviewed=True, reason="the draw is at 11")  # mid-morning, while she types
    try:
        page.keyboard.press("Enter")
        expect(page.locator("#problem")).to_contain_text("frozen")
        assert page.input_value("#value") == "12345"  # nothing typed is thrown away
        assert page.eval_on_selector("#value", "el => el.readOnly")
        assert query(cycle, "SELECT version FROM fields WHERE rowid = ?", item_id)[0][0] == version
        page.goto(base + "/dashboard")
        assert "draw unfreeze" in page.text_content("#frozen")
    finally:
        unfreeze(cycle, "the draw was moved to the afternoon")
    page.context.close()


def test_f4_lists_recent_decisions_and_any_of_them_opens_again(site) -> None:
    cycle, base, browser = site
    page = login(browser, base, "bob")
    for _ in range(2):
        serial, _ = current(page)
        page.keyboard.press("F3")  # two set aside: they are listed on the dashboard, by whom
        expect(page.locator("#serial")).not_to_have_text(serial)
    first, _ = current(page)
    page.keyboard.press("Enter")
    expect(page.locator("#serial")).not_to_have_text(first)
    current(page)
    page.keyboard.press("F4")
    expect(page.locator("#recent button").first).to_contain_text(first)
    page.keyboard.press("1")
    expect(page.locator("#serial")).to_have_text(first)
    assert page.locator("#recent").is_hidden()
    page.goto(base + "/dashboard")
    assert page.locator("#set-aside").count() == 1 and "bob" in page.text_content("#set-aside")
    page.context.close()


def test_help_overlay_zoom_and_a_personal_count(site) -> None:
    cycle, base, browser = site
    page = login(browser, base, "cat", size=(1366, 768))
    current(page)
    assert "you: " in page.text_content("#status") and "today" in page.text_content("#status")
    page.keyboard.press("?")
    assert page.locator("#help-overlay").is_visible() and page.input_value("#value") != "?"
    page.keyboard.press("?")
    assert page.locator("#help-overlay").is_hidden()
    page.keyboard.press("Alt+=")
    assert "scale(1.5)" in page.get_attribute("#crop-box", "style")
    page.context.close()


def test_every_refusal_of_a_batch_page_is_shown_at_once_beside_its_cell(site) -> None:
    cycle, base, browser = site
    wrong = {"zip": ("9", "5 numbers"), "phone": ("1", "10 numbers"), "birth_date": ("13132020", "real date"),
             "signature_date": ("13132020", "real date")}
    name = next(n for n, c in query(cycle, "SELECT name, count(*) FROM fields WHERE status = 'review' AND "
                                           "illegible = 0 GROUP BY name ORDER BY count(*) DESC") if n in wrong and c >= 2)
    page = login(browser, base, "ana")
    page.goto(base + f"/batch?field={name}")
    page.wait_for_selector(".cell input")
    inputs = page.query_selector_all(".cell input")
    for cell in inputs[:2]:
        cell.fill(wrong[name][0])
    page.keyboard.press("Control+Enter")
    expect(page.locator(".cell.bad")).to_have_count(2)
    assert all(wrong[name][1] in t for t in page.locator(".cell.bad .why-bad").all_inner_texts())
    page.context.close()


def test_a_batch_page_shows_handwriting_large_and_fits_a_laptop_screen(site) -> None:
    from zonepaper.scan.page import K

    cycle, base, browser = site
    page = login(browser, base, "ana", size=(1366, 768))
    names = [n for n, c in query(cycle, "SELECT name, count(*) FROM fields WHERE status = 'review' GROUP BY name")
             if n in ("birth_date", "zip", "phone", "last_name", "address")]
    checked = 0
    for name in names:
        page.goto(base + f"/batch?field={name}")
        page.wait_for_selector(".cell img, #empty:not([hidden])")
        if page.locator(".cell img").count() == 0:
            continue  # what is left of that field is held by the other tests' reviewers
        checked += 1
        page.wait_for_timeout(300)
        box_height = 57  # pixels of a row of boxes on the aligned page; its crop adds 26 above and below
        for img in page.query_selector_all(".cell img"):
            shown = img.bounding_box()["height"] * box_height / (box_height + 52)
            assert shown >= 30, (name, shown)  # the boxes' handwriting at least 30 px tall (12-14 px before)
        last = page.query_selector_all(".cell")[-1].bounding_box()
        assert last["y"] + last["height"] <= 768, (name, last)  # the whole page without scrolling
        keys = page.locator("#accept-page").bounding_box()
        assert keys["y"] + keys["height"] <= 768
    assert checked and K  # (the crops are cut from pages aligned at K pixels a point)
    page.context.close()


def execute(cycle, sql: str, *params) -> None:
    db = cycle.db()
    try:
        with db.conn:
            db.conn.execute(sql, params)
    finally:
        db.close()


def test_a_batch_page_left_open_keeps_its_items_and_a_lost_one_keeps_what_was_typed(site) -> None:
    """Leases are renewed while a page is open and in use (the browser's clock is moved on 46 s, the
    server's leases have run out meanwhile); an item another reviewer took is marked, and on Ctrl+Enter
    its typed value is shown and the rest of the page is saved."""
    from zonepaper.review.queue import key

    cycle, base, browser = site
    valid = {"first_name": "MARÍA", "last_name": "LÓPEZ", "guardian_name": "ANA LÓPEZ", "current_school": "KING MS",
             "zip": "90012", "birth_date": "03141995"}
    counts = dict(query(cycle, "SELECT name, count(*) FROM fields WHERE status = 'review' AND illegible = 0 AND "
                               "'f:' || rowid NOT IN (SELECT item FROM claims WHERE expires_at > ?) GROUP BY name",
                        time.time()))
    name = max(valid, key=lambda n: counts.get(n, 0))
    assert counts.get(name, 0) >= 3, counts
    page = login(browser, base, "bob")
    page.clock.install()
    page.goto(base + f"/batch?field={name}")
    page.wait_for_selector(".cell input")
    ids = [int(src.rsplit("/", 1)[1]) for src in page.eval_on_selector_all(".cell img", "els => els.map(e => e.src)")]
    inputs = page.query_selector_all(".cell input")
    for cell in inputs:
        cell.fill(valid[name])
    inputs[0].fill({"zip": "90031", "birth_date": "03151995"}.get(name, valid[name] + "Z"))  # kept when it is lost
    typed = inputs[0].input_value()
    cat = query(cycle, "SELECT id FROM users WHERE name = 'cat'")[0][0]
    # two and a half minutes later on the server: every lease ran out, and cat took the first item
    execute(cycle, f"UPDATE claims SET expires_at = ? WHERE item IN ({','.join('?' * len(ids))})",
            time.time() - 30, *[key(i) for i in ids])
    execute(cycle, "UPDATE claims SET user_id = ?, expires_at = ? WHERE item = ?", cat, time.time() + 600, key(ids[0]))
    page.clock.run_for(46_000)  # the page renews its claims every 45 s
    expect(page.locator(f".cell[data-id='{ids[0]}']")).to_have_class("cell bad")
    leases = dict(query(cycle, f"SELECT item, expires_at FROM claims WHERE item IN ({','.join('?' * len(ids))})",
                        *[key(i) for i in ids]))
    assert all(leases[key(i)] > time.time() + 60 for i in ids[1:]), leases  # renewed: still bob's
    bob = query(cycle, "SELECT id FROM users WHERE name = 'bob'")[0][0]
    assert query(cycle, "SELECT user_id FROM claims WHERE item = ?", key(ids[0])) == [(cat,)]
    assert all(query(cycle, "SELECT user_id FROM claims WHERE item = ?", key(i)) == [(bob,)] for i in ids[1:])
    page.keyboard.press("Control+Enter")
    expect(page.locator("#problem")).to_contain_text(typed)  # what was typed in the lost cell is on screen
    for i in ids[1:]:
        confirmed(cycle, i)  # the rest of the page is saved
    assert query(cycle, "SELECT status FROM fields WHERE rowid = ?", ids[0]) == [("review",)]
    page.context.close()


WATCH = """
window.__shown = []; window.__empties = [];
document.addEventListener("DOMContentLoaded", () => {
  const crop = document.getElementById("crop"), empty = document.getElementById("empty");
  new MutationObserver(() => { if (crop.getAttribute("src")) { window.__shown.push(crop.getAttribute("src")); } })
    .observe(crop, { attributes: true, attributeFilter: ["src"] });
  new MutationObserver(() => { if (!empty.hidden) { window.__empties.push(window.__shown.length); } })
    .observe(empty, { attributes: true, attributeFilter: ["hidden"] });
});
"""


def test_working_to_the_end_at_full_speed_never_flashes_nothing_left_nor_brings_an_item_back(site,
                                                                                            monkeypatch) -> None:
    """The next items are answered slowly (after their claim is stored) while decisions go on, so refills
    cross the decisions: 'nothing left' must show only at the very end, and no item done may come back."""
    from zonepaper.review.queue import key

    cycle, base, browser = site
    bob = query(cycle, "SELECT id FROM users WHERE name = 'bob'")[0][0]
    execute(cycle, "DELETE FROM claims WHERE user_id = ?", bob)  # what earlier tests left bob holding
    free = [r[0] for r in query(cycle, "SELECT rowid FROM fields WHERE status = 'review' AND illegible = 0 AND "
                                       "'f:' || rowid NOT IN (SELECT item FROM claims WHERE expires_at > ?) "
                                       "ORDER BY rowid", time.time())]
    assert len(free) >= 8, free
    cat = query(cycle, "SELECT id FROM users WHERE name = 'cat'")[0][0]
    for item in free[12:]:  # bob's queue: 12 items at most (cat holds the others)
        execute(cycle, "INSERT OR REPLACE INTO claims (item, user_id, expires_at) VALUES (?, ?, ?)", key(item), cat,
                time.time() + 600)
    app = SERVED["app"]
    shown_as_json = app.item_json

    def slowly(item, lang):  # after the claim, before the answer: on the request's thread, not the writer's
        time.sleep(0.25)
        return shown_as_json(item, lang)

    monkeypatch.setattr(app, "item_json", slowly)
    page = login(browser, base, "bob", bypass_csp=True)
    page.add_init_script(WATCH)
    page.goto(base + "/field")
    page.wait_for_selector("#card:not([hidden])", timeout=15_000)
    for _ in range(60):
        if page.locator("#empty").is_visible():
            break
        page.wait_for_timeout(330)  # just over the minimum time an item must be on screen
        page.keyboard.press("F2")  # illegible: never refused
    expect(page.locator("#empty")).to_be_visible(timeout=10_000)
    shown = page.evaluate("window.__shown")
    assert len(shown) == len(set(shown)) >= 6, shown  # no item came back (others' skipped items stay theirs)
    assert page.evaluate("window.__empties") == [len(shown)]  # "nothing left" once, after the last item only
    ids = [int(src.rsplit("/", 1)[1]) for src in shown]
    marks = query(cycle, f"SELECT rowid FROM fields WHERE illegible = 1 AND rowid IN ({','.join('?' * len(ids))})",
                  *ids)
    assert len(marks) == len(ids)
    page.context.close()


def test_screenshots_of_a_scanning_stations_page_and_what_it_sees(site, tmp_path: Path) -> None:
    """A station's account: its own page lists what it sent and whether it was read, in both languages, on a
    1366x768 screen without scrolling; every page with a family's data is refused to it. (Last in this file:
    its unread upload stops a freeze.)"""
    import os

    from zonepaper.store.integrity import record_event
    from zonepaper.store.migrations import now_iso

    cycle, base, browser = site
    db = cycle.db()
    station = accounts.add_user(db.conn, "escuela-norte", "station", PASSWORD, "en")
    with write_transaction(db.conn):
        for i, (name, status) in enumerate((("lote-1.pdf", "ingested"), ("lote-2.tiff", "ingested"),
                                            ("telefono.jpg", "failed"))):
            db.conn.execute("INSERT INTO uploads (sha256, name, size, received, user_id, status, created_at) "
                            "VALUES (?, ?, ?, '2009-03-14', ?, ?, ?)", (f"{i:064x}", name, 1000 * (i + 1),
                                                                         station.id, status, now_iso()))
        record_event(db.conn, "test", "station.file_received", {}, None, ("uploads",))
    db.close()
    page = login(browser, base, "escuela-norte", size=(1366, 768))
    assert page.url.endswith("/station")
    out = Path(os.environ.get("ZONEPAPER_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    for lang in ("en", "es"):
        page.wait_for_selector("table")
        assert page.get_attribute("html", "lang") == lang
        text = page.inner_text("main")
        assert "lote-1.pdf" in text and "telefono.jpg" in text and "escuela-norte" in text
        assert page.evaluate("document.documentElement.scrollHeight") <= 768
        page.screenshot(path=str(out / f"review-station-{lang}.png"))
        with page.expect_navigation():
            page.click("#lang")
    for path in ("/api/items", "/api/dashboard", "/img/page/1"):
        assert page.context.request.get(base + path).status == 403, path
    for path in ("/dashboard", "/form", "/quarantine", "/field"):
        page.goto(base + path)
        assert page.url.endswith("/station"), path
    page.context.close()
