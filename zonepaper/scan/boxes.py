"""Reading hand-printed boxes: the ink of each box, then digits (two readers) or letters (Tesseract)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from zonepaper.layout import Field
from zonepaper.scan.digits import DigitGuess, digit_nets, normalize_digit
from zonepaper.scan.marks import px_rect
from zonepaper.scan.tesseract import DIGITS, LETTERS, tesseract_reader

LINE_BAND = 4  # px at 200 dpi kept clear of the printed box line
MIN_INK = 30  # px: less than this in a box is a speck, not a character
SURE = 0.99  # softmax: on held-out real handwriting, about 1 error in 900 digits at or above it (models/*.json)
SURE_WEAK_RULES = 0.995  # a phone's own rules catch few misreadings, so its digits must be surer


def field_inks(page: np.ndarray, f: Field, k: float) -> list[np.ndarray | None]:
    """Per box, the ink mask (uint8 0/255), or None when the box is empty.

    Inside the box (clear of the printed line) anything clearly darker than the paper is ink,
    pencil included. On the line itself only what is clearly darker than the printed line
    counts, so a character that touches or crosses the line keeps its stroke.
    """
    crops, interiors, line_pixels = [], [], []
    for box in f.boxes:
        bx0, by0, bx1, by1 = px_rect(box, k)
        crop = page[max(0, by0 - 1): by1 + 2, max(0, bx0 - 1): bx1 + 2]
        crops.append(crop)
        b = LINE_BAND + 1
        interiors.append(crop[b: crop.shape[0] - b, b: crop.shape[1] - b])
        if crop.size:
            line_pixels.extend([crop[1:3, 2:-2].min(axis=0), crop[-3:-1, 2:-2].min(axis=0),
                                crop[2:-2, 1:3].min(axis=1), crop[2:-2, -3:-1].min(axis=1)])
    pixels = np.concatenate([i.reshape(-1) for i in interiors if i.size])
    if pixels.size == 0:
        return [None] * len(f.boxes)
    paper = float(np.percentile(pixels, 75))
    otsu, _ = cv2.threshold(pixels.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    threshold = min(float(otsu), paper - 60.0)
    line_level = float(np.median(np.concatenate(line_pixels))) if line_pixels else 0.0
    dark = line_level - 35.0  # ink on a line must be clearly darker than the line
    inks: list[np.ndarray | None] = []
    for crop in crops:
        mask = np.zeros(crop.shape, np.uint8)
        b = LINE_BAND + 1
        inner = crop[b: crop.shape[0] - b, b: crop.shape[1] - b]
        mask[b: crop.shape[0] - b, b: crop.shape[1] - b] = (inner < threshold) * 255
        if dark > 40:
            mask[crop < dark] = 255
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for i in range(1, n):
            if stats[i, cv2.CC_STAT_AREA] < 8:
                mask[labels == i] = 0
        inks.append(mask if int((mask > 0).sum()) >= MIN_INK else None)
    return inks


def over_line(page: np.ndarray, f: Field, k: float, inks: list[np.ndarray | None]) -> list[bool]:
    """Per box: does its character run over the printed line, so that part of it may lie outside?

    Ink on the left or right line counts (the next box cannot tell whose ink it is); on the top
    or bottom line it counts only when ink continues beyond the line, outside the field.
    """
    out = []
    for box, ink in zip(f.boxes, inks):
        if ink is None:
            out.append(False)
            continue
        sides = int((ink[:, :2] > 0).sum() + (ink[:, -2:] > 0).sum())
        top, bottom = int((ink[:2] > 0).sum()), int((ink[-2:] > 0).sum())
        beyond = False
        if top >= 3 or bottom >= 3:
            x0, y0, x1, y1 = px_rect(box, k)
            strips = []
            if top >= 3:
                strips.append(page[max(0, y0 - 9): max(0, y0 - 3), x0 + 2: x1 - 2])
            if bottom >= 3:
                strips.append(page[y1 + 3: y1 + 9, x0 + 2: x1 - 2])
            paper = float(np.percentile(ink.shape and page[y0:y1, x0:x1], 75))
            beyond = any(s.size and int((s < paper - 60).sum()) >= 3 for s in strips)
        out.append(sides >= 3 or beyond)
    return out


def line_image(inks: list[np.ndarray | None], height: int = 48) -> np.ndarray:
    """The boxes' ink laid out as one clean line of dark text on white, for Tesseract."""
    pieces, gap = [], np.full((height, 10), 255, np.uint8)
    for ink in inks:
        if ink is None:
            pieces.append(np.full((height, 26), 255, np.uint8))
            continue
        ys, xs = np.nonzero(ink)
        crop = ink[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
        scale = (height - 16) / crop.shape[0]
        w = max(2, int(round(crop.shape[1] * scale)))
        glyph = cv2.resize(crop, (w, height - 16), interpolation=cv2.INTER_AREA)
        tile = np.full((height, w), 255, np.uint8)
        tile[8: height - 8] = 255 - glyph
        pieces.extend([tile, gap])
    pieces.insert(0, np.full((height, 16), 255, np.uint8))
    pieces.append(np.full((height, 16), 255, np.uint8))
    return np.hstack(pieces)


@dataclass(frozen=True)
class BoxesReading:
    """A boxed field read: text (a space per empty box), every reader's votes, how sure."""

    text: str  # the first network's reading
    networks: tuple[tuple[DigitGuess | None, ...], ...]  # per network, per box
    tesseract: str
    tesseract_confidence: float
    blanks: tuple[bool, ...]
    over_line: tuple[bool, ...] = ()  # per box: the character runs over the box's printed line

    @property
    def filled(self) -> int:
        return sum(1 for b in self.blanks if not b)

    def network_text(self, i: int) -> str:
        return "".join(g.digit if g else " " for g in self.networks[i])

    def min_probability(self, i: int = 0) -> float:
        probs = [g.probability for g in self.networks[i] if g is not None] if self.networks else []
        return min(probs) if probs else 1.0


def read_digit_boxes(page: np.ndarray, f: Field, k: float) -> BoxesReading:
    """Every reader on a digits field: each network per box, Tesseract on the whole line."""
    inks = field_inks(page, f, k)
    normalised = [normalize_digit(ink) if ink is not None else None for ink in inks]
    present = [n for n in normalised if n is not None]
    networks = []
    for net in digit_nets():
        it = iter(net.read(present))
        networks.append(tuple(next(it) if n is not None else None for n in normalised))
    text = "".join(g.digit if g else " " for g in networks[0])
    tess, conf = ("", 0.0)
    if present:
        tess, conf = tesseract_reader().read_line(line_image(inks), DIGITS)
    return BoxesReading(text, tuple(networks), tess.replace(" ", ""), conf, tuple(i is None for i in inks),
                        tuple(over_line(page, f, k, inks)))


def read_letter_boxes(page: np.ndarray, f: Field, k: float) -> BoxesReading:
    """Tesseract's best guess for a letters (or letters and digits) field."""
    inks = field_inks(page, f, k)
    blanks = tuple(i is None for i in inks)
    if all(blanks):
        return BoxesReading("", (), "", 1.0, blanks)
    charset = LETTERS + (DIGITS if f.charset == "both" else "")
    text, conf = tesseract_reader().read_line(line_image(inks), charset, lang="spa")
    return BoxesReading(text, (), text, conf, blanks)
