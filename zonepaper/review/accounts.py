"""Users of the review app, their passwords (scrypt, salted) and login sessions."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import time

from zonepaper.errors import ConflictError, InvalidInputError
from zonepaper.review.queue import ROLES, User
from zonepaper.store.database import write_transaction
from zonepaper.store.events import append_event
from zonepaper.store.migrations import now_iso

SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}  # about 50 ms a check: slow for a guesser, quick for a person
MIN_PASSWORD = 8
SESSION_HOURS = 12
NAME_RE = re.compile(r"[\w.\- ]{1,40}")


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


def check_login(conn: sqlite3.Connection, name: str, password: str) -> tuple[User | None, int | None]:
    """(the user when name and password match, the user id the name belongs to). Reads only: the slow
    password check runs on the request's thread, not on the one writer."""
    row = conn.execute("SELECT id, name, role, language, password FROM users WHERE name = ?",
                       (name.strip(),)).fetchone()
    ok = check_password(password, row[4] if row else hash_password("x", b"0" * 16))  # same time either way
    return (User(row[0], row[1], row[2], row[3]) if row and ok else None), (row[0] if row else None)


def record_login(conn: sqlite3.Connection, user_id: int | None, ok: bool) -> None:
    """Count a failed login (the app waits longer after each), or clear the count after a good one."""
    if user_id is None:
        return
    with write_transaction(conn):
        if ok:
            conn.execute("UPDATE users SET failed_logins = 0 WHERE id = ?", (user_id,))
        else:
            conn.execute("UPDATE users SET failed_logins = failed_logins + 1, last_failed_at = ? WHERE id = ?",
                         (now_iso(), user_id))


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


def session_user(conn: sqlite3.Connection, token: str) -> tuple[User, str] | None:
    """(user, CSRF token) of a live session, or None."""
    row = conn.execute(
        "SELECT u.id, u.name, u.role, u.language, s.csrf, s.expires_at FROM sessions s JOIN users u "
        "ON u.id = s.user_id WHERE s.token_hash = ?", (_token_hash(token),)).fetchone()
    if row is None or row[5] < time.time():
        return None
    return User(row[0], row[1], row[2], row[3]), row[4]


def end_session(conn: sqlite3.Connection, token: str) -> None:
    with write_transaction(conn):
        conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))


def set_language(conn: sqlite3.Connection, user: User, language: str) -> None:
    with write_transaction(conn):
        conn.execute("UPDATE users SET language = ? WHERE id = ?", (language, user.id))
