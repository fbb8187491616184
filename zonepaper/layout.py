"""Form geometry: THE single source of where every box, bubble, code and marker is.

The printer draws from this object and the scanner reads from it; `zonepaper forms
layout --json` publishes it, with each field's schema (what it holds, from `fields`).
Units are PostScript points (1/72 inch), measured from
the top-left corner of the page, y growing downwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zonepaper.errors import InvalidInputError, LayoutDoesNotFitError
from zonepaper.fields import BY_NAME, spec
from zonepaper.text import translate
from zonepaper.zone import Label, Zone

LAYOUT_VERSION = 1
MM = 72 / 25.4

PAPER_SIZES = {"letter": (612.0, 792.0), "a4": (595.28, 841.89)}

MARKER_DICTIONARY = "DICT_4X4_50"
MARKER_SIZE = 34.0  # 12 mm: measured to align reliably
MARKER_INSET = 24.0  # from the paper edge, inside what office printers can print
MARKER_IDS = {"top_left": 0, "top_right": 1, "bottom_right": 2, "bottom_left": 3}
SLIP_MARKER_IDS = {"top_left": 4, "top_right": 5, "bottom_right": 6, "bottom_left": 7}  # never mistaken for a form
CORRECTION_MARKER_IDS = {"top_left": 8, "top_right": 9, "bottom_right": 10, "bottom_left": 11}  # a confirmation's
SLIP_H = 216.0  # 3 inches: the tear-off reply slip at the bottom of a letter
SLIP_MARKER = MARKER_SIZE  # the measured 12 mm

CONTENT_WIDTH = 535.0  # fits both Letter and A4 between the margins
BOX_W = 15.5  # 5.5 mm
BOX_H = 20.5  # 7.2 mm: real handwriting fits
HINT_H = 9.0  # the month / day / year hint under grouped boxes (7 pt)
LABEL_H = 16.0  # two label lines above a field: Spanish, then English
GROUP_GAP = 5.0  # between month/day/year, or phone groups
FIELD_GAP = 12.0
ROW_GAP = 2.0
BUBBLE_D = 11.0  # 3.9 mm
SECTION_H = 13.0
QR_SIZE = 56.0
CHOICE_COL_W = 27.0
GRID_ROW_MIN, GRID_ROW_MAX = 13.0, 15.5
GRID_NUMBER_W = 20.0
GRID_HEADING_H = 16.0  # the rank headings (and, beside them in one column, the instructions): two lines
GRID_RANK_MIN_W = 23.0  # a rank column of two-column grids (the bubble and a little air)


@dataclass(frozen=True)
class Rect:
    """A rectangle in points from the top-left corner of the page."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)

    def as_list(self) -> list[float]:
        return [round(self.x, 2), round(self.y, 2), round(self.w, 2), round(self.h, 2)]


@dataclass(frozen=True)
class Part:
    """What a run of boxes means: e.g. the month of a date is boxes 0-1."""

    meaning: str
    first: int
    count: int


@dataclass(frozen=True)
class Bubble:
    """One bubble: the value it stands for, and for the choices grid its program and rank."""

    rect: Rect
    value: str
    label: Label | None = None
    program: str | None = None
    program_number: int | None = None
    rank: int | None = None


@dataclass(frozen=True)
class Field:
    """One thing on the page the scanner reads (or must find): boxes, bubbles, signature, code, marker."""

    name: str
    kind: str  # boxes | bubbles | signature | code | marker
    side: str  # front | back
    label: Label
    rect: Rect
    boxes: tuple[Rect, ...] = ()
    charset: str | None = None  # digits | letters | both
    value: str | None = None  # what the boxes hold: name, text, address, date, zip, phone, program_number, initials
    parts: tuple[Part, ...] = ()
    bubbles: tuple[Bubble, ...] = ()
    marker_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "side": self.side,
                               "label": {"es": self.label.es, "en": self.label.en}, "rect": self.rect.as_list()}
        if self.kind == "boxes":
            out["charset"] = self.charset
            out["value"] = self.value
            out["boxes"] = [b.as_list() for b in self.boxes]
            out["parts"] = [{"meaning": p.meaning, "boxes": list(range(p.first, p.first + p.count))}
                            for p in self.parts]
        if self.kind == "bubbles":
            out["bubbles"] = [_bubble_json(b) for b in self.bubbles]
        if self.kind == "marker":
            out["marker_id"] = self.marker_id
            out["dictionary"] = MARKER_DICTIONARY
        if self.name in BY_NAME:
            out["schema"] = BY_NAME[self.name].to_json()
        return out


