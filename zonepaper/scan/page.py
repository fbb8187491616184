"""One scanned page in, one PageResult out: register, identify, read every field, decide.

`read_page` is pure (no database, no files): worker processes run it, and only the main
process stores what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import cv2
import numpy as np
import zxingcpp

from zonepaper.fields import (DATE_FIELDS, DIGIT_FIELDS, FAMILY_DIGIT_FIELDS, LETTER_FIELDS, NAME_FIELDS,
                              SINGLE_FIELDS, may_stay_empty, possible, spec, validate_digits)
from zonepaper.layout import Field, Layout, build_correction_layout, build_layout, build_slip_layout
from zonepaper.scan.boxes import BoxesReading, digit_crops, read_fields_crops
from zonepaper.scan.digits import Reader
from zonepaper.scan.letters import CLASSES, DIGITS, LetterReading, read_letter_fields
from zonepaper.scan.lexicon import rank_name
from zonepaper.scan.marks import MarkReading, px_rect, read_choices, read_signature, read_single
from zonepaper.scan.register import ALIGNED_DPI, align_page, find_markers, register_page, rotation_of
from zonepaper.serial import BACK, CORRECTION, FRONT, REPLY, Payload, is_valid_serial, parse_payload, verify_tag
from zonepaper.store.readers import current_reader
from zonepaper.zone import Zone

if TYPE_CHECKING:
    from zonepaper.cycle import Cycle

K = ALIGNED_DPI / 72.0
MAX_REGISTRATION_ERROR_PX = 6.0


@dataclass(frozen=True)
class ReadContext:
    """What a worker needs to read pages of this cycle."""

    layout: Layout
    zone: Zone
    cycle_id: str
    secret: bytes | None  # None on a cluster's workers: the tags are checked where the secret is (settle_tag)
    slip: Layout | None = None  # the reply slip of the assignment letters
    reader: Reader = Reader()  # the digit networks' last layers: committed, or adapted to this cycle
    correction: Layout | None = None  # the correction slip of the confirmation letters


@dataclass(frozen=True)
class FieldResult:
    name: str
    value: str
    status: str  # auto | review
    confidence: float
    votes: dict
    reasons: tuple[str, ...]
    box: tuple[int, int, int, int]  # x, y, w, h in pixels of the aligned page


@dataclass(frozen=True)
class PageResult:
    index: int
    kind: str  # front | back | blank | quarantined | reply
    serial: str | None = None
    reason: str | None = None
    detail: str | None = None
    rotation: int | None = None
    registration_error: float | None = None
    image: bytes | None = None  # JPEG: the aligned front, or the raw page when quarantined
    fields: tuple[FieldResult, ...] = field(default_factory=tuple)
    unchecked_tag: tuple[str, str] | None = None  # read without the secret: (serial, tag) still to be checked


def settle_tag(result: PageResult, secret: bytes, cycle_id: str) -> PageResult:
    """A result read without the cycle's secret (on a cluster), decided as the reader with it decides: a
    code whose tag is wrong is no form of this cycle, its page quarantined as `bad_tag`."""
    if result.unchecked_tag is None:
        return result
    serial, tag = result.unchecked_tag
    if verify_tag(secret, cycle_id, serial, tag):
        return replace(result, unchecked_tag=None)
    return PageResult(result.index, "quarantined", result.serial, "bad_tag", serial, result.rotation,
                      result.registration_error, result.image)


def read_context(cycle: "Cycle") -> ReadContext:
    """What reading a page of this cycle needs: layout, zone, cycle id and secret.

    The zone must still mean what the printed forms mean, or a family's marks would read as other programs.
    """
    zone = cycle.printed_zone()
    info = cycle.info()
    db = cycle.db()
    try:
        reader = Reader.stored(current_reader(db.conn))
    finally:
        db.close()
    return ReadContext(build_layout(zone, "letter"), zone, info["cycle_id"], bytes.fromhex(info["secret"]),
                       build_slip_layout("letter"), reader, build_correction_layout("letter"))


BLANK_THUMBNAIL = 400  # px wide: what is kept of a page called blank, to look at


def _jpeg(image: np.ndarray, max_width: int = 1700) -> bytes:
    if image.shape[1] > max_width:
        scale = max_width / image.shape[1]
        image = cv2.resize(image, (max_width, int(image.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return buf.tobytes()


def stored_aligned(data: bytes, layout: Layout) -> np.ndarray | None:
    """A front ingest stored (pages/, JPEG), back on the reading grid it was read on; None if undecodable."""
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        return None
    size = (int(round(layout.width * K)), int(round(layout.height * K)))
    if gray.shape[::-1] != size:  # stored smaller than read: back to the reading grid
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_LINEAR)
    return gray


def _codes(image: np.ndarray) -> list[str]:
    texts = [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]
    if not texts:
        text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
        texts = [text] if text else []
    return texts


PAPER_LEVEL = 150  # a blank sheet's paper is at least this light (0-255); a dark table or cloth is not
PAPER_SHARE = 0.97  # of the page away from its edges, this much is paper on a blank sheet
INK_SHARE = 0.002  # and clearly darker than that paper, less than this


def looks_blank(image: np.ndarray) -> bool:
    """Whether a page is a light sheet with (almost) nothing on it.

    The paper is found first: nearly all of the page away from its edges (scanner bed,
    shadows) must be light and of one level. A photo of a sheet lying on a dark table, an
    image stored white on black or a mostly dark page is never blank, whatever is on it: a
    form whose markers were not found must reach a person, not vanish as "blank".
    """
    h, w = image.shape
    sample = image[h // 10: h - h // 10: 2, w // 10: w - w // 10: 2]
    if sample.size == 0:
        return False
    paper = float(np.median(sample))
    if paper < PAPER_LEVEL:
        return False
    if float((np.abs(sample.astype(np.int16) - paper) <= 40).mean()) < PAPER_SHARE:
        return False
    return float((sample < paper - 60).mean()) < INK_SHARE


def quarantine(index: int, reason: str, detail: str, image: np.ndarray | None = None, **extra) -> PageResult:
    return PageResult(index, "quarantined", reason=reason, detail=detail,
                      image=_jpeg(image) if image is not None else None, **extra)


def read_page(index: int, gray: np.ndarray, ctx: ReadContext) -> PageResult:
    """Everything the machine can say about one page."""
    found = find_markers(gray)  # once: the page is tried as a form, then as each kind of slip
    reg = register_page(gray, ctx.layout, found)
    if reg is None or reg.reprojection_error_px > MAX_REGISTRATION_ERROR_PX:
        return (_read_slip(index, gray, ctx, found) or _read_correction(index, gray, ctx, found)
                or _unregistered(index, gray, ctx))
    aligned = align_page(gray, reg, ctx.layout)
    rotation, error = rotation_of(reg), round(reg.reprojection_error_px, 2)
    payload = _read_serial(aligned, ctx.layout)
    extra = {"rotation": rotation, "registration_error": error}
    if payload is None:
        return quarantine(index, "serial_unreadable", "", aligned, **extra)
    problem = check_payload(payload, ctx)
    if problem:
        return quarantine(index, problem, payload.serial, aligned, serial=payload.serial, **extra)
    fields = read_fields(aligned, ctx)
    return PageResult(index, "front", payload.serial, rotation=rotation, registration_error=error,
                      image=_jpeg(aligned), fields=fields, unchecked_tag=_unchecked(payload, ctx))


def _slip_page(index: int, gray: np.ndarray, ctx: ReadContext, found: dict, slip: Layout | None, side: str,
               what: str) -> tuple[PageResult | None, np.ndarray | None, Payload | None, dict]:
    """A slip at the foot of a letter, found by its own markers and read by its code: (a quarantined result
    or None, the slip aligned, its payload, where it lay). All None when the page is no such slip."""
    if slip is None:
        return None, None, None, {}
    reg = register_page(gray, slip, found)
    if reg is None or reg.reprojection_error_px > MAX_REGISTRATION_ERROR_PX:
        return None, None, None, {}
    aligned = align_page(gray, reg, slip)
    extra = {"rotation": rotation_of(reg), "registration_error": round(reg.reprojection_error_px, 2)}
    payload = _read_serial(aligned, slip, side)
    if payload is None:
        return quarantine(index, "serial_unreadable", what, aligned, **extra), aligned, None, extra
    problem = check_payload(payload, ctx)
    if problem:
        return (quarantine(index, problem, payload.serial, aligned, serial=payload.serial, **extra), aligned, payload,
                extra)
    return None, aligned, payload, extra


def _read_slip(index: int, gray: np.ndarray, ctx: ReadContext, found: dict) -> PageResult | None:
    """A letter's reply slip (torn off or still on the letter): the family's answer and signature; None if no slip."""
    refused, aligned, payload, extra = _slip_page(index, gray, ctx, found, ctx.slip, REPLY, "reply slip")
    if refused is not None or aligned is None or payload is None or ctx.slip is None:
        return refused
    answer, signature = ctx.slip.field("reply"), ctx.slip.field("reply_signature")
    fields = (_from_marks("reply", read_single(aligned, answer, K), answer),
              _from_marks("reply_signature", read_signature(aligned, signature, K), signature))
    return PageResult(index, "reply", payload.serial, image=_jpeg(aligned), fields=fields,
                      unchecked_tag=_unchecked(payload, ctx), **extra)


def _read_correction(index: int, gray: np.ndarray, ctx: ReadContext, found: dict) -> PageResult | None:
    """A confirmation letter's correction slip (torn off or on the letter): what the family wrote is for a
    person, so the slip is set aside for a coordinator with its form's number; None if no such slip."""
    refused, aligned, payload, extra = _slip_page(index, gray, ctx, found, ctx.correction, CORRECTION,
                                                  "correction slip")
    if refused is not None or aligned is None or payload is None:
        return refused
    return quarantine(index, "correction_slip", payload.serial, aligned, serial=payload.serial,
                      unchecked_tag=_unchecked(payload, ctx), **extra)


