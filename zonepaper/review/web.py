"""The review web app: standard-library HTTP server, pages in both languages, a small script.

Security: a login gives a random session token in an HttpOnly, SameSite=Strict cookie (the
database keeps only its hash); every POST needs the session's CSRF token; each failed login
waits longer; every route checks the role; images are served only by numeric id through
authorised routes; URLs and the request log carry ids, never names or values.
"""

from __future__ import annotations

import hmac
import html
import json
import secrets
import sys
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from zonepaper.cycle import Cycle
from zonepaper.layout import build_layout
from zonepaper.review import accounts, queue
from zonepaper.review import quarantine as qu
from zonepaper.review.queue import Decision, Item, QueueError, User
from zonepaper.review.writer import Readers, Writer
from zonepaper.scan.ingest import read_context
from zonepaper.scan.page import K
from zonepaper.text import LANGUAGES, load_catalog, translate

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
MAX_BODY = 64 * 1024
COOKIE, PRE_COOKIE = "zp_session", "zp_pre"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def t(lang: str, key: str, **params: object) -> str:
    """Web text (forms/web.toml), falling back to the form's own labels (form.toml) and reasons (messages.toml)."""
    for catalog in ("web", "form", "messages"):
        if key in load_catalog(catalog):
            return translate(catalog, key, lang, **params)
    return key


def e(text: object) -> str:
    return html.escape(str(text), quote=True)


class PageCache:
    """Decoded aligned pages, most recently used kept (a crop costs a few ms, a decode ~15 ms)."""

    def __init__(self, size: int = 32) -> None:
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, path: Path) -> np.ndarray | None:
        key = str(path)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        if not path.is_file():
            return None
        img = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_GRAYSCALE)
        with self._lock:
            self._items[key] = img
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return img


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


class ReviewApp:
    """Everything the request handlers share: the cycle, its zone and layout, the writer, the readers."""

    def __init__(self, cycle: Cycle, log: Callable[[str], None] | None = None) -> None:
        self.cycle = cycle
        self.zone = cycle.zone()
        self.layout = build_layout(self.zone, "letter")
        self.writer = Writer(cycle.db_path)
        self.readers = Readers(cycle.db_path)
        self.pages = PageCache()
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._ctx = None

    def close(self) -> None:
        self.writer.close()
        self.readers.close()

    def read_ctx(self):
        if self._ctx is None:
            self._ctx = read_context(self.cycle)
        return self._ctx

    # --- items as the page sees them -----------------------------------------------------
    def show_value(self, item: Item) -> str:
        """The stored value written the way a person types it (dates MM/DD/YYYY, choices as program numbers)."""
        if item.kind == "choices":
            numbers = {p.id: str(p.number) for p in self.zone.programs}
            return " ".join(numbers.get(v, v) for v in item.value.split(",") if v)
        if item.kind == "date" and len(item.value) == 10 and item.value[4] == "-":
            y, m, d = item.value.split("-")
            return f"{m}/{d}/{y}"
        return item.value

    def item_json(self, item: Item, lang: str) -> dict[str, Any]:
        kind = item.kind
        reasons = list(item.reasons) + (["illegible"] if item.illegible else [])
        hint_params = {}
        if kind == "option":
            hint_params["allowed"] = " / ".join(b.value for b in self.layout.field(item.name).bubbles)
        return {"id": item.id, "version": item.version, "name": item.name, "kind": kind,
                "label": t(lang, f"field.{item.name}"), "value": self.show_value(item),
                "status": item.status, "serial": item.serial, "page": item.page_id, "illegible": item.illegible,
                "why": [t(lang, f"why.{r}") for r in dict.fromkeys(reasons)],
                "hint": t(lang, f"hint.{kind}", **hint_params),
                "image": f"/img/field/{item.id}" if item.box and item.page_id else None}

    def crop(self, item: Item) -> bytes | None:
        if not item.box or not item.page_id:
            return None
        with self.readers.connection() as conn:
            row = conn.execute("SELECT image FROM pages WHERE id = ?", (item.page_id,)).fetchone()
        if not row or not row[0]:
            return None
        page = self.pages.get(self.cycle.root / row[0])
        if page is None:
            return None
        scale = page.shape[1] / (self.layout.width * K)
        x, y, w, h = (int(round(v * scale)) for v in item.box)
        pad_x, pad_y = int(14 * scale), int(26 * scale) if item.kind != "choices" else int(8 * scale)
        crop = page[max(0, y - pad_y): y + h + pad_y, max(0, x - pad_x): x + w + pad_x]
        ok, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 92])
        return data.tobytes() if ok else None


