"""The review page's routes on Starlette: login, field and batch modes, form view, quarantine, blanks,
dashboard, and the JSON the page's script calls.

Security: a login gives a random session token in an HttpOnly, SameSite=Strict cookie (the database
keeps only its hash); every POST needs the session's CSRF token; each failed login waits longer;
every route names who may use it and is refused to others; the Host header must be a name the
server is reached by; images are served only by numeric id through authorised routes; URLs and the
request log carry ids, never names or values. Every page is a Jinja2 template (autoescaped) under
templates/; the script and the styles are static files. Reads use read-only connections; every
write goes through the app's one writer.
"""

from __future__ import annotations

import hmac
import importlib
import json
import secrets
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from zonepaper.cycle import Cycle
from zonepaper.errors import StoreError, ZonepaperError
from zonepaper.fields import DIGIT_FIELDS, REPLY_FIELDS, REVIEW_ORDER
from zonepaper.layout import build_slip_layout
from zonepaper.review import accounts, queue
from zonepaper.review import quarantine as qu
from zonepaper.review.app import STATIC, TEMPLATES, ReviewApp, t
from zonepaper.review.queue import Decision, QueueError, User
from zonepaper.review.values import RULE_PROBLEMS
from zonepaper.scan.page import K
from zonepaper.serial import display_serial
from zonepaper.store.freeze import active_freeze
from zonepaper.store.readers import ADAPT_AFTER_DIGITS, COMMITTED, confirmed_digits, current_reader
from zonepaper.text import LANGUAGES

MAX_BODY = 64 * 1024
TOUCH_AFTER = 60  # seconds: how often a session's last use is written down
MAX_ID_DIGITS = 12  # ids are row numbers: a longer one is no row of ours
COOKIE, PRE_COOKIE = "zp_session", "zp_pre"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"same-origin"),  # (no-referrer would make form posts' Origin "null")
           (b"x-frame-options", b"DENY")]

TEMPLATE_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                  undefined=jinja2.StrictUndefined, trim_blocks=False)
TEMPLATE_ENV.filters["form_number"] = display_serial  # as printed on the sheet: 000027-8


# --- one request, as a route sees it ---------------------------------------------------------------
@dataclass
class Ctx:
    request: Request
    app: ReviewApp
    body: bytes
    user: User | None = None
    csrf: str = ""
    lang: str = "es"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def query(self) -> Any:
        return self.request.query_params

    def arg(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    def cookie(self, name: str) -> str | None:
        return self.request.cookies.get(name)

    def form(self) -> dict[str, str]:
        if "json" in self.request.headers.get("content-type", ""):
            return {}
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}

    def data(self) -> dict:
        if "application/json" not in self.request.headers.get("content-type", ""):
            return {}
        try:
            value = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def json(self, value: Any, status: int = 200) -> Response:
        return JSONResponse(value, status_code=int(status))

    @property
    def https(self) -> bool:
        """Whether the request came over TLS: then cookies are sent back only over TLS too."""
        return self.request.url.scheme == "https"

    def with_session(self, reply: Response, token: str) -> Response:
        """The reply carrying a new session's cookie."""
        reply.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/", secure=self.https)
        return reply

    def redirect(self, where: str) -> Response:
        return RedirectResponse(where, status_code=303)

    def not_found(self) -> Response:
        return PlainTextResponse(t(self.lang, "error.not_found"), status_code=404)

    def page(self, template: str, title_key: str, boot: dict | None = None, status: int = 200,
             **context: Any) -> Response:
        lang, user = self.lang, self.user
        with self.app.readers.connection() as conn:
            frozen = active_freeze(conn)
        links = []
        if user and user.is_station:
            links = [("station", "/station", True)]
        elif user:
            links = [("field", "/field", user.may_decide), ("batch", "/batch", user.may_decide),
                     ("form", "/form", True), ("quarantine", "/quarantine", user.role in ("coordinator", "auditor")),
                     ("dashboard", "/dashboard", True)]
        html = TEMPLATE_ENV.get_template(template).render(
            _=lambda key, **params: t(lang, key, **params), lang=lang, other_lang="en" if lang == "es" else "es",
            user=user, csrf=self.csrf, title_key=title_key, nav_links=links, path=self.request.url.path,
            frozen=frozen.id if frozen and user else None,
            boot={"csrf": self.csrf, "lang": lang, "frozen": bool(frozen), **(boot or {})}, **context)
        return Response(html, status_code=status, media_type="text/html; charset=utf-8")


