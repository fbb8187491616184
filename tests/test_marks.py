"""How much of a bubble is ink: a pen or pencil mark, on white paper or a shaded row, and what is not a mark."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from zonepaper.cycle import Cycle
from zonepaper.layout import build_layout
from zonepaper.scan.marks import MARKED, UNCERTAIN_LOW, fill_ratio, px_rect, read_choices
from zonepaper.scan.page import K


def _page(cycle: Cycle, paper: int, outline: int, marks: dict[tuple[str, int], int]):
    """The choices grid drawn on `paper` with printed outlines of darkness `outline`, each (program, rank) in
    `marks` filled with ink of that darkness; and the field."""
    zone = cycle.zone()
    f = build_layout(zone).field("choices")
    _, _, x1, y1 = px_rect(f.bubbles[-1].rect, K)
    page = np.full((y1 + 60, x1 + 60), paper, np.uint8)
    for b in f.bubbles:
        x0, y0, bx1, by1 = px_rect(b.rect, K)
        centre, radius = ((x0 + bx1) // 2, (y0 + by1) // 2), (bx1 - x0) // 2
        if (b.program, b.rank) in marks:
            cv2.circle(page, centre, radius - 1, marks[(b.program, b.rank)], -1)
        cv2.circle(page, centre, radius, outline, 2)
    noise = np.random.default_rng(0).normal(0, 4, page.shape)  # paper and toner are never one flat value
    return np.clip(page + noise, 0, 255).astype(np.uint8), f, zone


@pytest.mark.parametrize("paper, outline", [(235, 25), (215, 22), (245, 90)])
def test_a_pencil_mark_is_a_mark_whatever_the_printed_outline(cycle: Cycle, paper: int, outline: int) -> None:
    """The honest benchmark's case: on colour scans a pencil mark (grey 158) inside a bubble whose printed
    outline is near black (22) was taken for paper, the grid's last rank was dropped, and the shorter list
    was accepted alone (the threshold fell midway between the outline and the paper, darker than pencil)."""
    programs = [p.id for p in cycle.zone().programs]
    marks = {(programs[0], 1): 30, (programs[3], 2): 30, (programs[1], 3): 158}
    page, f, zone = _page(cycle, paper, outline, marks)
    ratios = {(b.program, b.rank): fill_ratio(page, b, K) for b in f.bubbles}
    assert ratios[(programs[1], 3)] >= MARKED
    assert max(r for key, r in ratios.items() if key not in marks) < UNCERTAIN_LOW
    reading = read_choices(page, f, K, zone.max_choices)
    assert reading.value == [programs[0], programs[3], programs[1]] and reading.sure


def test_an_erased_mark_is_not_a_mark(cycle: Cycle) -> None:
    programs = [p.id for p in cycle.zone().programs]
    page, f, zone = _page(cycle, 240, 25, {(programs[0], 1): 30, (programs[2], 1): 228})
    reading = read_choices(page, f, K, zone.max_choices)
    assert reading.value == [programs[0]] and reading.sure
