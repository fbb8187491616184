#!/usr/bin/env python3
"""Read the scans kept by a benchmark run again with today's code, keeping the digit readings.

Usage: .venv/bin/python scripts/reread_digits.py KEPT_CONDITION [...] --readings DIR [--stem real-s1]

A kept condition is a folder `bench_ingest.py --hand real --keep DIR` leaves (DIR/<condition>, with
`cycle/` and `scans/`). Every page is read by ingest's own reader (`scan.page.read_page`), nothing is
stored, and each front's digit readings and normalised characters are written as
`bench_ingest.py --readings` writes them (`<stem>-<condition>.pickle` and its truth), so that a change
of how ink is taken out of the boxes is measured with `scripts/redecide_digits.py --readings DIR` on the
same pages, without simulating them again.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    from bench_ingest import ReadingsDump

    import zonepaper.scan.ingest as ingest_module
    from zonepaper.cycle import Cycle
    from zonepaper.scan.page import read_context
    from zonepaper.scan.raster import find_files, read_pages

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kept", type=Path, nargs="+", help="kept condition folders (with cycle/ and scans/)")
    parser.add_argument("--readings", type=Path, required=True, help="where the readings files go")
    parser.add_argument("--stem", default="real", help="file names start with this (real-s1, calibration-s101)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    for folder in args.kept:
        ctx = read_context(Cycle(folder / "cycle"))
        dump = ReadingsDump()
        files, _ = find_files([folder / "scans"])
        t0, pages = time.perf_counter(), 0
        for path in files:
            for page in read_pages(path):
                if page.image is not None:
                    ingest_module.read_page(page.index, page.image, ctx)
                    pages += 1
        out = args.readings / f"{args.stem}-{folder.name}.pickle"
        dump.save(out)
        shutil.copyfile(folder / "scans" / "truth.json", out.with_suffix(".truth.json"))
        print(f"{folder}: {pages} pages read again in {time.perf_counter() - t0:.0f} s -> {out}", flush=True)


if __name__ == "__main__":
    main()
