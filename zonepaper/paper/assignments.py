"""The draw's result for the office: one row per application, as CSV or as an .xlsx workbook.

The .xlsx is written directly (a zip of a few XML parts, as the Office Open XML format
defines them), so no spreadsheet library is needed.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import zipfile
from xml.sax.saxutils import escape

from zonepaper.paper.bins import load_draw, student_names
from zonepaper.serial import display_serial
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


def to_csv(rows: list[list[str]]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


def _column(n: int) -> str:
    name = ""
    n += 1
    while n:
        n, rem = divmod(n - 1, 26)
        name = chr(65 + rem) + name
    return name


def to_xlsx(rows: list[list[str]], sheet: str = "Assignments") -> bytes:
    """A one-sheet workbook: a bold header row, frozen, with every cell as text (form numbers keep their zeros)."""
    def row_xml(r: int, values: list[str], style: int) -> str:
        cells = "".join(f'<c r="{_column(i)}{r}" t="inlineStr" s="{style}"><is><t xml:space="preserve">'
                        f'{escape(str(v))}</t></is></c>' for i, v in enumerate(values))
        return f'<row r="{r}">{cells}</row>'

    body = row_xml(1, COLUMNS, 1) + "".join(row_xml(i + 2, row, 0) for i, row in enumerate(rows))
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheets><sheet name="{escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'worksheet" Target="worksheets/sheet1.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'styles" Target="styles.xml"/></Relationships>'),
        "xl/styles.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
            '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
            '<cellXfs count="2"><xf fontId="0"/><xf fontId="1" applyFont="1"/></cellXfs></styleSheet>'),
        "xl/worksheets/sheet1.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
            f'state="frozen"/></sheetView></sheetViews><sheetData>{body}</sheetData></worksheet>'),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, xml in parts.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0)), xml.encode("utf-8"),
                       compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
