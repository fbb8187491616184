"""Applications as rows: `zonepaper export applications` and `zonepaper applications import`.

The CSV has one row per application and the same columns both ways, so an export imports
back unchanged into a cycle that issued the same serials:

    serial, source, status, received_batch, received_form, flags,
    then for every field (fields.CSV_FIELDS): <field> and <field>_status,
    then choice_1 ... choice_K (program ids in rank order) and choices_status.

Dates are YYYY-MM-DD, flags are separated by ';', a status is auto, review or confirmed.
The JSON export is {"format": "zonepaper.applications", "version": 1, "cycle_id": ...,
"applications": [{"serial", "source", "status", "received_batch", "received_form", "flags",
"fields": {name: {"value", "status", "confidence"}}, "choices": [...], "choices_status"}]}.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

from zonepaper.errors import ConflictError, InvalidInputError, file_problem
from zonepaper.fields import (CSV_FIELDS, MAX_TEXT, SIGNATURE_VALUES, SINGLE_FIELDS, received_time,
                              stored_value_problem)
from zonepaper.layout import build_layout
from zonepaper.serial import is_valid_serial, normalize_serial
from zonepaper.sheets import csv_text, unguard_cell
from zonepaper.store.database import write_transaction
from zonepaper.store.freeze import ensure_not_frozen
from zonepaper.store.records import Given, NewApplication, create_application
from zonepaper.text import Phrase
from zonepaper.zone import Zone

STATUSES = ("auto", "review", "confirmed")
APP_STATUSES = ("complete", "review", "held")
FORMAT_VERSION = 1


def csv_columns(zone: Zone) -> list[str]:
    """The CSV header, in order."""
    cols = ["serial", "source", "status", "received_batch", "received_form", "flags"]
    for name in CSV_FIELDS:
        cols += [name, f"{name}_status"]
    cols += [f"choice_{k}" for k in range(1, zone.max_choices + 1)] + ["choices_status"]
    return cols


def load_applications(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every application with its fields, ordered by serial."""
    fields: dict[str, dict[str, dict[str, Any]]] = {}
    for serial, name, value, status, confidence in db.conn.execute(
            "SELECT serial, name, value, status, confidence FROM fields"):
        fields.setdefault(serial, {})[name] = {"value": value or "", "status": status, "confidence": confidence}
    apps = []
    for serial, source, status, batch, form, flags in db.conn.execute(
            "SELECT serial, source, status, received_batch, received_form, flags FROM applications ORDER BY serial"):
        f = fields.get(serial, {})
        choices = f.pop("choices", {"value": "", "status": "review", "confidence": None})
        apps.append({"serial": serial, "source": source, "status": status, "received_batch": batch or "",
                     "received_form": form or "", "flags": json.loads(flags), "fields": f,
                     "choices": [c for c in choices["value"].split(",") if c], "choices_status": choices["status"]})
    return apps


def export_csv(db: sqlite_utils.Database, zone: Zone, excel: bool = False) -> str:
    """All applications as CSV text (no cell a spreadsheet would run as a formula; excel=True: with a BOM
    and CRLF line ends)."""
    rows = []
    for app in load_applications(db):
        row = [app["serial"], app["source"], app["status"], app["received_batch"], app["received_form"],
               ";".join(app["flags"])]
        for name in CSV_FIELDS:
            f = app["fields"].get(name, {"value": "", "status": "review"})
            row += [f["value"], f["status"]]
        row += [app["choices"][k] if k < len(app["choices"]) else "" for k in range(zone.max_choices)]
        row.append(app["choices_status"])
        rows.append(row)
    return csv_text(csv_columns(zone), rows, excel)


def export_json(db: sqlite_utils.Database, cycle_id: str) -> str:
    """All applications as the documented JSON contract."""
    return json.dumps({"format": "zonepaper.applications", "version": FORMAT_VERSION, "cycle_id": cycle_id,
                       "applications": load_applications(db)}, ensure_ascii=False, indent=1)


DELIMITERS = (",", ";", "\t")
EXTRA = "\0extra"  # where csv puts cells beyond the header's columns


def _bad(line: int, column: str, problem: Phrase, file: Path) -> InvalidInputError:
    return InvalidInputError("import.bad_row", file=str(file), line=line, column=column, problem=problem)