def check_payload(payload: Payload, ctx: ReadContext) -> str | None:
    """Why a form's code cannot be trusted, or None."""
    if not is_valid_serial(payload.serial):
        return "bad_check_digit"
    if payload.cycle_id != ctx.cycle_id:
        return "other_cycle"
    if ctx.secret is not None and not verify_tag(ctx.secret, payload.cycle_id, payload.serial, payload.tag):
        return "bad_tag"
    return None


def _unchecked(payload: Payload, ctx: ReadContext) -> tuple[str, str] | None:
    """The serial and tag left to check, when this reader has no secret."""
    return (payload.serial, payload.tag) if ctx.secret is None else None


def _unregistered(index: int, gray: np.ndarray, ctx: ReadContext) -> PageResult:
    """No usable markers: a back, a blank page, a form whose corners are hidden, or not a form."""
    payloads = [p for p in (parse_payload(t) for t in _codes(gray)) if p is not None]
    for p in payloads:
        if p.side == BACK and check_payload(p, ctx) is None:
            return PageResult(index, "back", p.serial, unchecked_tag=_unchecked(p, ctx))
    if any(p.side == FRONT for p in payloads):
        serial = payloads[0].serial
        return quarantine(index, "markers_not_found", serial, gray, serial=serial)
    if payloads:
        problem = check_payload(payloads[0], ctx)
        return quarantine(index, problem or "not_a_form", payloads[0].serial, gray,
                          unchecked_tag=None if problem else _unchecked(payloads[0], ctx))
    if looks_blank(gray):
        return PageResult(index, "blank", image=_jpeg(gray, BLANK_THUMBNAIL))  # kept so that a person can check
    return quarantine(index, "not_a_form", "", gray)


