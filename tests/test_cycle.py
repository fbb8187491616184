"""Cycle folders: creation, privacy, finding the cycle, migrations, backups."""

from __future__ import annotations

import sqlite3
import stat
import threading
import zipfile
from pathlib import Path

import pytest
from conftest import cli, cli_subprocess

from zonepaper.cycle import Cycle, init_cycle, resolve_cycle
from zonepaper.errors import CycleNotFoundError, StoreError
from zonepaper.forms.batch import issue_serials
from zonepaper.store.database import connect
from zonepaper.store.events import find_broken_events
from zonepaper.store.migrations import MIGRATIONS


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_a_private_cycle_folder(tmp_path: Path) -> None:
    result = cli_subprocess("init", str(tmp_path / "c"), "--example", "belmont")
    assert result.returncode == 0, result.stderr
    root = tmp_path / "c"
    assert mode(root) == 0o700
    for name in ("zone.toml", "zonepaper.db"):
        assert mode(root / name) & 0o077 == 0, name
    text = (root / "zone.toml").read_text(encoding="utf-8")
    assert text.startswith("# zone.toml") and "Civitas School of Leadership" in text
    db = sqlite3.connect(root / "zonepaper.db")
    assert [r[0] for r in db.execute("SELECT id FROM _migrations")] == [m[0] for m in MIGRATIONS]
    info = dict(db.execute("SELECT key, value FROM cycle_info"))
    assert len(info["cycle_id"]) == 8 and len(bytes.fromhex(info["secret"])) == 32


def test_init_refuses_an_existing_cycle_and_changes_nothing(cycle: Cycle, capsys) -> None:
    before = cycle.zone_path.read_bytes()
    assert cli("init", str(cycle.root)) == 5
    assert "already holds a cycle" in capsys.readouterr().err
    assert cycle.zone_path.read_bytes() == before


def test_unknown_example_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert cli("init", str(tmp_path / "x"), "--example", "springfield") == 2
    assert "belmont" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_cycle_is_found_from_option_then_environment_then_current_folder(cycle: Cycle, tmp_path: Path,
                                                                         monkeypatch) -> None:
    other = init_cycle(tmp_path / "other")
    monkeypatch.chdir(other.root)
    assert resolve_cycle(None).root == other.root
    monkeypatch.setenv("ZONEPAPER_CYCLE", str(cycle.root))
    assert resolve_cycle(None).root == cycle.root
    assert resolve_cycle(other.root).root == other.root
    monkeypatch.setenv("ZONEPAPER_CYCLE", str(tmp_path / "nowhere"))
    with pytest.raises(CycleNotFoundError) as err:
        resolve_cycle(None)
    assert "ZONEPAPER_CYCLE" in err.value.message("en")


def test_not_a_cycle_folder_exit_code_and_message(tmp_path: Path) -> None:
    result = cli_subprocess("forms", "print", "--count", "1", cwd=tmp_path)
    assert result.returncode == 3
    assert "is not a cycle folder" in result.stderr and "zonepaper init" in result.stderr
    assert "Traceback" not in result.stderr


def test_older_database_is_migrated_and_newer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE _migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    conn.commit()
    conn.close()
    db = connect(path)
    assert {"events", "serials", "batches", "cycle_info"} <= set(db.table_names())
    db.conn.execute("INSERT INTO _migrations VALUES (999, 'from the future', 'now')")
    db.close()
    with pytest.raises(StoreError) as err:
        connect(path)
    assert "newer zonepaper" in err.value.message("en")


def test_event_log_is_append_only_and_edits_are_detected(cycle: Cycle) -> None:
    issue_serials(cycle, 3, "batch", "letter")
    db = cycle.db()
    with pytest.raises(sqlite3.DatabaseError):
        db.conn.execute("UPDATE events SET actor = 'mallory'")
    assert find_broken_events(db.conn) == []
    # Someone drops the guard and edits behind the tool's back: the chain shows it.
    db.conn.execute("DROP TRIGGER events_append_only_update")
    db.conn.execute("UPDATE events SET payload = replace(payload, '\"count\":3', '\"count\":30') WHERE id = 2")
    assert find_broken_events(db.conn) == [2]


