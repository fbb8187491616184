#!/usr/bin/env python3
"""How often a letter field's first guess is exactly right, from letters as the reader sees them.

Usage: .venv/bin/python scripts/bench_names.py .train-data/letters-sim-7.npz [--model X.onnx]
           [--commonness 0.5 --unlisted -9] [--wrong 20]

Reads the boxes kept by scripts/reader_letters.py (each character's image, label, field, field
instance and box) with the letter networks (zonepaper/models/letters-a/b/c.onnx, averaged, unless --model), puts each
field back together (an empty box where nothing was written), and prints per letter field the share
whose first guess is exactly right: box by box as read, and for the name fields ranked with the
census lists (scan/lexicon.py, with --commonness and --unlisted to try other weights). Name words on
the lists and off them are counted apart: a ranking that turns families' unlisted names into common
ones is no good however well it does on common ones. --wrong lists that many wrong first guesses.
A field is counted only when every written character of it was found in its box. On the simulator's
own fonts (--simulator-fonts) these are measurements on hands the network never trained on; on
training fonts with another seed, on fields it never trained on.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from zonepaper.fields import LETTER_FIELDS, NAME_FIELDS, spec
from zonepaper.scan import lexicon
from zonepaper.scan.digits import DigitNet
from zonepaper.scan.letters import CLASSES, LETTER_MODELS, allowed, letter_probabilities


def fields_of(data: np.lib.npyio.NpzFile, probs: np.ndarray) -> list[tuple[str, str, tuple]]:
    """(field name, truth, per-box probabilities with None for empty boxes) per field instance."""
    groups: dict[int, list[int]] = defaultdict(list)
    for i, item in enumerate(data["item"]):
        groups[int(item)].append(i)
    out = []
    for rows in groups.values():
        name = LETTER_FIELDS[int(data["field"][rows[0]])]
        boxes = [int(data["box"][i]) for i in rows]
        if len(set(boxes)) != len(boxes):
            continue
        truth, read = [" "] * (max(boxes) + 1), [None] * (max(boxes) + 1)
        for i, b in zip(rows, boxes):
            truth[b] = CLASSES[int(data["y"][i])]
            p = np.where(allowed(spec(name).charset), probs[i], 0.0)
            read[b] = p / p.sum()
        out.append((name, "".join(truth), tuple(read)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="+")
    parser.add_argument("--model", type=Path, action="append",
                        help="a letter network (.onnx) to read with; given twice or more, their probabilities averaged")
    parser.add_argument("--commonness", type=float, default=lexicon.COMMONNESS)
    parser.add_argument("--unlisted", type=float, default=lexicon.UNLISTED)
    parser.add_argument("--wrong", type=int, default=0, help="list this many wrong first guesses of names")
    args = parser.parse_args()
    lexicon.COMMONNESS, lexicon.UNLISTED = args.commonness, args.unlisted
    nets = [DigitNet(m, classes=len(CLASSES)) for m in args.model or LETTER_MODELS]
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # fields, right as read, right ranked
    words: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    wrong: list[str] = []
    for path in args.data:
        data = np.load(path)
        if "box" not in data:
            raise SystemExit(f"{path}: no boxes kept; write it again with scripts/reader_letters.py")
        probs = np.concatenate([letter_probabilities(list(data["x"][i: i + 512]), nets)
                                for i in range(0, len(data["x"]), 512)])
        for name, truth, read in fields_of(data, probs):
            as_read = "".join(" " if p is None else CLASSES[int(np.argmax(p))] for p in read)
            ranked = lexicon.rank_name(name, read, CLASSES) if name in NAME_FIELDS else as_read
            row = counts[name]
            row[0] += 1
            row[1] += as_read == truth
            row[2] += ranked == truth
            if name in NAME_FIELDS:
                known = lexicon._ranks(lexicon.files_for(name))
                for t, a, r in zip(truth.replace("-", " ").split(" "), as_read.replace("-", " ").split(" "),
                                   ranked.replace("-", " ").split(" ")):
                    if len(t) >= lexicon.SHORTEST:
                        w = words["on the lists" if lexicon.plain(t) in known else "off the lists"]
                        w[0] += 1
                        w[1] += a == t
                        w[2] += r == t
                if ranked != truth and len(wrong) < args.wrong:
                    wrong.append(f"  {name:14} truth {truth!r:34} read {as_read!r:34} ranked {ranked!r}")
    print(f"{'field':16}{'fields':>8}{'as read':>10}{'ranked':>10}")
    for name in LETTER_FIELDS:
        if name in counts:
            n, a, r = counts[name]
            print(f"{name:16}{n:8d}{a / n:10.1%}{r / n:10.1%}" + ("" if name in NAME_FIELDS else "   (not ranked)"))
    names = [sum(counts[n][i] for n in NAME_FIELDS if n in counts) for i in range(3)]
    if names[0]:
        print(f"{'all name fields':16}{names[0]:8d}{names[1] / names[0]:10.1%}{names[2] / names[0]:10.1%}")
    for kind, (n, a, r) in sorted(words.items()):
        print(f"name words {kind:14} {n:6d}: as read {a / n:.1%}, ranked {r / n:.1%}")
    print("\n".join(wrong))


if __name__ == "__main__":
    main()