def _read_serial(aligned: np.ndarray, layout: Layout, side: str = FRONT) -> Payload | None:
    code = layout.field("serial_code").rect
    x0, y0, x1, y1 = px_rect(code, K)
    pad = int(10 * K)
    crop = aligned[max(0, y0 - pad): y1 + pad, max(0, x0 - pad): x1 + pad]
    for image in (crop, aligned):
        for text in _codes(image):
            payload = parse_payload(text)
            if payload is not None and payload.side == side:
                return payload
    return None


def _box(f: Field) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = px_rect(f.rect, K)
    return (x0, y0, x1 - x0, y1 - y0)


def read_fields(aligned: np.ndarray, ctx: ReadContext) -> tuple[FieldResult, ...]:
    """Read and decide every field of an aligned front page."""
    layout, zone = ctx.layout, ctx.zone
    out: list[FieldResult] = []
    singles = {}
    for name in SINGLE_FIELDS:
        reading = read_single(aligned, layout.field(name), K)
        singles[name] = reading
        out.append(_from_marks(name, reading, layout.field(name)))
    choices = read_choices(aligned, layout.field("choices"), K, zone.max_choices)
    if choices.sure and any("no_mark" in singles[name].reasons for name in SINGLE_FIELDS):
        # Every form asks for one mark in each of these. A page where one has none may have lost light
        # marks to the scan (a 1-bit scan drops pencil): the ranks after the first may be gone too (real
        # handwriting, bw200: grade and language blank, and 4 of 5 ranks lost from a list read as sure).
        choices = replace(choices, sure=False, reasons=("marks_missing_elsewhere",))
    out.append(_from_marks("choices", choices, layout.field("choices")))
    out.append(_from_marks("signature", read_signature(aligned, layout.field("signature"), K),
                           layout.field("signature")))
    digits = read_fields_crops({name: digit_crops(aligned, layout.field(name), K) for name in DIGIT_FIELDS},
                               ctx.reader)
    chosen = tuple(str(zone.program(str(pid)).number) for pid in choices.value)
    out.extend(decide_page_digits(digits, layout, zone, singles["sibling"].value, chosen).values())
    letters = read_letter_fields(aligned, {name: layout.field(name) for name in LETTER_FIELDS}, K)
    out.extend(decide_letters(name, reading, layout.field(name)) for name, reading in letters.items())
    return tuple(out)


