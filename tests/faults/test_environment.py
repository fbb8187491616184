"""The machine under the tool: a disk that fills up, a cycle on a read-only stick, a system program gone.
The first two need the right to mount (root, as in CI's container) and are skipped with the reason
otherwise."""

from __future__ import annotations

from pathlib import Path

import attacks
import pytest


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> attacks.ScanWorld:
    return attacks.scan_world(tmp_path_factory.mktemp("machine"), forms=8)


def _held(tally: attacks.Tally) -> None:
    if tally.skipped:
        pytest.skip(tally.skipped)
    assert tally.tried and tally.held == tally.tried and not tally.failures, tally.failures


def test_a_full_disk_says_so_loses_nothing_and_the_same_command_then_completes(world, tmp_path: Path) -> None:
    _held(attacks.disk_full(world, tmp_path))


def test_a_read_only_cycle_can_be_read_and_says_so_when_asked_to_change(world, tmp_path: Path) -> None:
    _held(attacks.read_only(world, tmp_path))


def test_without_poppler_nothing_is_marked_read_and_the_rerun_completes(world, tmp_path: Path) -> None:
    _held(attacks.missing_program(world, tmp_path))
