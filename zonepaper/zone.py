"""The zone: schools, grades, seats, priorities and mechanism, read and checked from zone.toml."""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Mapping

from zonepaper.errors import InvalidInputError, ZoneFileError
from zonepaper.text import LANGUAGES

MECHANISMS = ("da", "bins", "fcfs")
EVIDENCE = ("sibling", "zip_code")
EXAMPLES_DIR = Path(__file__).parent / "examples"
IDLE_MINUTES = 30  # a review page left alone this long logs out (zone.toml [review] idle_minutes)


@dataclass(frozen=True)
class Label:
    """A text a family reads, in Spanish and English."""

    es: str
    en: str

    def __getitem__(self, lang: str) -> str:
        return getattr(self, lang)


@dataclass(frozen=True)
class Campus:
    id: str
    name: str
    address: str


@dataclass(frozen=True)
class Program:
    id: str
    number: int  # 1-based position on the form
    name: str
    campus: Campus
    description: Label
    seats: Mapping[int, int]  # grade -> seats


@dataclass(frozen=True)
class Priority:
    id: str
    label: Label
    evidence: str


@dataclass(frozen=True)
class Letters:
    """What the assignment letters tell families: reply by when, what to do next, whom to call; and,
    optionally, what happens without a reply, how long waitlists last, how to apply again, the office's
    street address and how many days a family has to answer a waitlist offer."""

    reply_by: Label
    next_steps: Label
    contact: Label
    no_reply: Label | None = None
    waitlist_until: Label | None = None
    apply_again: Label | None = None
    office_address: str = ""
    offer_reply_days: int = 7
    confirm_days: int = 10  # days a family has to return a confirmation letter's correction slip
    other_languages: tuple[str, ...] = ()  # one line each, for families who asked for another language


@dataclass(frozen=True)
class FormInfo:
    """What the application form tells families about returning it (zone.toml [forms]); each optional."""

    return_by: Label | None = None  # the deadline: "27 de febrero de 2009" / "February 27, 2009"
    return_to: Label | None = None  # where to hand it in
    phone: str = ""  # whom to call with questions
    results_by: Label | None = None  # when letters with the results are sent


@dataclass(frozen=True)
class Zone:
    path: Path
    name: Label
    cycle: str
    grades: tuple[int, ...]
    max_choices: int
    mechanism: str
    zip_codes: tuple[str, ...]
    area_codes: tuple[str, ...]
    priorities: tuple[Priority, ...]
    campuses: tuple[Campus, ...]
    programs: tuple[Program, ...]
    letters: Letters | None = None
    city: str = ""  # city and state after the street in the families' addresses, e.g. "Los Angeles, CA"
    timezone: str = "America/Los_Angeles"  # the zone's clock, for the times printed on receipts and reports
    idle_minutes: int = IDLE_MINUTES  # a review page left alone this long logs out
    forms: FormInfo = FormInfo()

    @property
    def start_year(self) -> int:
        """The first year of the cycle: '2009-2010' -> 2009."""
        years = [int(w) for w in "".join(c if c.isdigit() else " " for c in self.cycle).split() if len(w) == 4]
        return years[0] if years else date.today().year

    def local_time(self, at: str) -> str:
        """A stored time (ISO 8601, UTC) as the zone's clock shows it, with its offset: '2009-03-21 10:15
        (UTC-07:00)'."""
        from datetime import datetime, timezone
        from zoneinfo import ZoneInfo

        moment = datetime.fromisoformat(at)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        here = moment.astimezone(ZoneInfo(self.timezone))
        offset = here.strftime("%z")
        return f"{here:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"

    def program(self, program_id: str) -> Program:
        """The program with this id."""
        return next(p for p in self.programs if p.id == program_id)


