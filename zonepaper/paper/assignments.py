"""The draw's result for the office: one row per application, as CSV or as an .xlsx workbook
(zonepaper/sheets.py: no cell is ever run as a formula)."""

from __future__ import annotations

import sqlite3

from zonepaper.paper.bins import load_draw, student_names
from zonepaper.serial import display_serial
from zonepaper.sheets import csv_text, xlsx_bytes
from zonepaper.text import both_languages
from zonepaper.zone import Zone

COLUMNS = ["form", "serial", "student", "grade", "letter_language", "assigned_program", "program_number",
           "program_name", "campus", "choice_rank", "reason", "lottery_number", "waitlists", "guardian",
           "family_phone", "received"]
# The office's workbook: what staff need to read the result and call a family, headed in both languages,
# with words for codes, numbers as numbers and the received date as a date.
OFFICE = [("form", "text"), ("student", "text"), ("guardian", "text"), ("family_phone", "text"),
          ("letter_language", "text"), ("grade", "number"), ("outcome", "text"), ("program_number", "number"),
          ("program_name", "text"), ("campus", "text"), ("choice_rank", "number"), ("waitlists", "text"),
          ("received", "date"), ("lottery_number", "text")]


def assignment_rows(conn: sqlite3.Connection, zone: Zone, draw_id: int | None = None) -> tuple[int, list[list[str]]]:
    """(draw id, rows of COLUMNS) in form-number order; waitlists as 'program number: position' in rank order."""
    draw = load_draw(conn, draw_id)
    names = student_names(conn)
    values: dict[str, dict[str, str]] = {}
    for serial, name, value in conn.execute("SELECT serial, name, value FROM fields WHERE name IN "
                                            "('letter_language', 'guardian_name', 'phone')"):
        values.setdefault(serial, {})[name] = value or ""
    programs = {p.id: p for p in zone.programs}
    rows = []
    for serial in sorted(draw.results):
        r, a = draw.results[serial], draw.applicants.get(serial, {"choices": [], "received": ""})
        v = values.get(serial, {})
        p = programs.get(r["assigned"])
        waits = "; ".join(f"{programs[c].number}: {r['waitlist'][c]}" for c in a["choices"] if c in r["waitlist"])
        rows.append([display_serial(serial), serial, names.get(serial, ""), str(r["grade"]),
                     v.get("letter_language", ""),
                     r["assigned"], str(p.number) if p else "", p.name if p else "", p.campus.name if p else "",
                     str(r["rank"] or ""), r["reason"], r["lottery"], waits, v.get("guardian_name", ""),
                     v.get("phone", ""), a.get("received", "")])
    return draw.id, rows


def to_csv(rows: list[list[str]], excel: bool = False) -> str:
    return csv_text(COLUMNS, rows, excel)


def _phone(digits: str) -> str:
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}" if len(digits) == 10 and digits.isdigit() else digits


def office_row(row: list[str]) -> list[str]:
    """One row of COLUMNS as the office reads it (OFFICE's columns): words for the outcome and the language."""
    v = dict(zip(COLUMNS, row))
    outcome = "seat" if v["assigned_program"] else v["reason"] or "no_seat"
    words = {"outcome": both_languages("paper", f"office.outcome_{outcome}"),
             "letter_language": both_languages("paper", f"office.language_{v['letter_language'] or 'es'}"),
             "family_phone": _phone(v["family_phone"])}
    return [words.get(name, v.get(name, "")) for name, _ in OFFICE]


def to_xlsx(rows: list[list[str]], sheet: str = "Assignments") -> bytes:
    """The office's workbook: OFFICE's columns headed in Spanish and English, a bold frozen header row, fitted
    widths; form numbers as text (they keep their zeros), counts as numbers, the received date as a date."""
    header = [both_languages("paper", f"office.col_{name}") for name, _ in OFFICE]
    return xlsx_bytes(header, [office_row(r) for r in rows], sheet, [kind for _, kind in OFFICE])
