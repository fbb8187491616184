"""The review app's pages and JSON routes: login, field and batch modes, form view, quarantine, dashboard.

Each route names who may use it (see web.route); the handler in web.py checks the session,
the role and the CSRF token before a route runs. Writes go through the app's one writer.
"""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from zonepaper.errors import StoreError
from zonepaper.fields import DIGIT_FIELDS, REPLY_FIELDS, REVIEW_ORDER
from zonepaper.layout import build_slip_layout
from zonepaper.review import accounts, queue
from zonepaper.review import quarantine as qu
from zonepaper.review.queue import Decision, QueueError, User
from zonepaper.review.web import COOKIE, PRE_COOKIE, Handler, Reply, e, route, t
from zonepaper.scan.page import K
from zonepaper.store.readers import ADAPT_AFTER_DIGITS, COMMITTED, confirmed_digits, current_reader
from zonepaper.text import LANGUAGES


# --- login, logout, language ------------------------------------------------------------------
@route("GET", "/login", "public")
def login_page(h: Handler, user: User | None, _: dict, failed: bool = False) -> Reply:
    lang = h.lang
    with h.app.readers.connection() as conn:
        no_users = accounts.count_users(conn) == 0
    # One pre-login token per browser (a cookie matched by a hidden field): kept across failed tries,
    # because browsers restore a re-shown form's hidden fields.
    existing = h._cookies().get(PRE_COOKIE)
    pre = existing.value if existing is not None and len(existing.value) == 32 else secrets.token_urlsafe(24)
    note = f'<p class="warn">{e(t(lang, "login.no_users"))}</p>' if no_users else ""
    if failed:
        note += f'<p class="error" role="alert">{e(t(lang, "login.failed"))}</p>'
    other = "en" if lang == "es" else "es"
    main = (f'<section class="login"><h1>{e(t(lang, "login.title"))}</h1>{note}'
            f'<form method="post" action="/login" autocomplete="off"><input type="hidden" name="pre" value="{pre}">'
            f'<input type="hidden" name="lang" value="{lang}">'
            f'<label>{e(t(lang, "login.name"))}<input name="name" autocomplete="username" autofocus required></label>'
            f'<label>{e(t(lang, "login.password"))}<input name="password" type="password" '
            f'autocomplete="current-password" required></label>'
            f'<button type="submit">{e(t(lang, "login.submit"))}</button></form>'
            f'<p><a href="/login?lang={other}">{e(t(lang, "app.other_language"))}</a></p>'
            f'<p class="small">{e(t(lang, "app.offline_note"))}</p></section>')
    reply = h.page(None, "login.title", main)
    reply.headers = (("Set-Cookie", f"{PRE_COOKIE}={pre}; HttpOnly; SameSite=Strict; Path=/login"),)
    return reply


