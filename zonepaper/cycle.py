"""A cycle folder: zone.toml, the database and the stored originals of one enrollment cycle.

The folder holds children's personal data, so everything in it is created readable by
its owner only.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import sqlite3
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

import sqlite_utils

from zonepaper import __version__
from zonepaper.errors import ConflictError, CycleNotFoundError, InvalidInputError, ZoneFileError
from zonepaper.layout import form_grid, grid_change
from zonepaper.store.database import connect, copy_source, write_transaction
from zonepaper.store.integrity import record_all
from zonepaper.store.migrations import now_iso
from zonepaper.store.serials import printed_grids, process_alive
from zonepaper.zone import Zone, example_zone_text, load_zone, parse_zone_text

ZONE_FILE = "zone.toml"
DB_FILE = "zonepaper.db"
ORIGINALS_DIR = "originals"
OUTPUT_DIR = "output"
BACKUP_DIR = "backups"
CYCLE_ENV = "ZONEPAPER_CYCLE"


@dataclass(frozen=True)
class Cycle:
    """Paths of one cycle folder."""

    root: Path

    @property
    def zone_path(self) -> Path:
        return self.root / ZONE_FILE

    @property
    def db_path(self) -> Path:
        return self.root / DB_FILE

    @property
    def originals(self) -> Path:
        return self.root / ORIGINALS_DIR

    @property
    def output(self) -> Path:
        return self.root / OUTPUT_DIR

    def zone(self) -> Zone:
        """Load and check this cycle's zone.toml."""
        return load_zone(self.zone_path)

    def printed_zone(self) -> Zone:
        """The zone, once it is known to still mean what the forms already printed mean.

        The printed choices grid numbers the programs in zone.toml's order: reordering, adding or
        removing a program (or changing the ranks or grades) after printing would make a family's
        marks read as other programs, silently. Reading, printing and `zone check` refuse that.
        """
        zone = self.zone()
        now = form_grid(zone)
        db = self.db()
        try:
            grids = printed_grids(db.conn)
        finally:
            db.close()
        for batch_id, label, grid in grids:
            change = grid_change(json.loads(grid), now)
            if change:
                raise ZoneFileError("zone.grid_changed", file=str(self.zone_path), batch=batch_id, label=label,
                                    change=change)
        return zone

    def db(self, check: bool = False) -> sqlite_utils.Database:
        """Open this cycle's database (check=True: first make sure it is not damaged, before a command
        that writes much into it: ingest, import, the draw, the review server)."""
        return connect(self.db_path, check=check)

    def info(self) -> dict[str, str]:
        """The cycle's identity: id, secret (hex), creation time."""
        db = self.db()
        try:
            return {row["key"]: row["value"] for row in db["cycle_info"].rows}
        finally:
            db.close()


