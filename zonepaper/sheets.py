"""What goes to a spreadsheet: CSV text and .xlsx workbooks (XlsxWriter), written so that a cell is
never run as a formula.

A spreadsheet runs a cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return as a
formula (OWASP's "CSV injection"). In a CSV such a cell is written with a `'` before it, as OWASP
advises, and the import takes that `'` away again, so an export still imports back unchanged. In an
.xlsx every cell is written as text, never as a formula, a number or a link.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _quoted_formula(value: str) -> bool:
    """A formula's first character after zero or more `'`."""
    return value.lstrip("'").startswith(FORMULA_STARTS)


def guard_cell(value: str) -> str:
    """A CSV cell a spreadsheet will show, never run (one more `'` before a formula's first character)."""
    return "'" + value if _quoted_formula(value) else value


def unguard_cell(value: str) -> str:
    """What guard_cell was given (the import of an export)."""
    return value[1:] if value.startswith("'") and _quoted_formula(value) else value


def csv_text(header: list[str], rows: list[list[str]], excel: bool = False) -> str:
    """CSV with every cell guarded; excel=True: a byte-order mark and CRLF line ends, as Excel opens
    UTF-8 files without mangling accents."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n" if excel else "\n")
    writer.writerow(header)
    writer.writerows([guard_cell(str(v)) for v in row] for row in rows)
    return ("\ufeff" if excel else "") + out.getvalue()


def xlsx_bytes(header: list[str], rows: list[list[str]], sheet: str, kinds: list[str] | None = None) -> bytes:
    """A one-sheet workbook: a bold header row, frozen, columns as wide as what they hold; every cell as text
    (form numbers keep their zeros; nothing is a formula or a link), except the columns `kinds` makes
    "number" (a whole number, or blank) or "date" (YYYY-MM-DD, shown so); the same bytes for the same rows."""
    from datetime import date

    import xlsxwriter

    kinds = kinds or ["text"] * len(header)
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
                                     "strings_to_urls": False})
    book.set_properties({"created": datetime(2000, 1, 1)})
    page = book.add_worksheet(sheet[:31])
    bold = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for c, name in enumerate(header):
        page.write_string(0, c, name, bold)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            text = str(value)
            if kinds[c] == "number" and text.isdigit():
                page.write_number(r, c, int(text))
            elif kinds[c] == "date" and len(text) >= 10 and text[:4].isdigit():
                page.write_datetime(r, c, datetime.combine(date.fromisoformat(text[:10]), datetime.min.time()), day)
            elif kinds[c] in ("number", "date") and not text:
                page.write_blank(r, c, None)
            else:
                page.write_string(r, c, text)
    for c, name in enumerate(header):  # as wide as the longest value (or the header's longest word), within reason
        longest = max([len(str(row[c])) for row in rows] + [max(len(w) for w in name.split())]
                      + [10 * (kinds[c] == "date")])
        page.set_column(c, c, min(60, longest + 2))
    page.freeze_panes(1, 0)
    book.close()
    return out.getvalue()
