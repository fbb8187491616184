"""One exception hierarchy. Every error has an exit code and a message that says how to fix it."""

from __future__ import annotations

import os
from enum import IntEnum

from zonepaper.text import LANGUAGES, Phrase, translate, user_languages


class ExitCode(IntEnum):
    """Process exit codes; scripts around zonepaper may rely on them."""

    ok = 0
    usage = 1
    invalid_input = 2
    not_found = 3
    does_not_fit = 4
    conflict = 5
    store = 6
    missing_dependency = 7
    disk_full = 8
    internal = 15
    interrupted = 130  # Ctrl-C, as shells report it


class ZonepaperError(Exception):
    """Base class. `key` names a message in forms/messages.toml; params fill its placeholders."""

    exit_code = ExitCode.internal

    def __init__(self, message_key: str, /, **params: object) -> None:
        self.key = message_key
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str) -> str:
        """The message in one language."""
        return translate("messages", self.key, lang, **self.params)

    def render(self) -> str:
        """The message for a person at a terminal: both languages (Spanish first) unless one is chosen."""
        langs = user_languages() if os.environ.get("ZONEPAPER_LANG") else LANGUAGES
        return "\n".join(self.message(lang) for lang in langs)


def file_problem(exc: BaseException) -> Phrase | str:
    """Why a file could not be read, in plain words of each language (the system's own words otherwise)."""
    kinds = ((FileNotFoundError, "missing"), (IsADirectoryError, "folder"), (PermissionError, "forbidden"),
             (UnicodeDecodeError, "not_text"))
    key = next((k for cls, k in kinds if isinstance(exc, cls)), None)
    return Phrase(f"file_problem.{key}") if key else str(exc)


class ZoneFileError(ZonepaperError):
    """zone.toml is missing, unreadable or invalid."""

    exit_code = ExitCode.invalid_input


class InvalidInputError(ZonepaperError):
    """An argument or input file the user gave is not acceptable."""

    exit_code = ExitCode.invalid_input


class CycleNotFoundError(ZonepaperError):
    """The cycle folder does not exist or is not a cycle."""

    exit_code = ExitCode.not_found


class LayoutDoesNotFitError(ZonepaperError):
    """The zone has more programs or choices than one form page can hold."""

    exit_code = ExitCode.does_not_fit


class ConflictError(ZonepaperError):
    """The action would overwrite or contradict something that exists."""

    exit_code = ExitCode.conflict


class StoreError(ZonepaperError):
    """The database cannot be opened, is too new, or was damaged."""

    exit_code = ExitCode.store


class DiskFullError(ZonepaperError):
    """The disk (or the user's quota) is full: nothing was lost, the same command can run again."""

    exit_code = ExitCode.disk_full


def _folder_of(exc: BaseException, where: str) -> str:
    """The folder a failed write was in: the file's own, else the cycle's, else the current one."""
    filename = getattr(exc, "filename", None)
    return os.path.dirname(os.path.abspath(filename)) if filename else where or os.getcwd()


def disk_full(exc: BaseException, where: str = "") -> DiskFullError | None:
    """The error to show when `exc` is the disk (or quota) being full, from the system or from SQLite; else None."""
    import errno
    import sqlite3

    system = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if not system and not (isinstance(exc, sqlite3.Error) and "disk is full" in str(exc)):
        return None
    return DiskFullError("cli.disk_full", folder=_folder_of(exc, where))


def read_only(exc: BaseException, where: str = "") -> ZonepaperError | None:
    """The error to show when `exc` is a write refused because the folder cannot be written; else None."""
    import errno
    import sqlite3

    system = isinstance(exc, OSError) and exc.errno == errno.EROFS
    if not system and not (isinstance(exc, sqlite3.Error) and "readonly database" in str(exc)):
        return None
    return StoreError("store.read_only", folder=_folder_of(exc, where))


def damaged(exc: BaseException, where: str = "") -> ZonepaperError | None:
    """The error to show when `exc` is SQLite finding the database damaged; else None."""
    import sqlite3

    if not (isinstance(exc, sqlite3.DatabaseError) and ("malformed" in str(exc) or "not a database" in str(exc))):
        return None
    return StoreError("store.damaged", file=os.path.join(where or os.getcwd(), "zonepaper.db"), detail=str(exc))


def known_failure(exc: BaseException, where: str = "") -> ZonepaperError | None:
    """A failure of the machine rather than of zonepaper (a full disk, a read-only folder, a damaged
    database), as the message that says what to do; None for anything else."""
    return disk_full(exc, where) or read_only(exc, where) or damaged(exc, where)


class MissingDependencyError(ZonepaperError):
    """A system program or font zonepaper needs is not installed."""

    exit_code = ExitCode.missing_dependency
