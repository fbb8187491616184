"""The digit rule: what a box can hold, how sure a reading is, and when a character is cut."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from zonepaper.cycle import Cycle
from zonepaper.fields import possible
from zonepaper.layout import build_layout
from zonepaper.scan.boxes import OVERFLOW, SIDE, BoxesReading, field_inks, read_digit_boxes
from zonepaper.scan.digits import DigitGuess
from zonepaper.scan.marks import px_rect
from zonepaper.scan.page import K, allowed_digits, decide_digits, sure_enough, unfamiliar_hand


def guess(digit: int, p: float, runner_up: int, q: float) -> DigitGuess:
    """A reading sure of `digit` at p, with q on `runner_up` and the rest spread over the other digits."""
    rest = (1.0 - p - q) / 8
    return DigitGuess(tuple(p if d == digit else q if d == runner_up else rest for d in range(10)))


def test_a_box_holds_only_what_the_field_allows(cycle: Cycle) -> None:
    zone = cycle.zone()  # the example zone: 2009-2010, 19 programs
    birth = allowed_digits("birth_date", "02151995", zone)
    assert birth[0] == "01"  # months 02 and 12
    assert birth[2] == "012"  # days 05, 15, 25; 35 is no day
    assert birth[4] == "1" and birth[5] == "9"  # nobody filling in the form was born in 1395 or 2995
    assert birth[6] == "456789"  # 1945 to 1995: a grandparent may write their own birth date
    assert birth[7] == "0123456789"
    assert allowed_digits("zip", "90057", zone) == ["0123456789"] * 5  # any ZIP can be written
    phone = allowed_digits("phone", "3235920366", zone)
    assert phone[0] == phone[3] == "23456789" and phone[1] == "0123456789"
    assert allowed_digits("sibling_program", "1 ", zone) == ["123456789", ""]
    assert allowed_digits("sibling_program", "19", zone) == ["01", "0123456789"]  # 09 or 19; no program 29
    assert not possible("sibling_program", "20", zone) and not possible("signature_date", "02302009", zone)


def test_the_weaker_a_fields_rules_the_surer_its_digits(cycle: Cycle) -> None:
    zone = cycle.zone()
    # a strong rule (a year in range, the zone's ZIPs and area codes) was not enough at 0.98, nor at 0.995 with
    # the deep networks: a birth year 1995 read as 1993 at 0.9965 passed (real handwriting, calibration half)
    assert sure_enough("birth_date", zone, 7) == sure_enough("signature_date", zone, 4) == 0.998  # a year
    assert sure_enough("phone", zone, 2) == 0.998  # the area code must be one of the zone's
    # nothing checks the rest: a phone's 9 read as 0 at 0.9995 passed the 0.9995 of before
    assert sure_enough("phone", zone, 3) == sure_enough("phone", zone, 9) == 0.9999
    assert sure_enough("phone", dataclasses.replace(zone, area_codes=()), 0) == 0.9999
    assert sure_enough("sibling_program", zone, 0) == 0.998
    assert sure_enough("zip", dataclasses.replace(zone, zip_codes=()), 0) == 0.998  # any 5 digits would pass
    # what the draw reads needs at least SURE_DRAW_INPUT: a ZIP outside the zone read as one inside
    assert sure_enough("zip", zone, 4) >= 0.99 and sure_enough("received_date", zone, 6) >= 0.99
    # nothing tells a month 02 from 03 or a day 20 from 22: the month and day digits need more than the year's
    assert [sure_enough("signature_date", zone, i) for i in range(8)] == [0.9995] * 4 + [0.998] * 4
    assert sure_enough("received_date", zone, 1) == 0.9995
    # an unfamiliar hand raises every bar to 0.999, and lowers none
    assert sure_enough("birth_date", zone, 0, unfamiliar=True) == 0.9995
    assert sure_enough("birth_date", zone, 7, unfamiliar=True) == sure_enough("phone", zone, 2, True) == 0.999
    assert sure_enough("phone", zone, 9, unfamiliar=True) == 0.9999


def _reading(text: str, a: list[DigitGuess], b: list[DigitGuess]) -> BoxesReading:
    return BoxesReading(text, (tuple(a), tuple(b)), tuple(c == " " for c in text),
                        tuple(False for _ in text))


def test_a_curled_nine_is_sure_in_a_year_but_not_in_a_zip(cycle: Cycle) -> None:
    zone, layout = cycle.zone(), build_layout(cycle.zone())
    sure = [guess(int(c), 0.9999, (int(c) + 1) % 10, 0.00005) for c in "0215199"]
    curled = guess(5, 0.97, 3, 0.025)  # a 5 the networks half take for a 3
    birth = decide_digits("birth_date", _reading("02151995", sure + [curled], sure + [curled]),
                          layout.field("birth_date"), zone, "no")
    assert birth.value == "1995-02-15" and birth.status == "review"  # 1993 is a birth year too
    nine = guess(9, 0.985, 3, 0.0148)
    year = [guess(int(c), 0.9999, (int(c) + 1) % 10, 0.00005) for c in "021519"] + [nine, guess(5, 0.9999, 6, 0.00005)]
    birth = decide_digits("birth_date", _reading("02151995", year, year), layout.field("birth_date"), zone, "no")
    assert birth.status == "auto" and birth.value == "1995-02-15"  # nobody filling in the form was born in 1935
    doubtful = year[:6] + [guess(9, 0.90, 3, 0.095), year[7]]
    birth = decide_digits("birth_date", _reading("02151995", doubtful, doubtful), layout.field("birth_date"), zone,
                          "no")
    # leaving the impossible 3 out would make it 0.999, but it lifts a digit by LIFT at most: 0.90 stays doubtful
    assert birth.status == "review" and birth.value == "1995-02-15" and "unsure_digit" in birth.reasons
    impossible = year[:6] + [guess(3, 0.99, 9, 0.008), year[7]]  # sure of a 3: a birth year 1935
    birth = decide_digits("birth_date", _reading("02151935", impossible, impossible), layout.field("birth_date"),
                          zone, "no")
    assert birth.status == "review" and "unsure_digit" in birth.reasons
    zip_code = [guess(int(c), 0.9999, 1, 0.00005) for c in "9005"] + [nine]
    z = decide_digits("zip", _reading("90059", zip_code, zip_code), layout.field("zip"), zone, "no")
    assert z.status == "review" and "unsure_digit" in z.reasons  # 90053 is a ZIP as good as 90059
    other = year[:6] + [guess(3, 0.97, 9, 0.025), year[7]]
    disagree = decide_digits("birth_date", _reading("02151995", year, other), layout.field("birth_date"), zone, "no")
    assert disagree.status == "review" and "readers_disagree" in disagree.reasons


@pytest.fixture
def blank_field(cycle: Cycle):
    """A clean drawing of the phone boxes (3 groups of shared lines) on white paper, and the field."""
    f = build_layout(cycle.zone()).field("phone")
    x0, y0, _, _ = px_rect(f.boxes[0], K)
    _, _, x1, y1 = px_rect(f.boxes[-1], K)
    page = np.full((y1 + 80, x1 + 80), 240, np.uint8)
    for box in f.boxes:
        bx0, by0, bx1, by1 = px_rect(box, K)
        cv2.rectangle(page, (bx0, by0), (bx1, by1), 120, 2)
    return page, f


def _box_px(f, i: int) -> tuple[int, int, int, int]:
    return px_rect(f.boxes[i], K)


def test_crossing_a_line_is_not_being_cut(blank_field) -> None:
    page, f = blank_field
    x0, y0, x1, y1 = _box_px(f, 1)  # a box with neighbours on both sides
    cy = (y0 + y1) // 2
    cv2.ellipse(page, ((x0 + x1) // 2, cy), ((x1 - x0) // 2 + 2, (y1 - y0) // 2 - 6), 0, 0, 360, 20, 3)
    gx0, gy0, gx1, gy1 = _box_px(f, 2)  # the end of the first group: nothing to its right for 14 px
    cv2.line(page, ((gx0 + gx1) // 2, gy0 + 8), (gx1 + 7, (gy0 + gy1) // 2), 20, 3)
    inks, cut, _ = field_inks(page, f, K)
    assert inks[1] is not None and not cut[1]  # a 0 a little wider than its box
    assert inks[2] is not None and not cut[2]  # a stroke running 7 px into the gap after the group
    assert inks[0] is None and inks[3] is None


def test_a_stroke_into_the_next_box_or_past_what_is_looked_at_is_cut(blank_field) -> None:
    page, f = blank_field
    x0, y0, x1, y1 = _box_px(f, 4)
    cv2.line(page, ((x0 + x1) // 2, y0 + 8), (x1 + 10, (y0 + y1) // 2), 20, 3)  # into box 5's inside
    gx0, gy0, gx1, gy1 = _box_px(f, 8)
    cv2.line(page, ((gx0 + gx1) // 2, gy0 + 8), ((gx0 + gx1) // 2, gy1 + 40), 20, 3)  # a tail off the bottom
    inks, cut, _ = field_inks(page, f, K)
    assert cut[8]
    assert inks[5] is not None and cut[5]  # box 5 has only box 4's stroke, near the line: never a digit of its own


def test_characters_touching_across_a_shared_line_are_split_there(blank_field) -> None:
    page, f = blank_field
    for i, shift in ((4, 4), (5, -4)):  # two 0s written towards each other, touching across the line they share
        x0, y0, x1, y1 = _box_px(f, i)
        cv2.ellipse(page, ((x0 + x1) // 2 + shift, (y0 + y1) // 2), ((x1 - x0) // 2 + 1, (y1 - y0) // 2 - 6),
                    0, 0, 360, 20, 3)
    inks, cut, wides = field_inks(page, f, K)
    assert not cut[4] and not cut[5]
    left_of_line = inks[5][:, : _box_px(f, 5)[0] - px_rect(f.boxes[5], K)[0] + 10 - 1]  # crop starts 10 px left
    assert not left_of_line.any()  # box 5 kept nothing of box 4's 0
    assert wides[4] is not None and int((wides[4] > 0).sum()) > int((inks[4] > 0).sum())  # read again, wider
    assert wides[3] is None  # box 3 touched nothing
    reading = read_digit_boxes(page, f, K)
    assert reading.network_text(0)[4:6] == reading.network_text(1)[4:6] == "00"


def test_a_stroke_that_goes_on_across_a_line_is_cut(blank_field) -> None:
    page, f = blank_field
    x0, y0, x1, y1 = _box_px(f, 7)
    cx = (x0 + x1) // 2
    cv2.line(page, (cx, y0 + 8), (cx, y1 + 10), 20, 3)  # a 6's stem and loop, drawn down past the bottom line
    page[y1 - 3: y1 + 3, cx - 3: cx + 4] = 120  # lighter where it crosses: no darker than the line
    inks, cut, _ = field_inks(page, f, K)
    assert inks[7] is not None and cut[7]  # what is inside alone could be read as a sure 1


def test_an_unfamiliar_hand_needs_surer_digits(cycle: Cycle) -> None:
    zone, layout = cycle.zone(), build_layout(cycle.zone())
    sure = [guess(int(c), 0.9999, (int(c) + 1) % 10, 0.00005) for c in "0215199"] + [guess(5, 0.9985, 6, 0.0012)]
    unsure = [guess(3, 0.6, 8, 0.3)] * 5
    familiar = {"birth_date": _reading("02151995", sure, sure), "zip": _reading("33333", unsure[:4] + sure[:1],
                                                                                   unsure[:4] + sure[:1])}
    for name in ("phone", "sibling_program", "signature_date", "received_date"):
        familiar[name] = _reading("", [], [])
    assert not unfamiliar_hand(familiar)  # 4 unsure digits
    assert unfamiliar_hand({**familiar, "zip": _reading("33333", unsure, unsure)})
    birth = layout.field("birth_date")
    assert decide_digits("birth_date", familiar["birth_date"], birth, zone, "no").status == "auto"
    strict = decide_digits("birth_date", familiar["birth_date"], birth, zone, "no", unfamiliar=True)
    assert strict.status == "review" and "unsure_digit" in strict.reasons


def test_the_month_read_wrong_on_real_handwriting_goes_to_a_person(cycle: Cycle) -> None:
    """Issue 18's case: a month 03 read as 02 by both networks at 0.9755; leaving out the impossible 0
    (month 00) raised it to 0.983, over the 0.98 bar then, and it was accepted."""
    zone, layout = cycle.zone(), build_layout(cycle.zone())
    rest = [guess(int(c), 0.9999, (int(c) + 1) % 10, 0.00005) for c in "0" + "142009"]
    two = DigitGuess(tuple({0: 0.0077, 2: 0.9755, 3: 0.0150}.get(d, (1 - 0.9982) / 7) for d in range(10)))
    boxes = rest[:1] + [two] + rest[1:]
    result = decide_digits("signature_date", _reading("02142009", boxes, boxes), layout.field("signature_date"),
                           zone, "no")
    assert result.value == "2009-02-14" and result.status == "review" and "unsure_digit" in result.reasons


def test_a_light_stroke_beside_a_line_is_kept(blank_field) -> None:
    """A light ballpoint 0 whose left side runs just inside the left line: that side is ink too (before, all
    within LINE_BAND of a line had to be darker than the line, and the 0 was read without it, as a sure 7)."""
    page, f = blank_field
    x0, y0, x1, y1 = _box_px(f, 1)
    crop_left = x0 - 10  # field_inks' crop starts SIDE px left of the box
    half_w = (x1 - x0) // 2 - 6
    centre = (x0 + 3 + half_w, (y0 + y1) // 2)  # its left side 3 px inside the line, in the line's band
    # ink 95: not darker than the line (120) by 35, so before it counted only inside the band
    cv2.ellipse(page, centre, (half_w, (y1 - y0) // 2 - 8), 0, 0, 360, 95, 2, cv2.LINE_AA)
    inks, cut, _ = field_inks(page, f, K)
    left_side = centre[0] - half_w - crop_left
    assert inks[1] is not None and not cut[1]
    assert int((inks[1][:, left_side - 1: left_side + 2] > 0).sum()) > 15  # the side along the line is there
    reading = read_digit_boxes(page, f, K)
    assert reading.network_text(0)[1] == reading.network_text(1)[1] == "0"


def test_a_siblings_program_the_family_did_not_choose_goes_to_a_person(cycle: Cycle) -> None:
    """The honest benchmark's case: a sibling's 17 read as 11 at 0.9999 by both networks passed every rule
    (11 is a program too); the priority counts only for a chosen program, and 11 was not chosen."""
    zone, layout = cycle.zone(), build_layout(cycle.zone())
    ones = [guess(1, 0.99995, 7, 0.00004)] * 2
    f = layout.field("sibling_program")
    misread = decide_digits("sibling_program", _reading("11", ones, ones), f, zone, "yes", chosen=("17", "3"))
    assert misread.value == "11" and misread.status == "review" and "sibling_program_not_chosen" in misread.reasons
    assert decide_digits("sibling_program", _reading("11", ones, ones), f, zone, "yes", chosen=("3", "11")).status \
        == "auto"
    assert decide_digits("sibling_program", _reading("11", ones, ones), f, zone, "yes").status == "auto"  # unknown
    assert decide_digits("sibling_program", _reading("11", ones, ones), f, zone, "yes", chosen=()).status == "review"


def test_a_bar_written_on_the_top_line_is_not_taken_for_the_line(blank_field) -> None:
    """On a 1-bit scan pen and printed line are the same black. Real handwriting (bw200, seed 2): a 7's
    thick bar lay over most of the last phone box's top line; the line's profile, a median along that box
    alone, took the bar for line and removed it, and the stem left was a sure 1 to both networks."""
    page, f = blank_field
    for box in f.boxes:  # the lines as black as the pen
        bx0, by0, bx1, by1 = px_rect(box, K)
        cv2.rectangle(page, (bx0, by0), (bx1, by1), 20, 2)
    x0, y0, x1, y1 = _box_px(f, 9)
    cv2.line(page, (x0 + 4, y0 + 1), (x1 - 4, y0 + 1), 20, 9)  # the bar, 4 px either side of the line
    cv2.line(page, (x1 - 8, y0 + 4), (x0 + 16, y1 - 6), 20, 7)  # the stem
    inks, _, _ = field_inks(page, f, K)
    below_line = inks[9][OVERFLOW + 3: OVERFLOW + 6]  # field_inks' crop starts OVERFLOW px above the box
    assert int((below_line > 0).any(axis=0).sum()) > (x1 - x0) // 2  # the bar is kept, not only the stem
    reading = read_digit_boxes(page, f, K)
    assert reading.network_text(0)[9] == reading.network_text(1)[9] == "7"


def test_a_piece_joined_to_the_character_only_through_lighter_ink_is_kept(blank_field) -> None:
    """Real handwriting (bw200, seed 3): a 4's arm, written over the first box of a group's left line,
    met the stem only through a grey bridge that the 1-bit scan's resampling left lighter than the ink
    threshold; the arm was dropped and the stem alone was a sure 1 (phone ...984... read ...981...)."""
    page, f = blank_field
    for box in f.boxes:  # the lines as black as the pen
        bx0, by0, bx1, by1 = px_rect(box, K)
        cv2.rectangle(page, (bx0, by0), (bx1, by1), 20, 2)
    x0, y0, x1, y1 = _box_px(f, 6)  # nothing shares its left line
    mid = (y0 + y1) // 2
    cv2.rectangle(page, (x0 - 7, mid - 10), (x0 + 3, mid + 2), 20, -1)  # the arm, over the left line
    cv2.line(page, (x0 + 4, mid + 1), (x0 + 9, mid + 1), 170, 2)  # grey: lighter than the threshold
    cv2.line(page, (x0 + 13, y0 + 6), (x0 + 13, y1 - 6), 20, 6)  # the stem
    rows = slice(mid - 10 - y0 + OVERFLOW, mid + 3 - y0 + OVERFLOW)  # the arm's rows in field_inks' crop
    arm_inside = slice(SIDE + 2, SIDE + 4)  # its columns just inside the left line

    def arm_kept(drawn: np.ndarray) -> int:
        return int((field_inks(drawn, f, K)[0][6][rows, arm_inside] > 0).sum())

    assert arm_kept(page) >= 20  # the arm's part inside the line is the character's
    assert arm_kept(np.where(page == 170, 240, page).astype(np.uint8)) == 0  # no bridge: not joined


def test_a_grey_stroke_lighter_than_the_threshold_but_darker_than_light_lines_is_still_a_character(blank_field
                                                                                                  ) -> None:
    # Boxes printed light (220) on a page with black ink elsewhere: the ink threshold falls near 130, while
    # anything darker than the lines by their margin (185) is pen. A box whose only stroke is grey (150)
    # holds a character; the quick look for empty boxes must not skip it.
    page, f = blank_field
    for box in f.boxes:
        bx0, by0, bx1, by1 = px_rect(box, K)
        cv2.rectangle(page, (bx0, by0), (bx1, by1), 220, 2)
    for i, level in ((0, 0), (1, 0), (2, 150)):
        x0, y0, x1, y1 = _box_px(f, i)
        cv2.line(page, ((x0 + x1) // 2, y0 + 10), ((x0 + x1) // 2, y1 - 10), level, 3)
    inks, _, _ = field_inks(page, f, K)
    assert inks[0] is not None and inks[1] is not None
    assert inks[2] is not None and int((inks[2] > 0).sum()) > 60
    assert all(ink is None for ink in inks[3:])


@pytest.mark.parametrize("many", [False, True])
def test_ink_joined_to_inside_keeps_pieces_reaching_in_and_drops_specks_and_pieces_outside(many: bool) -> None:
    from zonepaper.scan.boxes import _joined_to_inside

    candidate = np.zeros((60, 50), np.uint8)
    inner = (10, 50, 10, 40)  # rows 10-49, columns 10-39 are inside the box
    candidate[20:40, 20:23] = 255  # a stroke inside
    candidate[2:12, 30:32] = 255  # a stroke reaching in from above the box
    candidate[2:6, 2:8] = 255  # a piece outside, joined to nothing inside
    candidate[45:47, 12:15] = 255  # a speck of 6 px inside: not a stroke
    if many:  # more than 255 pieces (a 1-bit scan's noise): other code, same rule
        candidate[52:60:2, 0:50:2] = 255  # 100 single pixels below the box
        candidate[14:48:2, 26:39:2] = 255  # 119 inside: specks
        candidate[14:50:2, 0:9:2] = 255  # 90 left of the box
        assert cv2.connectedComponents(candidate, connectivity=8)[0] > 256
    kept = _joined_to_inside(candidate, inner)
    expected = np.zeros_like(candidate)
    expected[20:40, 20:23] = 255
    expected[2:12, 30:32] = 255
    assert kept.dtype == np.uint8 and kept.shape == candidate.shape
    assert np.array_equal(kept, expected)