Handler = Callable[[Ctx], Response]
ROUTES: list[tuple[str, str, str, Handler, int]] = []  # (method, path, who may use it, handler, largest body)


def route(method: str, path: str, need: str = "user", max_body: int = MAX_BODY) -> Callable[[Handler], Handler]:
    """Register a route; need is 'public', 'account' (any role), 'user' (any role but a station),
    'decide' (reviewer or coordinator), 'coordinator', 'view_quarantine' (coordinator or auditor) or
    'upload' (station or coordinator)."""
    def wrap(fn: Handler) -> Handler:
        ROUTES.append((method, path, need, fn, max_body))
        return fn
    return wrap


def allowed(user: User | None, need: str) -> bool:
    if need == "public":
        return True
    if user is None:
        return False
    if need == "upload":
        return user.may_upload
    if user.is_station:  # a scanning station's account sends files and sees no child's data
        return need == "account"
    if need == "decide":
        return user.may_decide
    if need == "coordinator":
        return user.is_coordinator
    if need == "view_quarantine":
        return user.role in ("coordinator", "auditor")
    return True


def _guess_language(request: Request) -> str:
    wanted = request.query_params.get("lang", "")
    if wanted in LANGUAGES:
        return wanted
    return "en" if request.headers.get("accept-language", "").lower().startswith("en") else "es"


def _csrf_ok(ctx: Ctx) -> bool:
    origin = ctx.request.headers.get("origin")
    if origin and urlsplit(origin).netloc != ctx.request.headers.get("host", ""):
        return False
    sent = ctx.request.headers.get("x-csrf-token") or ctx.form().get("csrf", "")
    return bool(ctx.csrf) and hmac.compare_digest(sent.encode(), ctx.csrf.encode())


def _queue_error(ctx: Ctx, exc: QueueError) -> Response:
    body: dict[str, Any] = {"error": t(ctx.lang, f"error.{exc.key}"), "code": exc.key, "item": exc.item}
    if exc.others:  # a batch page: every refusal at once, each beside its cell
        body["problems"] = [{"item": item, "error": t(ctx.lang, f"bad.{bad.key}", **dict(bad.params))}
                            for item, bad in exc.others]
    if exc.bad is not None:
        body["error"] = t(ctx.lang, f"bad.{exc.bad.key}", **dict(exc.bad.params))
        # a coordinator may store a value outside the rules, saying the form really says it
        body["as_written"] = bool(ctx.user and ctx.user.is_coordinator and exc.bad.key in RULE_PROBLEMS)
    return ctx.json(body, {"forbidden": 403, "bad_value": 422, "gone": 410}.get(exc.key, 409))


def _handle(app: ReviewApp, need: str, fn: Handler, request: Request, body: bytes) -> Response:
    """One request, on a worker thread: the session, the role, the CSRF token, then the route."""
    ctx = Ctx(request, app, body)
    for name, value in request.path_params.items():  # ids are row numbers, nothing else
        if not (value.isascii() and value.isdigit() and len(value) <= MAX_ID_DIGITS):
            return ctx.not_found()
        ctx.params[name] = value
    token = request.cookies.get(COOKIE)
    if token:
        with app.readers.connection() as conn:
            session = accounts.session_user(conn, token, app.zone.idle_minutes)
        if session:
            ctx.user, ctx.csrf, last = session
            if time.time() - last > TOUCH_AFTER:  # the idle time counts from the last use (one write a minute)
                app.writer.run(accounts.touch_session, token)
    ctx.lang = ctx.user.language if ctx.user else _guess_language(request)
    try:
        if not allowed(ctx.user, need):
            api = request.url.path.startswith(("/api/", "/img/"))
            if ctx.user is None and request.method == "GET" and not api:
                return ctx.redirect("/login")
            if ctx.user is not None and ctx.user.is_station and request.method == "GET" and not api:
                return ctx.redirect("/station")  # a station's account has one page: its own
            return ctx.json({"error": t(ctx.lang, "error.forbidden")}, 403 if ctx.user else 401)
        if request.method == "POST" and need != "public" and not _csrf_ok(ctx):
            return ctx.json({"error": t(ctx.lang, "error.csrf")}, 403)
        return fn(ctx)
    except QueueError as exc:
        return _queue_error(ctx, exc)
    except ZonepaperError as exc:  # a refusal the command line would give too (the draw's freeze, ...)
        return ctx.json({"error": exc.message(ctx.lang), "code": exc.key}, 409)
    except Exception:  # never a traceback to the browser; the details go to the server's log
        app.log(f"error on {request.method} {request.url.path}:\n" + traceback.format_exc(limit=8))
        return ctx.json({"error": t(ctx.lang, "error.server")}, 500)