def test_backup_is_consistent_while_another_command_writes(cycle: Cycle, tmp_path: Path) -> None:
    (cycle.originals / "2009-03-14").mkdir()
    (cycle.originals / "2009-03-14" / "scan-001.pdf").write_bytes(b"%PDF-1.4 fake scan")
    issue_serials(cycle, 10, "first", "letter")
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            issue_serials(cycle, 5, "while backing up", "letter")

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        outs = [cli("backup", "--cycle", str(cycle.root), "--out", str(tmp_path / f"b{i}.zip")) for i in range(3)]
    finally:
        stop.set()
        writer.join()
    assert outs == [0, 0, 0]
    with zipfile.ZipFile(tmp_path / "b2.zip") as zf:
        names = set(zf.namelist())
        assert {"zonepaper.db", "zone.toml", "originals/2009-03-14/scan-001.pdf"} <= names
        (tmp_path / "restored").mkdir()
        zf.extract("zonepaper.db", tmp_path / "restored")
    restored = sqlite3.connect(tmp_path / "restored" / "zonepaper.db")
    assert restored.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    serials, batches = restored.execute("SELECT count(*), count(DISTINCT batch_id) FROM serials").fetchone()
    assert serials >= 10 and serials == 10 + 5 * (batches - 1)  # only whole batches, never half of one
    assert find_broken_events(restored) == []
    assert mode(tmp_path / "b2.zip") & 0o077 == 0


def test_backup_default_location_and_no_overwrite(cycle: Cycle, capsys) -> None:
    assert cli("backup", "--cycle", str(cycle.root)) == 0
    made = list((cycle.root / "backups").glob("zonepaper-backup-*.zip"))
    assert len(made) == 1
    assert cli("backup", "--cycle", str(cycle.root), "--out", str(made[0])) == 5
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("out", ["usb-stick", "usb-stick/", "usb-stick/monday.zip"])
def test_a_backup_to_a_stick_that_is_not_plugged_in_writes_nothing(cycle: Cycle, tmp_path: Path, capsys,
                                                                   out: str) -> None:
    """`backup --out /media/usb-stick/` with no stick: say so, and leave no 'usb-stick' file on the laptop."""
    media = tmp_path / "media"
    media.mkdir()
    assert cli("backup", "--cycle", str(cycle.root), "--out", str(media / out)) == 2
    assert "is the USB stick plugged in?" in capsys.readouterr().err
    assert list(media.iterdir()) == []
    (media / "usb-stick").mkdir()  # plugged in: the backup goes onto it
    assert cli("backup", "--cycle", str(cycle.root), "--out", str(media / out)) == 0
    assert len(list((media / "usb-stick").glob("*.zip"))) == 1


def test_init_into_an_empty_folder_works_and_a_busy_one_is_refused(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("init", str(empty)) == 0
    assert (empty / "zonepaper.db").is_file() and mode(empty) == 0o700
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    assert cli("init", str(busy)) == 5
    assert "other files" in capsys.readouterr().err
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]


def test_a_failed_init_leaves_nothing_behind(tmp_path: Path, monkeypatch) -> None:
    import zonepaper.cycle as cycle_module

    def broken(path, example):
        raise OSError("disk full")

    monkeypatch.setattr(cycle_module, "_create_database", broken)
    with pytest.raises(OSError):
        init_cycle(tmp_path / "new")
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_command_says_how_to_carry_on(cycle: Cycle, capsys, monkeypatch) -> None:
    import zonepaper.forms.batch as batch

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "print_forms", interrupted)
    assert cli("forms", "print", "--count", "2", "--cycle", str(cycle.root)) == 130
    assert "run the same command again" in capsys.readouterr().err


