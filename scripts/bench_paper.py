#!/usr/bin/env python3
"""Benchmark: printing the paper of a large draw on one core.

Usage: python scripts/bench_paper.py [--applicants 10000] [--seed 1]

Builds a cycle of the example zone with --applicants applications written straight into the store
(as ingest writes them: names with accents, addresses, every outcome: seats in every choice,
waitlists, no valid choice, a grade not offered; a tenth ask for English letters), with seats for
about 80 % of them, freezes and draws it, then times on one core (CPU seconds of this process):
the letters (`print letters`, target: 60 s or less for 10,000), the bin sheets (`print bins`) and
the public results list (`print results`). Prints each figure with its pages and the pages a second.
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

from zonepaper.cycle import init_cycle
from zonepaper.draw.ceremony import freeze, run
from zonepaper.paper.bins import write_bins_pdf
from zonepaper.paper.letters import write_letters_pdf
from zonepaper.paper.results import write_results_pdf
from zonepaper.scan.page import FieldResult
from zonepaper.store.database import write_transaction
from zonepaper.store.records import create_read_application
from zonepaper.store.serials import reserve_serials

FIRST = ["MARÍA GUADALUPE", "JOSÉ", "ANA", "LUIS", "SOFÍA", "KEVIN", "MIN-JI", "NGUYỄN", "ÁNGEL", "DIANA"]
LAST = ["HERNÁNDEZ-VILLASEÑOR", "GARCÍA", "LEE", "NÚÑEZ", "PARK", "LÓPEZ", "SMITH", "TRẦN", "PÉREZ", "KIM"]
DICE = [f"dice: {' '.join(str(random.Random(i).randint(1, 6)) for _ in range(5))}" for i in range(10)]


def build(root: Path, n: int, seed: int):
    """A drawn cycle of n applications."""
    c = init_cycle(root / "cycle", "belmont")
    programs = len(c.zone().programs)
    seats = max(1, int(n * 0.8 / programs))
    text = re.sub(r"seats = \{ 9 = \d+ \}", f"seats = {{ 9 = {seats} }}", c.zone_path.read_text(encoding="utf-8"))
    c.zone_path.write_text(text, encoding="utf-8")
    ids = [p.id for p in c.zone().programs]
    weights = [1.0 / (i + 1) ** 0.7 for i in range(programs)]  # some programs far more wanted
    rng = random.Random(seed)
    db = c.db()
    with write_transaction(db.conn):
        _, serials = reserve_serials(db.conn, n, "bench", "none", "bench", status="printed")
        for k, serial in enumerate(serials):
            choices: list[str] = []
            for _ in range(rng.randint(1, 5)):
                p = rng.choices(ids, weights)[0]
                if p not in choices:
                    choices.append(p)
            if k % 97 == 0:
                choices = []  # no valid choice
            values = {"grade": "10" if k % 89 == 0 else "9", "choices": ",".join(choices), "zip": "90012",
                      "first_name": rng.choice(FIRST), "last_name": rng.choice(LAST), "sibling": "no",
                      "guardian_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                      "address": f"{rng.randint(100, 9999)} W SUNSET BLVD APT {rng.randint(1, 40)}",
                      "letter_language": "en" if k % 10 == 0 else "other" if k % 41 == 0 else "es"}
            create_read_application(db.conn, serial, tuple(FieldResult(f, v, "auto", 1.0, {}, (), (0, 0, 1, 1))
                                                      for f, v in values.items()), None, "2009-03-02")
    db.close()
    freeze(c, "da")
    run(c, DICE)
    return c


def pages(path: Path) -> int:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"Pages:\s+(\d+)", out)[1])


def timed(label: str, make, target: float | None = None) -> None:
    start, wall = time.process_time(), time.perf_counter()
    path = make()
    cpu, elapsed = time.process_time() - start, time.perf_counter() - wall
    n = pages(path)
    aim = f"  [target: {target:.0f} s]" if target else ""
    print(f"{label}: {cpu:.1f} s CPU ({elapsed:.1f} s wall), {n:,} pages, {n / max(cpu, 1e-9):.0f} pages/s{aim}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--applicants", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zonepaper-paper-") as tmp:
        start = time.perf_counter()
        c = build(Path(tmp), args.applicants, args.seed)
        print(f"{args.applicants:,} applications stored, frozen and drawn in {time.perf_counter() - start:.0f} s")
        db = c.db()
        try:
            target = 60.0 * args.applicants / 10_000
            timed(f"letters for {args.applicants:,}", lambda: write_letters_pdf(c, db.conn, today=date(2009, 4, 1))[0],
                  target)
            timed(f"bin sheets for {args.applicants:,}", lambda: write_bins_pdf(c, db.conn)[0])
            timed(f"public results list for {args.applicants:,}", lambda: write_results_pdf(c, db.conn)[0])
        finally:
            db.close()


if __name__ == "__main__":
    main()