def _endpoint(app: ReviewApp, need: str, fn: Handler, max_body: int = MAX_BODY) -> Callable:
    async def endpoint(request: Request) -> Response:
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > max_body:
            return PlainTextResponse(t(_guess_language(request), "error.too_large"), status_code=413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                return PlainTextResponse(t(_guess_language(request), "error.too_large"), status_code=413)
        return await run_in_threadpool(_handle, app, need, fn, request, body)
    return endpoint


class Guard:
    """Security headers on every reply (pages, JSON, static files, refusals), and one log line per
    request: method, path without the query, status, time."""

    def __init__(self, app: Callable, log: Callable[[str], None]) -> None:
        self.app, self.log = app, log

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), [0]
        static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"max-age=300" if static else b"no-store"))
                message = {**message, "headers": headers + HEADERS}
            await send(message)

        await self.app(scope, receive, send_with_headers)
        self.log(f"{scope.get('method')} {scope.get('path')} {status[0]} {(time.perf_counter() - start) * 1000:.0f}ms")


def build_app(cycle: Cycle, log: Callable[[str], None] | None = None,
              allowed_hosts: tuple[str, ...] = LOCAL_HOSTS) -> tuple[Starlette, ReviewApp]:
    """The review app for a cycle: (the ASGI app, its shared state; close the state when done)."""
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    state = ReviewApp(cycle, log)
    routes: list = [Route(path, _endpoint(state, need, fn, max_body), methods=[method])
                    for method, path, need, fn, max_body in ROUTES]
    routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))

    async def refused(request: Request, exc: HTTPException) -> Response:
        key = "error.not_found" if exc.status_code == 404 else "error.bad_action"
        return PlainTextResponse(t(_guess_language(request), key), status_code=exc.status_code)

    hosts = sorted({h.strip("[]") for h in allowed_hosts} | {f"[{h}]" for h in allowed_hosts if ":" in h})
    app = Starlette(routes=routes, exception_handlers={HTTPException: refused},
                    middleware=[Middleware(Guard, log=log), Middleware(TrustedHostMiddleware, allowed_hosts=hosts)])
    return app, state


# --- login, logout, language ------------------------------------------------------------------
@route("GET", "/login", "public")
def login_page(ctx: Ctx, failed: bool = False, why: str = "login.failed") -> Response:
    with ctx.app.readers.connection() as conn:
        no_users = accounts.count_users(conn) == 0
    # One pre-login token per browser (a cookie matched by a hidden field): kept across failed tries,
    # because browsers restore a re-shown form's hidden fields.
    existing = ctx.cookie(PRE_COOKIE) or ""
    pre = existing if len(existing) == 32 else secrets.token_urlsafe(24)
    reply = ctx.page("login.html", "login.title", status=(429 if why == "login.too_many" else 401) if failed else 200,
                     no_users=no_users, failed=failed, why=why, pre=pre)
    reply.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", path="/login", secure=ctx.https)
    return reply


