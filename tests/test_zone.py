"""zone.toml: the example is valid; every mistake stops with one fix-it message and exit code 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import cli, cli_subprocess

from zonepaper.cycle import Cycle
from zonepaper.zone import load_zone

EXAMPLE = Path(__file__).parent.parent / "zonepaper" / "examples" / "belmont.toml"


def test_example_zone_is_the_belmont_zone() -> None:
    zone = load_zone(EXAMPLE)
    assert {c.name for c in zone.campuses} == {
        "Belmont High School", "Miguel Contreras Learning Complex", "Edward R. Roybal Learning Complex",
        "Central Los Angeles High School #9"}
    names = {p.name for p in zone.programs}
    assert len(zone.programs) == 19
    assert {"Civitas School of Leadership", "Los Angeles High School of the Arts",
            "School for Visual Arts and Humanities", "Academic Leadership Community",
            "Los Angeles Teacher Preparation Academy"} <= names
    assert all(75 <= p.seats[9] <= 125 for p in zone.programs)
    assert [p.id for p in zone.priorities] == ["sibling", "resident"]
    assert zone.max_choices == 5 and zone.mechanism == "da" and zone.grades == (9,)
    text = EXAMPLE.read_text(encoding="utf-8")
    made_up = text.count("# made-up name")
    assert made_up == 14  # every program not in the list of real names says so


def edit_zone(cycle: Cycle, old: str, new: str, count: int = 1) -> None:
    text = cycle.zone_path.read_text(encoding="utf-8")
    assert old in text, old
    cycle.zone_path.write_text(text.replace(old, new, count), encoding="utf-8")


CASES = [
    # (what to change, replacement, key named in the message, words of the fix)
    ('max_choices = 5 ', 'max_choices = 5\ncolour = "blue" ', "zone.colour", "unknown key"),
    ('id = "alc"', 'id = "latpa"', "programs[6].id", "appears twice"),
    ("seats = { 9 = 110 }", "seats = { 9 = -3 }", "programs[6].seats.9", "from 0 to 100000"),
    ("seats = { 9 = 110 }", "seats = { 9 = 1000000000000000000000000000000 }", "programs[6].seats.9",
     "from 0 to 100000"),
    ("seats = { 9 = 110 }", 'seats = { "²" = 110 }', "programs[6].seats.²", "grades in zone.grades"),
    ("seats = { 9 = 110 }", 'seats = { "９" = 110 }', "programs[6].seats.９", "grades in zone.grades"),
    ('name = "Belmont High School"', 'name = "' + "B" * 5000 + '"', "campuses[1].name", "at most 200 fit"),
    ('zip_codes = ["90004"', 'zip_codes = ["9OOO4"', "zone.zip_codes", "5-digit ZIP codes"),
    ("seats = { 9 = 110 }", "seats = { }", "programs[6].seats.9", "are missing"),
    ("seats = { 9 = 110 }\n", "\n", "programs[6].seats", "is missing"),
    ('label = { es = "Vive dentro de la zona", en = "Lives in the zone" }',
     'label = { en = "Lives in the zone" }', "priorities[2].label.es", "no text in language 'es'"),
    ("max_choices = 5", "max_choices = 25", "zone.max_choices", "only 19 programs"),
    ('mechanism = "da"', 'mechanism = "random"', "zone.mechanism", "da / bins / fcfs"),
    ('campus = "roybal"', 'campus = "roybl"', "programs[11].campus", "not in [[campuses]]"),
    ('cycle = "2009-2010"', 'cycle = "2009-2010', "", "TOML syntax error"),
    ('timezone = "America/Los_Angeles"', 'timezone = "Pacific Time"', "zone.timezone", '"America/Los_Angeles"'),
    ("offer_reply_days = 7", "offer_reply_days = 0", "letters.offer_reply_days", "from 1 to 60"),
    ("other_languages = [", "other_languages = [42, ", "letters.other_languages", "a list of texts"),
]


@pytest.mark.parametrize("old,new,key,words", CASES)
def test_zone_mistakes_stop_with_key_fix_and_exit_2(cycle: Cycle, capsys, old, new, key, words) -> None:
    edit_zone(cycle, old, new)
    code = cli("zone", "check", "--cycle", str(cycle.root))
    err = capsys.readouterr().err
    assert code == 2
    assert str(cycle.zone_path) in err
    assert f"'{key}'" in err or not key
    assert words in err
    assert "Fix:" in err
    assert "Traceback" not in err


def test_full_width_zips_and_a_bom_are_read_as_meant(cycle: Cycle) -> None:
    edit_zone(cycle, 'zip_codes = ["90004", "90012"', 'zip_codes = ["９０００４", "90012"')
    cycle.zone_path.write_bytes(b"\xef\xbb\xbf" + cycle.zone_path.read_bytes())  # saved by Windows Notepad
    zone = load_zone(cycle.zone_path)
    assert zone.zip_codes[:2] == ("90004", "90012")  # a family writing 90004 keeps its priority


def test_zone_error_reaches_forms_print_as_the_real_command(cycle: Cycle) -> None:
    edit_zone(cycle, "seats = { 9 = 110 }", "seats = { 9 = -3 }")
    result = cli_subprocess("forms", "print", "--count", "2", "--cycle", str(cycle.root))
    assert result.returncode == 2
    assert "programs[6].seats.9" in result.stderr and "Traceback" not in result.stderr
    # nothing was issued for a zone that does not load
    assert cycle.db()["serials"].count == 0


def test_error_is_bilingual_by_default(cycle: Cycle, capsys, monkeypatch) -> None:
    monkeypatch.delenv("ZONEPAPER_LANG")
    edit_zone(cycle, "max_choices = 5", "max_choices = 25")
    assert cli("zone", "check", "--cycle", str(cycle.root)) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert re.search(r"Solución", err[0]) and re.search(r"Fix", err[1])


def _swap_first_two_programs(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    head, *programs = text.split("[[programs]]")
    programs[0], programs[1] = programs[1], programs[0]
    path.write_text("[[programs]]".join([head, *programs]), encoding="utf-8")


def test_programs_reordered_after_printing_are_refused_by_every_reader(cycle: Cycle, capsys, tmp_path: Path) -> None:
    """Forms already out number their programs in the printed order: a reordered zone.toml must not reread them."""
    assert cli("forms", "print", "--count", "2", "--batch", "Fair", "--cycle", str(cycle.root)) == 0
    zone_text = cycle.zone_path.read_text(encoding="utf-8")
    (tmp_path / "scans").mkdir()
    _swap_first_two_programs(cycle.zone_path)
    capsys.readouterr()
    assert cli("zone", "check", "--cycle", str(cycle.root)) == 2
    err = capsys.readouterr().err
    assert "batch 1 'Fair' (program 1: latpa -> lahsa)" in err and "Nothing was done" in err
    assert cli("scan", "ingest", str(tmp_path / "scans"), "--cycle", str(cycle.root)) == 2
    assert cli("forms", "print", "--count", "1", "--cycle", str(cycle.root)) == 2
    assert cycle.db().conn.execute("SELECT count(*) FROM serials").fetchone() == (2,)
    cycle.zone_path.write_text(zone_text.replace("seats = { 9 = 100 }", "seats = { 9 = 80 }", 1), encoding="utf-8")
    assert cli("zone", "check", "--cycle", str(cycle.root)) == 0  # seats may change: the marks mean the same
    assert cli("scan", "ingest", str(tmp_path / "scans"), "--cycle", str(cycle.root)) == 0
    cycle.zone_path.write_text(zone_text.replace("max_choices = 5", "max_choices = 4"), encoding="utf-8")
    assert cli("zone", "check", "--cycle", str(cycle.root)) == 2
    assert "max_choices: 5 -> 4" in capsys.readouterr().err
