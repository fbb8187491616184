"""The letter networks (scan/letters.py) on drawn capitals: loaded, averaged, narrowed by the charset."""

from __future__ import annotations

import cv2
import numpy as np

from zonepaper.scan.digits import normalize_digit
from zonepaper.scan.letters import CLASSES, DIGITS, LetterReading, allowed, letter_nets, letter_probabilities
from zonepaper.scan.lexicon import rank_name


def drawn(c: str) -> np.ndarray:
    """One capital drawn with a stroke font (OpenCV's Hershey, no font the networks trained on), as a box's ink."""
    ink = np.zeros((60, 60), np.uint8)
    cv2.putText(ink, c, (10, 48), cv2.FONT_HERSHEY_SIMPLEX, 1.5, 255, 4, cv2.LINE_AA)
    return normalize_digit(ink)


def test_three_networks_of_every_class_read_drawn_capitals() -> None:
    assert len(letter_nets()) == 3 and all(n.head.weights.shape[0] == len(CLASSES) for n in letter_nets())
    word = "GARCIA"
    probs = letter_probabilities([drawn(c) for c in word])
    assert probs.shape == (len(word), len(CLASSES)) and np.allclose(probs.sum(axis=1), 1)
    read = "".join(CLASSES[i] for i in probs.argmax(axis=1))
    assert sum(a == b for a, b in zip(read, word)) >= 5, read
    assert rank_name("last_name", tuple(probs), CLASSES) == "GARCIA"
    assert letter_probabilities([]).shape == (0, len(CLASSES))


def test_a_letters_field_never_reads_a_digit() -> None:
    p = letter_probabilities([drawn("0")])[0]
    letters = np.where(allowed("letters"), p, 0.0)
    reading = LetterReading((letters / letters.sum(), None))
    assert reading.text not in DIGITS and reading.text.strip() == reading.text and reading.filled == 1
    assert allowed("both")[CLASSES.index("7")] and not allowed("letters")[CLASSES.index("7")]
