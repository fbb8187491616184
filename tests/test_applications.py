"""Applications typed at the desk: CSV import, and the CSV/JSON export that imports back unchanged."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from conftest import cli

from zonepaper.applications import csv_columns
from zonepaper.cycle import Cycle
from zonepaper.forms.batch import print_forms
from zonepaper.serial import make_serial


def desk_row(zone, serial: str, **over) -> dict[str, str]:
    row = {c: "" for c in csv_columns(zone)}
    row.update(serial=serial, source="import", status="complete", received_batch="2009-03-02T10:15:00")
    values = {"last_name": "NÚÑEZ PEÑA", "first_name": "JOSÉ", "birth_date": "1994-11-02", "grade": "9",
              "current_school": "BERENDO MS", "address": "1200 COLTON ST APT 4", "zip": "90026",
              "phone": "2135550147", "guardian_name": "MARÍA PEÑA", "letter_language": "es", "sibling": "no",
              "signature": "present", "signature_date": "2009-03-02"}
    for name in (c for c in csv_columns(zone) if c.endswith("_status")):
        row[name] = "confirmed"
    row.update(values)
    row.update(choice_1="civitas", choice_2="lahsa", choice_3="alc")
    row.update(over)
    return row


def write_csv(path: Path, zone, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=csv_columns(zone))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def issued(cycle: Cycle) -> list[str]:
    return list(print_forms(cycle, 5, "desk").serials)


def import_elsewhere(cycle: Cycle, tmp_path: Path, exported: str) -> Cycle:
    """A copy of the cycle (the same serials issued) with no application yet, the export imported into it."""
    other = Cycle(tmp_path / "other")
    shutil.copytree(cycle.root, other.root)
    db = other.db()
    db.conn.execute("DELETE FROM fields")
    db.conn.execute("DELETE FROM applications")
    (tmp_path / "export.csv").write_text(exported, encoding="utf-8")
    assert cli("applications", "import", str(tmp_path / "export.csv"), "--cycle", str(other.root)) == 0
    return other


def test_import_then_export_round_trips_unchanged(cycle: Cycle, issued, tmp_path: Path, capsys) -> None:
    zone = cycle.zone()
    src = write_csv(tmp_path / "desk.csv", zone, [desk_row(zone, issued[0]),
                                                 desk_row(zone, issued[1], first_name="ANA", choice_3="",
                                                          sibling="yes", sibling_program="11")])
    assert cli("applications", "import", str(src), "--cycle", str(cycle.root)) == 0
    capsys.readouterr()
    assert cli("export", "applications", "--format", "csv", "--cycle", str(cycle.root)) == 0
    exported = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [r["serial"] for r in rows] == sorted(issued[:2])
    assert rows[0]["last_name"] == "NÚÑEZ PEÑA" and rows[0]["choice_1"] == "civitas"
    # the export imports into another cycle that issued the same serials, and exports identically
    other = import_elsewhere(cycle, tmp_path, exported)
    capsys.readouterr()
    assert cli("export", "applications", "--cycle", str(other.root)) == 0
    assert capsys.readouterr().out == exported
    events = [r[0] for r in cycle.db().conn.execute("SELECT kind FROM events WHERE kind = 'application.imported'")]
    assert len(events) == 2


def test_json_export_is_the_documented_contract(cycle: Cycle, issued, tmp_path: Path, capsys) -> None:
    zone = cycle.zone()
    cli("applications", "import", str(write_csv(tmp_path / "d.csv", zone, [desk_row(zone, issued[2])])),
        "--cycle", str(cycle.root))
    capsys.readouterr()
    out = tmp_path / "apps.json"
    assert cli("export", "applications", "--format", "json", "--out", str(out), "--cycle", str(cycle.root)) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["format"] == "zonepaper.applications" and data["version"] == 1
    assert data["cycle_id"] == cycle.info()["cycle_id"]
    app = data["applications"][0]
    assert set(app) == {"serial", "source", "status", "received_batch", "received_form", "flags", "fields",
                        "choices", "choices_status"}
    assert app["choices"] == ["civitas", "lahsa", "alc"]
    assert app["fields"]["birth_date"] == {"value": "1994-11-02", "status": "confirmed", "confidence": None}


@pytest.mark.parametrize("change,line_hint", [
    ({"serial": "0000017"}, "check digit"),
    ({"choice_2": "nowhere"}, "unknown program 'nowhere'"),
    ({"choice_2": "civitas"}, "ranked twice"),
    ({"zip_status": "maybe"}, "must be one of: auto, review, confirmed"),
])
def test_a_bad_row_names_its_line_and_nothing_is_imported(cycle: Cycle, issued, tmp_path: Path, capsys,
                                                           change, line_hint) -> None:
    zone = cycle.zone()
    second = desk_row(zone, issued[1])
    second.update(change)
    rows = [desk_row(zone, issued[0]), second]
    assert cli("applications", "import", str(write_csv(tmp_path / "x.csv", zone, rows)),
               "--cycle", str(cycle.root)) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and line_hint in err and "Nothing was imported" in err
    assert cycle.db().conn.execute("SELECT count(*) FROM applications").fetchone()[0] == 0


def test_serials_must_be_issued_and_unused(cycle: Cycle, issued, tmp_path: Path, capsys) -> None:
    zone = cycle.zone()
    never = make_serial(900000)
    assert cli("applications", "import", str(write_csv(tmp_path / "a.csv", zone, [desk_row(zone, never)])),
               "--cycle", str(cycle.root)) == 2
    assert "never issued" in capsys.readouterr().err
    ok = write_csv(tmp_path / "b.csv", zone, [desk_row(zone, issued[0])])
    assert cli("applications", "import", str(ok), "--cycle", str(cycle.root)) == 0
    assert cli("applications", "import", str(ok), "--cycle", str(cycle.root)) == 2
    assert "already exists" in capsys.readouterr().err
    (tmp_path / "c.csv").write_text("serial,name\n1,2\n", encoding="utf-8")
    assert cli("applications", "import", str(tmp_path / "c.csv"), "--cycle", str(cycle.root)) == 2
    assert "expected columns" in capsys.readouterr().err


@pytest.mark.parametrize("change", [{"source": "desk"}, {"grade_status": "maybe"}, {"choice_2": "nowhere"},
                                    {"serial": "000001-0"}])
def test_a_bad_row_reads_in_spanish_with_no_english_in_it(cycle: Cycle, issued, tmp_path: Path, capsys,
                                                         monkeypatch: pytest.MonkeyPatch, change) -> None:
    """The office reads Spanish first: the reason a row is refused is translated too, not English inside Spanish."""
    monkeypatch.setenv("ZONEPAPER_LANG", "es")
    zone = cycle.zone()
    row = desk_row(zone, issued[0])
    row.update(change)
    path = write_csv(tmp_path / "x.csv", zone, [row])
    assert cli("applications", "import", str(path), "--cycle", str(cycle.root)) == 2
    err = capsys.readouterr().err
    assert "línea 2" in err and "No se importó nada" in err
    for english in ("must be", "unknown", "not a valid", "line", "Fix", "check digit"):
        assert english not in err, err


def test_one_imported_application_is_singular(cycle: Cycle, issued, tmp_path: Path, capsys) -> None:
    zone = cycle.zone()
    path = write_csv(tmp_path / "one.csv", zone, [desk_row(zone, issued[0])])
    assert cli("applications", "import", str(path), "--cycle", str(cycle.root)) == 0
    assert "Imported 1 application from" in capsys.readouterr().out


@pytest.mark.parametrize("column,value,hint", [
    ("birth_date", "1995-02-30", "is not a date anyone could have written"),  # no February 30th
    ("birth_date", "1895-03-14", "is not a date anyone could have written"),  # a year no family writes
    ("signature_date", "03/02/2009", "is not a date YYYY-MM-DD"),
    ("zip", "9002", "is not a 5-digit ZIP"),
    ("phone", "1135550147", "phone number that can be dialled"),  # an area code cannot start with 1
    ("sibling_program", "25", "is not a program's number (1 to 19)"),
    ("grade", "13", "is not a possible answer (use: 9)"),
    ("letter_language", "fr", "use: es / en / other"),
    ("signature", "yes", "use: present / missing"),
    ("last_name", "X" * 81, "longer than 80 characters"),
])
def test_an_imported_value_must_keep_its_fields_rules(cycle: Cycle, issued, tmp_path: Path, capsys, column: str,
                                                      value: str, hint: str) -> None:
    """A value marked 'confirmed' in a CSV is held to the same rules as one read or typed: none is stored."""
    zone = cycle.zone()
    rows = [desk_row(zone, issued[0]), desk_row(zone, issued[1], **{column: value})]
    path = write_csv(tmp_path / "x.csv", zone, rows)
    assert cli("applications", "import", str(path), "--cycle", str(cycle.root)) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and f"column '{column}'" in err and hint in err, err
    assert cycle.db().conn.execute("SELECT count(*) FROM applications").fetchone()[0] == 0


def test_a_value_still_in_review_imports_back_as_the_machine_read_it(cycle: Cycle, issued, tmp_path: Path) -> None:
    """A birth date the reader could not make a date of (raw digits, in review) round-trips; a person decides."""
    zone = cycle.zone()
    path = write_csv(tmp_path / "r.csv", zone, [desk_row(zone, issued[0], birth_date="07737335",
                                                         birth_date_status="review", status="review")])
    assert cli("applications", "import", str(path), "--cycle", str(cycle.root)) == 0
    row = cycle.db().conn.execute("SELECT value, status FROM fields WHERE name = 'birth_date'").fetchone()
    assert row == ("07737335", "review")


def _import_text(cycle: Cycle, tmp_path: Path, text: str, capsys) -> tuple[int, str]:
    path = tmp_path / "desk.csv"
    path.write_text(text, encoding="utf-8")
    code = cli("applications", "import", str(path), "--cycle", str(cycle.root))
    return code, capsys.readouterr().err


def _csv_text(zone, rows: list[dict[str, str]], delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=csv_columns(zone), delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize("change,column,hint", [
    ({"received_batch": "not a date"}, "received_batch", "it orders applications in the draw"),
    ({"received_form": "2009-13-01"}, "received_form", "is not a date YYYY-MM-DD or a date and time"),
    ({"choice_2": "", "choice_3": "alc"}, "choice_2", "choices are not moved up silently"),
    ({"signature_date": "yesterday"}, "signature_date", "is not a date YYYY-MM-DD"),
    ({"birth_date": "2031-01-01"}, "birth_date", "is not a date anyone could have written"),
    ({"zip": "ABCDE"}, "zip", "is not a 5-digit ZIP"),
    ({"sibling": "maybe"}, "sibling", "is not a possible answer"),
])
def test_every_value_outside_its_rules_is_refused_with_line_and_column(cycle: Cycle, issued, tmp_path: Path,
                                                                        capsys, change, column, hint) -> None:
    zone = cycle.zone()
    code, err = _import_text(cycle, tmp_path, _csv_text(zone, [desk_row(zone, issued[0], **change)]), capsys)
    assert code == 2 and "line 2" in err and f"column '{column}'" in err and hint in err, err
    assert cycle.db().conn.execute("SELECT count(*) FROM applications").fetchone()[0] == 0


def test_a_csv_as_spreadsheets_really_write_it(cycle: Cycle, issued, tmp_path: Path, capsys) -> None:
    zone = cycle.zone()
    rows = [desk_row(zone, issued[0]), desk_row(zone, issued[1])]
    # Spanish Excel separates with ";"; another tool puts a space after each comma of the header
    code, err = _import_text(cycle, tmp_path, _csv_text(zone, rows, ";"), capsys)
    assert code == 0, err
    spaced = _csv_text(zone, [desk_row(zone, issued[2])]).split("\n", 1)
    code, err = _import_text(cycle, tmp_path, spaced[0].replace(",", ", ") + "\n" + spaced[1], capsys)
    assert code == 0, err
    assert cycle.db().conn.execute("SELECT count(*) FROM applications").fetchone()[0] == 3


@pytest.mark.parametrize("damage,hint", [
    (lambda text: text.replace("BERENDO MS", "BERENDO\0MS", 1), "NUL character"),
    (lambda text: text.replace("BERENDO MS", "B" * 200_000, 1), "a cell is longer than 131072 characters"),
    (lambda text: text.rstrip("\r\n") + ",extra,cells\r\n", "2 more cell(s) than the header's columns"),
    (lambda text: text.rsplit(",", 3)[0] + "\r\n", "the row ends before this column"),
])
def test_a_damaged_csv_is_refused_in_plain_words(cycle: Cycle, issued, tmp_path: Path, capsys, damage, hint) -> None:
    zone = cycle.zone()
    code, err = _import_text(cycle, tmp_path, damage(_csv_text(zone, [desk_row(zone, issued[0])])), capsys)
    assert code == 2 and hint in err and "line 2" in err, err
    assert "Traceback" not in err and "unexpected problem" not in err


def test_no_exported_cell_is_ever_run_as_a_formula_and_the_export_still_imports_back(cycle: Cycle, issued,
                                                                                    tmp_path: Path, capsys) -> None:
    import openpyxl

    from zonepaper.sheets import xlsx_bytes

    zone = cycle.zone()
    hostile = {"last_name": "=1+1", "first_name": "+A", "address": "@SUM(A1)", "guardian_name": "-2+3",
               "current_school": "'QUOTED"}  # what a typist (or someone else) can put in a name cell
    src = write_csv(tmp_path / "desk.csv", zone, [desk_row(zone, issued[0], **hostile)])
    assert cli("applications", "import", str(src), "--cycle", str(cycle.root)) == 0
    capsys.readouterr()
    assert cli("export", "applications", "--cycle", str(cycle.root)) == 0
    exported = capsys.readouterr().out
    row = next(csv.DictReader(io.StringIO(exported)))
    assert row["last_name"] == "'=1+1" and row["first_name"] == "'+A" and row["address"] == "'@SUM(A1)"
    assert row["guardian_name"] == "'-2+3" and row["current_school"] == "'QUOTED"
    assert cli("export", "applications", "--excel", "--cycle", str(cycle.root)) == 0
    excel = capsys.readouterr().out
    assert excel.startswith("\ufeffserial,") and "\r\n" in excel and excel.replace("\r\n", "\n")[1:] == exported
    other = import_elsewhere(cycle, tmp_path, excel)  # the export imports back unchanged
    stored = dict(other.db().conn.execute("SELECT name, value FROM fields WHERE name IN "
                                          "('last_name', 'first_name', 'address', 'guardian_name', 'current_school')"))
    assert stored == hostile
    from zonepaper.sheets import guard_cell, unguard_cell

    for value in ("=1", "'=1", "''=1", "'", "'a", "-", "a=b", "\t1", ""):
        assert unguard_cell(guard_cell(value)) == value
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(["name"], [["=1+1"], ["@SUM(A1)"]], "t")))
    cells = [book.active.cell(row=r, column=1) for r in (2, 3)]
    assert [(c.value, c.data_type) for c in cells] == [("=1+1", "s"), ("@SUM(A1)", "s")]  # text, not formulas
