"""Shared fixtures: a fresh cycle, and one printed batch reused by the slower tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from zonepaper.cli import run
from zonepaper.cycle import Cycle, init_cycle


@pytest.fixture(autouse=True)
def english_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests read English messages unless they ask otherwise; no test depends on the machine's locale."""
    monkeypatch.setenv("ZONEPAPER_LANG", "en")
    monkeypatch.delenv("ZONEPAPER_CYCLE", raising=False)


@pytest.fixture
def cycle(tmp_path: Path) -> Cycle:
    return init_cycle(tmp_path / "cycle", "belmont")


@pytest.fixture(scope="session")
def printed(tmp_path_factory: pytest.TempPathFactory):
    """A cycle with one batch of 20 printed forms (Letter)."""
    from zonepaper.forms.batch import print_forms

    root = tmp_path_factory.mktemp("printed") / "cycle"
    c = init_cycle(root, "belmont")
    batch = print_forms(c, 20, "Choice fair, Leadership Academy, March 14")
    return c, batch


def cli(*args: str) -> int:
    """Run the command line in-process; returns its exit code."""
    return run(list(args))


def cli_subprocess(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: int = 120):
    """Run the real `zonepaper` command as a separate process."""
    full_env = {**os.environ, "ZONEPAPER_LANG": "en", **(env or {})}
    exe = Path(sys.executable).parent / "zonepaper"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout)
