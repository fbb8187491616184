"""Users of the review app, their passwords (scrypt, salted) and login sessions."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass

from zonepaper.errors import ConflictError, InvalidInputError
from zonepaper.review.queue import ROLES, User
from zonepaper.store.database import write_transaction
from zonepaper.store.events import append_event
from zonepaper.store.migrations import now_iso

SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}  # about 50 ms a check: slow for a guesser, quick for a person
MIN_PASSWORD = 8
SESSION_HOURS = 12  # a session ends this long after the login, whatever happens
LOCK_AFTER = 10  # failed logins in a row before an account is locked (a coordinator unlocks it)
NAME_RE = re.compile(r"[\w.\- ]{1,40}")
_UNKNOWN: list[str] = []  # the stored hash an unknown name is checked against (the same time as a known one)


def hash_password(password: str, salt: bytes | None = None) -> str:
    """'scrypt$n$r$p$salt$hash' (hex)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, maxmem=64 * 1024 * 1024, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=32, maxmem=64 * 1024 * 1024)
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


def check_new_user(conn: sqlite3.Connection, name: str, role: str) -> str:
    """The name as it will be stored, once it is known to be a good new name with a known role (before any password)."""
    name = name.strip()
    if not NAME_RE.fullmatch(name):
        raise InvalidInputError("users.bad_name", name=name[:60])
    if role not in ROLES:
        raise InvalidInputError("users.bad_role", role=role, roles=", ".join(ROLES))
    if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
        raise ConflictError("users.exists", name=name)
    return name


def add_user(conn: sqlite3.Connection, name: str, role: str, password: str, language: str = "es",
             actor: str = "zonepaper") -> User:
    """Create a user; the event records who and which role, never the password."""
    name = check_new_user(conn, name, role)
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError("users.short_password", min=MIN_PASSWORD)
    with write_transaction(conn):
        if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise ConflictError("users.exists", name=name)
        user_id = conn.execute(
            "INSERT INTO users (name, role, password, language, created_at) VALUES (?, ?, ?, ?, ?)",
            (name, role, hash_password(password), language, now_iso())).lastrowid
        append_event(conn, actor, "user.added", {"name": name, "role": role}, subject=f"user:{user_id}")
    return User(int(user_id), name, role, language)


def list_users(conn: sqlite3.Connection) -> list[User]:
    return [User(*r) for r in conn.execute("SELECT id, name, role, language FROM users ORDER BY name")]