# --- schema --------------------------------------------------------------------------------
# Each table: key -> (kind, required). Kinds are checked by _check_value.
_SCHEMA: dict[str, dict[str, tuple[str, bool]]] = {
    "": {"zone": ("table", True), "priorities": ("tables", False), "campuses": ("tables", True),
         "programs": ("tables", True), "letters": ("table", False), "review": ("table", False),
         "forms": ("table", False)},
    "forms": {"return_by": ("label", False), "return_to": ("label", False), "phone": ("text", False),
              "results_by": ("label", False)},
    "review": {"idle_minutes": ("minutes", False)},
    "letters": {"reply_by": ("label", True), "next_steps": ("label", True), "contact": ("label", True),
                "no_reply": ("label", False), "waitlist_until": ("label", False), "apply_again": ("label", False),
                "office_address": ("text", False), "offer_reply_days": ("days", False), "confirm_days": ("days", False),
                "other_languages": ("texts", False)},
    "zone": {"name": ("label", True), "cycle": ("text", True), "grades": ("grades", True),
             "max_choices": ("positive", True), "mechanism": ("mechanism", True),
             "zip_codes": ("zips", False), "area_codes": ("area_codes", False), "city": ("text", False),
             "timezone": ("timezone", False)},
    "priorities": {"id": ("id", True), "label": ("label", True), "evidence": ("evidence", True)},
    "campuses": {"id": ("id", True), "name": ("text", True), "address": ("text", True)},
    "programs": {"id": ("id", True), "name": ("text", True), "campus": ("id", True),
                 "description": ("label", True), "seats": ("seats", True)},
}

MAX_SEATS = 100_000  # seats of one program in one grade
MAX_TEXT = 200  # characters of a name, an address, a cycle
MAX_LABEL = 1500  # characters of each language of a description or a letter's paragraph

_EXPECTED = {
    "table": "a table [ ... ]", "tables": "one or more [[ ... ]] tables", "text": "a text in quotes",
    "label": '{ es = "...", en = "..." }', "grades": "a list of grades, e.g. [9]",
    "positive": "a whole number of at least 1", "mechanism": " / ".join(MECHANISMS),
    "zips": 'a list of 5-digit ZIP codes in quotes, e.g. ["90026"]',
    "area_codes": 'a list of 3-digit telephone area codes in quotes, e.g. ["213", "323"]',
    "id": "a short id of lowercase letters, digits, - or _", "evidence": " / ".join(EVIDENCE),
    "seats": "{ GRADE = SEATS }, e.g. { 9 = 100 }",
    "minutes": "a whole number of minutes from 5 to 720",
    "days": "a whole number of days from 1 to 60",
    "timezone": 'a time zone name, e.g. "America/Los_Angeles" or "America/Chicago"',
    "texts": 'a list of texts in quotes, e.g. ["..."]',
}


