#!/usr/bin/env python3
"""Benchmark: a scanning station sends to the cycle's server (https on 127.0.0.1) while a reviewer works.

Usage: python scripts/bench_stations.py [--forms 60] [--seed 3]

Simulates the forms, starts `zonepaper review serve` with a throwaway TLS certificate in its own
process, lets one reviewer decide items over HTTPS as they appear, and runs `zonepaper scan send`
from another process. Prints how fast the files went up, how long until the server had read every
page, and the reviewer's answer times (50th and 95th percentile of "next item") while the server
was reading the stations' files and after: reading runs in its own process, so reviewers should
not wait for it.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_review import PASSWORD, Person, free_port  # scripts/bench_review.py

from zonepaper.cycle import init_cycle
from zonepaper.forms.batch import print_forms
from zonepaper.review.accounts import add_user
from zonepaper.simulate import simulate


def reviewer(port: int, context: ssl.SSLContext, stop: threading.Event, times: list[tuple[float, float]]) -> None:
    person = Person(http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=context))
    csrf = person.log_in("rev")
    while not stop.is_set():
        took, decided = person.accept_next(csrf)
        times.append((time.time(), took))
        if decided is None:
            time.sleep(0.2)


def ms(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    q = statistics.quantiles(values, n=20)
    return f"p50 {statistics.median(values) * 1000:.0f} ms, p95 {q[-1] * 1000:.0f} ms ({len(values)} requests)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", type=int, default=60)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="zonepaper-stations-"))
    cycle = init_cycle(tmp / "cycle", "belmont")
    print_forms(cycle, args.forms + 5, "bench")
    simulate(cycle, args.forms, tmp / "station", seed=args.seed)
    (tmp / "station" / "truth.json").unlink()
    files = sorted((tmp / "station").iterdir())
    db = cycle.db()
    add_user(db.conn, "rev", "reviewer", PASSWORD, "en")
    add_user(db.conn, "sta", "station", PASSWORD, "en")
    db.close()
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    port = free_port()
    env = {**os.environ, "ZONEPAPER_LANG": "en", "ZONEPAPER_PASSWORD": PASSWORD}
    server = subprocess.Popen([sys.executable, "-m", "zonepaper", "review", "serve", "--cycle", str(cycle.root),
                               "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    stop, times = threading.Event(), []
    try:
        server.stdout.readline()
        thread = threading.Thread(target=reviewer, args=(port, ssl.create_default_context(cafile=str(cert)), stop,
                                                          times), daemon=True)
        thread.start()
        time.sleep(3)  # answer times before anything arrives
        sent_at = time.time()
        send = subprocess.run([sys.executable, "-m", "zonepaper", "scan", "send", str(tmp / "station"), "--to",
                               f"https://127.0.0.1:{port}", "--user", "sta", "--ca-cert", str(cert),
                               "--received", "2009-03-14"], capture_output=True, text=True, env=env)
        uploaded = time.time() - sent_at
        db = cycle.db()
        while db.conn.execute("SELECT count(*) FROM uploads WHERE status = 'stored'").fetchone()[0] or \
                db.conn.execute("SELECT count(*) FROM uploads").fetchone()[0] < len(files):
            time.sleep(0.25)
        read_at = time.time()
        pages = db.conn.execute("SELECT count(*) FROM pages").fetchone()[0]
        db.close()
        time.sleep(5)  # answer times after reading
        stop.set()
        thread.join(timeout=30)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    size = sum(p.stat().st_size for p in files)
    print(send.stdout.strip().splitlines()[0] if send.stdout.strip() else send.stderr[-500:])
    print(f"{len(files)} files, {size / 1e6:.1f} MB sent in {uploaded:.1f} s ({size / 1e6 / uploaded:.1f} MB/s over "
          f"https on the loopback); {pages} pages read by the server {read_at - sent_at:.1f} s after the send began "
          f"({pages / (read_at - sent_at):.2f} pages/s, cores on machine: {os.cpu_count()})")
    print(f"reviewer, 'next item' before:         {ms([t for at, t in times if at < sent_at])}")
    print(f"reviewer, while the server read:      {ms([t for at, t in times if sent_at <= at < read_at])}")
    print(f"reviewer, after:                      {ms([t for at, t in times if at >= read_at])}")


if __name__ == "__main__":
    main()