# --- the request handler --------------------------------------------------------------------
Route = Callable[["Handler", User | None, dict], Reply]
GET_ROUTES: dict[str, tuple[str, Route]] = {}
POST_ROUTES: dict[str, tuple[str, Route]] = {}


def route(method: str, path: str, need: str = "user") -> Callable[[Route], Route]:
    """Register a handler; need is 'public', 'user' (any role), 'decide' (reviewer or coordinator) or 'coordinator'."""
    def wrap(fn: Route) -> Route:
        (GET_ROUTES if method == "GET" else POST_ROUTES)[path] = (need, fn)
        return fn
    return wrap


def allowed(user: User | None, need: str) -> bool:
    if need == "public":
        return True
    if user is None:
        return False
    if need == "decide":
        return user.may_decide
    if need == "coordinator":
        return user.is_coordinator
    if need == "view_quarantine":
        return user.role in ("coordinator", "auditor")
    return True


class Handler(BaseHTTPRequestHandler):
    app: ReviewApp
    server_version = "zonepaper"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    # quiet default logging: we log method, path without query, status and time only
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch(GET_ROUTES)

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch(POST_ROUTES)

    # --- plumbing ---
    def _dispatch(self, routes: dict[str, tuple[str, Route]]) -> None:
        start = time.perf_counter()
        parts = urlsplit(self.path)
        path, self.query = parts.path, parse_qs(parts.query)
        self.params: dict[str, str] = {}
        found = self._match(routes, path)
        session = self._session()
        user, self.csrf = session if session else (None, "")
        self.lang = user.language if user else self._guess_language()
        try:
            if found is None:
                reply = self.not_found()
            else:
                need, fn = found
                if not allowed(user, need):
                    reply = self.redirect("/login") if user is None and self.command == "GET" and \
                        not path.startswith(("/api/", "/img/")) else self.json({"error": t(self.lang, "error.forbidden")},
                                                                               HTTPStatus.FORBIDDEN if user else 401)
                elif self.command == "POST" and need != "public" and not self._csrf_ok():
                    reply = self.json({"error": t(self.lang, "error.csrf")}, HTTPStatus.FORBIDDEN)
                else:
                    reply = fn(self, user, self.params)
        except QueueError as exc:
            reply = self.queue_error(exc)
        except Exception:  # never a traceback to the browser; the details go to the server's log
            self.app.log("error on " + self.command + " " + path + ":\n" + traceback.format_exc(limit=8))
            reply = self.json({"error": t(self.lang, "error.server")}, HTTPStatus.INTERNAL_SERVER_ERROR)
        self._send(reply)
        self.app.log(f"{self.command} {path} {reply.status} {(time.perf_counter() - start) * 1000:.0f}ms")

    def _match(self, routes: dict[str, tuple[str, Route]], path: str) -> tuple[str, Route] | None:
        if self.command == "GET" and path.startswith("/static/"):
            name = path[len("/static/"):]
            return "public", lambda h, u, p: static_file(h, name)
        if path in routes:
            return routes[path]
        head, _, tail = path.rstrip("/").rpartition("/")
        if tail.isdigit() and f"{head}/<id>" in routes:
            self.params["id"] = tail
            return routes[f"{head}/<id>"]
        return None

    def _cookies(self) -> SimpleCookie:
        jar = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie", ""))
        except Exception:
            pass
        return jar

    def _session(self) -> tuple[User, str] | None:
        token = self._cookies().get(COOKIE)
        if token is None or not token.value:
            return None
        with self.app.readers.connection() as conn:
            return accounts.session_user(conn, token.value)

    def _guess_language(self) -> str:
        wanted = self.query.get("lang", [""])[0]
        if wanted in LANGUAGES:
            return wanted
        accept = self.headers.get("Accept-Language", "")
        return "en" if accept.lower().startswith("en") else "es"

    def _csrf_ok(self) -> bool:
        origin = self.headers.get("Origin")
        if origin and urlsplit(origin).netloc != self.headers.get("Host", ""):
            return False
        sent = self.headers.get("X-CSRF-Token") or self.form().get("csrf", "")
        return bool(self.csrf) and hmac.compare_digest(sent.encode(), self.csrf.encode())

    def body(self) -> bytes:
        if not hasattr(self, "_body"):
            length = int(self.headers.get("Content-Length") or 0)
            self._body = self.rfile.read(length) if 0 < length <= MAX_BODY else b""
        return self._body

    def form(self) -> dict[str, str]:
        if "json" in (self.headers.get("Content-Type") or ""):
            return {}
        return {k: v[0] for k, v in parse_qs(self.body().decode("utf-8", "replace")).items()}

    def data(self) -> dict:
        if "application/json" not in (self.headers.get("Content-Type") or ""):
            return {}
        try:
            value = json.loads(self.body() or b"{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        if not any(k == "Cache-Control" for k, _ in reply.headers):
            self.send_header("Cache-Control", "no-store")
        for k, v in reply.headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    # --- reply builders ---
    def json(self, value: Any, status: int = 200) -> Reply:
        return Reply(int(status), json.dumps(value, ensure_ascii=False).encode("utf-8"), "application/json")

    def redirect(self, where: str, *headers: tuple[str, str]) -> Reply:
        return Reply(303, b"", "text/plain", (("Location", where), *headers))

    def not_found(self) -> Reply:
        return Reply(404, e(t(self.lang, "error.not_found")).encode("utf-8"), "text/plain; charset=utf-8")

    def queue_error(self, exc: QueueError) -> Reply:
        body: dict[str, Any] = {"error": t(self.lang, f"error.{exc.key}"), "code": exc.key, "item": exc.item}
        if exc.bad is not None:
            body["error"] = t(self.lang, f"bad.{exc.bad.key}", **dict(exc.bad.params))
        status = {"forbidden": 403, "bad_value": 422, "gone": 410}.get(exc.key, 409)
        return self.json(body, status)

    def page(self, user: User | None, title_key: str, main: str, boot: dict | None = None) -> Reply:
        lang = self.lang
        nav = ""
        if user:
            links = [("field", "/field", user.may_decide), ("batch", "/batch", user.may_decide),
                     ("form", "/form", True), ("quarantine", "/quarantine", user.role in ("coordinator", "auditor")),
                     ("dashboard", "/dashboard", True)]
            items = "".join(f'<a href="{href}" class="{ "on" if title_key == f"nav.{k}" else "" }">{e(t(lang, f"nav.{k}"))}</a>'
                            for k, href, show in links if show)
            other = "en" if lang == "es" else "es"
            nav = (f'<nav>{items}<span class="who">{e(t(lang, "app.signed_in", name=user.name, role=t(lang, f"role.{user.role}")))}</span>'
                   f'<form method="post" action="/lang"><input type="hidden" name="csrf" value="{e(self.csrf)}">'
                   f'<input type="hidden" name="lang" value="{other}"><button id="lang" lang="{other}">'
                   f'{e(t(lang, "app.other_language"))}</button></form>'
                   f'<form method="post" action="/logout"><input type="hidden" name="csrf" value="{e(self.csrf)}">'
                   f'<button id="logout">{e(t(lang, "app.logout"))}</button></form></nav>')
        boot_json = json.dumps({"csrf": self.csrf, "lang": lang, **(boot or {})}, ensure_ascii=False)
        boot_json = boot_json.replace("<", "\\u003c")
        doc = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
               f'<meta name="viewport" content="width=device-width, initial-scale=1">'
               f'<title>{e(t(lang, title_key))} · zonepaper</title><link rel="stylesheet" href="/static/app.css">'
               f'</head><body><header><strong>{e(t(lang, "app.title"))}</strong>{nav}</header>'
               f'<main id="main">{main}</main>'
               f'<script type="application/json" id="boot">{boot_json}</script>'
               f'<script src="/static/app.js"></script></body></html>')
        return Reply(200, doc.encode("utf-8"))