class _Checker:
    """Walks the parsed TOML, raising the first mistake with its key and how to fix it."""

    def __init__(self, path: Path) -> None:
        self.file = str(path)

    def fail(self, key: str, message: str, **params: object) -> None:
        raise ZoneFileError(message, file=self.file, key=key, **params)

    def check_table(self, table: Mapping[str, Any], schema_name: str, where: str) -> None:
        schema = _SCHEMA[schema_name]
        for key in table:
            if key not in schema:
                self.fail(_join(where, key), "zone.unknown_key", allowed=", ".join(schema))
        for key, (kind, required) in schema.items():
            if key not in table:
                if required:
                    self.fail(_join(where, key), "zone.missing_key", expected=_EXPECTED[kind])
                continue
            self.check_value(table[key], kind, _join(where, key))

    def check_value(self, value: Any, kind: str, key: str) -> None:
        if kind == "text" and isinstance(value, str) and len(value) > MAX_TEXT:
            self.fail(key, "zone.too_long", length=len(value), limit=MAX_TEXT)
        ok = {
            "table": isinstance(value, dict),
            "tables": isinstance(value, list) and all(isinstance(v, dict) for v in value) and len(value) > 0,
            "text": isinstance(value, str) and value.strip() != "",
            "label": isinstance(value, dict),
            "grades": isinstance(value, list) and len(value) > 0
            and all(type(v) is int and 0 <= v <= 12 for v in value),
            "positive": type(value) is int and value >= 1,
            "mechanism": value in MECHANISMS,
            "zips": isinstance(value, list)
            and all(isinstance(v, str) and len(v) == 5 and _ascii_digits(v) for v in value),
            "area_codes": isinstance(value, list)
            and all(isinstance(v, str) and len(v) == 3 and _ascii_digits(v) and v[0] not in "01" for v in value),
            "id": isinstance(value, str) and value != "" and value.isascii()
            and all(c.isalnum() or c in "-_" for c in value) and value == value.lower(),
            "evidence": value in EVIDENCE,
            "seats": isinstance(value, dict),
            "minutes": type(value) is int and 5 <= value <= 12 * 60,
            "days": type(value) is int and 1 <= value <= 60,
            "timezone": isinstance(value, str) and _known_timezone(value),
            "texts": isinstance(value, list) and len(value) <= 10
            and all(isinstance(v, str) and 0 < len(v.strip()) <= MAX_TEXT for v in value),
        }[kind]
        if not ok:
            self.fail(key, "zone.wrong_value", value=_show(value), expected=_EXPECTED[kind])
        if kind == "label":
            self.check_label(value, key)

    def check_label(self, value: Mapping[str, Any], key: str) -> None:
        for lang in value:
            if lang not in LANGUAGES:
                self.fail(_join(key, lang), "zone.unknown_key", allowed=", ".join(LANGUAGES))
        for lang in LANGUAGES:
            text = value.get(lang)
            if not isinstance(text, str) or not text.strip():
                self.fail(_join(key, lang), "zone.label_missing_language", lang=lang)
            if len(text) > MAX_LABEL:
                self.fail(_join(key, lang), "zone.too_long", length=len(text), limit=MAX_LABEL)

    def check_seats(self, seats: Mapping[str, Any], grades: list[int], key: str) -> dict[int, int]:
        result: dict[int, int] = {}
        for grade_key, count in seats.items():
            if not _ascii_digits(grade_key) or int(grade_key) not in grades:
                self.fail(_join(key, grade_key), "zone.seats_unknown_grade", grades=_show(grades))
            if type(count) is not int or not 0 <= count <= MAX_SEATS:
                self.fail(_join(key, grade_key), "zone.seats_negative", value=_show(count), limit=MAX_SEATS)
            result[int(grade_key)] = count
        for grade in grades:
            if grade not in result:
                self.fail(_join(key, str(grade)), "zone.seats_missing", grade=grade)
        return result


def _ascii_digits(text: str) -> bool:
    """0-9 only: "²" and full-width digits are digits to Python, not to a ZIP or a grade."""
    return text.isascii() and text.isdigit()


def _codes(values: list[str]) -> tuple[str, ...]:
    """ZIPs and area codes as typed, with full-width digits (from a Japanese or Chinese keyboard
    setting) made plain: ９０００４ is the ZIP 90004, and a family writing 90004 must match it."""
    return tuple(unicodedata.normalize("NFKC", v).strip() for v in values)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _show(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else f'"{value}"'


def _known_timezone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):  # (a hostile name can be a folder, a path...)
        return False
    return True


def _label(raw: Mapping[str, str]) -> Label:
    return Label(es=raw["es"].strip(), en=raw["en"].strip())


def _maybe_label(table: Mapping[str, Any], key: str) -> Label | None:
    """An optional { es, en } key of a table (already checked), or None when it is not given."""
    return _label(table[key]) if key in table else None


