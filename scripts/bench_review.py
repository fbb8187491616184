#!/usr/bin/env python3
"""Benchmark: 10 reviewers at once against the review app on 127.0.0.1.

Usage: python scripts/bench_review.py [--items 2000] [--reviewers 10]

Builds a cycle whose queue holds at least --items fields in review (applications written
straight into the store, as ingest writes them), starts `zonepaper review serve` on a free
port in its own process, and lets the reviewers clear the whole queue over HTTP: each asks
for its next item and submits a decision, as the field-mode page does. Prints the 50th and
95th percentile time of "next item" and "submit decision" (measured at the client on the
loopback, so it includes the server's whole time), and checks afterwards that every item
was decided exactly once and that `zonepaper verify` passes. Target: 95th percentile at
most 50 ms.

Then plays a password guesser: the answer time of a failed login for a known and an unknown
name, and how many passwords 8 clients at once get checked in 20 s from one address.

Also prints the key presses a batch of 20 fields with 2 wrong guesses costs in field mode
and in batch mode (from the pages' key model: Enter accepts, typing replaces the selected
guess; in batch mode Enter moves to the next cell and Ctrl+Enter accepts the page).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from zonepaper.cycle import init_cycle
from zonepaper.forms.batch import print_forms
from zonepaper.review.accounts import add_user
from zonepaper.scan.page import FieldResult
from zonepaper.store.database import write_transaction
from zonepaper.store.records import create_read_application

PASSWORD = "benchmark password"
REVIEW_FIELDS = (("birth_date", "1995-03-14"), ("zip", "90012"), ("phone", "2135550147"),
                 ("last_name", "PÉREZ GARCÍA"), ("first_name", "MARÍA"), ("address", "2539 BEVERLY BLVD"),
                 ("guardian_name", "ANA GARCÍA"), ("current_school", "SAL CASTRO MS"))


def build_queue(root: Path, items: int, reviewers: int) -> Path:
    forms = -(-items // len(REVIEW_FIELDS))
    cycle = init_cycle(root / "cycle", "belmont")
    batch = print_forms(cycle, forms, "bench")
    db = cycle.db()
    with write_transaction(db.conn):
        for serial in batch.serials:
            fields = tuple(FieldResult(name, value, "review", 0.5, {}, ("handwriting",), (100, 100, 400, 40))
                           for name, value in REVIEW_FIELDS)
            create_read_application(db.conn, serial, fields, None, "2009-03-02")
    for i in range(reviewers):
        add_user(db.conn, f"reviewer{i + 1}", "reviewer", PASSWORD, "en")
    db.close()
    return cycle.root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Person:
    """A person's browser as the review page sees it: one connection, the cookies it was given."""

    def __init__(self, conn: http.client.HTTPConnection) -> None:
        self.conn = conn
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        h = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), **(headers or {})}
        self.conn.request(method, path, body=body, headers=h)
        res = self.conn.getresponse()
        data = res.read()
        for value in res.headers.get_all("Set-Cookie") or []:
            k, _, v = value.split(";")[0].partition("=")
            self.cookies[k] = v
        return res.status, data

    def log_in(self, name: str, password: str = PASSWORD) -> str:
        """Through the login form, as a browser does; returns the session's CSRF token (from the field page)."""
        _, page = self.request("GET", "/login")
        pre = re.search(rb'name="pre" value="([^"]+)"', page).group(1).decode()
        form = urlencode({"pre": pre, "name": name, "password": password, "lang": "en"}).encode()
        status, _ = self.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 303, status
        _, page = self.request("GET", "/field")
        return json.loads(re.search(rb'id="boot">(.*?)</script>', page).group(1))["csrf"]

    def accept_next(self, csrf: str) -> tuple[float, int | None]:
        """Take the next item and accept the machine's value after looking at it as long as a decision
        needs: (seconds the next-item request took, the decision's status; None when the queue was empty)."""
        start = time.perf_counter()
        _, data = self.request("GET", "/api/items?n=1")
        took = time.perf_counter() - start
        items = json.loads(data)["items"]
        if not items:
            return took, None
        time.sleep(0.35)  # the crop is on screen before a decision counts
        body = json.dumps({"decisions": [{"id": items[0]["id"], "version": items[0]["version"], "action": "accept",
                                          "value": None}]}).encode()
        status, _ = self.request("POST", "/api/decide", body, {"Content-Type": "application/json",
                                                                "X-CSRF-Token": csrf})
        return took, status


class Reviewer(threading.Thread):
    def __init__(self, port: int, name: str, times: dict[str, list[float]], decided: list[int]) -> None:
        super().__init__(daemon=True)
        self.port, self.name_, self.times, self.decided = port, name, times, decided
        self.error: str | None = None

    def run(self) -> None:
        try:
            person = Person(http.client.HTTPConnection("127.0.0.1", self.port, timeout=30))
            self.request = person.request
            csrf = person.log_in(self.name_)
            while True:
                t0 = time.perf_counter()
                status, data = self.request("GET", "/api/items?n=1")
                self.times["next"].append(time.perf_counter() - t0)
                items = json.loads(data)["items"]
                if not items:
                    return
                it = items[0]
                body = json.dumps({"decisions": [{"id": it["id"], "version": it["version"], "action": "accept",
                                                  "value": None}]}).encode()
                t0 = time.perf_counter()
                status, data = self.request("POST", "/api/decide", body,
                                            {"Content-Type": "application/json", "X-CSRF-Token": csrf})
                self.times["submit"].append(time.perf_counter() - t0)
                if status == 200:
                    self.decided.append(it["id"])
        except Exception as exc:  # reported after the run
            self.error = f"{type(exc).__name__}: {exc}"


