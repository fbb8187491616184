#!/usr/bin/env python3
"""Benchmark: how fast `forms print` writes unique forms (target: 1,000 forms in 8 s on one core).

Usage: python scripts/bench_forms.py [--count 1000] [--paper letter]
Prints forms per second for the whole command (issue serials, draw, write the PDF) and
the size of the PDF. Runs in a temporary cycle folder that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from zonepaper.cycle import init_cycle
from zonepaper.forms.batch import print_forms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--paper", default="letter")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cycle = init_cycle(Path(tmp) / "cycle", "belmont")
        cpu0, wall0 = time.process_time(), time.perf_counter()
        batch = print_forms(cycle, args.count, "benchmark", args.paper)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        size = batch.path.stat().st_size
    print(f"forms:            {args.count} ({args.paper}, front and back, unique serial and QR each)")
    print(f"wall time:        {wall:.2f} s")
    print(f"cpu time:         {cpu:.2f} s (one process, one core)")
    print(f"forms per second: {args.count / wall:.0f}")
    print(f"pdf size:         {size / 1e6:.1f} MB ({size / args.count / 1024:.1f} KB a form)")
    target = 8.0 * args.count / 1000
    print(f"target:           {args.count} forms in {target:.1f} s -> {'met' if wall <= target else 'NOT met'}")
    print(f"cores on machine: {os.cpu_count()}")


if __name__ == "__main__":
    main()
