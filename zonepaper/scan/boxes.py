"""Reading hand-printed boxes: the ink of each box, then digits (two networks; letters: scan/letters.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from zonepaper.layout import Field
from zonepaper.scan.digits import COMMITTED, DigitGuess, Reader, digit_nets, normalize_digit
from zonepaper.scan.marks import percentile, px_rect

LINE_BAND = 4  # px at 200 dpi kept clear of the printed box line
MIN_INK = 30  # px: less than this in a box is a speck, not a character


OVERFLOW = 12  # px at 200 dpi above and below a box where a character's stroke may run on
SIDE = 10  # px at 200 dpi looked at past the left and right lines (groups of boxes are 14 px apart)
SPLIT_CHECK = 10  # px past a shared line that a character split there is read again with


def _neighbours(f: Field) -> list[tuple[bool, bool]]:
    """Per box: whether another box shares its left line, and its right line."""
    boxes = f.boxes
    def shares(a, b) -> bool:
        return abs(a.x + a.w - b.x) < 1.0 and abs(a.y - b.y) < 1.0
    return [(i > 0 and shares(boxes[i - 1], b), i + 1 < len(boxes) and shares(b, boxes[i + 1]))
            for i, b in enumerate(boxes)]


Masks = list[np.ndarray | None]


def field_inks(page: np.ndarray, f: Field, k: float, look_for_cuts: bool = True) -> tuple[Masks, list[bool], Masks]:
    """Per box: the character's ink mask (uint8 0/255, None when empty), whether it may be cut
    (always False when not `look_for_cuts`: letters, which are never accepted alone, skip the look),
    and for a character split from its neighbour's, its ink again with SPLIT_CHECK px past the line.

    Inside the box (clear of the printed line) anything clearly darker than the paper is ink,
    pencil included. On the line only what is clearly darker than the printed line counts, so
    a stroke that crosses the line keeps it; beyond the lines, ink is kept when it is joined
    to the character inside, directly or through lighter ink (a thin stroke a 1-bit scan left grey,
    _joined_through_lighter). Touching or crossing a line is not being cut. A character is
    "cut" when part of it may be missing, so that a reader of the rest may be sure and wrong:
    its ink still reaches the edge of what was looked at, or it stops at a line just where
    pen ink it is not joined to goes on across (a stroke lighter where it crosses the line).

    Two characters touching across the line their boxes share are split at that line, each
    box keeping what is on its side. A character's own stroke may have run past the line, so
    it is also given with SPLIT_CHECK px past it: the reader reads it both ways, and only a
    character that is the same digit either way can be sure. What is left on a box's side
    only near the line is the neighbour's stroke, not a character: that box is cut.
    """
    geometry, interiors, line_pixels, heights = [], [], [], []
    b = LINE_BAND + 1
    for box in f.boxes:
        x0, y0, x1, y1 = px_rect(box, k)
        heights.append((y0, y1))
        top, left = max(0, y0 - OVERFLOW), max(0, x0 - SIDE)
        crop = page[top: y1 + OVERFLOW, left: x1 + SIDE + 1]
        lx, rx = x0 - left, x1 - left  # columns of the left and right printed lines
        inner = (y0 - top + b, y1 - top - b, lx + b, rx - b + 1)  # rows and columns inside the lines
        geometry.append((crop, inner, y0 - top, y1 - top, lx, rx))
        interiors.append(crop[inner[0]: inner[1], inner[2]: inner[3]])
        line = crop[y0 - top: y1 - top + 3, lx - 1: rx + 2]
        if line.size:
            line_pixels.extend([line[1:3, 2:-2].min(axis=0), line[-3:-1, 2:-2].min(axis=0),
                                line[2:-2, 1:3].min(axis=1), line[2:-2, -3:-1].min(axis=1)])
    pixels = np.concatenate([i.reshape(-1) for i in interiors if i.size])
    if pixels.size == 0:
        return [None] * len(f.boxes), [False] * len(f.boxes), [None] * len(f.boxes)
    paper = percentile(pixels, 75)
    otsu, _ = cv2.threshold(pixels.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    threshold = min(float(otsu) + 1.0, paper - 60.0)  # Otsu puts its own level on the dark side
    line_level = float(np.median(np.concatenate(line_pixels))) if line_pixels else 0.0
    dark = line_level - LINE_MARGIN  # ink on a line must be clearly darker than the line
    inks: Masks = []
    wides: Masks = []
    row_profiles: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # per row of boxes: its lines' profiles
    cut: list[bool] = []
    for i, ((crop, inner, box_top, box_bottom, lx, rx), (shared_left, shared_right)) in enumerate(
            zip(geometry, _neighbours(f))):
        r0, r1, c0, c1 = inner
        if not (interiors[i] < (max(threshold, dark) if dark > 40 else threshold)).any():
            inks.append(None)  # nothing inside the box could be ink: no character (what follows would say so too)
            wides.append(None)
            cut.append(False)
            continue
        # Ink: darker than the threshold, and clearly darker than what the paper and the printed
        # lines alone look like there (the lines' own profile, measured along the field's row of boxes).
        key = (heights[i], crop.shape[0])
        if key not in row_profiles:
            along = np.hstack([g[0][:, g[4]: g[5] + 1] for j, g in enumerate(geometry)
                               if (heights[j], g[0].shape[0]) == key])
            row_profiles[key] = _across_profiles(along, box_top, box_bottom)
        expected = _without_pen(crop, (box_top, box_bottom, lx, rx), paper, row_profiles[key])
        candidate = ((crop < threshold) & (crop.astype(np.int16) < expected - LINE_MARGIN)).astype(np.uint8) * 255
        pen = crop < dark  # clearly darker than the printed line: ink even on the line
        if dark > 40:
            candidate[pen] = 255
        mask = _joined_to_inside(candidate, inner)
        mask = _joined_through_lighter(
            mask, candidate, lambda: (crop < paper - LIGHTER_MARGIN) & (crop.astype(np.int16) < expected - LINE_MARGIN),
            inner)
        # Ink inside the next box (past its line's band): the two characters touch, split them at the line.
        split_left = shared_left and int((mask[:, : max(0, lx - LINE_BAND)] > 0).sum()) >= 3
        split_right = shared_right and int((mask[:, rx + LINE_BAND + 1:] > 0).sum()) >= 3
        wide = None
        if split_left or split_right:
            wide = _keep_between(mask, inner, lx - SPLIT_CHECK if split_left else None,
                                 rx + SPLIT_CHECK if split_right else None)
            mask = _keep_between(mask, inner, lx if split_left else None, rx if split_right else None)
        if int((mask > 0).sum()) < MIN_INK:
            inks.append(None)
            wides.append(None)
            cut.append(False)
            continue
        inks.append(mask)
        wides.append(wide)
        if not look_for_cuts:
            cut.append(False)
            continue
        rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        third = (rx - lx) // 3
        only_near_line = (split_left and cols[-1] < lx + third) or (split_right and cols[0] > rx - third)
        at_edge = rows[0] <= 0 or rows[-1] >= mask.shape[0] - 1 or cols[0] <= 0 or cols[-1] >= mask.shape[1] - 1
        across = _goes_on_across(mask, pen, inner, (box_top, box_bottom, lx, rx), (not shared_left, not shared_right))
        cut.append(bool(at_edge or only_near_line or across))
    return inks, cut, wides


LINE_MARGIN = 35  # grey levels: ink on or beside a printed line must be this much darker than the line is there
LINE_REACH = LINE_BAND + 3  # px either side of a printed line whose look without pen is measured


def _middle(pixels: np.ndarray, axis: int) -> np.ndarray:
    """The median along an axis (the upper of the two middle values), a quarter of np.median's time."""
    if pixels.shape[axis] == 0:
        return np.full(pixels.shape[1 - axis], 255, np.int16)
    k = pixels.shape[axis] // 2
    return np.take(np.partition(pixels, k, axis=axis), k, axis=axis).astype(np.int16)