def parse_zone(raw: Mapping[str, Any], path: Path) -> Zone:
    """Check the parsed zone.toml and turn it into a Zone; raises ZoneFileError on the first mistake."""
    check = _Checker(path)
    check.check_table(raw, "", "")
    zone_raw = dict(raw["zone"]) if isinstance(raw["zone"], dict) else raw["zone"]
    for codes in ("zip_codes", "area_codes"):
        if isinstance(zone_raw, dict) and isinstance(zone_raw.get(codes), list) and all(
                isinstance(v, str) for v in zone_raw[codes]):
            zone_raw[codes] = list(_codes(zone_raw[codes]))
    check.check_table(zone_raw, "zone", "zone")
    grades = list(zone_raw["grades"])
    if len(set(grades)) != len(grades):
        check.fail("zone.grades", "zone.duplicate_value", value=_show(grades))

    def check_list(name: str) -> list[Mapping[str, Any]]:
        items = raw.get(name, [])
        seen: set[str] = set()
        for i, item in enumerate(items):
            where = f"{name}[{i + 1}]"
            check.check_table(item, name, where)
            if item["id"] in seen:
                check.fail(f"{where}.id", "zone.duplicate_id", id=item["id"], table=name)
            seen.add(item["id"])
        return items

    campuses = {c["id"]: Campus(c["id"], c["name"].strip(), c["address"].strip()) for c in check_list("campuses")}
    programs = []
    for i, p in enumerate(check_list("programs")):
        where = f"programs[{i + 1}]"
        if p["campus"] not in campuses:
            check.fail(f"{where}.campus", "zone.unknown_campus", value=_show(p["campus"]),
                       allowed=", ".join(campuses))
        seats = check.check_seats(p["seats"], grades, f"{where}.seats")
        programs.append(Program(p["id"], i + 1, p["name"].strip(), campuses[p["campus"]],
                                _label(p["description"]), seats))
    priorities = tuple(Priority(p["id"], _label(p["label"]), p["evidence"]) for p in check_list("priorities"))
    idle = IDLE_MINUTES
    if "review" in raw:
        check.check_table(raw["review"], "review", "review")
        idle = raw["review"].get("idle_minutes", IDLE_MINUTES)
    letters = None
    if "letters" in raw:
        check.check_table(raw["letters"], "letters", "letters")
        given = raw["letters"]
        letters = Letters(*(_label(given[k]) for k in ("reply_by", "next_steps", "contact")),
                          *(_maybe_label(given, k) for k in ("no_reply", "waitlist_until", "apply_again")),
                          office_address=given.get("office_address", "").strip(),
                          offer_reply_days=given.get("offer_reply_days", 7),
                          confirm_days=given.get("confirm_days", 10),
                          other_languages=tuple(v.strip() for v in given.get("other_languages", ())))
    forms = FormInfo()
    if "forms" in raw:
        check.check_table(raw["forms"], "forms", "forms")
        given = raw["forms"]
        forms = FormInfo(_maybe_label(given, "return_by"), _maybe_label(given, "return_to"),
                         given.get("phone", "").strip(), _maybe_label(given, "results_by"))
    if any(p.evidence == "zip_code" for p in priorities) and not zone_raw.get("zip_codes"):
        check.fail("zone.zip_codes", "zone.zip_codes_needed")
    if zone_raw["max_choices"] > len(programs):
        check.fail("zone.max_choices", "zone.too_many_choices", value=zone_raw["max_choices"],
                   programs=len(programs))
    return Zone(
        path=path,
        name=_label(zone_raw["name"]),
        cycle=zone_raw["cycle"].strip(),
        grades=tuple(grades),
        max_choices=zone_raw["max_choices"],
        mechanism=zone_raw["mechanism"],
        zip_codes=tuple(zone_raw.get("zip_codes", ())),
        area_codes=tuple(zone_raw.get("area_codes", ())),
        priorities=priorities,
        campuses=tuple(campuses.values()),
        programs=tuple(programs),
        letters=letters,
        city=zone_raw.get("city", "").strip(),
        timezone=zone_raw.get("timezone", "America/Los_Angeles"),
        idle_minutes=idle,
        forms=forms,
    )


def load_zone(path: Path) -> Zone:
    """Read and check a zone.toml file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ZoneFileError("zone.file_missing", file=str(path)) from None
    except OSError as exc:
        raise ZoneFileError("zone.file_unreadable", file=str(path), reason=exc.strerror or str(exc)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ZoneFileError("zone.not_utf8", file=str(path)) from None
    return parse_zone_text(text, path)


def parse_zone_text(text: str, path: Path) -> Zone:
    """Parse and check zone.toml text; path is only used in messages."""
    try:
        raw = tomllib.loads(text.removeprefix("\ufeff"))  # Windows Notepad starts a UTF-8 file with a BOM
    except tomllib.TOMLDecodeError as exc:
        raise ZoneFileError("zone.syntax", file=str(path), reason=str(exc)) from None
    return parse_zone(raw, path)


def example_zone_text(name: str) -> str:
    """The commented zone.toml of a built-in example zone."""
    path = EXAMPLES_DIR / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in EXAMPLES_DIR.glob("*.toml")))
        raise InvalidInputError("init.unknown_example", name=name, known=known)
    return path.read_text(encoding="utf-8")
