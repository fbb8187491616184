#!/usr/bin/env python3
"""Benchmark: the draw's deferred acceptance, alone and beside the `matching` package.

Usage: python scripts/bench_draw.py [--seed 1]

1. `da` on 100,000 applicants, 50 programs, 5 choices each (target: 2 s or less on one core).
2. On 10,000 applicants x 20 programs: `da` beside the `matching` package's hospital-resident
   solver (resident-optimal) given the same single tie-breaking (each program's preference
   list in priority-then-lottery order), and whether both give the identical assignment.
   `matching` is installed for the benchmark only (`make bench` does it; it is not a
   dependency of zonepaper); without it, part 2 says so and is skipped.

Instances are random but fixed by --seed: program popularity is skewed (a few programs are
wanted by many), about a third of applicants have a priority at some program.
"""

from __future__ import annotations

import argparse
import random
import time

from zonepaper.draw import verify_draw as vd


def instance(n: int, programs: int, choices: int, rng: random.Random) -> tuple[dict, list[dict], list[dict]]:
    names = [f"p{i:02d}" for i in range(programs)]
    weights = [1.0 / (i + 1) ** 0.8 for i in range(programs)]  # some programs far more wanted
    seats_each = max(1, int(n * 0.9 / programs))
    progs = [{"program": p, "grade": 9, "seats": seats_each} for p in names]
    applicants = []
    for i in range(n):
        ranked: list[str] = []
        while len(ranked) < choices:
            p = rng.choices(names, weights)[0]
            if p not in ranked:
                ranked.append(p)
        priorities = {p: (rng.choice([0, 1]) if rng.random() < 0.33 else 2) for p in ranked}
        applicants.append({"serial": f"{i:07d}", "grade": 9, "eligible": True, "reason": "",
                           "received": "2009-03-01", "choices": ranked, "priorities": priorities})
    settings = {"mechanism": "da", "priorities": ["sibling", "resident"], "cycle": "bench", "max_choices": choices}
    return settings, progs, applicants


def timed_da(settings: dict, programs: list[dict], applicants: list[dict]) -> tuple[float, list[dict], float]:
    digest = vd.input_digest(settings, programs, applicants)
    start = time.process_time()
    results = vd.assign(settings, programs, applicants, "1.2.3./", digest)
    total = time.process_time() - start
    # the same work without lottery numbers and waitlists: the matching itself
    secret = vd.lottery_key("1.2.3./", digest)
    group = [dict(a, lottery=vd.lottery_number(secret, a["serial"]), options=a["choices"]) for a in applicants]
    seats = {p["program"]: p["seats"] for p in programs}
    start = time.process_time()
    for a in group:
        a["rank_key"] = int(a["lottery"], 16)
    vd.deferred_acceptance(group, seats, lambda a, p: (a["priorities"].get(p, 2) << 256) | a["rank_key"])
    return total, results, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    settings, programs, applicants = instance(100_000, 50, 5, rng)
    total, results, core = timed_da(settings, programs, applicants)
    placed = sum(1 for r in results if r["assigned"])
    print(f"da, 100,000 applicants x 50 programs x 5 choices: {total:.2f} s CPU in all "
          f"(deferred acceptance itself {core:.2f} s; lottery numbers, waitlists and results the rest); "
          f"{placed:,} placed  [target: 2 s]")

    settings, programs, applicants = instance(10_000, 20, 5, rng)
    total, results, core = timed_da(settings, programs, applicants)
    print(f"da, 10,000 applicants x 20 programs: {total:.2f} s in all, deferred acceptance itself {core:.3f} s")
    try:
        from matching.games import HospitalResident
    except ImportError:
        print("matching is not installed: pip install matching (benchmark only), then run again for the comparison")
        return
    lottery = {r["serial"]: r["lottery"] for r in results}
    resident_prefs = {a["serial"]: a["choices"] for a in applicants}
    hospital_prefs = {}
    for p in programs:
        wanting = [a for a in applicants if p["program"] in a["choices"]]
        wanting.sort(key=lambda a: (a["priorities"].get(p["program"], 2), lottery[a["serial"]]))
        hospital_prefs[p["program"]] = [a["serial"] for a in wanting]
    capacities = {p["program"]: p["seats"] for p in programs}
    start = time.process_time()
    game = HospitalResident.create_from_dictionaries(resident_prefs, hospital_prefs, capacities)
    matched = game.solve(optimal="resident")
    theirs_time = time.process_time() - start
    theirs = {str(r): str(h) for h, residents in matched.items() for r in residents}
    ours = {r["serial"]: r["assigned"] for r in results if r["assigned"]}
    same = theirs == ours
    print(f"matching package (HospitalResident, resident-optimal): {theirs_time:.2f} s; "
          f"identical assignment: {'yes' if same else 'NO'} ({len(ours):,} placed by da, {len(theirs):,} by matching)")


if __name__ == "__main__":
    main()