def _from_marks(name: str, reading: MarkReading, f: Field) -> FieldResult:
    value = ",".join(reading.value) if isinstance(reading.value, list) else str(reading.value)
    return FieldResult(name, value, "auto" if reading.sure else "review", 1.0 if reading.sure else 0.5,
                       {"fill": reading.ratios}, reading.reasons, _box(f))


def decide_letters(name: str, reading: LetterReading, f: Field) -> FieldResult:
    """Letters are only ever a first guess: a person confirms them (one wrong letter is a wrong name). The
    network's own reading, box by box, is kept with the guess; a name's guess is ranked (scan/lexicon.py)."""
    if reading.filled == 0:
        status = "auto" if may_stay_empty(name, {}) else "review"
        reasons = () if status == "auto" else ("empty",)
        return FieldResult(name, "", status, 1.0 if status == "auto" else 0.0, {}, reasons, _box(f))
    guess = rank_name(name, reading.probabilities, CLASSES) if name in NAME_FIELDS else reading.text
    return FieldResult(name, guess, "review", round(reading.confidence, 3),
                       {"network": reading.text}, ("handwriting",), _box(f))


def decide_page_digits(readings: dict[str, BoxesReading], layout: Layout, zone: Zone,
                       sibling: object, chosen: tuple[str, ...] | None = None) -> dict[str, FieldResult]:
    """Decide every digits field of one page (whether the hand is unfamiliar depends on all of them);
    `chosen` is the program numbers read on the page's choices grid (None: not known)."""
    unfamiliar = unfamiliar_hand(readings)
    return {name: decide_digits(name, reading, layout.field(name), zone, sibling,
                                unfamiliar and name in FAMILY_DIGIT_FIELDS, chosen)
            for name, reading in readings.items()}


def unfamiliar_hand(readings: dict[str, BoxesReading]) -> bool:
    """Whether the family's digits on this page are in a hand the networks do not know.

    The networks' probabilities were calibrated on writers like those they learnt from. A page
    where they are unsure of many of the family's digits is in a hand unlike those (measured on
    simulated forms: with such hands, 5 or more digits below 0.9 on nearly every page; with the
    others, 4 at most), and their sure readings there are the ones most often wrong.
    """
    unsure = sum(1 for name in FAMILY_DIGIT_FIELDS for g in readings[name].ensemble
                 if g is not None and g.probability < UNFAMILIAR_BELOW)
    return unsure >= UNFAMILIAR_COUNT