@contextmanager
def private_umask() -> Iterator[None]:
    """Create files and folders readable by their owner only, for as long as the block runs."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def new_cycle_id() -> str:
    """A short random id printed in every QR code of this cycle (base32, 8 characters)."""
    return base64.b32encode(secrets.token_bytes(5)).decode("ascii")


def init_cycle(root: Path, example: str | None = None) -> Cycle:
    """Create a cycle folder with a commented zone.toml and a fresh database.

    Everything is built in a hidden folder beside the target and moved into place at the
    end, so a failure leaves no half-made cycle behind.
    """
    root = root.expanduser().absolute()
    if (root / DB_FILE).exists() or (root / ZONE_FILE).exists():
        raise ConflictError("init.exists", folder=str(root))
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ConflictError("init.not_empty", folder=str(root))
    text = example_zone_text(example or "belmont")
    with private_umask():
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.init-"))
        try:
            draft = Cycle(staging)
            parse_zone_text(text, root / ZONE_FILE)  # a broken example must fail before anything is written
            draft.zone_path.write_text(text, encoding="utf-8")
            for sub in (ORIGINALS_DIR, OUTPUT_DIR):
                (staging / sub).mkdir()
            _create_database(draft.db_path, example)
            os.chmod(staging, 0o700)
            os.replace(staging, root)  # replaces an empty target folder too
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return Cycle(root)


def _create_database(path: Path, example: str | None) -> None:
    db = connect(path, create=True)
    try:
        info = {"cycle_id": new_cycle_id(), "secret": secrets.token_hex(32), "created_at": now_iso(),
                "created_by_version": __version__}
        with write_transaction(db.conn) as conn:
            conn.executemany("INSERT INTO cycle_info (key, value) VALUES (?, ?)", info.items())
            record_all(conn, "zonepaper", "cycle.created", {"cycle_id": info["cycle_id"], "example": example})
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def resolve_cycle(option: Path | None) -> Cycle:
    """The cycle folder to work on: --cycle, else $ZONEPAPER_CYCLE, else the current folder."""
    if option is not None:
        root, source = option, "--cycle"
    elif os.environ.get(CYCLE_ENV):
        root, source = Path(os.environ[CYCLE_ENV]), CYCLE_ENV
    else:
        root, source = Path.cwd(), "."
    root = root.expanduser()
    cycle = Cycle(root)
    if not cycle.db_path.is_file():
        raise CycleNotFoundError("cycle.not_found", folder=str(root), source=source)
    return cycle


@dataclass(frozen=True)
class Backup:
    path: Path
    removed: tuple[str, ...] = ()  # unfinished files of earlier backups that were killed, removed now


def _remove_abandoned_backups(folder: Path) -> tuple[str, ...]:
    """What a killed backup left in this folder (its hidden .part zip and database copy), if the process is gone."""
    removed = []
    for entry in sorted(folder.glob(".zonepaper-backup-*")):
        pid = entry.name.split("-")[2] if entry.name.count("-") >= 3 else ""
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
            removed.append(entry.name)
    return tuple(removed)


def _free_backup_name(folder: Path) -> Path:
    """zonepaper-backup-DATE-TIME.zip in this folder; a second backup in the same second gets -2, -3, ..."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out, n = folder / f"zonepaper-backup-{stamp}.zip", 1
    while out.exists():
        n += 1
        out = folder / f"zonepaper-backup-{stamp}-{n}.zip"
    return out


def backup_cycle(cycle: Cycle, out: Path | None = None) -> Backup:
    """Write one zip with a consistent copy of the database, zone.toml and the stored originals."""
    if out is None:
        out = _free_backup_name(cycle.root / BACKUP_DIR)
    else:
        out = out.expanduser()
        # A folder that is not there is most often a USB stick that is not plugged in: never write
        # the backup onto the laptop under that name instead.
        folder = out.parent if out.suffix.lower() == ".zip" else out
        if not out.is_dir() and not folder.is_dir():
            raise InvalidInputError("backup.no_folder", folder=str(folder))
    if out.is_dir():
        out = _free_backup_name(out)
    if out.exists():  # a name the user gave
        raise ConflictError("backup.exists", file=str(out))
    with private_umask():
        out.parent.mkdir(parents=True, exist_ok=True)
        removed = _remove_abandoned_backups(out.parent)
        stamp = f".zonepaper-backup-{os.getpid()}-"  # whose it is: a later run removes it if this one is killed
        fd, tmp_zip = tempfile.mkstemp(dir=out.parent, prefix=stamp, suffix=".part")
        os.close(fd)
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=stamp) as tmpdir:
            db_copy = Path(tmpdir) / DB_FILE
            try:
                # SQLite's online backup API: a consistent snapshot even while other commands write.
                source = copy_source(cycle.db_path)
                target = sqlite3.connect(str(db_copy))
                with target:
                    source.backup(target)
                target.close()
                source.close()
                with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                    zf.write(db_copy, DB_FILE)
                    if cycle.zone_path.is_file():
                        zf.write(cycle.zone_path, ZONE_FILE)
                    if cycle.originals.is_dir():
                        for path in sorted(cycle.originals.rglob("*")):
                            if path.is_file():
                                zf.write(path, path.relative_to(cycle.root).as_posix(),
                                         compress_type=zipfile.ZIP_STORED)
                os.replace(tmp_zip, out)
            except BaseException:
                Path(tmp_zip).unlink(missing_ok=True)
                raise
    return Backup(out, removed)
