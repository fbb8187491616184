"""What a reviewer may type for each field, and how it is stored (the same form the reader stores)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from zonepaper.fields import BY_NAME, MAX_TEXT, SIGNATURE_VALUES, spec, stored_value_problem
from zonepaper.layout import Layout, build_slip_layout
from zonepaper.text import load_catalog
from zonepaper.zone import Zone


@dataclass(frozen=True)
class BadValue(Exception):
    """A typed value that cannot be stored: a message key under [web.bad] and its parameters."""

    key: str
    params: tuple[tuple[str, str], ...] = ()


def field_kind(name: str) -> str:
    """How the page shows a field: date, digits, text, choices, option or signature (from the schema)."""
    return BY_NAME[name].review_kind if name in BY_NAME else name


def option_values(name: str, layout: Layout) -> list[str]:
    """What a bubbles field can hold (the letter's reply slip has its own layout)."""
    field = build_slip_layout(layout.paper).field(name) if spec(name).sheet == "slip" else layout.field(name)
    return [b.value for b in field.bubbles]


def _plain(word: str) -> str:
    """A word as compared: lower case, without accents ("Sí" is "si")."""
    return "".join(c for c in unicodedata.normalize("NFD", word.strip().lower()) if not unicodedata.combining(c))


def answer_words(value: str, lang: str) -> list[str]:
    """The words that stand for a stored answer (forms/web.toml [answer]), the first as the page shows it."""
    entry = load_catalog("web").get(f"answer.{value}")
    return [w.strip() for w in entry[lang].split(",")] if entry else [value]


def typed_answer(text: str, allowed: list[str]) -> str | None:
    """The stored answer for what a person typed: the code itself, or one of its words in either language;
    None when it is none of them (or stands for two of them)."""
    plain = _plain(text)
    hits = {v for v in allowed if plain == _plain(v) or any(plain == _plain(w) for lang in ("es", "en")
                                                             for w in answer_words(v, lang))}
    return hits.pop() if len(hits) == 1 else None


def parse_date(text: str) -> date | None:
    """MMDDYYYY as on the form, MM/DD/YYYY, or YYYY-MM-DD; None when it is not a real date."""
    text = text.strip()
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    us = re.fullmatch(r"(\d{1,2})[/.\- ](\d{1,2})[/.\- ](\d{4})", text)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if us:
            return date(int(us[3]), int(us[1]), int(us[2]))
        if re.fullmatch(r"\d{8}", text):
            return date(int(text[4:]), int(text[:2]), int(text[2:4]))
    except ValueError:
        return None
    return None


# What the field's rules (fields.stored_value_problem, the same the reader and the CSV import keep) say
# about a well-formed value that still cannot be this field's: a person may store it anyway only by
# saying the form really says it (a coordinator, recorded as such).
RULE_PROBLEMS = ("impossible_date", "not_a_zip", "not_a_phone", "not_a_program_number")


def normalize_value(name: str, text: str, zone: Zone, layout: Layout, as_written: bool = False) -> str:
    """The value to store for what a reviewer typed; raises BadValue with a plain-words reason.

    The value must be well formed and keep its field's rules; with as_written=True (a coordinator's
    "the form really says this") only well formed."""
    text = unicodedata.normalize("NFC", text or "")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") and c not in "\t\n\r" for c in text):
        raise BadValue("control")  # a NUL, a right-to-left override: never stored, never exported
    value = _well_formed(name, " ".join(text.split()), zone, layout)
    options = tuple(option_values(name, layout)) if field_kind(name) == "option" else ()
    problem = stored_value_problem(name, value, zone, options) if field_kind(name) != "choices" else None
    if problem in RULE_PROBLEMS and not as_written:
        raise BadValue(problem)
    return value


def _well_formed(name: str, text: str, zone: Zone, layout: Layout) -> str:
    kind = field_kind(name)
    if kind == "choices":
        return ",".join(parse_choices(text, zone))
    if not text:
        return ""
    if kind == "date":
        d = parse_date(text)
        if d is None:
            raise BadValue("date")
        return d.isoformat()
    if kind == "digits":
        digits = re.sub(r"[\s\-().]", "", text)
        if not digits.isdigit():
            raise BadValue("digits")
        if name == "zip" and len(digits) != 5:
            raise BadValue("zip")
        if name == "phone" and len(digits) != 10:
            raise BadValue("phone")
        if name == "sibling_program":
            if not 1 <= int(digits) <= len(zone.programs):
                raise BadValue("program", (("count", str(len(zone.programs))),))
            return str(int(digits))
        return digits
    if kind in ("option", "signature"):
        allowed = option_values(name, layout) if kind == "option" else list(SIGNATURE_VALUES)
        answer = typed_answer(text, allowed)
        if answer is None:
            raise BadValue("option", (("allowed", " / ".join(allowed)),))
        return answer
    if len(text) > MAX_TEXT:
        raise BadValue("too_long", (("max", str(MAX_TEXT)),))
    return text.upper()


def parse_choices(text: str, zone: Zone) -> list[str]:
    """Program numbers (as printed on the form) or ids, in rank order, separated by spaces or commas."""
    by_number = {str(p.number): p.id for p in zone.programs}
    ids = {p.id for p in zone.programs}
    chosen: list[str] = []
    for token in re.split(r"[\s,;]+", text.strip()):
        if not token:
            continue
        program = by_number.get(token.lstrip("0") or "0") or (token if token in ids else None)
        if program is None:
            raise BadValue("no_program", (("token", token[:12]), ("count", str(len(zone.programs)))))
        if program in chosen:
            raise BadValue("twice", (("token", token[:12]),))
        chosen.append(program)
    if len(chosen) > zone.max_choices:
        raise BadValue("too_many", (("max", str(zone.max_choices)),))
    return chosen