def _across_profiles(along: np.ndarray, top: int, bottom: int) -> tuple[np.ndarray, np.ndarray]:
    """The top and bottom lines' profiles across them: per row within LINE_REACH of the line, the
    median along it (`along`: the crop's rows, along the line)."""
    d, h = LINE_REACH, along.shape[0]
    return tuple(_middle(along[max(0, at - d): min(h, at + d + 1)], axis=1) for at in (top, bottom))


def _without_pen(crop: np.ndarray, lines: tuple[int, int, int, int], paper: float,
                 across: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Per pixel of a box's crop, how dark it would be with no pen on it: the paper, and near each
    of the four printed lines the line's own profile across it (per offset from the line, the
    median along the line, which a pen crossing it here and there does not move).

    The top and bottom lines' profiles are `across` (_across_profiles along every box of the
    field's row, not this box alone): a 7's bar written over most of one box's top
    line would otherwise move that box's median, be taken for the line and be removed with it,
    and on a 1-bit scan the stem left is a sure 1 (real handwriting, bw200).

    A stroke written along or just beside a line is then ink wherever it is clearly darker than
    the line and paper are there; before, everything within LINE_BAND of a line had to be darker
    than the line itself, and a light ballpoint 0 whose side ran beside the left line lost that
    side and was read as a sure 7 (real handwriting, scripts/bench_ingest.py --hand real)."""
    top, bottom, lx, rx = lines
    h, w = crop.shape
    out = np.full(crop.shape, int(paper), np.int16)
    d = LINE_REACH
    along, span = slice(max(0, top), bottom + 1), slice(max(0, top - 2), min(h, bottom + 3))
    for at in (lx, rx):
        cols = slice(max(0, at - d), min(w, at + d + 1))
        profile = _middle(crop[along, cols], axis=0)  # per column near the vertical line
        out[span, cols] = np.minimum(out[span, cols], profile[None, :])
    span = slice(max(0, lx - 2), min(w, rx + 3))
    for at, profile in zip((top, bottom), across):  # per row near the horizontal line
        rows = slice(max(0, at - d), min(h, at + d + 1))
        out[rows, span] = np.minimum(out[rows, span], profile[:, None])
    return out


def _keep_between(mask: np.ndarray, inner: tuple[int, int, int, int], left: int | None,
                  right: int | None) -> np.ndarray:
    """The mask without what lies left of column `left` or right of `right` (the printed line's
    own columns split between the two boxes), and without what is then no longer joined to ink
    inside the box."""
    out = mask.copy()
    if left is not None:
        out[:, : max(0, left + 1)] = 0
    if right is not None:
        out[:, right + 1:] = 0
    return _joined_to_inside(out, inner)


LIGHTER_MARGIN = 40  # grey levels below the paper: lighter than ink, but what a thin stroke between two pieces is
BRIDGE_REACH = 4  # px: such lighter pixels join a piece to the character across a gap of up to twice this


def _near(ink: np.ndarray, reach: int) -> np.ndarray:
    """Where lies within `reach` px (a square) of the ink."""
    return cv2.dilate(ink.astype(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)) > 0


def _joined_through_lighter(mask: np.ndarray, candidate: np.ndarray, lighter: Callable[[], np.ndarray],
                            inner: tuple[int, int, int, int]) -> np.ndarray:
    """The character's mask with the pieces of ink it is joined to only through lighter ink (`lighter()`,
    worked out only when needed): each such piece, and the lighter pixels between the two (a gap of up
    to 2 * BRIDGE_REACH px).

    A 1-bit scan's resampling can leave a thin stroke between two parts of a character grey, lighter
    than the ink threshold. Real handwriting (bw200, seed 3): a 4's arm met its stem only through such
    a grey bridge; the arm was dropped and the stem alone was a sure 1 (phone ...984... read ...981...).
    Only pieces are joined, not every lighter pixel around the strokes: thickening every character so
    changed what the networks were sure of on about one box in twenty, for fewer fields accepted."""
    r = BRIDGE_REACH
    rest = (candidate > 0) & (mask == 0)
    if not rest.any() or not mask.any() or not (rest & _near(mask, 2 * r + 1)).any():
        return mask  # nothing near enough to be joined
    light = lighter()
    _, labels = cv2.connectedComponents((light | (candidate > 0)).astype(np.uint8), connectivity=8)
    linked = np.zeros(int(labels.max()) + 1, bool)
    linked[labels[mask > 0]] = True
    linked[0] = False
    joined = linked[labels]
    pieces = joined & rest
    if not pieces.any():
        return mask
    # Between the two: within 2 * BRIDGE_REACH px of both and BRIDGE_REACH of either.
    between = _near(pieces, 2 * r) & _near(mask, 2 * r) & (_near(pieces, r) | _near(mask, r))
    out = mask.copy()
    out[pieces | (joined & light & between)] = 255
    return _joined_to_inside(out, inner)


def _joined_to_inside(candidate: np.ndarray, inner: tuple[int, int, int, int]) -> np.ndarray:
    """The ink (0/255) of the candidate's pieces that reach inside the box, specks of under 8 px left out."""
    r0, r1, c0, c1 = inner
    n, labels = cv2.connectedComponents(candidate, connectivity=8)  # areas by bincount: OpenCV's stats cost 4x
    if n == 1:
        return np.zeros(candidate.shape, np.uint8)
    keep = np.zeros(max(n, 256), np.uint8)
    keep[:n][(np.bincount(labels[r0:r1, c0:c1].ravel(), minlength=n) > 0)
             & (np.bincount(labels.ravel(), minlength=n) >= 8)] = 255
    keep[0] = 0
    return cv2.LUT(labels.astype(np.uint8), keep) if n <= 256 else keep[labels]