@pytest.mark.parametrize("args,hint", [
    (["forms", "print"], "--count"),  # a required option left out
    (["nosuch"], "nosuch"),  # a command that does not exist
    (["scan", "ingest", "--workers", "two", "."], "--workers"),  # a number that is not one
    (["draw", "run", "--no-such-option"], "--no-such-option"),
])
def test_wrong_usage_is_exit_1_with_a_fix_in_both_languages(tmp_path: Path, args: list[str], hint: str) -> None:
    """A hurried user mistypes a command: exit code 1 as documented, what is wrong and where to look; no crash."""
    result = cli_subprocess(*args, env={"ZONEPAPER_LANG": "both"}, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert hint in result.stderr and "--help" in result.stderr
    assert "La orden no está bien escrita" in result.stderr and "The command is not written right" in result.stderr
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr
    spanish = result.stderr.splitlines()[0]
    assert spanish.startswith("La orden no está bien escrita") and hint in spanish
    for english in ("Missing", "No such", "Invalid value", "Input should", "is missing", "there is no"):
        assert english not in spanish, spanish


@pytest.mark.parametrize("args", [[], ["scan"], ["scan", "ingest"], ["draw", "run"], ["init"]])
def test_help_reads_in_spanish_without_english_headings(args: list[str]) -> None:
    """--help in Spanish: the command's own text, and the headings typer adds, all translated."""
    result = cli_subprocess(*args, "--help", env={"ZONEPAPER_LANG": "es", "COLUMNS": "120"})
    assert result.returncode == 0, result.stderr
    assert "Mostrar esta ayuda y salir." in result.stdout and "Opciones" in result.stdout
    for english in ("Show this message", "Options", "Arguments", "Commands", "[required]", "[default"):
        assert english not in result.stdout, english


def _a_dead_pid() -> int:
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_backup_removes_what_an_interrupted_backup_left_and_says_so(cycle: Cycle, capsys) -> None:
    folder = cycle.root / "backups"
    folder.mkdir()
    dead = _a_dead_pid()
    (folder / f".zonepaper-backup-{dead}-k2j3.part").write_bytes(b"PK half a zip")
    (folder / f".zonepaper-backup-{dead}-x8y9").mkdir()
    (folder / f".zonepaper-backup-{dead}-x8y9" / "zonepaper.db").write_bytes(b"a copy of the database")
    import os

    alive = folder / f".zonepaper-backup-{os.getpid()}-zzzz.part"  # a backup still running: left alone
    alive.write_bytes(b"")
    assert cli("backup", "--cycle", str(cycle.root)) == 0
    out = capsys.readouterr().out
    assert out.count("left unfinished by an earlier backup that was interrupted") == 2
    left = sorted(p.name for p in folder.iterdir())
    assert left[0] == alive.name and len(left) == 2 and left[1].startswith("zonepaper-backup-")


def test_a_killed_forms_print_is_closed_by_the_next_one_and_its_numbers_never_come_back(cycle: Cycle) -> None:
    import signal
    import subprocess
    import sys
    import time

    exe = Path(sys.executable).parent / "zonepaper"
    proc = subprocess.Popen([str(exe), "forms", "print", "--count", "3000", "--cycle", str(cycle.root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not list((cycle.root / "output").glob(".*.part")):
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    conn = sqlite3.connect(cycle.db_path)
    assert conn.execute("SELECT status FROM batches").fetchall() == [("printing",)]
    assert list((cycle.root / "output").glob(".*.part"))
    conn.close()
    result = cli_subprocess("forms", "print", "--count", "2", "--cycle", str(cycle.root))
    assert result.returncode == 0, result.stderr
    assert "Batch 1 was stopped before its PDF was written" in result.stdout and "3000 numbers" in result.stdout
    conn = sqlite3.connect(cycle.db_path)
    assert conn.execute("SELECT id, status FROM batches ORDER BY id").fetchall() == [(1, "failed"), (2, "printed")]
    assert conn.execute("SELECT min(number) FROM serials WHERE batch_id = 2").fetchone()[0] == 3001
    assert not list((cycle.root / "output").glob(".*.part"))
    assert find_broken_events(conn) == []


def test_a_damaged_database_is_not_written_into(cycle: Cycle, tmp_path: Path) -> None:
    from zonepaper.forms.batch import print_forms

    print_forms(cycle, 40, "t")
    db = connect(cycle.db_path)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(cycle.db_path.read_bytes())
    page = 4096
    assert len(data) > 6 * page
    for k in (2, 3, 4):  # the headers of three pages of tables overwritten (a bad sector, a stick pulled out)
        data[k * page: k * page + 12] = b"\x0d\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    cycle.db_path.write_bytes(bytes(data))
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"")
    for args in (["scan", "ingest", str(folder)], ["draw", "freeze"]):
        result = cli_subprocess(*args, "--cycle", str(cycle.root))
        assert result.returncode == 6, (args, result.stderr)
        assert "is damaged" in result.stderr and "nothing was written into it" in result.stderr
    assert cycle.db_path.read_bytes() == bytes(data)