@route("POST", "/login", "public")
def login_post(ctx: Ctx) -> Response:
    form = ctx.form()
    pre = ctx.cookie(PRE_COOKIE)
    if form.get("lang") in LANGUAGES:
        ctx.lang = form["lang"]
    if pre is None or not hmac.compare_digest(pre.encode(), form.get("pre", "").encode()):
        return login_page(ctx, failed=True)
    user, why = log_in(ctx, form.get("name", ""), form.get("password", ""))
    if user is None:
        return login_page(ctx, failed=True, why=why)
    token, _csrf = ctx.app.writer.run(accounts.start_session, user)
    return ctx.with_session(ctx.redirect(start_page(user)), token)


def log_in(ctx: Ctx, name: str, password: str) -> tuple[User | None, str]:
    """The user when name and password are right and the account may log in; else None and the
    message key (failed, too many, locked, disabled), after the throttle's wait."""
    address = ctx.request.client.host if ctx.request.client else "-"
    if ctx.app.throttle.refused(address):
        return None, "login.too_many"
    name, password = name[:60], password[:200]
    with ctx.app.readers.connection() as conn:
        user, user_id, state = accounts.check_login(conn, name, password)
    if state != "ok" or user is None:
        wait = ctx.app.throttle.failed(name, address)
        if state == "bad":
            ctx.app.writer.run(accounts.record_login, user_id, False)
        time.sleep(wait)
        return None, "login.failed" if state == "bad" else f"login.{state}"
    ctx.app.writer.run(accounts.record_login, user_id, True)
    return user, "login.ok"


def start_page(user: User) -> str:
    return "/station" if user.is_station else "/field" if user.may_decide else "/dashboard"


@route("POST", "/logout", "account")
def logout(ctx: Ctx) -> Response:
    ctx.app.writer.run(queue.release_claims, ctx.user)
    token = ctx.cookie(COOKIE)
    if token:
        ctx.app.writer.run(accounts.end_session, token)
    reply = ctx.redirect("/login")
    reply.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return reply


@route("POST", "/lang", "account")
def set_language(ctx: Ctx) -> Response:
    form = ctx.form()
    if form.get("lang", "") in LANGUAGES:
        ctx.app.writer.run(accounts.set_language, ctx.user, form["lang"])
    back = form.get("back", "")
    safe = back.startswith("/") and not back.startswith("//") and "\\" not in back and back.isprintable()
    return ctx.redirect(back if safe else "/")


@route("GET", "/", "public")
def home(ctx: Ctx) -> Response:
    if ctx.user is None:
        return ctx.redirect("/login")
    return ctx.redirect(start_page(ctx.user))


# --- field and batch modes ------------------------------------------------------------------
FIELD_KEYS = [("Enter", "accept"), ("F2", "illegible"), ("F3", "skip"), ("F4", "back"), ("F6", "whole_form"),
              ("Esc", "restore")]


@route("GET", "/field", "decide")
def field_page(ctx: Ctx) -> Response:
    return ctx.page("field.html", "nav.field", {"mode": "field", "text": _client_text(ctx.lang)}, keys=FIELD_KEYS)


@route("GET", "/batch", "decide")
def batch_page(ctx: Ctx) -> Response:
    with ctx.app.readers.connection() as conn:
        counts = queue.field_counts(conn)
    coordinator = ctx.user.is_coordinator
    waiting = [(n, c["review"] + (c["illegible"] if coordinator else 0)) for n, c in counts.items()]
    waiting = sorted(((n, c) for n, c in waiting if c), key=lambda nc: _review_rank(nc[0]))
    chosen = ctx.arg("field", waiting[0][0] if waiting else "")
    size, width = ctx.app.batch_cells(chosen) if chosen in REVIEW_ORDER and chosen != "choices" else \
        (queue.BATCH_SIZE, 320)
    return ctx.page("batch.html", "nav.batch", {"mode": "batch", "field": chosen, "size": min(size, queue.BATCH_SIZE),
                                                "cell": width, "text": _client_text(ctx.lang)},
                    waiting=waiting, chosen=chosen)


def _review_rank(name: str) -> int:
    return REVIEW_ORDER.index(name) if name in REVIEW_ORDER else 99