def count_users(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM users").fetchone()[0])


def failed_logins(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT failed_logins FROM users WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row else 0


def check_login(conn: sqlite3.Connection, name: str, password: str) -> tuple[User | None, int | None, str]:
    """(the user when name and password match and the account may log in, the user id the name belongs
    to, and 'ok', 'bad', 'locked' or 'disabled'). A locked or disabled account is named only to someone
    who gave its right password. Reads only: the slow password check runs on the request's thread, not
    on the one writer, and takes the same time for a name that does not exist."""
    row = conn.execute("SELECT id, name, role, language, password, disabled, locked FROM users WHERE name = ?",
                       (name.strip(),)).fetchone()
    if not _UNKNOWN:
        _UNKNOWN.append(hash_password(secrets.token_hex(8)))
    ok = check_password(password, row[4] if row else _UNKNOWN[0])
    if row is None or not ok:
        return None, (row[0] if row else None), "bad"
    if row[5] or row[6]:
        return None, row[0], "disabled" if row[5] else "locked"
    return User(row[0], row[1], row[2], row[3]), row[0], "ok"


def record_login(conn: sqlite3.Connection, user_id: int | None, ok: bool) -> None:
    """Count a failed login (the account is locked after LOCK_AFTER in a row), or clear the count and
    note the time after a good one."""
    if user_id is None:
        return
    with write_transaction(conn):
        if ok:
            conn.execute("UPDATE users SET failed_logins = 0, last_login_at = ? WHERE id = ?", (now_iso(), user_id))
            return
        failures = conn.execute("UPDATE users SET failed_logins = failed_logins + 1, last_failed_at = ? WHERE id = ? "
                                "RETURNING failed_logins, locked", (now_iso(), user_id)).fetchone()
        if failures and failures[0] >= LOCK_AFTER and not failures[1]:
            conn.execute("UPDATE users SET locked = 1 WHERE id = ?", (user_id,))
            conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
            append_event(conn, "zonepaper", "user.locked", {"failed_logins": failures[0]}, subject=f"user:{user_id}")


@dataclass(frozen=True)
class Account:
    """A user as `zonepaper users list` shows it."""

    name: str
    role: str
    language: str
    state: str  # active, locked or disabled
    last_login: str | None


def accounts(conn: sqlite3.Connection) -> list[Account]:
    return [Account(name, role, language, "disabled" if disabled else "locked" if locked else "active", last)
            for name, role, language, disabled, locked, last in conn.execute(
                "SELECT name, role, language, disabled, locked, last_login_at FROM users ORDER BY name")]


def _user_id(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT id FROM users WHERE name = ?", (name.strip(),)).fetchone()
    if row is None:
        raise InvalidInputError("users.unknown", name=name[:60])
    return int(row[0])


def set_enabled(conn: sqlite3.Connection, name: str, enabled: bool, actor: str = "zonepaper") -> None:
    """Disable an account (its sessions end at once), or enable it again (which also unlocks it)."""
    with write_transaction(conn):
        user_id = _user_id(conn, name)
        if enabled:
            conn.execute("UPDATE users SET disabled = 0, locked = 0, failed_logins = 0 WHERE id = ?", (user_id,))
        else:
            conn.execute("UPDATE users SET disabled = 1 WHERE id = ?", (user_id,))
            conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
        append_event(conn, actor, "user.enabled" if enabled else "user.disabled", {"name": name.strip()},
                     subject=f"user:{user_id}")


def set_password(conn: sqlite3.Connection, name: str, password: str, actor: str = "zonepaper") -> None:
    """A new password (the account's sessions end; a locked account is unlocked); never recorded itself."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError("users.short_password", min=MIN_PASSWORD)
    digest = hash_password(password)
    with write_transaction(conn):
        user_id = _user_id(conn, name)
        conn.execute("UPDATE users SET password = ?, locked = 0, failed_logins = 0 WHERE id = ?", (digest, user_id))
        conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
        append_event(conn, actor, "user.password_changed", {"name": name.strip()}, subject=f"user:{user_id}")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def start_session(conn: sqlite3.Connection, user: User) -> tuple[str, str]:
    """A new session: (token for the cookie, CSRF token for the pages). Only the token's hash is stored."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = time.time() + SESSION_HOURS * 3600
    with write_transaction(conn):
        conn.execute("DELETE FROM sessions WHERE expires_at < ?", (time.time(),))
        conn.execute("INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                     (_token_hash(token), user.id, csrf, now_iso(), expires))
    return token, csrf


def session_user(conn: sqlite3.Connection, token: str, idle_minutes: float = 30,
                 now: float | None = None) -> tuple[User, str, float] | None:
    """(user, CSRF token, when the session was last used) of a live session, or None: past its 12 hours,
    left alone longer than idle_minutes, or of an account disabled or locked meanwhile."""
    now = time.time() if now is None else now
    row = conn.execute(
        "SELECT u.id, u.name, u.role, u.language, s.csrf, s.expires_at, COALESCE(s.last_seen, 0), s.created_at, "
        "u.disabled, u.locked FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
        (_token_hash(token),)).fetchone()
    if row is None or row[5] < now or row[8] or row[9]:
        return None
    last = row[6] or (row[5] - SESSION_HOURS * 3600)  # never used since the login: the login's time
    if now - last > idle_minutes * 60:
        return None
    return User(row[0], row[1], row[2], row[3]), row[4], last


def touch_session(conn: sqlite3.Connection, token: str, now: float | None = None) -> None:
    """The session was used now (the idle time counts from here)."""
    with write_transaction(conn):
        conn.execute("UPDATE sessions SET last_seen = ? WHERE token_hash = ?",
                     (time.time() if now is None else now, _token_hash(token)))


def end_session(conn: sqlite3.Connection, token: str) -> None:
    with write_transaction(conn):
        conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))


def set_language(conn: sqlite3.Connection, user: User, language: str) -> None:
    with write_transaction(conn):
        conn.execute("UPDATE users SET language = ? WHERE id = ?", (language, user.id))


class Throttle:
    """Failed logins, remembered for a while per account name (known or not: the same answer in the same
    time) and per address. Each failure of a name makes its next answer wait longer; an address with too
    many failures is refused for a while without any password being checked, so that many clients at
    once do not make a guesser faster."""

    WINDOW = 600.0  # seconds a failure is remembered
    PER_ADDRESS = 30  # failures from one address within the window before it is refused

    def __init__(self) -> None:
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if now - t < self.WINDOW]
        self._failures[key] = times
        return times

    def refused(self, address: str, now: float | None = None) -> bool:
        with self._lock:
            return len(self._recent("@" + address, now or time.time())) >= self.PER_ADDRESS

    def failed(self, name: str, address: str, now: float | None = None) -> float:
        """Note a failure; returns how long its answer waits (0.5 s, 1 s, 2 s, ... up to 8 s)."""
        now = now or time.time()
        with self._lock:
            for key in (name.strip().lower(), "@" + address):
                self._recent(key, now).append(now)
            return min(0.5 * 2 ** min(len(self._recent(name.strip().lower(), now)) - 1, 4), 8.0)
