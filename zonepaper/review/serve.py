"""`zonepaper review serve`: the review app on uvicorn, on a cycle, until Ctrl-C; and the same server
in a thread for the tests and the benchmark."""

from __future__ import annotations

import socket
import sys
import threading
import time
from typing import Callable

import uvicorn

from zonepaper.cycle import Cycle
from zonepaper.errors import ConflictError, InvalidInputError
from zonepaper.review.accounts import count_users
from zonepaper.review.app import ReviewApp
from zonepaper.review.inbox import Inbox
from zonepaper.review.routes import LOCAL_HOSTS, build_app
from zonepaper.text import say


def check_host(cycle: Cycle, host: str) -> None:
    """Listening beyond this computer is refused until at least one user exists."""
    if host in LOCAL_HOSTS:
        return
    db = cycle.db()
    try:
        users = count_users(db.conn)
    finally:
        db.close()
    if users == 0:
        raise InvalidInputError("review.needs_user", host=host)


def reachable_names(host: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The names a browser may use to reach this server (the Host header it sends): loopback, the address
    it listens on, and when it listens on every address this computer's name and its network address."""
    names = {*LOCAL_HOSTS, host, *extra}
    if host in ("0.0.0.0", "::", ""):
        name = socket.gethostname()
        names |= {name, f"{name}.local", socket.getfqdn()}
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # no packet is sent
                probe.connect(("10.255.255.255", 1))
                names.add(probe.getsockname()[0])
        except OSError:
            pass
        try:
            names |= {info[4][0] for info in socket.getaddrinfo(name, None)}
        except OSError:
            pass
    return tuple(sorted(n for n in names if n))


class ReviewServer:
    """The app on uvicorn, bound to its socket; `port` is the one bound (port 0: any free one)."""

    def __init__(self, cycle: Cycle, host: str = "127.0.0.1", port: int = 8765,
                 log: Callable[[str], None] | None = None, allowed_hosts: tuple[str, ...] = (),
                 tls: tuple[str, str] | None = None, max_upload_mb: int | None = None) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
            self.socket.listen(128)
        except OSError:
            self.socket.close()
            raise
        self.port = self.socket.getsockname()[1]
        asgi, self.app = build_app(cycle, log, reachable_names(host, allowed_hosts))
        if max_upload_mb:
            self.app.max_upload = max_upload_mb * 1024 * 1024
        certfile, keyfile = tls or (None, None)
        config = uvicorn.Config(asgi, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=5,
                                server_header=False, date_header=False, ssl_certfile=certfile, ssl_keyfile=keyfile)
        try:
            config.load()  # a certificate that cannot be read is said now, not at the first connection
        except (OSError, ValueError) as exc:
            self.close()
            raise InvalidInputError("review.bad_tls", cert=certfile, key=keyfile, reason=str(exc)) from None
        self.scheme = "https" if tls else "http"
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self.app.inbox = Inbox(cycle, self.app.writer, self.app.log)  # the stations' files, read in another process

    def serve(self) -> None:
        """Serve until Ctrl-C (in the main thread) or stop()."""
        self.app.inbox.start()
        self.server.run(sockets=[self.socket])

    def start(self) -> "ReviewServer":
        """Serve from a thread (tests, benchmark); returns once the server accepts connections."""
        self._thread = threading.Thread(target=self.serve, name="zonepaper-review", daemon=True)
        self._thread.start()
        deadline = time.time() + 30
        while not self.server.started and time.time() < deadline and self._thread.is_alive():
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.close()

    def close(self) -> None:
        self.socket.close()
        if self.app.inbox is not None and self.app.inbox.started:
            self.app.inbox.stop()
        self.app.close()


def make_server(cycle: Cycle, host: str = "127.0.0.1", port: int = 0, log: Callable[[str], None] | None = None,
                allowed_hosts: tuple[str, ...] = (), tls: tuple[str, str] | None = None
                ) -> tuple[ReviewServer, ReviewApp]:
    """The server, bound but not yet serving (call start(), then stop())."""
    server = ReviewServer(cycle, host, port, log, allowed_hosts, tls)
    return server, server.app


def serve(cycle: Cycle, host: str, port: int, echo: Callable[[str], None], allowed_hosts: tuple[str, ...] = (),
          tls: tuple[str, str] | None = None, max_upload_mb: int | None = None) -> None:
    check_host(cycle, host)
    cycle.db(check=True).close()  # checked and brought up to date before the threads open it
    try:
        server = ReviewServer(cycle, host, port, lambda line: print(line, file=sys.stderr, flush=True), allowed_hosts,
                              tls, max_upload_mb)
    except OSError as exc:
        raise ConflictError("review.port_busy", host=host, port=port, reason=exc.strerror or str(exc)) from None
    shown = f"[{host}]" if ":" in host else host
    echo(say("review.serving", url=f"{server.scheme}://{shown}:{server.port}/"))
    if tls is None and host not in LOCAL_HOSTS:
        echo(say("review.no_tls"))
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    echo(say("review.stopped"))