@route("POST", "/login", "public")
def login_post(h: Handler, _: User | None, params: dict) -> Reply:
    form = h.form()
    pre = h._cookies().get(PRE_COOKIE)
    if form.get("lang") in LANGUAGES:
        h.lang = form["lang"]
    if pre is None or not hmac.compare_digest(pre.value.encode(), form.get("pre", "").encode()):
        return login_page(h, None, params, failed=True)
    name, password = form.get("name", "")[:60], form.get("password", "")[:200]
    with h.app.readers.connection() as conn:
        user, user_id = accounts.check_login(conn, name, password)
    h.app.writer.run(accounts.record_login, user_id, user is not None)
    if user is None:
        with h.app.readers.connection() as conn:
            failures = accounts.failed_logins(conn, name)
        time.sleep(min(0.5 * 2 ** min(max(failures - 1, 0), 4), 8.0))  # 0.5 s, 1 s, 2 s, ... up to 8 s
        reply = login_page(h, None, params, failed=True)
        reply.status = 401
        return reply
    token, _csrf = h.app.writer.run(accounts.start_session, user)
    first = "/field" if user.may_decide else "/dashboard"
    return h.redirect(first, ("Set-Cookie", f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"))


@route("POST", "/logout")
def logout(h: Handler, user: User, _: dict) -> Reply:
    token = h._cookies().get(COOKIE)
    h.app.writer.run(queue.release_claims, user)
    if token is not None:
        h.app.writer.run(accounts.end_session, token.value)
    return h.redirect("/login", ("Set-Cookie", f"{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"))


@route("POST", "/lang")
def set_language(h: Handler, user: User, _: dict) -> Reply:
    lang = h.form().get("lang", "")
    if lang in LANGUAGES:
        h.app.writer.run(accounts.set_language, user, lang)
    back = h.form().get("back", "")
    safe = back.startswith("/") and not back.startswith("//") and "\\" not in back and back.isprintable()
    return h.redirect(back if safe else "/")


@route("GET", "/", "public")
def home(h: Handler, user: User | None, _: dict) -> Reply:
    if user is None:
        return h.redirect("/login")
    return h.redirect("/field" if user.may_decide else "/dashboard")


# --- field and batch modes ------------------------------------------------------------------
@route("GET", "/field", "decide")
def field_page(h: Handler, user: User, _: dict) -> Reply:
    lang = h.lang
    keys = [("Enter", "accept"), ("F2", "illegible"), ("F3", "skip"), ("F4", "back"), ("F6", "whole_form"),
            ("Esc", "restore")]
    buttons = "".join(f'<button type="button" data-key="{k}" class="key-{a}"><kbd>{k}</kbd> {e(t(lang, f"keys.{a}"))}'
                      f'</button>' for k, a in keys)
    main = (f'<section id="field-mode" class="mode"><div id="status" aria-live="polite"></div>'
            f'<div id="card" hidden><h1 id="label"></h1><p class="meta"><span id="serial-label">'
            f'{e(t(lang, "item.form_number"))}</span> <span id="serial"></span></p>'
            f'<figure class="crop"><div class="crop-box" id="crop-box"><img id="crop" alt="">'
            f'<div id="bubbles" class="bubbles"></div></div></figure>'
            f'<div class="why"><strong>{e(t(lang, "item.why"))}:</strong> <span id="why"></span></div>'
            f'<form id="decide" autocomplete="off"><label for="value">{e(t(lang, "item.machine_read"))}</label>'
            f'<input id="value" name="value" spellcheck="false" autocomplete="off">'
            f'<p id="hint" class="hint"></p><p id="problem" class="error" role="alert"></p></form>'
            f'<div class="keys">{buttons}</div><p class="help">{e(t(lang, "keys.help_field"))}</p></div>'
            f'<p id="empty" hidden class="done">{e(t(lang, "item.done"))}</p></section>')
    return h.page(user, "nav.field", main, {"mode": "field", "text": _client_text(lang)})


@route("GET", "/batch", "decide")
def batch_page(h: Handler, user: User, _: dict) -> Reply:
    lang = h.lang
    with h.app.readers.connection() as conn:
        counts = queue.field_counts(conn)
    waiting = [(n, c["review"] + (c["illegible"] if user.is_coordinator else 0)) for n, c in counts.items()]
    waiting = sorted(((n, c) for n, c in waiting if c), key=lambda nc: REVIEW_ORDER.index(nc[0])
                     if nc[0] in REVIEW_ORDER else 99)
    chosen = h.query.get("field", [waiting[0][0] if waiting else ""])[0]
    options = "".join(f'<option value="{e(n)}"{" selected" if n == chosen else ""}>{e(t(lang, f"field.{n}"))} ({c})'
                      f'</option>' for n, c in waiting)
    main = (f'<section id="batch-mode" class="mode"><form method="get" action="/batch" class="pick">'
            f'<label>{e(t(lang, "item.choose_field"))} <select name="field" id="field-pick">{options}</select></label>'
            f'<button>{e(t(lang, "form.open"))}</button></form>'
            f'<p class="help">{e(t(lang, "keys.help_batch"))}</p><div id="status" aria-live="polite"></div>'
            f'<div id="grid" class="grid"></div><p id="problem" class="error" role="alert"></p>'
            f'<div class="keys"><button type="button" id="accept-page"><kbd>Ctrl+Enter</kbd> '
            f'{e(t(lang, "keys.accept_page"))}</button></div>'
            f'<p id="empty" hidden class="done">{e(t(lang, "item.done"))}</p></section>')
    return h.page(user, "nav.batch", main, {"mode": "batch", "field": chosen, "size": queue.BATCH_SIZE,
                                             "text": _client_text(lang)})


def _client_text(lang: str) -> dict[str, str]:
    keys = ("item.saved", "item.left", "item.back_to", "item.marked_illegible", "error.server", "keys.illegible",
            "item.empty_value")
    return {k: t(lang, k, left="{left}") for k in keys}


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@route("GET", "/api/items", "decide")
def api_items(h: Handler, user: User, _: dict) -> Reply:
    field_name = h.query.get("field", [""])[0] or None
    if field_name and field_name not in REVIEW_ORDER:
        return h.json({"error": t(h.lang, "error.not_found")}, 404)
    n = max(1, min(_int(h.query.get("n", ["1"])[0], 1), queue.BATCH_SIZE))
    items = h.app.writer.run(queue.claim_items, user, field_name, n)
    return h.json({"items": [h.app.item_json(i, h.lang) for i in items], "left": _left(h, user, field_name)})


def _left(h: Handler, user: User, field_name: str | None) -> int:
    sql = "SELECT count(*) FROM fields WHERE status = 'review'"
    params: list = []
    if not user.is_coordinator:
        sql += " AND illegible = 0"
    if field_name:
        sql += " AND name = ?"
        params.append(field_name)
    with h.app.readers.connection() as conn:
        return int(conn.execute(sql, params).fetchone()[0])


@route("POST", "/api/decide", "decide")
def api_decide(h: Handler, user: User, _: dict) -> Reply:
    data = h.data()
    raw = data.get("decisions")
    if not isinstance(raw, list) or not raw or len(raw) > queue.BATCH_SIZE:
        return h.json({"error": t(h.lang, "error.bad_action")}, 400)
    decisions = []
    for d in raw:
        if not isinstance(d, dict) or d.get("action") not in ("accept", "illegible", "skip"):
            return h.json({"error": t(h.lang, "error.bad_action")}, 400)
        value = d.get("value")
        decisions.append(Decision(_int(d.get("id")), _int(d.get("version")), d["action"],
                                  str(value)[:400] if value is not None else None))
    items = h.app.writer.run(queue.decide_many, user, decisions, h.app.zone, h.app.layout)
    return h.json({"items": [h.app.item_json(i, h.lang) for i in items]})


@route("POST", "/api/back", "decide")
def api_back(h: Handler, user: User, _: dict) -> Reply:
    item = h.app.writer.run(queue.reopen_last, user, _int(h.data().get("before")) or None)
    return h.json({"item": h.app.item_json(item, h.lang) if item else None})


@route("GET", "/img/field/<id>")
def field_image(h: Handler, user: User, params: dict) -> Reply:
    with h.app.readers.connection() as conn:
        item = queue.get_item(conn, int(params["id"]))
    data = h.app.crop(item) if item else None
    if data is None:
        return h.not_found()
    return Reply(200, data, "image/jpeg", (("Cache-Control", "private, max-age=600"),))


@route("GET", "/img/page/<id>")
def page_image(h: Handler, user: User, params: dict) -> Reply:
    with h.app.readers.connection() as conn:
        row = conn.execute("SELECT image FROM pages WHERE id = ?", (int(params["id"]),)).fetchone()
    path = h.app.cycle.root / row[0] if row and row[0] else None
    if path is None or not path.is_file():
        return h.not_found()
    return Reply(200, path.read_bytes(), "image/jpeg", (("Cache-Control", "private, max-age=600"),))


# --- form mode ----------------------------------------------------------------------------------
@route("GET", "/form")
def form_pick(h: Handler, user: User, _: dict) -> Reply:
    from zonepaper.serial import normalize_serial

    lang = h.lang
    wanted = normalize_serial(h.query.get("serial", [""])[0])
    problem = ""
    if wanted:
        with h.app.readers.connection() as conn:
            row = conn.execute("SELECT id FROM pages WHERE serial = ? AND kind = 'front' ORDER BY id LIMIT 1",
                               (wanted,)).fetchone()
        if row:
            return h.redirect(f"/form/{row[0]}")
        problem = f'<p class="error" role="alert">{e(t(lang, "form.not_found"))}</p>'
    main = (f'<section class="mode"><h1>{e(t(lang, "nav.form"))}</h1><form method="get" action="/form" class="pick">'
            f'<label>{e(t(lang, "form.pick"))} <input name="serial" inputmode="numeric" autofocus></label>'
            f'<button>{e(t(lang, "form.open"))}</button></form>{problem}</section>')
    return h.page(user, "nav.form", main)


@route("GET", "/form/<id>")
def form_view(h: Handler, user: User, params: dict) -> Reply:
    lang = h.lang
    page_id = int(params["id"])
    with h.app.readers.connection() as conn:
        page = conn.execute("SELECT id, serial, image, kind FROM pages WHERE id = ?", (page_id,)).fetchone()
        rows = conn.execute(f"SELECT {queue.ITEM_COLUMNS} FROM fields f WHERE f.page_id = ? ORDER BY f.rowid",
                            (page_id,)).fetchall()
    if page is None or not page[2]:
        return h.not_found()
    items = [queue._item(r) for r in rows]
    sheet = build_slip_layout(h.app.layout.paper) if page[3] == "reply" else h.app.layout  # a letter's reply slip
    w, ht = int(round(sheet.width * K)), int(round(sheet.height * K))
    boxes = "".join(f'<rect class="s-{i.status}{" illegible" if i.illegible else ""}" x="{i.box[0]}" y="{i.box[1]}" '
                    f'width="{i.box[2]}" height="{i.box[3]}"><title>{e(t(lang, f"field.{i.name}"))}</title></rect>'
                    for i in items if i.box)
    table = "".join(f'<tr class="s-{i.status}"><th>{e(t(lang, f"field.{i.name}"))}</th>'
                    f'<td>{e(h.app.show_value(i)) or e(t(lang, "item.empty_value"))}</td>'
                    f'<td>{e(t(lang, f"form.status_{i.status}"))}</td></tr>' for i in items)
    heading = f'{e(t(lang, "item.form_number"))} {e(page[1] or "")}'
    main = (f'<section id="form-mode" class="mode form-mode"><h1>{heading}</h1>'
            f'<p class="legend">{e(t(lang, "form.legend"))}</p><div class="form-wrap">'
            f'<svg class="sheet" viewBox="0 0 {w} {ht}" role="img"><image href="/img/page/{page_id}" width="{w}" '
            f'height="{ht}"/>{boxes}</svg><table class="values"><tr><th></th><th>{e(t(lang, "form.value"))}</th>'
            f'<th>{e(t(lang, "form.status"))}</th></tr>{table}</table></div></section>')
    return h.page(user, "nav.form", main)


# --- quarantine -----------------------------------------------------------------------------------
@route("GET", "/quarantine", "view_quarantine")
def quarantine_list(h: Handler, user: User, _: dict) -> Reply:
    lang = h.lang
    with h.app.readers.connection() as conn:
        pages = qu.quarantined_pages(conn)
    if not pages:
        body = f'<p class="done">{e(t(lang, "quarantine.none"))}</p>'
    else:
        body = "<ul class='qlist'>" + "".join(
            f'<li><a href="/quarantine/{p.id}">{e(t(lang, "quarantine.page", page=p.page_number, file=p.file_name))}'
            f'</a> — {e(t(lang, f"reason.{p.reason}"))}</li>' for p in pages) + "</ul>"
    main = (f'<section class="mode"><h1>{e(t(lang, "nav.quarantine"))}</h1>'
            f'<p>{e(t(lang, "quarantine.intro"))}</p>{body}</section>')
    return h.page(user, "nav.quarantine", main)


@route("GET", "/quarantine/<id>", "view_quarantine")
def quarantine_page(h: Handler, user: User, params: dict) -> Reply:
    lang = h.lang
    with h.app.readers.connection() as conn:
        page = qu.get_page(conn, int(params["id"]))
        first = None
        if page and page.reason == "duplicate" and page.serial:
            first = conn.execute("SELECT id FROM pages WHERE serial = ? AND kind = 'front' ORDER BY id LIMIT 1",
                                 (page.serial,)).fetchone()
    if page is None:
        return h.not_found()
    actions = ""
    if user.is_coordinator and page.resolution is None:
        inputs = ""
        if "serial" in page.actions:
            inputs += (f'<label>{e(t(lang, "quarantine.serial_input"))} <input name="serial" id="q-serial" '
                       f'inputmode="numeric" autocomplete="off"></label>')
        inputs += (f'<label>{e(t(lang, "quarantine.reason_input"))} '
                   f'<input name="reason" id="q-reason" maxlength="300"></label>')
        buttons = "".join(f'<button type="button" class="q-action" data-action="{a}">'
                          f'{e(t(lang, f"quarantine.action_{a}"))}</button>' for a in page.actions)
        actions = f'<form id="resolve" class="resolve">{inputs}<div class="keys">{buttons}</div></form>'
    elif page.resolution is not None:
        done = t(lang, "quarantine.action_" + page.resolution["action"])
        actions = f'<p class="done">{e(t(lang, "quarantine.resolved", action=done))}</p>'
    images = f'<figure><img class="qimg" src="/img/page/{page.id}" alt=""></figure>' if page.has_image else ""
    if first:
        images += (f'<figure><figcaption>{e(t(lang, "quarantine.first_copy"))}</figcaption>'
                   f'<img class="qimg" src="/img/page/{first[0]}" alt=""></figure>')
    title = t(lang, "quarantine.page", page=page.page_number, file=page.file_name)
    main = (f'<section id="quarantine-mode" class="mode"><h1>{e(title)}</h1>'
            f'<p class="why"><strong>{e(t(lang, f"reason.{page.reason}"))}</strong>'
            f'{(" — " + e(page.serial)) if page.serial else ""}</p>{actions}'
            f'<p id="problem" class="error" role="alert"></p><div class="qimages">{images}</div></section>')
    return h.page(user, "nav.quarantine", main, {"mode": "quarantine", "page": page.id})


@route("POST", "/api/quarantine", "coordinator")
def api_quarantine(h: Handler, user: User, _: dict) -> Reply:
    data = h.data()
    r = qu.Resolution(_int(data.get("page")), str(data.get("action", ""))[:20], str(data.get("serial") or "")[:20],
                      str(data.get("reason") or "")[:300])
    with h.app.readers.connection() as conn:
        page = qu.get_page(conn, r.page_id)
    if page is None:
        raise QueueError("gone")
    fields = qu.reading_for(h.app.cycle.root, page, r.action, h.app.read_ctx())
    outcome = h.app.writer.run(qu.resolve, user, r, fields)
    return h.json({"ok": True, "resolution": outcome})


BLANKS_SHOWN = 120


@route("GET", "/blanks")
def blank_pages(h: Handler, user: User, _: dict) -> Reply:
    """Thumbnails of the pages called blank, newest first: a person checks that none was a form."""
    lang = h.lang
    with h.app.readers.connection() as conn:
        total = conn.execute("SELECT count(*) FROM pages WHERE kind = 'blank'").fetchone()[0]
        rows = conn.execute("SELECT p.id, p.page_index, f.original_name, p.image FROM pages p JOIN files f ON "
                            "f.sha256 = p.file_sha256 WHERE p.kind = 'blank' ORDER BY p.id DESC LIMIT ?",
                            (BLANKS_SHOWN,)).fetchall()
    tiles = "".join(
        '<figure class="blank">' + (f'<img src="/img/page/{pid}" alt="" loading="lazy" width="200">' if image else
                                     f'<span>{e(t(lang, "blanks.no_image"))}</span>') +
        f'<figcaption>{e(t(lang, "quarantine.page", page=index + 1, file=name))}</figcaption></figure>'
        for pid, index, name, image in rows)
    body = f'<div class="blanks">{tiles}</div>' if rows else f'<p class="done">{e(t(lang, "blanks.none"))}</p>'
    more = f'<p>{e(t(lang, "blanks.more", shown=len(rows), count=total))}</p>' if total > len(rows) else ""
    main = (f'<section class="mode"><h1>{e(t(lang, "blanks.title"))}</h1><p>{e(t(lang, "blanks.intro"))}</p>'
            f'{more}{body}</section>')
    return h.page(user, "nav.dashboard", main)


# --- dashboard ------------------------------------------------------------------------------------
def dashboard_numbers(conn) -> dict[str, Any]:
    """Counts by status, per reviewer, the recent rate and the estimate, what blocks the draw."""
    apps = dict(conn.execute("SELECT status, count(*) FROM applications GROUP BY status").fetchall())
    counts = queue.field_counts(conn)
    totals = {k: sum(c[k] for c in counts.values()) for k in ("auto", "confirmed", "review", "illegible")}
    open_quarantine = conn.execute("SELECT count(*) FROM pages WHERE kind = 'quarantined' AND resolution IS NULL"
                                   ).fetchone()[0]
    blanks = conn.execute("SELECT count(*) FROM pages WHERE kind = 'blank'").fetchone()[0]
    since = (datetime.now(timezone.utc) - timedelta(minutes=10)).isoformat(timespec="seconds")
    people = [{"name": name, "decisions": n, "recent": recent} for name, n, recent in conn.execute(
        "SELECT actor, count(*), sum(at >= ?) FROM events WHERE kind IN ('review.decided', 'review.illegible') "
        "GROUP BY actor ORDER BY count(*) DESC", (since,))]
    recent = sum(p["recent"] or 0 for p in people)
    rate = recent / 10.0
    left = totals["review"] + totals["illegible"]
    # answers on the letters' reply slips come after the draw: they are work, but they block nothing
    replies = sum(counts.get(n, {}).get(k, 0) for n in REPLY_FIELDS for k in ("review", "illegible"))
    draw_fields = {k: totals[k] - sum(counts.get(n, {}).get(k, 0) for n in REPLY_FIELDS)
                   for k in ("review", "illegible")}
    try:
        reader = current_reader(conn).reader
    except StoreError:
        reader = "tampered"
    digits = confirmed_digits(conn, DIGIT_FIELDS)
    return {"applications": {k: apps.get(k, 0) for k in ("complete", "review", "held")}, "fields": totals,
            "reader": {"in_use": reader, "confirmed_digits": digits,
                       "offer_adapt": digits >= ADAPT_AFTER_DIGITS and reader == COMMITTED},
            "by_field": counts, "quarantine": open_quarantine, "blanks": blanks, "people": people,
            "rate": round(rate, 1),
            "minutes_left": round(left / rate) if rate else None, "replies": replies,
            "blocks": {"review": draw_fields["review"], "illegible": draw_fields["illegible"],
                       "quarantine": open_quarantine, "held": apps.get("held", 0)}}


@route("GET", "/api/dashboard")
def api_dashboard(h: Handler, user: User, _: dict) -> Reply:
    with h.app.readers.connection() as conn:
        return h.json(dashboard_numbers(conn))


@route("GET", "/dashboard")
def dashboard(h: Handler, user: User, _: dict) -> Reply:
    lang = h.lang
    with h.app.readers.connection() as conn:
        d = dashboard_numbers(conn)

    def row(label_key: str, value: object) -> str:
        return f'<tr><th>{e(t(lang, label_key))}</th><td>{e(value)}</td></tr>'

    apps = "".join(row(f"dashboard.{k}", v) for k, v in (("complete", d["applications"]["complete"]),
                                                          ("in_review", d["applications"]["review"]),
                                                          ("held", d["applications"]["held"])))
    fields = "".join(row(f"dashboard.{k}", d["fields"][k]) for k in ("auto", "confirmed", "review", "illegible"))
    people = "".join(f'<tr><th>{e(p["name"])}</th><td>{p["decisions"]}</td><td>{p["recent"] or 0}</td></tr>'
                     for p in d["people"])
    eta = t(lang, "dashboard.eta", minutes=d["minutes_left"]) if d["minutes_left"] is not None else \
        t(lang, "dashboard.eta_unknown")
    blocks = [(k, v) for k, v in (("review", d["blocks"]["review"]), ("illegible", d["blocks"]["illegible"]),
                                  ("quarantine", d["blocks"]["quarantine"]), ("held", d["blocks"]["held"])) if v]
    block_list = "".join(f'<li>{v} {e(t(lang, f"dashboard.{k}"))}</li>' for k, v in blocks) or \
        f'<li>{e(t(lang, "dashboard.blocks_none"))}</li>'
    if d["replies"]:
        block_list += f'<li class="small">{e(t(lang, "dashboard.replies", count=d["replies"]))}</li>'
    by_field = "".join(f'<tr><th>{e(t(lang, f"field.{n}"))}</th><td>{c["review"]}</td><td>{c["illegible"]}</td>'
                       f'<td>{c["confirmed"]}</td><td>{c["auto"]}</td></tr>'
                       for n, c in sorted(d["by_field"].items(), key=lambda nc: REVIEW_ORDER.index(nc[0])
                                          if nc[0] in REVIEW_ORDER else 99))
    head = "".join(f"<th>{e(t(lang, f'dashboard.{k}'))}</th>" for k in ("review", "illegible", "confirmed", "auto"))
    r = d["reader"]
    in_use = "reader_committed" if r["in_use"] == COMMITTED else \
        "reader_tampered" if r["in_use"] == "tampered" else "reader_adapted"
    reader = f'<p id="reader" class="small">{e(t(lang, f"dashboard.{in_use}", reader=r["in_use"]))} ' + \
        e(t(lang, "dashboard.reader_offer" if r["offer_adapt"] else "dashboard.reader_digits",
            count=r["confirmed_digits"], need=ADAPT_AFTER_DIGITS)) + "</p>"
    main = (f'<section id="dashboard" class="mode"><h1>{e(t(lang, "dashboard.title"))}</h1><div class="cards">'
            f'<div class="card"><h2>{e(t(lang, "dashboard.blocks"))}</h2><ul id="blocks">{block_list}</ul>'
            f'<p>{e(t(lang, "dashboard.rate", rate=d["rate"]))} {e(eta)}</p></div>'
            f'<div class="card"><h2>{e(t(lang, "dashboard.applications"))}</h2><table>{apps}</table></div>'
            f'<div class="card"><h2>{e(t(lang, "dashboard.fields"))}</h2><table>{fields}<tr><th>'
            f'{e(t(lang, "dashboard.quarantine"))}</th><td>{d["quarantine"]}</td></tr><tr><th>'
            f'<a href="/blanks">{e(t(lang, "dashboard.blanks"))}</a></th><td>{d["blanks"]}</td></tr></table>{reader}'
            f'</div>'
            f'<div class="card"><h2>{e(t(lang, "dashboard.per_reviewer"))}</h2><table><tr><th></th>'
            f'<th>{e(t(lang, "dashboard.decisions"))}</th><th>{e(t(lang, "dashboard.last_10"))}</th></tr>{people}'
            f'</table></div></div><h2>{e(t(lang, "dashboard.by_field"))}</h2><table class="by-field"><tr><th></th>'
            f'{head}</tr>{by_field}</table></section>')
    return h.page(user, "nav.dashboard", main, {"mode": "dashboard"})