def try_login(port: int, name: str, password: str) -> tuple[int, float]:
    """(HTTP status, seconds) of one login through the page's form, as a browser or a script sends it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/login")
    res = conn.getresponse()
    page = res.read()
    pre = re.search(rb'name="pre" value="([^"]+)"', page).group(1).decode()
    cookie = res.headers.get("Set-Cookie", "").split(";")[0]
    body = urlencode({"pre": pre, "name": name, "password": password, "lang": "en"}).encode()
    start = time.perf_counter()
    conn.request("POST", "/login", body=body, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                      "Cookie": cookie})
    res = conn.getresponse()
    res.read()
    conn.close()
    return res.status, time.perf_counter() - start


def guessing(port: int, reviewers: int, clients: int = 8, seconds: float = 20.0) -> None:
    """What a guesser gets: the answer times of a known and an unknown name, and how many passwords 8
    clients at once get checked in 20 s from one address."""
    known = [try_login(port, f"reviewer{i + 1}", "wrong guess")[1] for i in range(min(reviewers, 8))]
    unknown = [try_login(port, f"nobody{i}", "wrong guess")[1] for i in range(len(known))]
    print(f"failed login answer: known name median {statistics.median(known) * 1000:.0f} ms, unknown name "
          f"{statistics.median(unknown) * 1000:.0f} ms ({len(known)} each, each name tried once)")
    counts = {"checked": 0, "refused": 0}
    lock = threading.Lock()
    deadline = time.time() + seconds

    def guess(k: int) -> None:
        n = 0
        while time.time() < deadline:
            status, _ = try_login(port, f"reviewer{1 + (k + n) % reviewers}", f"guess {k}-{n}")
            with lock:
                counts["checked" if status == 401 else "refused"] += 1
            n += 1

    threads = [threading.Thread(target=guess, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"guessing with {clients} clients for {seconds:.0f} s from one address: {counts['checked']} passwords "
          f"checked, {counts['refused']} tries refused without a check (was 611 checked before the limits)")


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 1 else 0.0


def key_presses(batch: int = 20, wrong: int = 2, digits: int = 8) -> tuple[int, int, int]:
    """(field mode, batch mode best case, batch mode worst case) for dates of `digits` characters."""
    field_mode = (batch - wrong) * 1 + wrong * (digits + 1)
    batch_best = (wrong - 1) + wrong * digits + 1  # the wrong ones first and next to each other
    batch_worst = (batch - 1) + wrong * digits + 1  # the last one wrong: Enter moves through the page
    return field_mode, batch_best, batch_worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--reviewers", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        root = build_queue(Path(tmp), args.items, args.reviewers)
        exe = Path(sys.executable).parent / "zonepaper"
        port = free_port()
        server = subprocess.Popen([str(exe), "review", "serve", "--port", str(port), "--cycle", str(root)],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                  env={**os.environ, "ZONEPAPER_LANG": "en"})
        try:
            server.stdout.readline()  # "Review page open at ..."
            total = len(REVIEW_FIELDS) * -(-args.items // len(REVIEW_FIELDS))
            print(f"queue: {total} items, {args.reviewers} reviewers (built in {time.perf_counter() - t0:.0f} s)")
            times: dict[str, list[float]] = {"next": [], "submit": []}
            decided: list[int] = []
            reviewers = [Reviewer(port, f"reviewer{i + 1}", times, decided) for i in range(args.reviewers)]
            start = time.perf_counter()
            for r in reviewers:
                r.start()
            for r in reviewers:
                r.join()
            seconds = time.perf_counter() - start
            guessing(port, args.reviewers)
        finally:
            server.terminate()
            server.wait(timeout=20)
        errors = [r.error for r in reviewers if r.error]
        verify = subprocess.run([str(exe), "verify", "--cycle", str(root)], capture_output=True, text=True,
                                env={**os.environ, "ZONEPAPER_LANG": "en"})
        import sqlite3

        conn = sqlite3.connect(root / "zonepaper.db")
        left = conn.execute("SELECT count(*) FROM fields WHERE status = 'review'").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM events WHERE kind = 'review.decided'").fetchone()[0]
        conn.close()
    print(f"decided {len(decided)} items in {seconds:.1f} s ({len(decided) / seconds:.0f} decisions/s); "
          f"left in review: {left}; decision events: {events}; decided twice: {len(decided) - len(set(decided))}")
    for what, label in (("next", "next item"), ("submit", "submit decision")):
        v = times[what]
        print(f"{label:16s} p50 {pct(v, 50):6.1f} ms   p95 {pct(v, 95):6.1f} ms   max {max(v) * 1000:6.1f} ms"
              f"   ({len(v)} requests)")
    print(f"zonepaper verify: {'ok' if verify.returncode == 0 else 'FAILED: ' + verify.stdout[-300:]}")
    if errors:
        print("reviewer errors:", *errors, sep="\n  ")
    f, best, worst = key_presses()
    print(f"key presses, a batch of 20 dates with 2 wrong guesses: field mode {f}; batch mode {best} "
          f"(wrong ones first) to {worst} (last one wrong), plus a mouse click per wrong cell instead of moving")


if __name__ == "__main__":
    main()