def _bubble_json(b: Bubble) -> dict[str, Any]:
    out: dict[str, Any] = {"value": b.value, "rect": b.rect.as_list()}
    if b.label is not None:
        out["label"] = {"es": b.label.es, "en": b.label.en}
    if b.program is not None:
        out.update(program=b.program, program_number=b.program_number, rank=b.rank)
    return out


@dataclass(frozen=True)
class Decoration:
    """Printed-only element (title, section bar, program name in the grid); never read back."""

    kind: str
    rect: Rect
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Layout:
    """The whole geometry of one form for one zone and paper size."""

    paper: str
    width: float
    height: float
    fields: tuple[Field, ...]
    decorations: tuple[Decoration, ...]

    def field(self, name: str) -> Field:
        """The field with this name."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def markers(self, side: str = "front") -> tuple[Field, ...]:
        """The alignment markers of one side, in marker-id order."""
        return tuple(sorted((f for f in self.fields if f.kind == "marker" and f.side == side),
                            key=lambda f: f.marker_id or 0))

    def to_json(self) -> dict[str, Any]:
        """The public description of the form (`zonepaper forms layout --json`)."""
        return {
            "layout_version": LAYOUT_VERSION,
            "paper": self.paper,
            "page": {"width": round(self.width, 2), "height": round(self.height, 2), "units": "pt",
                     "origin": "top-left", "y_axis": "down"},
            "fields": [f.to_json() for f in self.fields],
        }


def form_label(key: str, **params: Any) -> Label:
    """A Spanish/English label from forms/form.toml."""
    return Label(translate("form", key, "es", **params), translate("form", key, "en", **params))


def _ordinal_en(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class _Builder:
    """Places fields top to bottom; holds the running y position."""

    def __init__(self, width: float, height: float) -> None:
        self.width, self.height = width, height
        self.left = (width - CONTENT_WIDTH) / 2
        self.fields: list[Field] = []
        self.decorations: list[Decoration] = []

    def deco(self, kind: str, rect: Rect, **params: Any) -> None:
        self.decorations.append(Decoration(kind, rect, params))

    def boxes(self, name: str, x: float, y: float, groups: tuple[tuple[str, int], ...] | int,
              label: str = "above", label_w: float = 146.0) -> float:
        """Boxes field; groups = ((meaning, count), ...) or a plain count of boxes meaning what the field holds.

        Its character set and meaning come from the schema. Returns the x just after the last box.
        """
        charset, value = spec(name).charset, spec(name).meaning
        group_list = groups if isinstance(groups, tuple) else ((value, groups),)
        rects, parts, cx, index = [], [], x, 0
        for gi, (meaning, count) in enumerate(group_list):
            if gi:
                cx += GROUP_GAP
            parts.append(Part(meaning, index, count))
            for _ in range(count):
                rects.append(Rect(cx, y + LABEL_H, BOX_W, BOX_H))
                cx += BOX_W
                index += 1
        area = Rect(x, y + LABEL_H, cx - x, BOX_H)
        self.fields.append(Field(name, "boxes", "front", form_label(f"field.{name}"), area,
                                 boxes=tuple(rects), charset=charset, value=value, parts=tuple(parts)))
        if label == "above":
            self.deco("field_label", Rect(x, y, max(cx - x, 60), LABEL_H), key=f"field.{name}")
        else:  # to the left of the boxes, right-aligned against them
            self.deco("field_label_left", Rect(x - 4 - label_w, y + LABEL_H + 2, label_w, BOX_H), key=f"field.{name}")
        if value == "date":  # "mes/month" under each group (a phone's parts are named in its label)
            for p in parts:
                first = rects[p.first]
                self.deco("part_hint", Rect(first.x, first.bottom, BOX_W * p.count, HINT_H),
                          key=f"part.{p.meaning}")
        return cx

    def bubbles(self, name: str, x: float, y: float, options: list[tuple[str, Label]], spacing: float,
                label_w: float = 0.0) -> float:
        """A row of labelled bubbles with the field label above; returns the x after the last option."""
        bubbles, cx = [], x
        top = y + LABEL_H + (BOX_H - BUBBLE_D) / 2
        for value, label in options:
            bubbles.append(Bubble(Rect(cx, top, BUBBLE_D, BUBBLE_D), value, label))
            self.deco("bubble_label", Rect(cx + BUBBLE_D + 3, top - 1, spacing - BUBBLE_D - 6, BUBBLE_D + 2),
                      es=label.es, en=label.en)
            cx += spacing
        area = Rect(x, top, cx - x - (spacing - BUBBLE_D), BUBBLE_D)
        self.fields.append(Field(name, "bubbles", "front", form_label(f"field.{name}"), area, bubbles=tuple(bubbles)))
        self.deco("field_label", Rect(x, y, max(cx - x, label_w), LABEL_H), key=f"field.{name}")
        return cx

    def section(self, key: str, y: float, after_boxes: bool = True) -> float:
        """A section's heading bar at y (a little lower after a row of boxes: a bar 1 mm from a box would
        be taken for its edge). Returns the y below it."""
        y += 2 if after_boxes else 0
        self.deco("section", Rect(self.left, y, CONTENT_WIDTH, SECTION_H), key=f"section.{key}")
        return y + SECTION_H + 2


DATE = (("month", 2), ("day", 2), ("year", 4))
ROW_H = LABEL_H + BOX_H + ROW_GAP  # label, boxes, gap
SIGN_H = 0.45 * 72  # the signature box: room for a real signature
MIN_TEXT = 7.0  # nothing printed on the form is smaller (points)
GRADES_BESIDE_NAME = 4  # more grades than this get a row of their own


def build_layout(zone: Zone, paper: str = "letter") -> Layout:
    """Compute the geometry of the application form for this zone and paper size.

    Raises LayoutDoesNotFitError (naming `--paper a4` when A4 would hold it) when the programs cannot
    be printed legibly: every text at least 7 pt, nothing overlapping.
    """
    if paper not in PAPER_SIZES:
        raise InvalidInputError("forms.unknown_paper", paper=paper, known=", ".join(PAPER_SIZES))
    try:
        return _build_layout(zone, paper)
    except LayoutDoesNotFitError as e:
        if paper != "a4":
            try:
                _build_layout(zone, "a4")
            except LayoutDoesNotFitError:
                raise e from None
            raise LayoutDoesNotFitError("forms.does_not_fit_try_a4", **e.params) from None
        raise


def _build_layout(zone: Zone, paper: str) -> Layout:
    width, height = PAPER_SIZES[paper]
    b = _Builder(width, height)
    left, right = b.left, b.left + CONTENT_WIDTH

    _place_markers(b)

    # Header between the top markers: title on the left, serial and QR code on the right.
    top = MARKER_INSET
    qr = Rect(width - MARKER_INSET - MARKER_SIZE - 8 - QR_SIZE, top, QR_SIZE, QR_SIZE)
    b.fields.append(Field("serial_code", "code", "front", form_label("field.qr"), qr))
    b.deco("serial_text", Rect(qr.x - 150, top + 2, 144, QR_SIZE - 4))
    title_x = MARKER_INSET + MARKER_SIZE + 10
    b.deco("title", Rect(title_x, top, qr.x - 150 - title_x - 6, QR_SIZE))
    y = top + QR_SIZE + 4
    b.deco("howto", Rect(left, y, CONTENT_WIDTH, 30))
    y += 33

    # 1. Student: the names get the room real names need (24 and 20 boxes)
    y = b.section("student", y, after_boxes=False)
    b.boxes("last_name", left, y, 24)
    b.boxes("birth_date", right - _width(DATE), y, DATE)
    y += ROW_H + HINT_H
    x = b.boxes("first_name", left, y, 20)
    grade_opts = [(str(g), form_label("option.grade", grade=g)) for g in zone.grades]
    if len(grade_opts) <= GRADES_BESIDE_NAME:
        b.bubbles("grade", x + FIELD_GAP + 6, y, grade_opts, 44, label_w=right - x - FIELD_GAP - 6)
    else:
        y += ROW_H
        b.bubbles("grade", left, y, grade_opts, min(44.0, CONTENT_WIDTH / len(grade_opts)), label_w=120)
    y += ROW_H
    x = b.boxes("current_school", left, y, 16)
    x = b.bubbles("sibling", x + FIELD_GAP, y, [("yes", form_label("option.yes")), ("no", form_label("option.no"))],
                  40, label_w=right - x - FIELD_GAP)
    b.boxes("sibling_program", right - 2 * BOX_W, y, 2, label="left", label_w=right - 2 * BOX_W - x - 8)
    y += ROW_H

    # 2. Home and family: the street, the apartment apart, the city
    y = b.section("family", y)
    x = b.boxes("address", left, y, 28)
    b.boxes("apartment", x + FIELD_GAP, y, 5)
    y += ROW_H
    x = b.boxes("city", left, y, 16)
    x = b.boxes("zip", x + FIELD_GAP, y, 5)
    b.boxes("phone", x + FIELD_GAP, y, (("area_code", 3), ("exchange", 3), ("line", 4)))
    y += ROW_H
    x = b.boxes("guardian_name", left, y, 21)
    langs = [("es", form_label("option.language_es")), ("en", form_label("option.language_en")),
             ("other", form_label("option.language_other"))]
    b.bubbles("letter_language", x + FIELD_GAP, y, langs, 60, label_w=right - x - FIELD_GAP)
    y += ROW_H

    # 3. Choices grid, then 4. signature; the office strip sits between the bottom markers.
    y = b.section("choices", y)
    office_top = height - MARKER_INSET - MARKER_SIZE
    sign_top = office_top - 6 - SIGN_H - 3 - SECTION_H - 2
    grid_bottom = _place_choices_grid(b, zone, y, sign_top - 4)
    y = grid_bottom + 4

    y = b.section("sign", y, after_boxes=False)
    b.deco("return_by", Rect(left + 120, y - SECTION_H - 2, CONTENT_WIDTH - 125, SECTION_H))  # in the bar
    y += 3  # the bar 1 mm from a box would be taken for its edge
    sig = Rect(left, y, 215, SIGN_H)
    b.fields.append(Field("signature", "signature", "front", form_label("field.signature"), sig))
    b.deco("field_label", Rect(sig.right + 6, sig.y + 2, 122, LABEL_H), key="field.signature")
    date_x = right - _width(DATE)
    b.boxes("signature_date", date_x, y - LABEL_H + 1, DATE, label="left", label_w=date_x - sig.right - 140)

    office_x = MARKER_INSET + MARKER_SIZE + 8
    b.deco("office", Rect(office_x, office_top - 6, width - 2 * office_x, MARKER_SIZE + 6))
    x = b.boxes("received_date", office_x + 120, office_top - 4, DATE)
    b.boxes("staff_initials", x + FIELD_GAP + 6, office_top - 4, 3)

    back_qr = Rect(width - MARKER_INSET - MARKER_SIZE - 8 - 40, MARKER_INSET, 40, 40)
    b.fields.append(Field("back_code", "code", "back", form_label("field.back_qr"), back_qr))
    return Layout(paper, width, height, tuple(b.fields), tuple(b.decorations))


def _width(groups: tuple[tuple[str, int], ...]) -> float:
    """The width of a run of grouped boxes."""
    return sum(count for _, count in groups) * BOX_W + (len(groups) - 1) * GROUP_GAP


def _slip_builder(paper: str, marker_ids: dict[str, int], title: str) -> tuple[_Builder, float, float]:
    """A slip at the foot of a letter: its four markers, its title bar, its code and the serial beside it.
    Its coordinates start at the slip's top edge (the cut line), so it reads the same torn off or still on
    the letter. Returns the builder, the slip's left edge inside the markers and the code's left edge."""
    if paper not in PAPER_SIZES:
        raise InvalidInputError("forms.unknown_paper", paper=paper, known=", ".join(PAPER_SIZES))
    width = PAPER_SIZES[paper][0]
    b = _Builder(width, SLIP_H)
    m, s = MARKER_INSET, SLIP_MARKER
    spots = {"top_left": (m, 14), "top_right": (width - m - s, 14), "bottom_right": (width - m - s, SLIP_H - m - s),
             "bottom_left": (m, SLIP_H - m - s)}
    for corner, (x, y) in spots.items():
        b.fields.append(Field(f"slip_marker_{corner}", "marker", "front", form_label("field.marker"),
                              Rect(x, y, s, s), marker_id=marker_ids[corner]))
    left = m + s + 14
    b.deco("section", Rect(left, 14, width - 2 * left, SECTION_H), key=title)
    code = Rect(width - m - s - 14 - QR_SIZE, 36, QR_SIZE, QR_SIZE)
    b.fields.append(Field("serial_code", "code", "front", form_label("field.qr"), code))
    b.deco("serial_text", Rect(code.x - 170, code.y + 4, 160, 24))
    return b, left, code.x


def build_slip_layout(paper: str = "letter") -> Layout:
    """The reply slip at the foot of an assignment letter: its own markers (4-7), code, answer and signature."""
    b, left, code_x = _slip_builder(paper, SLIP_MARKER_IDS, "section.reply")
    b.deco("reply_text", Rect(left, 36, code_x - 180 - left, 44))
    y = 86.0
    b.bubbles("reply", left, y, [("accept", form_label("option.accept")), ("decline", form_label("option.decline"))],
              190)
    sig = Rect(left, y + LABEL_H + BOX_H + 18, 300, BOX_H)
    b.fields.append(Field("reply_signature", "signature", "front", form_label("field.reply_signature"), sig))
    b.deco("field_label", Rect(left, sig.y - LABEL_H, 300, LABEL_H), key="field.reply_signature")
    return Layout(paper, b.width, SLIP_H, tuple(b.fields), tuple(b.decorations))


def build_correction_layout(paper: str = "letter") -> Layout:
    """The correction slip at the foot of a confirmation letter: markers 8-11 and the form's code, read by the
    machine; what the family writes on its lines is read by a person (the slip is set aside for one)."""
    b, left, code_x = _slip_builder(paper, CORRECTION_MARKER_IDS, "section.correction")
    b.deco("correction_text", Rect(left, 36, code_x - 180 - left, 50))
    b.deco("write_lines", Rect(left, 100, b.width - 2 * left, SLIP_H - 100 - MARKER_INSET - 4))
    return Layout(paper, b.width, SLIP_H, tuple(b.fields), tuple(b.decorations))


def _place_markers(b: _Builder) -> None:
    """Four ArUco markers at the corners of the front; ids 0-3 clockwise from the top left.

    The back has none: it only needs to be recognised (by its own small code), not read.
    """
    w, h, m, s = b.width, b.height, MARKER_INSET, MARKER_SIZE
    spots = {"top_left": (m, m), "top_right": (w - m - s, m), "bottom_right": (w - m - s, h - m - s),
             "bottom_left": (m, h - m - s)}
    for corner, (x, y) in spots.items():
        b.fields.append(Field(f"marker_{corner}", "marker", "front", form_label("field.marker"), Rect(x, y, s, s),
                              marker_id=MARKER_IDS[corner]))


def _text_width(text: str, font: str, size: float) -> float:
    from reportlab.pdfbase import pdfmetrics

    from zonepaper.pdf import register_fonts

    register_fonts()
    return pdfmetrics.stringWidth(text, font, size)


def campus_size(size: float) -> float:
    """The campus after a program's name in the grid: a point smaller, never under 7 pt."""
    return max(MIN_TEXT, size - 1)


