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


class Counting:
    """A letter network that counts the characters it is asked to read."""

    def __init__(self, net) -> None:  # noqa: ANN001 - a DigitNet
        self.net, self.read = net, 0

    def probabilities(self, characters: list[np.ndarray], head=None) -> np.ndarray:  # noqa: ANN001
        self.read += len(characters)
        return self.net.probabilities(characters, head)


def test_the_deep_network_reads_only_what_the_first_two_leave_unsettled(monkeypatch) -> None:  # noqa: ANN001
    import zonepaper.scan.letters as letters

    nets = tuple(Counting(n) for n in letter_nets())
    chars = [drawn(c) for c in "GARCIA"] + [np.zeros((28, 28), np.float32)]  # a blank: nobody is sure of it
    first = [n.net.probabilities(chars) for n in nets[:2]]
    mean = np.mean(first, axis=0)
    unsettled = (mean.max(axis=1) < letters.SETTLED) | (first[0].argmax(axis=1) != first[1].argmax(axis=1))
    assert unsettled[-1] and not unsettled.all()  # both kinds are in the batch
    probs = letter_probabilities(chars, nets)
    assert [n.read for n in nets] == [len(chars), len(chars), int(unsettled.sum())]
    deep = nets[2].net.probabilities(chars)
    assert np.allclose(probs[~unsettled], mean[~unsettled])
    assert np.allclose(probs[unsettled], ((first[0] + first[1] + deep) / 3)[unsettled])
    # With every character unsettled, it is the plain mean of the three, as before the deep one was spared.
    monkeypatch.setattr(letters, "SETTLED", 1.01)
    assert np.allclose(letter_probabilities(chars, nets), (first[0] + first[1] + deep) / 3)