def decide_digits(name: str, reading: BoxesReading, f: Field, zone: Zone, sibling: object,
                  unfamiliar: bool = False, chosen: tuple[str, ...] | None = None) -> FieldResult:
    """Accept a digits field alone only on strong evidence; otherwise it goes to review with the reasons."""
    votes = {"network": reading.text.replace(" ", "?"),
             "probabilities": [round(g.probability, 6) if g else None for g in reading.networks[0]],
             "network_b": reading.network_text(1).replace(" ", "?"),
             "probabilities_b": [round(g.probability, 6) if g else None for g in reading.networks[1]],
             "reader": reading.reader}
    box = _box(f)
    if reading.filled == 0:
        empty_ok = may_stay_empty(name, {"sibling": sibling})
        return FieldResult(name, "", "auto" if empty_ok else "review", 1.0 if empty_ok else 0.0, votes,
                           () if empty_ok else ("empty",), box)
    digits = reading.text
    reasons: list[str] = []
    if reading.filled != len(reading.blanks) and not (name == "sibling_program" and reading.filled == 1):
        reasons.append("incomplete")
    # A digit is sure when the box can hold it and the two networks' average probability for it
    # reaches sure_enough(), counted over the digits the box can hold, and is no more than LIFT
    # below it counted over all ten. The digits the field's rules make impossible here (month
    # 13, year 1395) are no evidence for a value the form can hold, but leaving them out must
    # not make a doubtful digit sure: a month 03 read as 02 at 0.9755 reached 0.983 once the
    # impossible 00 was left out, and passed (real handwriting, scripts/bench_ingest.py --hand
    # real; LIFT is measured there). The field's own rules must pass too. Tesseract,
    # when it read as many digits and read one otherwise, was measured as a third reader there
    # and caught none of the wrong values accepted: it no longer reads digits at all
    # (boxes.digit_crops; a fifth of the reading time).
    allowed = allowed_digits(name, digits, zone)
    sure = [(g.share_among(allowed[i]), g.probability if g.digit in allowed[i] else 0.0,
             sure_enough(name, zone, i, unfamiliar)) for i, g in enumerate(reading.ensemble) if g is not None]
    low = min((raw for _, raw, _ in sure), default=1.0)
    if any(share < needed or raw < needed - LIFT for share, raw, needed in sure):
        reasons.append("unsure_digit")
    if any(reading.network_text(i) != digits for i in range(1, len(reading.networks))):
        reasons.append("readers_disagree")
    if any(reading.cut):
        reasons.append("over_the_line")  # part of a character may be outside its box
    value, problem = validate_digits(name, digits.replace(" ", ""), zone, sibling)
    if problem:
        reasons.append(problem)
    elif name == "sibling_program" and chosen is not None and value not in chosen:
        # The sibling priority counts only for a program the family chose, so a sibling's program among
        # the choices is what families write; one that is not is most often a misread digit (a sibling's
        # 17 read as 11 at 0.9999 passed every other rule, the same sheet in four page conditions).
        reasons.append("sibling_program_not_chosen")
    status = "review" if reasons else "auto"
    return FieldResult(name, value, status, round(low, 4), votes, tuple(reasons), box)