def grid_text(zone: Zone, name_w: float) -> tuple[float, bool] | None:
    """(size, campus shown) for the grid's program names in a column `name_w` wide: the largest size from
    8 pt down to 7 pt at which every "name — campus" fits; else names alone (the back gives the campus);
    None when even a name alone does not fit at 7 pt."""
    room = name_w - 4
    for campus in (True, False):
        for size in (8.0, 7.5, 7.0):
            if all(_text_width(p.name, "Sans-Bold", size)
                   + (3 + _text_width(f"— {p.campus.name}", "Sans", campus_size(size)) if campus else 0)
                   <= room for p in zone.programs):
                return size, campus
    return None


def _place_choices_grid(b: _Builder, zone: Zone, top: float, bottom_limit: float) -> float:
    """Programs x ranks bubbles in one column, or two when they do not fit in one; returns the grid's bottom.

    One column has its instructions beside the rank headings; two columns have them on a line above.
    Nothing is smaller than 7 pt: a zone whose programs cannot be printed so is refused.
    """
    n, k = len(zone.programs), zone.max_choices
    said = form_label("choices.instructions", n=k)
    for columns in (1, 2):
        rank_w = CHOICE_COL_W if columns == 1 else GRID_RANK_MIN_W
        col_w = (CONTENT_WIDTH - (columns - 1) * FIELD_GAP) / columns
        name_w = col_w - GRID_NUMBER_W - k * rank_w
        beside = columns == 1 and all(_text_width(text, "Sans-Condensed-Bold", MIN_TEXT) <= GRID_NUMBER_W + name_w - 6
                                      for text in (said.es, said.en))
        heading_h = GRID_HEADING_H * (1 if beside else 2)
        rows = -(-n // columns)
        row_h = min(GRID_ROW_MAX, (bottom_limit - top - heading_h) / rows)
        text = grid_text(zone, name_w) if row_h >= GRID_ROW_MIN and name_w > 0 else None
        if text is not None:
            break
    else:
        longest = max(zone.programs, key=lambda p: _text_width(p.name, "Sans-Bold", MIN_TEXT)).name
        raise LayoutDoesNotFitError("forms.does_not_fit", programs=n, choices=k, longest=longest)
    size, campus = text
    if not beside:
        b.deco("choices_instructions", Rect(b.left, top, CONTENT_WIDTH, GRID_HEADING_H), n=k)
        top += GRID_HEADING_H
    bubbles = []
    for c in range(columns):
        x0 = b.left + c * (col_w + FIELD_GAP)
        bubbles_x = x0 + GRID_NUMBER_W + name_w
        b.deco("grid_heading", Rect(x0, top, col_w, GRID_HEADING_H), ranks=k, bubbles_x=bubbles_x, col_w=rank_w,
               instructions=beside, n=k, campus=campus)
        for r in range(rows):
            i = c * rows + r
            if i >= n:
                break
            program = zone.programs[i]
            y = top + GRID_HEADING_H + r * row_h
            b.deco("grid_row", Rect(x0, y, col_w, row_h), number=program.number, name=program.name,
                   campus=program.campus.name if campus else "", shaded=r % 2 == 1, name_w=name_w, size=size,
                   campus_size=campus_size(size))
            for rank in range(1, k + 1):
                cx = bubbles_x + (rank - 1) * rank_w + (rank_w - BUBBLE_D) / 2
                bubbles.append(Bubble(Rect(cx, y + (row_h - BUBBLE_D) / 2, BUBBLE_D, BUBBLE_D),
                                      f"{program.id}@{rank}", None, program.id, program.number, rank))
    xs = [bb.rect.x for bb in bubbles] + [bb.rect.right for bb in bubbles]
    ys = [bb.rect.y for bb in bubbles] + [bb.rect.bottom for bb in bubbles]
    area = Rect(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    b.fields.append(Field("choices", "bubbles", "front", form_label("field.choices"), area, bubbles=tuple(bubbles)))
    return top + GRID_HEADING_H + rows * row_h


def form_grid(zone: Zone) -> dict[str, Any]:
    """What a printed form's marks mean: its grades, how many ranks, and each numbered program's id.

    Forms already printed keep this meaning; a zone.toml edited later must keep it too.
    """
    return {"grades": [int(g) for g in zone.grades], "max_choices": zone.max_choices,
            "programs": [[p.number, p.id] for p in zone.programs]}


def grid_change(printed: dict[str, Any], now: dict[str, Any]) -> str | None:
    """The first way `now` would make the marks of forms printed with `printed` mean something else, or None."""
    if printed["max_choices"] != now["max_choices"]:
        return f"max_choices: {printed['max_choices']} -> {now['max_choices']}"
    if printed["grades"] != now["grades"]:
        return f"grades: {printed['grades']} -> {now['grades']}"
    was, has = dict(map(tuple, printed["programs"])), dict(map(tuple, now["programs"]))
    for number in sorted(set(was) | set(has)):
        if was.get(number) != has.get(number):
            return f"program {number}: {was.get(number, '-')} -> {has.get(number, '-')}"
    return None


def rank_label(rank: int) -> Label:
    """'1.ª' / '1st' for the grid headings."""
    return form_label("choices.rank", rank=rank, ordinal=_ordinal_en(rank))
