#!/usr/bin/env python3
"""Training digits as the reader sees them: MNIST's TRAINING digits written by pen into real forms.

Usage: .venv/bin/python scripts/reader_digits.py --forms 1200 --seed 11 --out .train-data/reader-11.npz

Forms are printed and filled by the simulator, every digit written with one of MNIST's 60,000
training digits as pen on paper (scripts/pen_digits.py; never a test digit: those are the honest
benchmark's), the page made to arrive in one of the benchmark's conditions (grey, turned, colour,
150 dpi, 1-bit, phone photo) in turn, then registered and aligned, and each box's ink taken out
exactly as ingest does (boxes.field_inks, normalize_digit). What the networks learn from is then
what they will be shown: box-line remnants, touching neighbours, blur, binarisation, shading.
Writes 28x28 float32 images and their labels (.npz) for scripts/train_digits.py --reader.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from calibrate_digits import mnist_full  # noqa: E402
from pen_digits import PAGE_CONDITIONS, PenDigits  # noqa: E402

from zonepaper.cycle import init_cycle  # noqa: E402
from zonepaper.fields import DIGIT_FIELDS, spec  # noqa: E402
from zonepaper.forms.batch import print_forms  # noqa: E402
from zonepaper.layout import build_layout  # noqa: E402
from zonepaper.scan.boxes import field_inks  # noqa: E402
from zonepaper.scan.digits import normalize_digit  # noqa: E402
from zonepaper.scan.page import K  # noqa: E402
from zonepaper.scan.raster import read_pages  # noqa: E402
from zonepaper.scan.register import align_page, register_page  # noqa: E402
from zonepaper.simulate import simulate  # noqa: E402


def as_written(name: str, value: str) -> str:
    """The characters in the boxes, left to right, for a truth value (dates are stored YYYY-MM-DD)."""
    if spec(name).meaning == "date" and value:
        y, m, d = value.split("-")
        return f"{m}{d}{y}"
    if spec(name).meaning == "program_number" and value:
        return f"{int(value):02d}"
    return value


def original_fronts(scans: Path, layout) -> Iterator[tuple[dict, np.ndarray]]:
    """(truth, aligned page) for every original front of a simulated folder that registers."""
    truth = json.loads((scans / "truth.json").read_text())["pages"]
    by_file: dict[str, list[dict]] = {}
    for t in truth:
        if t["kind"] == "front" and t["copy"] == "original":
            by_file.setdefault(t["file"], []).append(t)
    for name, pages in by_file.items():
        images = {p.index: p.image for p in read_pages(scans / name)}
        for t in pages:
            reg = register_page(images[t["page"]], layout)
            if reg is not None:
                yield t, align_page(images[t["page"]], reg, layout)


def harvest(scans: Path, layout, xs: list, ys: list) -> int:
    """Every written digit of every original front in the folder, as the reader sees its box."""
    n = 0
    for t, aligned in original_fronts(scans, layout):
        for field_name in DIGIT_FIELDS:
            written = as_written(field_name, str(t["fields"].get(field_name, "")))
            if not written:
                continue
            inks, _, _ = field_inks(aligned, layout.field(field_name), K)
            for ch, ink in zip(written, inks):
                digit = normalize_digit(ink) if ink is not None and ch.isdigit() else None
                if digit is not None:
                    xs.append(digit)
                    ys.append(int(ch))
                    n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--data", type=Path, default=Path(".train-data"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--calibration", action="store_true",
                        help="write the calibration part of MNIST's test digits instead (never trained on; the "
                             "benchmark's part is never used here)")
    args = parser.parse_args()
    if args.calibration:
        pen = PenDigits.from_wheel(args.data, args.seed, "calibration")
    else:
        train_x, train_y, _, _ = mnist_full(args.data)  # the training split only
        pen = PenDigits(train_x, train_y, args.seed)
    xs: list[np.ndarray] = []
    ys: list[int] = []
    conditions = list(PAGE_CONDITIONS)
    per = max(1, args.forms // (2 * len(conditions)))
    start = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="zonepaper-reader-digits-"))
    try:
        round_ = 0
        while round_ * per < args.forms:
            condition = conditions[round_ % len(conditions)]
            dpi, effect = PAGE_CONDITIONS[condition]
            root = tmp / f"r{round_}"
            cycle = init_cycle(root / "cycle", "belmont")
            print_forms(cycle, per + 20, "training")
            simulate(cycle, per, root / "scans", seed=args.seed * 1000 + round_, dpi=dpi, digits=pen,
                     page_effect=effect)
            got = harvest(root / "scans", build_layout(cycle.zone()), xs, ys)
            print(f"round {round_} ({condition}): {got} digits, {len(xs)} in all ({time.time() - start:.0f} s)",
                  flush=True)
            shutil.rmtree(root, ignore_errors=True)
            round_ += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, x=np.stack(xs).astype(np.float32), y=np.array(ys, np.int64))
    print(f"wrote {len(xs)} digits to {args.out}")


if __name__ == "__main__":
    main()
