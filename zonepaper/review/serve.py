"""`zonepaper review serve`: start the review app on a cycle and keep it running until Ctrl-C."""

from __future__ import annotations

import sys
from typing import Callable

from zonepaper.cycle import Cycle
from zonepaper.errors import ConflictError, InvalidInputError
from zonepaper.review.accounts import count_users
from zonepaper.review.web import LOCAL_HOSTS, make_server
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


def serve(cycle: Cycle, host: str, port: int, echo: Callable[[str], None]) -> None:
    check_host(cycle, host)
    cycle.db(check=True).close()  # checked and brought up to date before the threads open it
    try:
        server, app = make_server(cycle, host, port, lambda line: print(line, file=sys.stderr, flush=True))
    except OSError as exc:
        raise ConflictError("review.port_busy", host=host, port=port, reason=exc.strerror or str(exc)) from None
    shown = f"[{host}]" if ":" in host else host
    echo(say("review.serving", url=f"http://{shown}:{server.server_address[1]}/"))
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        echo(say("review.stopped"))
    finally:
        server.server_close()
        app.close()