CROSS_LOOK = 3  # px beyond a line's band where pen ink that goes on across the line is looked for


def _goes_on_across(mask: np.ndarray, pen: np.ndarray, inner: tuple[int, int, int, int],
                    lines: tuple[int, int, int, int], sides: tuple[bool, bool]) -> bool:
    """Whether the character reaches a line just where, across it, there is pen-dark ink it is
    not joined to: the stroke may go on over the line, lighter where it crosses, and the rest
    of the character would be missing (a 6 whose loop is below the box reads as a sure 1).
    The top and bottom lines are looked at, and the sides in `sides` (left, right): across a
    shared line is the next box's own character."""
    r0, r1, c0, c1 = inner
    top, bottom, lx, rx = lines
    on, pen = mask > 0, pen & (mask == 0)
    d, above, left = CROSS_LOOK, max(0, top - 2), max(0, lx - 2)
    pairs = [(on[r1 - 2: bottom + 3].any(axis=0), pen[bottom + 3: bottom + 3 + d].any(axis=0)),
             (on[above: r0 + 2].any(axis=0), pen[max(0, above - d): above].any(axis=0))]
    if sides[0]:
        pairs.append((on[:, left: c0 + 2].any(axis=1), pen[:, max(0, left - d): left].any(axis=1)))
    if sides[1]:
        pairs.append((on[:, c1 - 2: rx + 3].any(axis=1), pen[:, rx + 3: rx + 3 + d].any(axis=1)))
    window = np.ones(2 * d + 1, np.int32)
    return any(a.size and b.size and bool(((np.convolve(a, window, "same") > 0) & b).any()) for a, b in pairs)


