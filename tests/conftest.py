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


def add_field(conn, serial: str, name: str, value: str, status: str = "auto") -> None:  # noqa: ANN001
    """A field the tool would have stored (a reply slip read, a language asked for), recorded in the log as
    the tool records it, so that the integrity checks see a change made through zonepaper."""
    from zonepaper.store.database import write_transaction
    from zonepaper.store.state import record_application_event

    with write_transaction(conn):
        conn.execute("INSERT INTO fields (serial, name, value, status) VALUES (?, ?, ?, ?)",
                     (serial, name, value, status))
        record_application_event(conn, "test", "test.field_added", serial, {"field": name})


FAULTS = Path(__file__).parent / "faults"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The fault suite (tests/faults/, issue 14) is slow as a whole: it runs in `make test` (CI), not in
    `make test-fast`."""
    for item in items:
        if Path(str(item.fspath)).parent == FAULTS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def desk(tmp_path: Path):
    """A cycle with three scanned applications (two fields each in review), and four users
    (ana coordinator, bob and cat reviewers, aud auditor; password 'a good password')."""
    from test_review_queue import fr

    from zonepaper.forms.batch import print_forms
    from zonepaper.layout import build_layout
    from zonepaper.review import accounts
    from zonepaper.store.database import write_transaction
    from zonepaper.store.records import create_read_application

    c = init_cycle(tmp_path / "cycle", "belmont")
    batch = print_forms(c, 6, "t")
    db = c.db()
    conn = db.conn
    with write_transaction(conn):
        for serial in batch.serials[:3]:
            create_read_application(conn, serial, (fr("birth_date", "1995-03-14"), fr("zip", "90012"),
                                              fr("grade", "9", "auto")), None, "2009-03-02")
    users = {name: accounts.add_user(conn, name, role, "a good password")
             for name, role in (("ana", "coordinator"), ("bob", "reviewer"), ("cat", "reviewer"), ("aud", "auditor"))}
    zone = c.zone()
    yield c, conn, users, zone, build_layout(zone, "letter"), batch.serials
    db.close()
