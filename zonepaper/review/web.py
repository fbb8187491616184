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
import sys
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass
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
from zonepaper.review import accounts
from zonepaper.review.queue import Item, QueueError, User
from zonepaper.review.values import option_values
from zonepaper.review.writer import Readers, Writer
from zonepaper.scan.page import K, read_context
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
            hint_params["allowed"] = " / ".join(option_values(item.name, self.layout))
        return {"id": item.id, "version": item.version, "name": item.name, "kind": kind,
                "label": t(lang, f"field.{item.name}"), "value": self.show_value(item),
                "status": item.status, "serial": item.serial, "page": item.page_id, "illegible": item.illegible,
                "why": [t(lang, f"why.{r}") for r in dict.fromkeys(reasons)],
                "hint": t(lang, f"hint.{kind}", **hint_params),
                "image": f"/img/field/{item.id}" if item.box and item.page_id else None,
                "bubbles": self.choice_bubbles(item) if kind == "choices" and item.page_id else []}

    def crop_window(self, item: Item) -> tuple[int, int, int, int]:
        """The part of the aligned page shown for an item (x, y, w, h in pixels): its box and a margin.
        For the choices grid, the whole grid with its program names and column headings."""
        x, y, w, h = item.box  # type: ignore[misc]
        if item.kind == "choices":
            rows = [d.rect for d in self.layout.decorations if d.kind in ("grid_row", "grid_heading")]
            left, top = min([x] + [int(r.x * K) for r in rows]), min([y] + [int(r.y * K) for r in rows])
            w, h, x, y = x + w - left, y + h - top, left, top
        pad_x, pad_y = 14, (8 if item.kind == "choices" else 26)
        return x - pad_x, y - pad_y, w + 2 * pad_x, h + 2 * pad_y

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
        x, y, w, h = (int(round(v * scale)) for v in self.crop_window(item))
        pad = max(0, -x, -y, x + w - page.shape[1], y + h - page.shape[0])  # white beyond the page's edge
        padded = cv2.copyMakeBorder(page, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255) if pad else page
        crop = padded[y + pad: y + pad + h, x + pad: x + pad + w]
        ok, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 92])
        return data.tobytes() if ok else None

    def choice_bubbles(self, item: Item) -> list[dict]:
        """Where each bubble of the choices grid is on the item's crop (in % of it), to click on."""
        if not item.box:
            return []
        cx, cy, cw, ch = self.crop_window(item)
        out = []
        for b in self.layout.field("choices").bubbles:
            x, y, w, h = (v * K for v in (b.rect.x, b.rect.y, b.rect.w, b.rect.h))
            out.append({"program": b.program_number, "rank": b.rank, "left": round((x - cx) / cw * 100, 3),
                        "top": round((y - cy) / ch * 100, 3), "width": round(w / cw * 100, 3),
                        "height": round(h / ch * 100, 3)})
        return out


def static_file(h: "Handler", name: str) -> Reply:
    if name not in STATIC_FILES:
        return h.not_found()
    return Reply(200, (STATIC / name).read_bytes(), STATIC_FILES[name], (("Cache-Control", "max-age=300"),))


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
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms wait for a delayed ACK

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
        self._body = None  # one handler serves every request of a kept-alive connection
        if self.command == "POST":
            self.body()  # read it all now, whatever the reply, so the next request on this connection starts clean
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
                    to_login = user is None and self.command == "GET" and not path.startswith(("/api/", "/img/"))
                    reply = self.redirect("/login") if to_login else self.json(
                        {"error": t(self.lang, "error.forbidden")}, HTTPStatus.FORBIDDEN if user else 401)
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
        if self._body is None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:  # not read: the connection is closed after the reply
                self.close_connection = True
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
        self.send_header("Referrer-Policy", "same-origin")  # (no-referrer would make form posts' Origin "null")
        self.send_header("X-Frame-Options", "DENY")
        if not any(k == "Cache-Control" for k, _ in reply.headers):
            self.send_header("Cache-Control", "no-store")
        for k, v in reply.headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):  # the browser went away (a new page, a closed tab)
                self.close_connection = True

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
            items = "".join(f'<a href="{href}" class="{"on" if title_key == f"nav.{k}" else ""}">'
                            f'{e(t(lang, f"nav.{k}"))}</a>'
                            for k, href, show in links if show)
            other = "en" if lang == "es" else "es"
            who = t(lang, "app.signed_in", name=user.name, role=t(lang, f"role.{user.role}"))
            nav = (f'<nav>{items}<span class="who">{e(who)}</span>'
                   f'<form method="post" action="/lang"><input type="hidden" name="csrf" value="{e(self.csrf)}">'
                   f'<input type="hidden" name="lang" value="{other}"><input type="hidden" name="back" '
                   f'value="{e(urlsplit(self.path).path)}"><button id="lang" lang="{other}">'
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


# --- the server -------------------------------------------------------------------------------------
class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a browser closed its connection: nothing to report
        super().handle_error(request, client_address)


def make_server(cycle: Cycle, host: str = "127.0.0.1", port: int = 8765,
                log: Callable[[str], None] | None = None) -> tuple[ReviewServer, ReviewApp]:
    """The app and its HTTP server, bound but not yet serving (call serve_forever)."""
    from zonepaper.review import pages  # noqa: F401  (registers the routes)

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
