"""Rasterising scanned files: a scanner PDF's pages taken out as the JPEGs they are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

import zonepaper.scan.raster as raster


def _scanner_pdf(path: Path, pages: int) -> None:
    """A PDF of `pages` greyscale JPEG pages (as PIL and scanners write them), each with its own number
    drawn and a bar where no other page has it."""
    images = []
    for n in range(pages):
        img = Image.new("L", (300, 400), 255)
        draw = ImageDraw.Draw(img)
        draw.rectangle((20 + 12 * n, 30, 30 + 12 * n, 370), fill=0)
        draw.text((150, 200), str(n + 1), fill=0)
        images.append(img)
    images[0].save(path, save_all=True, append_images=images[1:], resolution=72, quality=90)


@pytest.mark.parametrize("skip", [set(), {1, 2, 3, 17}, set(range(20)) - {18}, set(range(0, 20, 2))])
def test_each_page_of_a_scanner_pdf_is_its_own_page_whichever_are_skipped(tmp_path: Path, monkeypatch,
                                                                           skip: set[int]) -> None:
    pdf = tmp_path / "scan.pdf"
    _scanner_pdf(pdf, 20)
    alone = {}
    for i in range(20):  # each page taken out on its own: what it must be
        alone[i] = next(raster.read_pages(pdf, skip=set(range(20)) - {i})).image
    assert len({a.tobytes() for a in alone.values()}) == 20  # 20 different pages
    runs = []
    real_run = raster._run
    monkeypatch.setattr(raster, "_run", lambda cmd: runs.append(cmd[0]) or real_run(cmd))
    got = list(raster.read_pages(pdf, skip=skip))
    assert [p.index for p in got] == [i for i in range(20) if i not in skip]
    for p in got:
        assert np.array_equal(p.image, alone[p.index]), p.index
    wanted = 20 - len(skip)
    if not skip:  # 20 pages in a row: two runs of pdfimages (16 pages at a time), not 20
        assert runs.count("pdfimages") == 2
    assert runs.count("pdfimages") <= wanted