@dataclass(frozen=True)
class BoxesReading:
    """A digits field read: text (a space per empty box), every network's votes per box."""

    text: str  # the first network's reading
    networks: tuple[tuple[DigitGuess | None, ...], ...]  # per network, per box
    blanks: tuple[bool, ...]
    cut: tuple[bool, ...] = ()  # per box: part of the character may be cut off (see field_inks)
    reader: str = COMMITTED  # which last layers the networks read with (digits.Reader)

    @property
    def filled(self) -> int:
        return sum(1 for b in self.blanks if not b)

    def network_text(self, i: int) -> str:
        return "".join(g.digit if g else " " for g in self.networks[i])

    @cached_property
    def ensemble(self) -> tuple[DigitGuess | None, ...]:
        """Per box, the networks' probabilities averaged (None for an empty box); worked out once."""
        return tuple(None if boxes[0] is None else DigitGuess.average(boxes) for boxes in zip(*self.networks))


@dataclass(frozen=True)
class DigitCrops:
    """A digits field taken out of the page, before any network reads it: per box the
    normalised character (None when empty), the same character read wider when it was split
    from its neighbour's, and whether it may be cut. (Tesseract does not read digits: measured
    as a third reader it caught no wrong value, and it took a fifth of each page's time.)"""

    normalised: tuple[np.ndarray | None, ...]
    again: tuple[np.ndarray | None, ...]
    cut: tuple[bool, ...]


def digit_crops(page: np.ndarray, f: Field, k: float) -> DigitCrops:
    inks, cut, wides = field_inks(page, f, k)
    normalised = [normalize_digit(ink) if ink is not None else None for ink in inks]
    again = [normalize_digit(w) if w is not None and n is not None else None for w, n in zip(wides, normalised)]
    return DigitCrops(tuple(normalised), tuple(again), tuple(cut))


def read_crops(crops: DigitCrops, reader: Reader = Reader()) -> BoxesReading:
    """Each network on every box (with the reader's last layers)."""
    return read_fields_crops({"": crops}, reader)[""]


def read_fields_crops(fields: dict[str, DigitCrops], reader: Reader = Reader()) -> dict[str, BoxesReading]:
    """Each network on every box of these fields, all of a page's boxes in one batch per network."""
    batch = [d for c in fields.values() for d in (*c.normalised, *c.again) if d is not None]
    guesses = [iter(net.read(batch, reader.heads[i] if reader.heads else None)) for i, net in enumerate(digit_nets())]
    out = {}
    for name, crops in fields.items():
        networks = []
        for it in guesses:  # the batch's order: per field, its characters, then those read again wider
            first = [next(it) if n is not None else None for n in crops.normalised]
            second = [next(it) if a is not None else None for a in crops.again]
            # A character split from its neighbour counts as read the same as its two readings averaged.
            networks.append(tuple(g if w is None else DigitGuess.average([g, w]) for g, w in zip(first, second)))
        text = "".join(g.digit if g else " " for g in networks[0])
        out[name] = BoxesReading(text, tuple(networks), tuple(n is None for n in crops.normalised),
                                 crops.cut, reader.id)
    return out


def read_digit_boxes(page: np.ndarray, f: Field, k: float, reader: Reader = Reader()) -> BoxesReading:
    """Both networks on every box of a digits field."""
    return read_crops(digit_crops(page, f, k), reader)