# How sure every digit of a field must be, by how much the field's own rules catch a misread
# digit. Measured first on the simulator's fonts (scripts/bench_ingest.py), then on real
# handwriting (bench_ingest.py --hand real --readings, then scripts/redecide_digits.py
# --readings: 3 seeds x 6 page conditions, 4,986 digit fields, every variant decided by this
# code). A date must be a real one in the plausible range, a ZIP or an area code one of the
# zone's: a misread digit rarely passes them (SURE_STRONG_RULES). A program number, or a ZIP
# when the zone lists none, passes almost any digit: a hand-printed 9 read as a sure 3 passed
# as program 3 (SURE_WEAK_RULES). The exceptions, each measured on real handwriting:
# * nothing checks the last 7 digits of a phone: a 1 with a flag read as a 7 at 0.99 passed
#   three times (the same sheet in three conditions); SURE_PHONE stops it;
# * the date rule cannot tell a month 02 from 03, or a day 20 from 22: a day 20 read as 22 at
#   0.9953 passed; the month and day digits need SURE_MONTH_DAY;
# * a digit the draw reads (ZIP, sibling's program, received date) can change who gets a seat:
#   a ZIP 90019, outside the zone, read as 90017, inside it, at 0.98, gave a priority it did
#   not have; those digits need at least SURE_DRAW_INPUT;
# * leaving out the digits a box cannot hold lifts a digit's probability; the lift counts only
#   up to LIFT (0 to 0.05 let the same wrong values through; without a limit, a month 03 read
#   as 02 at 0.9755 had reached 0.983 and passed).
# On a page in an unfamiliar hand (see unfamiliar_hand) every family digit needs at least
# SURE_UNFAMILIAR_HAND: a 1 was read as a 7 at 0.992 (the floor was 0.995 then). With these, the
# networks of the time let 1 wrong value of 4,986 through on real handwriting (an MNIST "5" that any
# reader takes for a 6, in a birth year); the networks now in zonepaper/models, none (22.3 %
# accepted alone). On 300 forms per condition (11,434 fields, 2026-12-03): 24.3 %, 2 wrong, a 4's arm
# lost on its box's line (docs/DEVELOPING.md), not a bar these knobs set.
# On new samples (2026-12-07, 150 forms per condition) those bars let wrong values through on both
# halves of MNIST's test digits: on the calibration half (seeds 101-103, 7,482 fields) a phone's 9
# read as 0 at 0.9991 and a birth year 1995 read as 1993 at 0.9946; on the benchmark half (3 seeds x
# 6 conditions, 12,252 fields) 5 wrong, phones at 0.9984-0.9986 and a birth year. Chosen on the
# calibration half, where it lets none through: a phone's unchecked digits 0.9995 (was 0.998) and
# the digits a strong rule checks 0.995 (was 0.98). With the unfamiliar hand's floor below: 16.7 %
# accepted alone there (20.3 %, 2 wrong before); on the benchmark half 17.8 %, 0 wrong (21.9 %, 5
# wrong before). SURE_DRAW_INPUT is now below every bar, a floor that binds nothing until a bar is
# lowered (at 0.998 it would cost 1.4 points on either half and stop no wrong value measured).
# The networks taken on 2026-12-07 (two deep ones, surer: docs/DEVELOPING.md) read the same digits surer,
# wrong ones too: with the bars above, 4 wrong on the calibration half (1995 -> 1993 at 0.9965, a
# phone's 9 -> 0 at 0.9995, one sheet's month 05 -> 03 at 0.9989 in two conditions). Chosen there,
# where none passes: every digit 0.998, a month's or day's 0.9995, a phone's unchecked ones 0.9999
# (calibration half 26.6 % accepted alone, 0 wrong; benchmark half 29.4 %, 1 wrong: MNIST's test
# digit 9729, a 5 that most people read as a 6, no longer written: scripts/pen_digits.py MISLABELLED;
# new samples without such digits, seeds 4-6, 31.6 %, 0 wrong).
SURE_STRONG_RULES, SURE_WEAK_RULES, SURE_PHONE, SURE_MONTH_DAY = 0.998, 0.998, 0.9999, 0.9995
SURE_DRAW_INPUT, LIFT = 0.99, 0.05
# With every bar at 0.995 or more, an unfamiliar hand's floor must be higher to mean anything: 0.998
# (calibration half 16.7 % accepted alone instead of 16.8 %, benchmark half 17.8 % instead of 17.9 %,
# 0 wrong either way).
# With the bars of 2026-12-07 at 0.998 or more, 0.999 (0.998 would raise none of them; 0.999 costs
# less than 0.1 point on the calibration half, 0 wrong either way).
UNFAMILIAR_BELOW, UNFAMILIAR_COUNT, SURE_UNFAMILIAR_HAND = 0.9, 5, 0.999
MONTH_DAY_BOXES = 4  # a date is written MMDDYYYY


def sure_enough(name: str, zone: Zone, box: int, unfamiliar: bool = False) -> float:
    """The probability the digit in this box of this field needs for the field to be accepted without a person
    (on a page in an unfamiliar hand, at least SURE_UNFAMILIAR_HAND)."""
    if name in DATE_FIELDS and box < MONTH_DAY_BOXES:
        needed = SURE_MONTH_DAY
    elif name in DATE_FIELDS or (name == "zip" and zone.zip_codes) or (name == "phone" and box < 3 and zone.area_codes):
        needed = SURE_STRONG_RULES
    else:
        needed = SURE_PHONE if name == "phone" else SURE_WEAK_RULES
    if spec(name).draw_input:  # a wrong ZIP, sibling's program or received date can change who gets a seat
        needed = max(needed, SURE_DRAW_INPUT)
    return max(needed, SURE_UNFAMILIAR_HAND) if unfamiliar else needed


def allowed_digits(name: str, text: str, zone: Zone) -> list[str]:
    """Per box of a read field (a space for an empty box), the digits that box could hold, the others as read."""
    out = []
    for i in range(len(text)):
        out.append("".join(d for d in DIGITS if possible(name, (text[:i] + d + text[i + 1:]).replace(" ", ""), zone))
                   if text[i] != " " else "")
    return out