def _client_text(lang: str) -> dict[str, str]:
    keys = ("item.saved", "item.left", "item.back_to", "item.marked_illegible", "error.server", "keys.illegible",
            "item.empty_value", "item.lost")
    return {**{k: t(lang, k, left="{left}", value="{value}", mine="{mine}") for k in keys},
            "app.frozen": t(lang, "app.frozen_short")}


def _int(value: Any, default: int = 0) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if -2 ** 63 <= number < 2 ** 63 else default  # SQLite's integers


@route("GET", "/api/items", "decide")
def api_items(ctx: Ctx) -> Response:
    field_name = ctx.arg("field") or None
    if field_name and field_name not in REVIEW_ORDER:
        return ctx.json({"error": t(ctx.lang, "error.not_found")}, 404)
    n = max(1, min(_int(ctx.arg("n", "1"), 1), queue.BATCH_SIZE))
    items = ctx.app.writer.run(queue.claim_items, ctx.user, field_name, n)
    return ctx.json({"items": [ctx.app.item_json(i, ctx.lang) for i in items], "left": _left(ctx, field_name),
                     "mine": _mine_today(ctx)})


def _mine_today(ctx: Ctx) -> int:
    """This person's decisions since midnight (this computer's), for their own progress count."""
    midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    since = midnight.astimezone(timezone.utc).isoformat(timespec="seconds")
    with ctx.app.readers.connection() as conn:
        return int(conn.execute("SELECT count(*) FROM events WHERE actor = ? AND kind IN ('review.decided', "
                                "'review.illegible') AND at >= ?", (ctx.user.name, since)).fetchone()[0])


def _left(ctx: Ctx, field_name: str | None) -> int:
    sql = "SELECT count(*) FROM fields WHERE status = 'review'"
    params: list = []
    if not ctx.user.is_coordinator:
        sql += " AND illegible = 0"
    if field_name:
        sql += " AND name = ?"
        params.append(field_name)
    with ctx.app.readers.connection() as conn:
        return int(conn.execute(sql, params).fetchone()[0])


@route("POST", "/api/decide", "decide")
def api_decide(ctx: Ctx) -> Response:
    raw = ctx.data().get("decisions")
    if not isinstance(raw, list) or not raw or len(raw) > queue.BATCH_SIZE:
        return ctx.json({"error": t(ctx.lang, "error.bad_action")}, 400)
    decisions = []
    for d in raw:
        if not isinstance(d, dict) or d.get("action") not in ("accept", "illegible", "skip", "as_written"):
            return ctx.json({"error": t(ctx.lang, "error.bad_action")}, 400)
        value = d.get("value")
        decisions.append(Decision(_int(d.get("id")), _int(d.get("version")), d["action"],
                                  str(value)[:400] if value is not None else None))
    items = ctx.app.writer.run(queue.decide_many, ctx.user, decisions, ctx.app.zone, ctx.app.layout)
    return ctx.json({"items": [ctx.app.item_json(i, ctx.lang) for i in items]})


@route("POST", "/api/back", "decide")
def api_back(ctx: Ctx) -> Response:
    item = ctx.app.writer.run(queue.reopen_last, ctx.user, _int(ctx.data().get("before")) or None)
    return ctx.json({"item": ctx.app.item_json(item, ctx.lang) if item else None})


@route("POST", "/api/renew", "decide")
def api_renew(ctx: Ctx) -> Response:
    """The page is open and in use: its items stay this person's."""
    raw = ctx.data().get("items")
    ids = [_int(i) for i in raw[: queue.BATCH_SIZE]] if isinstance(raw, list) else []
    return ctx.json({"lost": ctx.app.writer.run(queue.renew_claims, ctx.user, [i for i in ids if i > 0])})


@route("GET", "/api/recent", "decide")
def api_recent(ctx: Ctx) -> Response:
    """This person's last decisions, any of which can be opened again."""
    with ctx.app.readers.connection() as conn:
        recent = queue.recent_decisions(conn, ctx.user)
    return ctx.json({"items": [ctx.app.item_json(item, ctx.lang) for _, item in recent]})


@route("POST", "/api/reopen", "decide")
def api_reopen(ctx: Ctx) -> Response:
    item = ctx.app.writer.run(queue.reopen, ctx.user, _int(ctx.data().get("item")))
    return ctx.json({"item": ctx.app.item_json(item, ctx.lang)})


