"""The honest benchmark's pen: real digits written into the boxes as pen on paper, and the page conditions.

The benchmark uses MNIST's held-out test digits (fetched by hand, not in CI); these tests give the
same pen digits drawn from a font, so they check the pen and the conditions, not the reader.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from zonepaper.cycle import init_cycle
from zonepaper.forms.batch import print_forms
from zonepaper.pdf import FONT_DIRS, FONTS
from zonepaper.scan.ingest import ingest
from zonepaper.simulate import simulate

sys.path.insert(0, str(Path(__file__).parent.parent / "scripts"))
from pen_digits import MISLABELLED, MM_PER_INCH, PAGE_CONDITIONS, PenDigits  # noqa: E402


def font_digits() -> PenDigits:
    """Ten MNIST-like 28x28 images per digit (white on black), from the form's own font, slightly varied."""
    path = next(Path(d) / FONTS["Sans"] for d in FONT_DIRS if (Path(d) / FONTS["Sans"]).is_file())
    font = ImageFont.truetype(str(path), 22)
    images, labels = [], []
    for digit in range(10):
        for k in range(10):
            img = Image.new("L", (28, 28), 0)
            ImageDraw.Draw(img).text((7 + k % 3, 1), str(digit), font=font, fill=255)
            images.append(np.asarray(img.rotate(k - 5), dtype=np.float32))
            labels.append(digit)
    return PenDigits(np.stack(images), np.array(labels), seed=3)


def test_a_writer_keeps_one_pen_and_its_line_is_as_wide_as_the_pen() -> None:
    pen = font_digits()
    dpi = 200
    for _ in range(5):
        who = pen.writer()
        assert 0.4 <= who.width_mm <= 1.2
        widths = []
        for ch in "0123456789":
            alpha, dx, dy = pen.glyph(ch, 43, 57, dpi, who)
            assert alpha.dtype == np.float32 and 0 <= alpha.min() and alpha.max() <= 1
            ink = (alpha > 0.5).astype(np.uint8)
            assert ink.sum() > 20, ch  # a digit, not a speck
            depth = cv2.distanceTransform(ink, cv2.DIST_L2, 3)
            widths.append(2 * np.percentile(depth[ink > 0], 90))
            assert -30 < dx < 43 and -30 < dy < 57  # in or near its box
        expected = who.width_mm * dpi / MM_PER_INCH
        assert 0.5 * expected < np.median(widths) < 1.8 * expected + 2, (who, widths)
    assert len(pen.used) == 50  # which digits were written is kept, for the benchmark's crops


def test_digits_people_read_otherwise_are_never_written() -> None:
    """The benchmark skips MNIST's test digits whose label people do not agree with (MISLABELLED)."""
    base = font_digits()
    threes = base.by_digit[3]
    pen = PenDigits(base.images, np.where(np.isin(np.arange(len(base.images)), threes), 3, -1), seed=4,
                    skip=threes[1:])
    for _ in range(20):
        pen.glyph("3", 43, 57, 200)
    assert set(pen.used) == {int(threes[0])}
    assert len(MISLABELLED) == 15 and all(0 <= i < 10000 for i in MISLABELLED)
    assert all(str(label) != read for label, read in MISLABELLED.values())


@pytest.mark.slow
@pytest.mark.parametrize("condition", list(PAGE_CONDITIONS))
def test_every_condition_is_read_as_a_form_with_pen_digits(tmp_path: Path, condition: str) -> None:
    """Each way a page arrives (turned, colour, 150 dpi, 1-bit, a phone photo) still registers and is read."""
    dpi, effect = PAGE_CONDITIONS[condition]
    cycle = init_cycle(tmp_path / "cycle", "belmont")
    print_forms(cycle, 6, "t")
    sim = simulate(cycle, 3, tmp_path / "scans", seed=5, dpi=dpi, digits=font_digits(), page_effect=effect)
    summary = ingest(cycle, [tmp_path / "scans"], "2009-03-14")
    fronts = [p for p in sim.pages if p.kind == "front" and p.copy == "original"]
    assert summary.kinds.get("front", 0) == len(fronts), summary.kinds
    truth = {p.serial: p for p in fronts}
    db = cycle.db()
    rows = db.conn.execute("SELECT serial, value, status FROM fields WHERE name = 'zip'").fetchall()
    assert {r[0] for r in rows} == set(truth)
    for serial, value, status in rows:  # the digits written are the truth's, and whatever is accepted is right
        assert status == "review" or value == truth[serial].fields["zip"], (serial, value)
    if condition == "colour300":
        first = sorted((tmp_path / "scans").glob("scan-*"))[0]
        assert json.loads((tmp_path / "scans" / "truth.json").read_text())["dpi"] == 300 and first.stat().st_size
    db.close()


def test_training_digits_are_labelled_box_by_box_as_written() -> None:
    """reader_digits labels each box with what the pen wrote there (dates as MMDDYYYY, a program as two digits)."""
    from reader_digits import as_written

    assert as_written("birth_date", "1995-03-14") == "03141995"
    assert as_written("sibling_program", "7") == "07"
    assert as_written("phone", "2135550147") == "2135550147" and as_written("zip", "") == ""


def test_the_benchmark_and_the_calibration_never_share_a_digit() -> None:
    from pen_digits import TEST_PARTS

    parts = [set(range(10000)[s]) for s in TEST_PARTS.values()]
    assert not parts[0] & parts[1] and len(parts[0] | parts[1]) == 10000


@pytest.mark.parametrize("font_name", ["BecauseWeBuild-Regular.otf", "Humor-Sans.ttf", "Delphine.ttf"])
def test_a_font_without_accented_letters_writes_the_plain_letter_not_its_missing_glyph_box(font_name) -> None:
    """BecauseWeBuild (a training font, scripts/training_fonts.py) draws a box for a letter it lacks, Humor Sans
    nothing; the simulator's pen must write the plain letter either way (and Delphine's Á as it is)."""
    from zonepaper.layout import Rect
    from zonepaper.simulate import Pen

    path = next((p for d in ("/usr/share/fonts/truetype", "/usr/share/fonts/opentype")
                 for p in sorted(Path(d).glob(f"*/{font_name}"))), None)
    if path is None:
        pytest.skip(f"{font_name} is not installed")
    inks = {}
    for ch in ("Á", "A"):
        page = Image.new("L", (300, 300), 255)
        written = Pen(page, 200, np.random.default_rng(4), [str(path)]).char(ch, Rect(20, 20, 40, 50))
        ink = np.array(page) < 128
        ys, xs = np.nonzero(ink)
        inks[ch] = (written, ink[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1])
    written, glyph = inks["Á"]
    # A box-shaped "missing glyph" has its whole top edge inked; an A (with or without its accent) has not.
    assert glyph[:2].any(axis=0).mean() < 0.6
    assert written == ("Á" if font_name == "Delphine.ttf" else "A")
    if written == "A":
        assert glyph.shape == inks["A"][1].shape
