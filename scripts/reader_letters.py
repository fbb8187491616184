#!/usr/bin/env python3
"""Letters as the reader sees them, for a letter network (issue 13, part 4): training data only.

Usage: .venv/bin/python scripts/reader_letters.py --forms 600 --seed 41 --out .train-data/letters-41.npz
       .venv/bin/python scripts/reader_letters.py --forms 120 --seed 7 --simulator-fonts \
           --out .train-data/letters-sim-7.npz      # measuring only: the simulator's own fonts

Forms are printed and filled by the simulator, but every letter field (names, school, address,
city) is written with the hand-printing fonts kept for training (scripts/training_fonts.py, never
the simulator's own: those are what a letter network is measured on), and holds random words:
census names (the lexicon's own lists) with Spanish accents and Ñ put in at random, words of
random letters, and for the fields that take both, numbers. Each page arrives in one of the
honest benchmark's conditions in turn (grey, turned, colour, 150 dpi, 1-bit, phone photo), is
registered and aligned, and each box's ink is taken out exactly as ingest does
(boxes.field_inks, then the 28x28 normalisation the digit networks read). Writes float32 images,
their labels (indices into CLASSES), each character's field, field instance and box (.npz).

--simulator-fonts writes with the simulator's own fonts and names instead: what a letter network
is measured on, never trained on.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from pen_digits import PAGE_CONDITIONS  # noqa: E402
from reader_digits import original_fronts  # noqa: E402
from training_fonts import TRAINING_FONT_PACKAGES, TRAINING_FONTS  # noqa: E402

import zonepaper.simulate as simulate_module  # noqa: E402
from zonepaper.cycle import init_cycle  # noqa: E402
from zonepaper.fields import LETTER_FIELDS, spec  # noqa: E402
from zonepaper.forms.batch import print_forms  # noqa: E402
from zonepaper.layout import build_layout  # noqa: E402
from zonepaper.scan.boxes import field_inks  # noqa: E402
from zonepaper.scan.digits import normalize_digit  # noqa: E402
from zonepaper.scan.lexicon import GIVEN_FILES, SURNAME_FILES, _ranks  # noqa: E402
from zonepaper.scan.page import K  # noqa: E402
from zonepaper.scan.letters import CLASSES, LETTERS  # noqa: E402

ACCENTED = {"A": "Á", "E": "É", "I": "Í", "O": "Ó", "U": "ÚÜ", "N": "Ñ"}


class RandomWords:
    """Words to write in the letter fields: names of the census lists, accents put in, random letters."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.given = sorted(_ranks(GIVEN_FILES))
        surnames = _ranks(SURNAME_FILES)
        self.surnames = sorted(surnames, key=surnames.__getitem__)[:20000]  # the commoner ones

    def word(self) -> str:
        r = self.rng.random()
        if r < 0.7:
            word = str(self.rng.choice(self.surnames if self.rng.random() < 0.6 else self.given))
        else:
            word = "".join(self.rng.choice(list(LETTERS[:26]), size=int(self.rng.integers(2, 10))))
        return "".join(str(self.rng.choice(list(ACCENTED[c]))) if c in ACCENTED and self.rng.random() < 0.15
                       else c for c in word)

    def text(self, length: int, both: bool) -> str:
        parts: list[str] = []
        target = length * self.rng.uniform(0.4, 1.0)
        while sum(len(p) + 1 for p in parts) < target:
            if both and self.rng.random() < 0.3:
                parts.append(str(int(self.rng.integers(1, 10 ** int(self.rng.integers(1, 6))))))
            else:
                parts.append(self.word())
        text = parts[0]
        for p in parts[1:]:
            text += ("-" if self.rng.random() < 0.1 else " ") + p
        return text[:length].rstrip(" -")


def harvest(scans: Path, layout, xs: list, ys: list, where: list, items: list, boxes: list) -> int:
    """Every written character of every letter field on every original front, as the reader sees its box."""
    n = 0
    for t, aligned in original_fronts(scans, layout):
        for field_name in LETTER_FIELDS:
            written = str(t["fields"].get(field_name, ""))
            if not written.strip():
                continue
            inks, _, _ = field_inks(aligned, layout.field(field_name), K)
            item = (items[-1] + 1) if items else 0
            for box, (ch, ink) in enumerate(zip(written, inks)):
                letter = normalize_digit(ink) if ink is not None and ch in CLASSES else None
                if letter is not None:
                    boxes.append(box)
                    xs.append(letter)
                    ys.append(CLASSES.index(ch))
                    where.append(LETTER_FIELDS.index(field_name))
                    items.append(item)
                    n += 1
    return n


def use_training_hands(rng: np.random.Generator) -> None:
    """The simulator writes with the training fonts and random words (this process only)."""
    missing = [f for f in TRAINING_FONTS if not Path(f).is_file()]
    if missing:
        raise SystemExit(f"install the training fonts ({TRAINING_FONT_PACKAGES}); missing: {missing[0]}")
    words = RandomWords(rng)
    family = simulate_module.make_family

    def make_family(*args, **kwargs):
        values, choices = family(*args, **kwargs)
        for name in simulate_module.FAMILY_LETTER_FIELDS:
            if values.get(name):
                values[name] = words.text(30, spec(name).charset == "both")
        return values, choices

    simulate_module.available_hand_fonts = lambda: list(TRAINING_FONTS)
    simulate_module.make_family = make_family


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", type=int, default=600)
    parser.add_argument("--seed", type=int, default=41)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--simulator-fonts", action="store_true",
                        help="the simulator's own fonts and names (to measure on, never to train on)")
    args = parser.parse_args()
    if not args.simulator_fonts:
        use_training_hands(np.random.default_rng(args.seed))
    xs: list[np.ndarray] = []
    ys: list[int] = []
    where: list[int] = []
    items: list[int] = []  # which field instance each character is of
    boxes: list[int] = []  # and which of its boxes
    conditions = list(PAGE_CONDITIONS)
    per = max(1, args.forms // len(conditions))
    start = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="zonepaper-reader-letters-"))
    try:
        for round_, condition in enumerate(conditions):
            dpi, effect = PAGE_CONDITIONS[condition]
            root = tmp / f"r{round_}"
            cycle = init_cycle(root / "cycle", "belmont")
            print_forms(cycle, per + 20, "training")
            simulate_module.simulate(cycle, per, root / "scans", seed=args.seed * 1000 + round_, dpi=dpi,
                                     page_effect=effect)
            got = harvest(root / "scans", build_layout(cycle.zone()), xs, ys, where, items, boxes)
            print(f"{condition}: {got} characters, {len(xs)} in all ({time.time() - start:.0f} s)", flush=True)
            shutil.rmtree(root, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, x=np.stack(xs).astype(np.float32), y=np.array(ys, np.int64),
                        field=np.array(where, np.int64), item=np.array(items, np.int64),
                        box=np.array(boxes, np.int64),                         classes=np.array(list(CLASSES)))
    print(f"wrote {len(xs)} characters to {args.out}")


if __name__ == "__main__":
    main()
