"""Form serials: a sequence number with a Damm check digit, and the keyed QR payload around it.

The Damm check digit catches every single-digit substitution and every swap of two
adjacent digits (including the check digit itself). The QR payload also carries the
cycle id and a short HMAC tag keyed with the cycle's secret, so a form of another
cycle, a mistyped serial or a forged form is detected when it is scanned.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

SEQUENCE_DIGITS = 6
SERIAL_LENGTH = SEQUENCE_DIGITS + 1
MAX_SEQUENCE = 10**SEQUENCE_DIGITS - 1
PAYLOAD_VERSION = "ZP1"
FRONT, BACK, REPLY = "F", "B", "R"  # the form's two sides, and the reply slip of a letter
CORRECTION = "C"  # the correction slip of a confirmation letter
TAG_LENGTH = 8

# A totally anti-symmetric quasigroup of order 10 (H. M. Damm, 2004).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def _damm_interim(digits: str) -> int:
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return interim


def check_digit(digits: str) -> str:
    """The Damm check digit of a string of digits."""
    return str(_damm_interim(digits))


def make_serial(number: int) -> str:
    """Serial for sequence number 1..999999: six digits and a check digit, e.g. '0000174'."""
    if not 1 <= number <= MAX_SEQUENCE:
        raise ValueError(f"serial sequence number out of range: {number}")
    body = f"{number:0{SEQUENCE_DIGITS}d}"
    return body + check_digit(body)


def normalize_serial(text: str) -> str:
    """Strip the spaces and dashes people type or print inside a serial."""
    return re.sub(r"[\s\-.]", "", text)


def is_valid_serial(text: str) -> bool:
    """True when text (spaces and dashes allowed) is a well-formed serial with a correct check digit."""
    serial = normalize_serial(text)
    if len(serial) != SERIAL_LENGTH or not serial.isdigit() or serial[:-1] == "0" * SEQUENCE_DIGITS:
        return False
    return _damm_interim(serial) == 0


def display_serial(serial: str) -> str:
    """How a serial is printed for people: '000017-4' (anything that is not a serial's 7 digits as it is)."""
    if len(serial) != SERIAL_LENGTH or not serial.isdigit():
        return serial
    return f"{serial[:-1]}-{serial[-1]}"


def make_tag(secret: bytes, cycle_id: str, serial: str) -> str:
    """Short keyed tag binding a serial to its cycle (40 bits, base32)."""
    mac = hmac.new(secret, f"{cycle_id}:{serial}".encode("ascii"), hashlib.sha256).digest()
    return base64.b32encode(mac).decode("ascii")[:TAG_LENGTH]


def verify_tag(secret: bytes, cycle_id: str, serial: str, tag: str) -> bool:
    """True when tag was made with this cycle's secret for this serial."""
    return hmac.compare_digest(make_tag(secret, cycle_id, serial), tag.upper())


@dataclass(frozen=True)
class Payload:
    """What the QR code on a form says."""

    side: str  # FRONT or BACK
    cycle_id: str
    serial: str
    tag: str

    def encode(self) -> str:
        """The QR text: upper-case letters, digits and ':' only (QR alphanumeric mode, small code)."""
        return f"{PAYLOAD_VERSION}{self.side}:{self.cycle_id}:{self.serial}:{self.tag}"


def make_payload(secret: bytes, cycle_id: str, serial: str, side: str = FRONT) -> Payload:
    """The payload for one side of one form."""
    return Payload(side, cycle_id, serial, make_tag(secret, cycle_id, serial))


def parse_payload(text: str) -> Payload | None:
    """Read a QR text; None when it is not a zonepaper form code."""
    match = re.fullmatch(rf"{PAYLOAD_VERSION}([FBRC]):([A-Z2-7]+):(\d{{{SERIAL_LENGTH}}}):([A-Z2-7]{{{TAG_LENGTH}}})",
                         text.strip())
    if not match:
        return None
    return Payload(*match.groups())