def _jpeg(data: bytes) -> Response:
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=600"})


@route("GET", "/img/field/{id}")
def field_image(ctx: Ctx) -> Response:
    with ctx.app.readers.connection() as conn:
        item_id = int(ctx.params["id"])
        item = queue.get_item(conn, item_id) if queue.may_see_item(conn, ctx.user, item_id) else None
    data = ctx.app.crop(item) if item else None
    return _jpeg(data) if data is not None else ctx.not_found()


@route("GET", "/img/page/{id}")
def page_image(ctx: Ctx) -> Response:
    page_id = int(ctx.params["id"])
    with ctx.app.readers.connection() as conn:
        seen = queue.may_see_page(conn, ctx.user, page_id)
        row = conn.execute("SELECT image FROM pages WHERE id = ?", (page_id,)).fetchone() if seen else None
    path = ctx.app.cycle.root / row[0] if row and row[0] else None
    if path is None or not path.is_file():
        return ctx.not_found()
    return _jpeg(path.read_bytes())


# --- form mode ----------------------------------------------------------------------------------
@route("GET", "/form")
def form_pick(ctx: Ctx) -> Response:
    from zonepaper.serial import normalize_serial

    wanted = normalize_serial(ctx.arg("serial"))
    if wanted:
        with ctx.app.readers.connection() as conn:
            row = conn.execute("SELECT id FROM pages WHERE serial = ? AND kind = 'front' ORDER BY id LIMIT 1",
                               (wanted,)).fetchone()
            seen = row is not None and queue.may_see_page(conn, ctx.user, row[0])
        if seen:
            return ctx.redirect(f"/form/{row[0]}")
    return ctx.page("form_pick.html", "nav.form", not_found=bool(wanted))


@route("GET", "/form/{id}")
def form_view(ctx: Ctx) -> Response:
    page_id = int(ctx.params["id"])
    with ctx.app.readers.connection() as conn:
        if not queue.may_see_page(conn, ctx.user, page_id):
            return ctx.not_found()  # the same answer as for a page that does not exist
        page = conn.execute("SELECT id, serial, image, kind FROM pages WHERE id = ?", (page_id,)).fetchone()
        rows = conn.execute(f"SELECT {queue.ITEM_COLUMNS} FROM fields f WHERE f.page_id = ? ORDER BY f.rowid",
                            (page_id,)).fetchall()
    if page is None or not page[2]:
        return ctx.not_found()
    items = [queue._item(r) for r in rows]
    sheet = build_slip_layout(ctx.app.layout.paper) if page[3] == "reply" else ctx.app.layout  # a letter's slip
    return ctx.page("form_view.html", "nav.form", {"mode": "form"}, items=items,
                    shown=[ctx.app.show_value(i, ctx.lang) for i in items], may_reopen=ctx.user.is_coordinator,
                    serial=display_serial(page[1]) if page[1] else "", page_id=page_id,
                    width=int(round(sheet.width * K)),
                    height=int(round(sheet.height * K)))


# --- quarantine -----------------------------------------------------------------------------------
@route("GET", "/quarantine", "view_quarantine")
def quarantine_list(ctx: Ctx) -> Response:
    with ctx.app.readers.connection() as conn:
        pages = qu.quarantined_pages(conn)
    return ctx.page("quarantine_list.html", "nav.quarantine", pages=pages)


@route("GET", "/quarantine/{id}", "view_quarantine")
def quarantine_page(ctx: Ctx) -> Response:
    with ctx.app.readers.connection() as conn:
        page = qu.get_page(conn, int(ctx.params["id"]))
        first = None
        if page and page.reason in qu.WITH_FORM and page.serial:
            first = conn.execute("SELECT id FROM pages WHERE serial = ? AND kind = 'front' ORDER BY id LIMIT 1",
                                 (page.serial,)).fetchone()
    if page is None:
        return ctx.not_found()
    return ctx.page("quarantine_page.html", "nav.quarantine", {"mode": "quarantine", "page": page.id}, page=page,
                    may_resolve=ctx.user.is_coordinator and page.resolution is None, first=first[0] if first else None)


