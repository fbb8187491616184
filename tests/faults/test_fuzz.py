"""Property-based fuzzing of zone.toml and the CSV import (hypothesis): whatever the file holds, the exit
code is one of the documented ones, never 15 (an unexpected problem), and nothing outside its field's
rules is accepted without a word."""

from __future__ import annotations

import random
from pathlib import Path

import attacks
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def csv_base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    work = tmp_path_factory.mktemp("fuzz")
    base, text = attacks.csv_world(work)
    return base, text, work


def _held(tally: attacks.Tally) -> None:
    assert tally.held == tally.tried, tally.failures


@FUZZ
@given(rnd=st.randoms(use_true_random=False))
def test_a_hostile_zone_file_is_refused_clearly_or_read_within_its_bounds(csv_base, rnd: random.Random) -> None:
    base, _, work = csv_base
    tally = attacks.Tally("zone")
    attacks.fuzz_zone_once(base, work, rnd, tally)
    _held(tally)


@FUZZ
@given(rnd=st.randoms(use_true_random=False))
def test_a_hostile_csv_is_refused_clearly_or_imports_only_values_within_their_rules(csv_base,
                                                                                   rnd: random.Random) -> None:
    base, text, work = csv_base
    tally = attacks.Tally("csv")
    attacks.fuzz_csv_once(base, text, work, rnd, tally)
    _held(tally)


@given(value=st.text(min_size=1, max_size=12))
@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_in_a_zip_cell_is_a_5_digit_zip_or_refused(csv_base, value: str) -> None:
    base, text, work = csv_base
    cycle = attacks.copy_cycle(base, work / "zip-cell")
    path = work / "zip.csv"
    rows = text.split("\r\n") if "\r\n" in text else text.split("\n")
    header = rows[0].split(",")
    cells = rows[1].split(",")
    cells[header.index("zip")] = '"' + value.replace('"', '""') + '"'
    path.write_text("\n".join([rows[0], ",".join(cells)]) + "\n", encoding="utf-8")
    code, out = attacks.cli("applications", "import", str(path), "--cycle", str(cycle.root))
    assert code in (0, 2), out
    if code == 0:
        assert attacks.stored_problems(cycle) == []
