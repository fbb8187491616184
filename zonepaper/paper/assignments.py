"""The draw's result for the office: one row per application, as CSV or as an .xlsx workbook
(zonepaper/sheets.py: no cell is ever run as a formula)."""

from __future__ import annotations

import sqlite3

from zonepaper.paper.bins import load_draw, student_names
from zonepaper.serial import display_serial
from zonepaper.sheets import csv_text, xlsx_bytes
from zonepaper.zone import Zone

COLUMNS = ["form", "serial", "student", "grade", "letter_language", "assigned_program", "program_number",
           "program_name", "campus", "choice_rank", "reason", "lottery_number", "waitlists"]


def assignment_rows(conn: sqlite3.Connection, zone: Zone, draw_id: int | None = None) -> tuple[int, list[list[str]]]:
    """(draw id, rows) in form-number order; waitlists as 'program number: position' in rank order."""
    draw = load_draw(conn, draw_id)
    names = student_names(conn)
    language = dict(conn.execute("SELECT serial, value FROM fields WHERE name = 'letter_language'").fetchall())
    programs = {p.id: p for p in zone.programs}
    rows = []
    for serial in sorted(draw.results):
        r, a = draw.results[serial], draw.applicants.get(serial, {"choices": []})
        p = programs.get(r["assigned"])
        waits = "; ".join(f"{programs[c].number}: {r['waitlist'][c]}" for c in a["choices"] if c in r["waitlist"])
        rows.append([display_serial(serial), serial, names.get(serial, ""), str(r["grade"]), language.get(serial) or "",
                     r["assigned"], str(p.number) if p else "", p.name if p else "", p.campus.name if p else "",
                     str(r["rank"] or ""), r["reason"], r["lottery"], waits])
    return draw.id, rows


def to_csv(rows: list[list[str]], excel: bool = False) -> str:
    return csv_text(COLUMNS, rows, excel)


def to_xlsx(rows: list[list[str]], sheet: str = "Assignments") -> bytes:
    """A one-sheet workbook: a bold header row, frozen, with every cell as text (form numbers keep their zeros)."""
    return xlsx_bytes(COLUMNS, rows, sheet)
