"""The form's schema: what every field a family or the office fills in IS.

`layout` says where a field sits on the page; this module says what it holds: its kind, its
character set, its meaning, whether it may stay empty, its rules, who writes it, which stages
may set it and whether the draw reads it. The printer (through the layout), the reader, the
review page, import/export, the draw's inputs and the simulator all learn a field from here,
so no other module restates a list of field names. `zonepaper forms layout --json` publishes
it beside the geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping, Sequence

from zonepaper.zone import Zone

STAGES = ("scan", "import", "review")  # who may set a field's value
ON_FORM, ON_SLIP = "form", "slip"


@dataclass(frozen=True)
class FieldSpec:
    """One field of the application (or of a letter's reply slip)."""

    name: str
    kind: str  # boxes | bubbles (one answer) | choices (the ranked grid) | signature
    meaning: str  # name | text | address | date | zip | phone | program_number | initials | option | choices
    #               | signature
    charset: str | None = None  # boxes only: digits | letters | both
    sheet: str = ON_FORM  # form | slip (the reply slip at the foot of a letter, read after the draw)
    written_by: str = "family"  # family | office
    may_be_empty: bool = False  # an empty field is accepted without a person
    empty_only_if: tuple[str, str] | None = None  # ...but only when this other field holds this answer
    draw_input: bool = False  # the draw reads it (so a person looks at it first)
    review_rank: int = 99  # order of work on the review page: what decides the draw first
    set_by: tuple[str, ...] = STAGES

    @property
    def review_kind(self) -> str:
        """How the review page shows it: date, digits, text, option, choices or signature."""
        if self.meaning == "date":
            return "date"
        if self.kind == "boxes":
            return "digits" if self.charset == "digits" else "text"
        return "option" if self.kind == "bubbles" else self.kind

    def to_json(self) -> dict[str, Any]:
        """What `forms layout --json` publishes of the field beside its geometry."""
        return {"meaning": self.meaning, "sheet": self.sheet, "written_by": self.written_by,
                "may_be_empty": self.may_be_empty,
                "empty_only_if": dict([self.empty_only_if]) if self.empty_only_if else None,
                "draw_input": self.draw_input, "set_by": list(self.set_by)}


def _boxes(name: str, charset: str, meaning: str, **kw: Any) -> FieldSpec:
    return FieldSpec(name, "boxes", meaning, charset, **kw)


# In the order of the form (and of the CSV's columns): never reorder, the CSV contract depends on it.
SCHEMA: tuple[FieldSpec, ...] = (
    _boxes("last_name", "letters", "name", review_rank=8),
    _boxes("first_name", "letters", "name", review_rank=9),
    _boxes("birth_date", "digits", "date", review_rank=1),
    FieldSpec("grade", "bubbles", "option", draw_input=True, review_rank=5),
    _boxes("current_school", "both", "text", review_rank=15),
    _boxes("address", "both", "address", review_rank=14),
    _boxes("apartment", "both", "text", may_be_empty=True, review_rank=14),
    _boxes("city", "letters", "text", review_rank=14),
    _boxes("zip", "digits", "zip", draw_input=True, review_rank=2),
    _boxes("phone", "digits", "phone", review_rank=7),
    _boxes("guardian_name", "letters", "name", review_rank=13),
    FieldSpec("letter_language", "bubbles", "option", review_rank=10),
    FieldSpec("sibling", "bubbles", "option", draw_input=True, review_rank=3),
    _boxes("sibling_program", "digits", "program_number", may_be_empty=True, empty_only_if=("sibling", "no"),
           draw_input=True, review_rank=4),
    FieldSpec("signature", "signature", "signature", review_rank=11),
    _boxes("signature_date", "digits", "date", review_rank=12),
    _boxes("received_date", "digits", "date", written_by="office", may_be_empty=True, draw_input=True,
           review_rank=6),
    _boxes("staff_initials", "letters", "initials", written_by="office", may_be_empty=True, review_rank=16),
    FieldSpec("choices", "choices", "choices", draw_input=True, review_rank=0),
    FieldSpec("reply", "bubbles", "option", sheet=ON_SLIP, review_rank=17, set_by=("scan", "review")),
    FieldSpec("reply_signature", "signature", "signature", sheet=ON_SLIP, review_rank=18, set_by=("scan", "review")),
)
BY_NAME: dict[str, FieldSpec] = {f.name: f for f in SCHEMA}


def spec(name: str) -> FieldSpec:
    """The schema of the field with this name."""
    return BY_NAME[name]


def names(**wanted: Any) -> tuple[str, ...]:
    """The fields whose attributes (or review_kind) have these values, in schema order."""
    return tuple(f.name for f in SCHEMA if all(getattr(f, k) == v for k, v in wanted.items()))


FORM_FIELDS = names(sheet=ON_FORM)
REPLY_FIELDS = names(sheet=ON_SLIP)  # a family's answer to its letter, after the draw
CSV_FIELDS = tuple(n for n in FORM_FIELDS if spec(n).kind != "choices")  # the ranked choices have their own columns
DIGIT_FIELDS = names(sheet=ON_FORM, charset="digits")
DATE_FIELDS = names(meaning="date")
FAMILY_DIGIT_FIELDS = names(sheet=ON_FORM, charset="digits", written_by="family")
LETTER_FIELDS = tuple(n for n in names(sheet=ON_FORM, kind="boxes") if n not in DIGIT_FIELDS)
SINGLE_FIELDS = names(sheet=ON_FORM, kind="bubbles")
NAME_FIELDS = names(meaning="name")
REVIEW_ORDER = tuple(f.name for f in sorted(SCHEMA, key=lambda f: f.review_rank))


def may_stay_empty(name: str, answers: Mapping[str, object]) -> bool:
    """Whether this field, left empty, is accepted without a person (given the page's other answers)."""
    f = spec(name)
    if not f.may_be_empty:
        return False
    return f.empty_only_if is None or answers.get(f.empty_only_if[0]) == f.empty_only_if[1]


# --- the rules: what a value must be ---------------------------------------------------------------

BIRTH_YEARS_BACK = 70  # hard limit: a grandparent may write their own birth date
MAX_TEXT = 80  # a name, an address or a school, as a person types it
SIGNATURE_VALUES = ("present", "missing")


def stored_value_problem(name: str, value: str, zone: Zone, options: tuple[str, ...] = ()) -> str | None:
    """Why a value as stored (dates YYYY-MM-DD) cannot be this field's, or None; `options` are a bubble field's values.

    The same hard limits the reader uses (`possible`): a real date in a year someone filling in the
    form could write, a ZIP of 5 digits, a phone a person could dial, a program that exists.
    """
    f = spec(name)
    if not value:
        return None
    if f.meaning == "date":
        year, month, day = value[:4], value[5:7], value[8:]
        if len(value) != 10 or value[4] + value[7] != "--" or not (year + month + day).isdigit():
            return "not_a_date"
        return None if possible(name, month + day + year, zone) else "impossible_date"
    if f.meaning in ("zip", "phone", "program_number"):
        length = {"zip": 5, "phone": 10}.get(f.meaning)
        if not value.isdigit() or (length and len(value) != length) or not possible(name, value, zone):
            return f"not_a_{f.meaning}"
        return None
    if f.kind == "bubbles":
        return None if value in options else "not_an_option"
    if f.kind == "signature":
        return None if value in SIGNATURE_VALUES else "not_an_option"
    return "too_long" if len(value) > MAX_TEXT else None


def possible(name: str, digits: str, zone: Zone) -> bool:
    """Whether anyone could have written this value at all: hard limits, far wider than validation's.

    A date must exist, with a year nobody filling in the form could have written: a birth
    date more than 70 years before the cycle (wide enough for a parent or a grandparent who
    wrote their own), a form dated more than 3 years from it. A phone's area code and
    exchange cannot start with 0 or 1; a program number must be a program. A value within
    these limits but outside the plausible ones still goes to review (validate_digits).
    """
    start = zone.start_year
    meaning = spec(name).meaning
    try:
        if meaning == "date":
            if len(digits) != 8:
                return False
            year = int(digits[4:])
            date(year, int(digits[:2]), int(digits[2:4]))
            low, high = (start - BIRTH_YEARS_BACK, start) if name == "birth_date" else (start - 3, start + 3)
            return low <= year <= high
        if meaning == "phone":
            return len(digits) == 10 and digits[0] not in "01" and digits[3] not in "01"
        if meaning == "program_number":
            return 1 <= int(digits) <= len(zone.programs)
    except ValueError:
        return False
    return True


def plausible_dates(name: str, zone: Zone) -> tuple[date, date]:
    """The dates a value of this date field may take without a person looking."""
    start = zone.start_year
    if name == "birth_date":  # a student entering the zone's grades that September
        return date(start - 17, 9, 1), date(start - 12, 9, 1)
    return date(start - 1, 7, 1), date(start + 1, 6, 30)  # the form was signed or received this cycle


def validate_digits(name: str, digits: str, zone: Zone, sibling: object) -> tuple[str, str | None]:
    """(value as stored, problem or None) for a digits field. Dates become YYYY-MM-DD."""
    meaning = spec(name).meaning
    if meaning == "date":
        if len(digits) != 8:
            return digits, "not_a_date"
        try:
            d = date(int(digits[4:]), int(digits[:2]), int(digits[2:4]))
        except ValueError:
            return digits, "not_a_date"
        low, high = plausible_dates(name, zone)
        return d.isoformat(), None if low <= d <= high else "date_out_of_range"
    if meaning == "zip":
        if len(digits) != 5:
            return digits, "not_a_zip"
        return digits, None if not zone.zip_codes or digits in zone.zip_codes else "zip_outside_zone"
    if meaning == "phone":
        if len(digits) != 10 or digits[0] in "01" or digits[3] in "01":
            return digits, "not_a_phone"
        return digits, None if not zone.area_codes or digits[:3] in zone.area_codes else "area_code_unknown"
    if meaning == "program_number":
        if not digits.isdigit() or not 1 <= int(digits) <= len(zone.programs):
            return digits, "not_a_program"
        if sibling != "yes":
            return str(int(digits)), "sibling_not_marked"
        return str(int(digits)), None
    return digits, None


def received_time(text: str) -> str | None:
    """A received date (2009-03-14) or date and time (2009-03-14T16:30) as stored, or None when it is
    neither; ingest's --received and an imported application's received times are read alike."""
    text = text.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        return datetime.fromisoformat(text).replace(microsecond=0).isoformat()
    except ValueError:
        return None


def written_digits(name: str, value: str, inked: Sequence[bool]) -> str | None:
    """The digit in each box of a digits field (a space for a box without ink) for a stored value:
    a date's MMDDYYYY, program 3 written as "03" or as "3" in the first box. None when the value
    cannot have been written in boxes inked that way. The inverse of validate_digits."""
    if spec(name).meaning == "date":
        parts = value.split("-")
        digits = parts[1] + parts[2] + parts[0] if len(parts) == 3 else ""
    else:
        digits = value
    filled = sum(1 for i in inked if i)
    if spec(name).meaning == "program_number":
        digits = digits.zfill(filled)
    if not digits.isdigit() or len(digits) != filled:
        return None
    it = iter(digits)
    return "".join(next(it) if i else " " for i in inked)


def markdown_table() -> str:
    """The schema as a Markdown table (docs/reference.md is generated from it)."""
    rows = ["| field | sheet | kind | characters | holds | written by | empty is accepted | draw input | set by |",
            "|---|---|---|---|---|---|---|---|---|"]
    for f in SCHEMA:
        empty = ("yes" + (f" (if {f.empty_only_if[0]} is {f.empty_only_if[1]})" if f.empty_only_if else "")
                 if f.may_be_empty else "no")
        rows.append(f"| `{f.name}` | {f.sheet} | {f.kind} | {f.charset or '—'} | {f.meaning} | {f.written_by} | "
                    f"{empty} | {'yes' if f.draw_input else 'no'} | {', '.join(f.set_by)} |")
    return "\n".join(rows) + "\n"
