#!/usr/bin/env python3
"""Train a candidate letter network (issue 13, part 4) and measure it on hands it never saw.

Usage (the training environment of scripts/train_digits.py):
    .venv/bin/python scripts/reader_letters.py --forms 540 --seed 41 --out .train-data/letters-41.npz
    .venv/bin/python scripts/reader_letters.py --forms 120 --seed 7 --simulator-fonts \
        --out .train-data/letters-sim-7.npz
    PYTHONPATH=. .venv-train/bin/python scripts/train_letters.py --train .train-data/letters-41.npz \
        --measure .train-data/letters-sim-7.npz --out scripts/candidate-models/letters-wide.onnx

Trains one of train_digits.py's architectures with one output per character of
reader_letters.CLASSES on letters written with the training fonts only, 15 % of its fields held
out, then prints, on the --measure file (the simulator's own fonts and names, never trained on):
characters read right, the share read at each sureness and how many of those are wrong, and
fields whose every character is right (each field's charset narrowing the choice, as ingest
would). Not used by zonepaper: a candidate, kept with its figures, until a letter reader is
built on it and measured on the benchmark's names.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from train_digits import AUGMENT, ARCHITECTURES, augment, shift, train_epoch  # scripts/train_digits.py

from zonepaper.fields import LETTER_FIELDS, spec

SURENESS = (0.9, 0.99, 0.999)


def allowed_mask(fields: np.ndarray, classes: str) -> np.ndarray:
    """Per character, which classes its field's charset allows (letters fields take no digits)."""
    letters_only = np.array([spec(name).charset == "letters" for name in LETTER_FIELDS])[fields]
    mask = np.ones((len(fields), len(classes)), bool)
    mask[letters_only, classes.index("0"):] = False
    return mask


def measure(model: nn.Module, data: dict, classes: str, label: str) -> dict:
    """Characters right, sureness against wrong, and fields with every character right, printed and returned."""
    x = torch.tensor(data["x"][:, None])
    y, fields, items = data["y"], data["field"], data["item"]
    with torch.no_grad():
        probs = torch.softmax(model(x), 1).numpy()
    probs = np.where(allowed_mask(fields, classes), probs, 0)
    probs /= probs.sum(1, keepdims=True)
    pred, conf = probs.argmax(1), probs.max(1)
    right = pred == y
    report = {"characters": int(len(y)), "right": float(right.mean())}
    print(f"{label}: {len(y)} characters, {right.mean():.2%} right")
    for t in SURENESS:
        sure = conf >= t
        report[f"at {t}"] = {"share": float(sure.mean()), "wrong": int((sure & ~right).sum())}
        print(f"  sure >= {t}: {sure.mean():.1%} of characters, {int((sure & ~right).sum())} wrong")
    for name in ("last_name", "first_name", "guardian_name", "city", "address", "current_school"):
        index = LETTER_FIELDS.index(name)
        chosen = fields == index
        whole = [bool(right[chosen & (items == i)].all()) for i in np.unique(items[chosen])]
        report[name] = float(np.mean(whole)) if whole else None
        if whole:
            print(f"  {name:15} every character right in {np.mean(whole):.1%} of {len(whole)} fields")
    wrong = [(classes[a], classes[b]) for a, b in zip(y[~right], pred[~right])]
    common = sorted({w: wrong.count(w) for w in set(wrong)}.items(), key=lambda kv: -kv[1])[:12]
    print("  most common confusions (written -> read):", ", ".join(f"{a}->{b} {n}" for (a, b), n in common))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, action="append", required=True)
    parser.add_argument("--measure", type=Path, required=True)
    parser.add_argument("--arch", choices=tuple(ARCHITECTURES), default="wide")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=61)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--augment", choices=("shift", *AUGMENT), default="shift",
                        help="how each training letter is varied: shifted and scaled a little, or train_digits' "
                             "gentle or strong variation (turn, slant, wobble, pen gaps, stroke width)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    classes = "".join(np.load(args.train[0])["classes"])  # as reader_letters.py wrote them beside its images
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    parts = [dict(np.load(p)) for p in args.train]
    offset, items = 0, []
    for part in parts:  # field instances numbered anew in each file
        items.append(part["item"] + offset)
        offset = int(items[-1].max()) + 1
    data = {k: np.concatenate([p[k] for p in parts]) for k in ("x", "y", "field")}
    data["item"] = np.concatenate(items)
    held_items = rng.permutation(np.unique(data["item"]))[: int(offset * 0.15)]
    held = np.isin(data["item"], held_items)
    train_x, train_y = data["x"][~held] * 255, data["y"][~held]
    held_data = {k: v[held] for k, v in data.items()}
    model = ARCHITECTURES[args.arch](len(classes))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    steps = args.epochs * (len(train_x) // 64 + 1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    start = time.time()
    for epoch in range(args.epochs):
        perm = rng.permutation(len(train_x))
        batch_x = torch.tensor(np.stack([shift(train_x[i], rng) if args.augment == "shift"
                                         else augment(train_x[i], rng, args.augment) for i in perm])[:, None])
        loss = train_epoch(model, opt, sched, batch_x, torch.tensor(train_y[perm]))
        with torch.no_grad():
            acc = (model(torch.tensor(held_data["x"][:, None])).argmax(1).numpy() == held_data["y"]).mean()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, held-out training-font letters {acc:.2%} "
              f"({time.time() - start:.0f} s)", flush=True)
    model.eval()
    report = {"held_out_training_fonts": measure(model, held_data, classes, "held-out fields, training fonts"),
              "simulator_fonts": measure(model, dict(np.load(args.measure)), classes,
                                         "the simulator's fonts (never seen)"),
              "classes": classes, "arch": args.arch, "augment": args.augment, "epochs": args.epochs, "seed": args.seed}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), str(args.out), input_names=["letter"],
                      output_names=["logits"], dynamic_axes={"letter": {0: "n"}, "logits": {0: "n"}},
                      opset_version=13, dynamo=False)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out} and its figures")


if __name__ == "__main__":
    main()
