"""kill -9 at random moments of every command that writes, then the same command again: the outcome is
that of one clean run (scripts/fault_report.py runs many more of these and prints the counts)."""

from __future__ import annotations

import random
from pathlib import Path

import attacks
import pytest


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> attacks.ScanWorld:
    return attacks.scan_world(tmp_path_factory.mktemp("faults"), forms=8)


def _held(tally: attacks.Tally, killed: bool = True) -> None:
    assert tally.tried and tally.held == tally.tried, tally.failures
    assert tally.exit15 == 0 and tally.silent == 0
    if killed:  # really killed midway, not after the run had ended
        assert tally.killed == tally.tried, f"{tally.killed} of {tally.tried} runs killed before they ended"


def test_ingest_killed_at_random_moments_then_run_again_is_one_clean_run(world, tmp_path: Path) -> None:
    tally = attacks.kill_ingest(world, tmp_path, 2, random.Random(5))
    _held(tally)


def test_one_reading_process_killed_stops_the_run_and_the_rerun_is_one_clean_run(world, tmp_path: Path) -> None:
    _held(attacks.kill_ingest(world, tmp_path, 1, random.Random(6), worker=True), killed=False)


def test_two_ingests_at_once_read_every_page_exactly_once(world, tmp_path: Path) -> None:
    _held(attacks.two_ingests(world, tmp_path, 1), killed=False)


def test_a_batch_of_hostile_files_goes_on_and_names_every_file(world, tmp_path: Path) -> None:
    _held(attacks.hostile_ingest(world, tmp_path), killed=False)


def test_backup_killed_then_run_again_leaves_one_whole_backup_and_nothing_else(world, tmp_path: Path) -> None:
    tally = attacks.kill_backup(attacks.backup_world(world, tmp_path), tmp_path, 2, random.Random(7))
    _held(tally)


def test_forms_print_killed_then_run_again_prints_a_whole_batch(tmp_path: Path) -> None:
    _held(attacks.kill_forms_print(tmp_path, 2, random.Random(8), count=30))


def test_import_killed_is_all_or_nothing(tmp_path: Path) -> None:
    _held(attacks.kill_import(*attacks.import_world(tmp_path, rows=200), tmp_path, 2, random.Random(9)))


def test_waitlist_offer_killed_then_run_again_writes_every_letter(tmp_path: Path) -> None:
    _held(attacks.kill_offer(attacks.offer_world(tmp_path / "o"), tmp_path, 2, random.Random(10)))