@route("POST", "/api/quarantine", "coordinator")
def api_quarantine(ctx: Ctx) -> Response:
    data = ctx.data()
    r = qu.Resolution(_int(data.get("page")), str(data.get("action", ""))[:20], str(data.get("serial") or "")[:20],
                      str(data.get("reason") or "")[:300])
    with ctx.app.readers.connection() as conn:
        page = qu.get_page(conn, r.page_id)
    if page is None:
        raise QueueError("gone")
    fields = qu.reading_for(ctx.app.cycle.root, page, r.action, ctx.app.read_ctx())
    outcome = ctx.app.writer.run(qu.resolve, ctx.user, r, fields)
    return ctx.json({"ok": True, "resolution": outcome})


BLANKS_SHOWN = 120


@route("GET", "/blanks", "view_quarantine")
def blank_pages(ctx: Ctx) -> Response:
    """Thumbnails of the pages called blank, newest first: a person checks that none was a form."""
    with ctx.app.readers.connection() as conn:
        total = conn.execute("SELECT count(*) FROM pages WHERE kind = 'blank'").fetchone()[0]
        rows = conn.execute("SELECT p.id, p.page_index, f.original_name, p.image FROM pages p JOIN files f ON "
                            "f.sha256 = p.file_sha256 WHERE p.kind = 'blank' ORDER BY p.id DESC LIMIT ?",
                            (BLANKS_SHOWN,)).fetchall()
    return ctx.page("blanks.html", "nav.dashboard", total=total, rows=rows)


# --- dashboard ------------------------------------------------------------------------------------
def dashboard_numbers(conn) -> dict[str, Any]:  # noqa: ANN001 - sqlite3 connection
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
    uploads = conn.execute("SELECT count(*) FROM uploads WHERE status != 'ingested'").fetchone()[0]
    return {"applications": {k: apps.get(k, 0) for k in ("complete", "review", "held")}, "fields": totals,
            "reader": {"in_use": reader, "confirmed_digits": digits,
                       "offer_adapt": digits >= ADAPT_AFTER_DIGITS and reader == COMMITTED},
            "by_field": counts, "quarantine": open_quarantine, "blanks": blanks, "people": people,
            "rate": round(rate, 1),
            "minutes_left": round(left / rate) if rate else None, "replies": replies,
            "blocks": {"review": draw_fields["review"], "illegible": draw_fields["illegible"],
                       "quarantine": open_quarantine, "held": apps.get("held", 0), "uploads": uploads}}


@route("GET", "/api/dashboard")
def api_dashboard(ctx: Ctx) -> Response:
    with ctx.app.readers.connection() as conn:
        return ctx.json(dashboard_numbers(conn))


@route("GET", "/dashboard")
def dashboard(ctx: Ctx) -> Response:
    with ctx.app.readers.connection() as conn:
        d = dashboard_numbers(conn)
        set_aside = queue.waiting_on_people(conn)[:200]
        coordinators = ", ".join(n for (n,) in conn.execute("SELECT name FROM users WHERE role = 'coordinator' "
                                                           "ORDER BY name"))
    blocks = [(k, d["blocks"][k]) for k in ("review", "illegible", "quarantine", "held", "uploads") if d["blocks"][k]]
    in_use = d["reader"]["in_use"]
    reader_key = "reader_committed" if in_use == COMMITTED else \
        "reader_tampered" if in_use == "tampered" else "reader_adapted"
    return ctx.page("dashboard.html", "nav.dashboard", {"mode": "dashboard"}, d=d, blocks=blocks,
                    by_field=sorted(d["by_field"].items(), key=lambda nc: _review_rank(nc[0])),
                    reader_key=reader_key, adapt_after=ADAPT_AFTER_DIGITS, set_aside=set_aside,
                    rate=f"{d['rate']:.1f}".replace(".", "," if ctx.lang == "es" else "."),  # 1,5 in Spanish
                    coordinators=coordinators)  # who can lift a freeze (the page knows whether there is one)


importlib.import_module("zonepaper.review.station")  # registers the scanning stations' routes (it imports this module)