def parse_csv(path: Path, zone: Zone, issued: set[str], existing: set[str]) -> list[dict[str, Any]]:
    """Read and check every row; the first bad one raises with its line number (nothing is imported)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError("import.unreadable", file=str(path), reason=file_problem(exc)) from None
    if "\0" in text:
        line = text[: text.index("\0")].count("\n") + 1
        raise _bad(line, "-", Phrase("import.problem.nul"), path)
    header = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=header.count)  # Spanish Excel writes ";", some exports a tab
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter, restkey=EXTRA)
    expected = csv_columns(zone)
    names = [c.strip() for c in reader.fieldnames or []]  # "serial, source, ..." (a space after each comma)
    if names != expected:
        missing = [c for c in expected if c not in names]
        raise InvalidInputError("import.bad_header", file=str(path), missing=", ".join(missing) or "-",
                                expected=", ".join(expected[:8]) + ", ...", delimiter=repr(delimiter))
    reader.fieldnames = names
    try:
        return _check_rows(reader, path, zone, issued, existing)
    except csv.Error as exc:  # a cell larger than csv's limit, a quote never closed: on the line being read
        huge = "field larger than field limit" in str(exc)
        problem = Phrase("import.problem.huge_cell", {"limit": csv.field_size_limit()}) if huge else \
            Phrase("import.problem.malformed")
        raise _bad(reader.line_num + (1 if huge else 0), "-", problem, path) from None


def _check_rows(reader: csv.DictReader, path: Path, zone: Zone, issued: set[str], existing: set[str]
                ) -> list[dict[str, Any]]:
    programs = {p.id for p in zone.programs}
    layout = build_layout(zone)
    options = {name: tuple(b.value for b in layout.field(name).bubbles) for name in SINGLE_FIELDS}
    rows, seen = [], set()
    for row in reader:
        line = reader.line_num
        row = {k: unguard_cell(v) if isinstance(v, str) else v for k, v in row.items()}  # an export's "'=..."
        if row.get(EXTRA):
            raise _bad(line, "-", Phrase("import.problem.extra_cells", {"count": len(row[EXTRA])}), path)
        if any(v is None for v in row.values()):
            missing = next(k for k, v in row.items() if v is None)
            raise _bad(line, missing, Phrase("import.problem.short_row"), path)
        for column in ("received_batch", "received_form"):
            if row[column] and received_time(row[column]) is None:
                raise _bad(line, column, Phrase("import.problem.not_a_time", {"value": row[column][:40]}), path)
        serial = normalize_serial(row["serial"] or "")
        if not is_valid_serial(serial):
            raise _bad(line, "serial", Phrase("import.problem.check_digit"), path)
        if serial not in issued:
            raise _bad(line, "serial", Phrase("import.problem.not_issued"), path)
        if serial in existing or serial in seen:
            raise _bad(line, "serial", Phrase("import.problem.exists"), path)
        seen.add(serial)
        if row["source"] not in ("scan", "import"):
            raise _bad(line, "source", Phrase("import.problem.one_of", {"allowed": "scan, import"}), path)
        if row["status"] not in APP_STATUSES:
            raise _bad(line, "status", Phrase("import.problem.one_of", {"allowed": ", ".join(APP_STATUSES)}), path)
        fields = {}
        for name in CSV_FIELDS:
            status = row[f"{name}_status"]
            if status not in STATUSES:
                raise _bad(line, f"{name}_status", Phrase("import.problem.one_of", {"allowed": ", ".join(STATUSES)}),
                           path)
            value = row[name] or ""
            # A value accepted or confirmed keeps its field's rules, as one read or typed in review does; one
            # still in review is the machine's reading, which a person will check (an export imports back).
            problem = stored_value_problem(name, value, zone, options.get(name, ())) if status != "review" else None
            if problem:
                raise _bad(line, name, Phrase(f"import.problem.{problem}", {
                    "value": value[:40], "allowed": " / ".join(options.get(name, SIGNATURE_VALUES)),
                    "count": len(zone.programs), "max": MAX_TEXT}), path)
            fields[name] = {"value": value, "status": status}
        ranked = [row[f"choice_{k}"].strip() for k in range(1, zone.max_choices + 1)]
        gap = next((k for k in range(1, len(ranked)) if ranked[k] and not ranked[k - 1]), None)
        if gap is not None:  # a family's 3rd choice is not its 2nd because the 2nd was left empty
            raise _bad(line, f"choice_{gap}", Phrase("import.problem.choice_gap", {"next": gap + 1}), path)
        choices = [c for c in ranked if c]
        for k, c in enumerate(choices, start=1):
            if c not in programs:
                raise _bad(line, f"choice_{k}", Phrase("import.problem.unknown_program", {"program": c}), path)
        if len(set(choices)) != len(choices):
            raise _bad(line, "choice_1", Phrase("import.problem.ranked_twice"), path)
        if row["choices_status"] not in STATUSES:
            raise _bad(line, "choices_status", Phrase("import.problem.one_of", {"allowed": ", ".join(STATUSES)}), path)
        rows.append({"serial": serial, "source": row["source"], "status": row["status"],
                     "received_batch": row["received_batch"], "received_form": row["received_form"],
                     "flags": [f for f in row["flags"].split(";") if f], "fields": fields, "choices": choices,
                     "choices_status": row["choices_status"]})
    return rows


def import_csv(db: sqlite_utils.Database, zone: Zone, path: Path, actor: str = "zonepaper") -> int:
    """Import every row of a CSV in one transaction; returns how many applications were added."""
    conn = db.conn
    issued = {r[0] for r in conn.execute("SELECT serial FROM serials")}
    existing = {r[0] for r in conn.execute("SELECT serial FROM applications")}
    rows = parse_csv(path, zone, issued, existing)
    try:
        with write_transaction(conn):
            ensure_not_frozen(conn)
            for app in rows:
                _insert(conn, app, actor)
    except sqlite3.IntegrityError as exc:
        raise ConflictError("import.conflict", file=str(path), reason=str(exc)) from None
    return len(rows)


def _insert(conn: sqlite3.Connection, app: dict[str, Any], actor: str) -> None:
    fields = [Given(name, f["value"], f["status"]) for name, f in app["fields"].items()]
    fields.append(Given("choices", ",".join(app["choices"]), app["choices_status"]))
    record = NewApplication(app["serial"], app["source"], app["received_batch"], app["received_form"],
                            tuple(app["flags"]), app["status"])
    create_application(conn, record, fields, None, actor, "application.imported", {})