# --- login, logout, language ------------------------------------------------------------------
@route("GET", "/login", "public")
def login_page(h: Handler, user: User | None, _: dict, failed: bool = False) -> Reply:
    lang = h.lang
    with h.app.readers.connection() as conn:
        no_users = accounts.count_users(conn) == 0
    pre = secrets.token_urlsafe(24)
    note = f'<p class="warn">{e(t(lang, "login.no_users"))}</p>' if no_users else ""
    if failed:
        note += f'<p class="error" role="alert">{e(t(lang, "login.failed"))}</p>'
    other = "en" if lang == "es" else "es"
    main = (f'<section class="login"><h1>{e(t(lang, "login.title"))}</h1>{note}'
            f'<form method="post" action="/login"><input type="hidden" name="pre" value="{pre}">'
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
    user = h.app.writer.run(accounts.login, name, password)
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
    referer = urlsplit(h.headers.get("Referer", "")).path
    return h.redirect(referer if referer.startswith("/") and not referer.startswith("//") else "/field")


@route("GET", "/", "public")
def home(h: Handler, user: User | None, _: dict) -> Reply:
    if user is None:
        return h.redirect("/login")
    return h.redirect("/field" if user.may_decide else "/dashboard")


def static_file(h: Handler, name: str) -> Reply:
    if name not in STATIC_FILES:
        return h.not_found()
    return Reply(200, (STATIC / name).read_bytes(), STATIC_FILES[name], (("Cache-Control", "max-age=300"),))


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
            f'<figure class="crop"><img id="crop" alt=""></figure>'
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
    waiting = sorted(((n, c) for n, c in waiting if c), key=lambda nc: queue.FIELD_ORDER.index(nc[0])
                     if nc[0] in queue.FIELD_ORDER else 99)
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
    if field_name and field_name not in queue.FIELD_ORDER:
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
        page = conn.execute("SELECT id, serial, image FROM pages WHERE id = ?", (page_id,)).fetchone()
        rows = conn.execute(f"SELECT {queue.ITEM_COLUMNS} FROM fields f WHERE f.page_id = ? ORDER BY f.rowid",
                            (page_id,)).fetchall()
    if page is None or not page[2]:
        return h.not_found()
    items = [queue._item(r) for r in rows]
    w, ht = int(round(h.app.layout.width * K)), int(round(h.app.layout.height * K))
    boxes = "".join(f'<rect class="s-{i.status}{" illegible" if i.illegible else ""}" x="{i.box[0]}" y="{i.box[1]}" '
                    f'width="{i.box[2]}" height="{i.box[3]}"><title>{e(t(lang, f"field.{i.name}"))}</title></rect>'
                    for i in items if i.box)
    table = "".join(f'<tr class="s-{i.status}"><th>{e(t(lang, f"field.{i.name}"))}</th>'
                    f'<td>{e(h.app.show_value(i)) or e(t(lang, "item.empty_value"))}</td>'
                    f'<td>{e(t(lang, f"form.status_{i.status}"))}</td></tr>' for i in items)
    main = (f'<section id="form-mode" class="mode form-mode"><h1>{e(t(lang, "item.form_number"))} {e(page[1] or "")}</h1>'
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
        inputs += f'<label>{e(t(lang, "quarantine.reason_input"))} <input name="reason" id="q-reason" maxlength="300"></label>'
        buttons = "".join(f'<button type="button" class="q-action" data-action="{a}">'
                          f'{e(t(lang, f"quarantine.action_{a}"))}</button>' for a in page.actions)
        actions = f'<form id="resolve" class="resolve">{inputs}<div class="keys">{buttons}</div></form>'
    elif page.resolution is not None:
        actions = f'<p class="done">{e(t(lang, "quarantine.resolved", action=t(lang, "quarantine.action_" + page.resolution["action"])))}</p>'
    images = f'<figure><img class="qimg" src="/img/page/{page.id}" alt=""></figure>' if page.has_image else ""
    if first:
        images += (f'<figure><figcaption>{e(t(lang, "quarantine.first_copy"))}</figcaption>'
                   f'<img class="qimg" src="/img/page/{first[0]}" alt=""></figure>')
    main = (f'<section id="quarantine-mode" class="mode"><h1>{e(t(lang, "quarantine.page", page=page.page_number, file=page.file_name))}</h1>'
            f'<p class="why"><strong>{e(t(lang, f"reason.{page.reason}"))}</strong>'
            f'{(" — " + e(page.serial)) if page.serial else ""}</p>{actions}'
            f'<p id="problem" class="error" role="alert"></p><div class="qimages">{images}</div></section>')
    return h.page(user, "nav.quarantine", main, {"mode": "quarantine", "page": page.id})


@route("POST", "/api/quarantine", "coordinator")
def api_quarantine(h: Handler, user: User, _: dict) -> Reply:
    data = h.data()
    r = qu.Resolution(_int(data.get("page")), str(data.get("action", ""))[:20], str(data.get("serial") or "")[:20],
                      str(data.get("reason") or "")[:300])
    fields = None
    with h.app.readers.connection() as conn:
        page = qu.get_page(conn, r.page_id)
        image = conn.execute("SELECT image FROM pages WHERE id = ?", (r.page_id,)).fetchone()
    if page is None:
        raise QueueError("gone")
    if r.action in qu.NEEDS_READING and page.aligned and image and image[0]:
        fields = qu.read_stored_page(h.app.cycle.root, image[0], h.app.read_ctx())  # slow part, off the writer
    outcome = h.app.writer.run(qu.resolve, user, r, fields)
    return h.json({"ok": True, "resolution": outcome})


# --- dashboard ------------------------------------------------------------------------------------
def dashboard_numbers(conn) -> dict[str, Any]:
    """Counts by status, per reviewer, the recent rate and the estimate, what blocks the draw."""
    apps = dict(conn.execute("SELECT status, count(*) FROM applications GROUP BY status").fetchall())
    counts = queue.field_counts(conn)
    totals = {k: sum(c[k] for c in counts.values()) for k in ("auto", "confirmed", "review", "illegible")}
    open_quarantine = conn.execute("SELECT count(*) FROM pages WHERE kind = 'quarantined' AND resolution IS NULL"
                                   ).fetchone()[0]
    since = (datetime.now(timezone.utc) - timedelta(minutes=10)).isoformat(timespec="seconds")
    people = [{"name": name, "decisions": n, "recent": recent} for name, n, recent in conn.execute(
        "SELECT actor, count(*), sum(at >= ?) FROM events WHERE kind IN ('review.decided', 'review.illegible') "
        "GROUP BY actor ORDER BY count(*) DESC", (since,))]
    recent = sum(p["recent"] or 0 for p in people)
    rate = recent / 10.0
    left = totals["review"] + totals["illegible"]
    return {"applications": {k: apps.get(k, 0) for k in ("complete", "review", "held")}, "fields": totals,
            "by_field": counts, "quarantine": open_quarantine, "people": people, "rate": round(rate, 1),
            "minutes_left": round(left / rate) if rate else None,
            "blocks": {"review": totals["review"], "illegible": totals["illegible"], "quarantine": open_quarantine,
                       "held": apps.get("held", 0)}}


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
    by_field = "".join(f'<tr><th>{e(t(lang, f"field.{n}"))}</th><td>{c["review"]}</td><td>{c["illegible"]}</td>'
                       f'<td>{c["confirmed"]}</td><td>{c["auto"]}</td></tr>'
                       for n, c in sorted(d["by_field"].items(), key=lambda nc: queue.FIELD_ORDER.index(nc[0])
                                          if nc[0] in queue.FIELD_ORDER else 99))
    head = "".join(f"<th>{e(t(lang, f'dashboard.{k}'))}</th>" for k in ("review", "illegible", "confirmed", "auto"))
    main = (f'<section id="dashboard" class="mode"><h1>{e(t(lang, "dashboard.title"))}</h1><div class="cards">'
            f'<div class="card"><h2>{e(t(lang, "dashboard.blocks"))}</h2><ul id="blocks">{block_list}</ul>'
            f'<p>{e(t(lang, "dashboard.rate", rate=d["rate"]))} {e(eta)}</p></div>'
            f'<div class="card"><h2>{e(t(lang, "dashboard.applications"))}</h2><table>{apps}</table></div>'
            f'<div class="card"><h2>{e(t(lang, "dashboard.fields"))}</h2><table>{fields}<tr><th>'
            f'{e(t(lang, "dashboard.quarantine"))}</th><td>{d["quarantine"]}</td></tr></table></div>'
            f'<div class="card"><h2>{e(t(lang, "dashboard.per_reviewer"))}</h2><table><tr><th></th>'
            f'<th>{e(t(lang, "dashboard.decisions"))}</th><th>{e(t(lang, "dashboard.last_10"))}</th></tr>{people}'
            f'</table></div></div><h2>{e(t(lang, "dashboard.by_field"))}</h2><table class="by-field"><tr><th></th>'
            f'{head}</tr>{by_field}</table></section>')
    return h.page(user, "nav.dashboard", main, {"mode": "dashboard"})


# --- the server -------------------------------------------------------------------------------------
class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(cycle: Cycle, host: str = "127.0.0.1", port: int = 8765,
                log: Callable[[str], None] | None = None) -> tuple[ReviewServer, ReviewApp]:
    """The app and its HTTP server, bound but not yet serving (call serve_forever)."""
    app = ReviewApp(cycle, log)

    class BoundHandler(Handler):
        pass

    BoundHandler.app = app
    try:
        server = ReviewServer((host, port), BoundHandler)
    except OSError:
        app.close()
        raise
    return server, app
