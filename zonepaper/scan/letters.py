"""Reading hand-printed letters one box at a time with a small network (ONNX, run by cv2.dnn).

Three networks, zonepaper/models/letters-a/b/c.onnx, read the same 28x28 character as the digit
networks (`normalize_digit` of the box's ink, as `boxes.field_inks` takes it out) and gives a
probability for each of CLASSES: the capitals with Spanish accents, the hyphen and the digits;
a box's reading is their probabilities averaged. They were trained offline by scripts/train_letters.py on letters written with hand-printing fonts
the simulator does not use (scripts/training_fonts.py), into the form's own boxes and taken out
as the reader does (scripts/reader_letters.py); see zonepaper/models/README.md for how it was
made and measured (three of different shapes, augmentations and data read more names right
than any one of them). A field's charset narrows the choice: a letters field takes no digits.

Letters are only ever a first guess for a person to confirm (page.decide_letters); a name's
guess is ranked against the census lists of common names (scan/lexicon.py) with these
per-box probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from zonepaper.layout import Field
from zonepaper.scan.boxes import field_inks
from zonepaper.scan.digits import MODELS_DIR, DigitNet, normalize_digit
DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZÁÉÍÓÚÑÜ"
CLASSES = LETTERS + "-" + DIGITS  # the network's outputs, in this order
# The two small networks first, then the deep one, which reads only what they leave unsettled.
LETTER_MODELS = tuple(MODELS_DIR / f"letters-{n}.onnx" for n in "acb")
SETTLED = 0.9  # the first two networks' mean probability of a character they agree on that the others need not read


def allowed(charset: str | None) -> np.ndarray:
    """Which of CLASSES a field with this charset may hold (letters: no digits)."""
    return np.array([c not in DIGITS or charset == "both" for c in CLASSES])


@lru_cache(maxsize=1)
def letter_nets() -> tuple[DigitNet, ...]:
    """The process-wide letter networks (each worker process loads its own)."""
    return tuple(DigitNet(path, classes=len(CLASSES)) for path in LETTER_MODELS)


def letter_probabilities(characters: list[np.ndarray], nets: tuple[DigitNet, ...] | None = None) -> np.ndarray:
    """Per normalised character, the networks' probabilities over CLASSES averaged, in one batch each.

    The first two networks read every character; the others (the costlier deep one) only those the first
    two leave unsettled (see SETTLED), which then get the mean of all of them."""
    nets = nets or letter_nets()
    if not characters:
        return np.zeros((0, len(CLASSES)))
    first = [net.probabilities(characters) for net in nets[:2]]
    mean = np.mean(first, axis=0)
    if len(nets) <= 2:
        return mean
    unsettled = np.flatnonzero((mean.max(axis=1) < SETTLED) | (first[0].argmax(axis=1) != first[-1].argmax(axis=1)))
    if len(unsettled):
        rest = [net.probabilities([characters[i] for i in unsettled]) for net in nets[2:]]
        mean[unsettled] = (mean[unsettled] * len(first) + np.sum(rest, axis=0)) / len(nets)
    return mean


@dataclass(frozen=True)
class LetterReading:
    """A letters field read: per box the probabilities over CLASSES (None for an empty box), narrowed to
    what the field's charset allows, and the text of each box's likeliest character (a space per empty box)."""

    probabilities: tuple[np.ndarray | None, ...]

    @property
    def blanks(self) -> tuple[bool, ...]:
        return tuple(p is None for p in self.probabilities)

    @property
    def filled(self) -> int:
        return sum(1 for p in self.probabilities if p is not None)

    @property
    def text(self) -> str:
        """Box by box, the likeliest character; trailing empty boxes dropped."""
        return "".join(" " if p is None else CLASSES[int(np.argmax(p))] for p in self.probabilities).rstrip()

    @property
    def confidence(self) -> float:
        """The likeliest characters' probabilities multiplied: how sure the network is of the whole text."""
        return float(np.prod([p.max() for p in self.probabilities if p is not None])) if self.filled else 1.0


def read_letter_fields(page: np.ndarray, fields: dict[str, Field], k: float) -> dict[str, LetterReading]:
    """The network on every box of these letters fields, all of a page's letters in one batch."""
    crops = {}
    for name, f in fields.items():
        inks, _, _ = field_inks(page, f, k, look_for_cuts=False)
        crops[name] = [normalize_digit(ink) if ink is not None else None for ink in inks]
    batch = [c for boxes in crops.values() for c in boxes if c is not None]
    probs = iter(letter_probabilities(batch))
    out = {}
    for name, boxes in crops.items():
        mask = allowed(fields[name].charset)
        read = []
        for c in boxes:
            if c is None:
                read.append(None)
                continue
            p = np.where(mask, next(probs), 0.0)
            read.append(p / p.sum())
        out[name] = LetterReading(tuple(read))
    return out
