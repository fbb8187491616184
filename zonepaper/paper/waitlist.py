"""Waitlists after the draw: freed seats become offers to the next in line, in order.

Who holds a seat now: the draw's assignment, unless the family declined it on its reply slip;
replaced by any waitlist offer the family accepted (which frees the earlier seat). A seat is
also taken while an offer for it waits for an answer. Each free seat of a program is offered
to the first on that program's waitlist who still wants it more than what they hold and was
not offered it before. Every offer and answer is an event.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from zonepaper.errors import ConflictError, InvalidInputError
from zonepaper.paper.bins import Draw, load_draw
from zonepaper.store.database import write_transaction
from zonepaper.store.integrity import record_event, refuse_if_tables_changed
from zonepaper.store.migrations import now_iso
from zonepaper.zone import Zone


@dataclass(frozen=True)
class Offer:
    id: int
    serial: str
    program: str
    position: int
    status: str


@dataclass(frozen=True)
class ProgramState:
    program: str
    seats: int
    holding: int  # seats taken: assigned or accepted, not declined
    offered: int  # offers waiting for an answer
    declined: int  # declined seats and offers
    next_in_line: str | None


def offers(conn: sqlite3.Connection, draw_id: int) -> list[Offer]:
    return [Offer(*r) for r in conn.execute(
        "SELECT id, serial, program, position, status FROM offers WHERE draw_id = ? ORDER BY id", (draw_id,))]


def holdings(conn: sqlite3.Connection, draw: Draw) -> tuple[dict[str, str], dict[str, list[str]], set[str]]:
    """(serial -> program held now, program -> serials with an offer pending, serials that declined their seat)."""
    declined = {r[0] for r in conn.execute("SELECT serial FROM fields WHERE name = 'reply' AND value = 'decline' "
                                           "AND status != 'review'")}
    held = {s: r["assigned"] for s, r in draw.results.items() if r["assigned"] and s not in declined}
    pending: dict[str, list[str]] = {}
    for o in offers(conn, draw.id):
        if o.status == "accepted":
            held[o.serial] = o.program  # the earlier seat is free again
        elif o.status == "offered":
            pending.setdefault(o.program, []).append(o.serial)
    for (serial,) in conn.execute("SELECT serial FROM withdrawals WHERE draw_id = ?", (draw.id,)):
        held.pop(serial, None)  # gone from the zone: its seat is free, and it is offered nothing more
        declined.add(serial)
    return held, pending, declined


def _rank(draw: Draw, serial: str, program: str | None) -> int:
    choices = draw.applicants.get(serial, {"choices": []})["choices"]
    return choices.index(program) + 1 if program in choices else 10 ** 6


def next_in_line(conn: sqlite3.Connection, draw: Draw, program: str, held: dict[str, str]) -> list[str]:
    """Serials on the program's waitlist who still want it more than what they hold and had no offer of it."""
    asked = {r[0] for r in conn.execute(
        "SELECT serial FROM offers WHERE draw_id = ? AND program = ? UNION SELECT serial FROM withdrawals "
        "WHERE draw_id = ?", (draw.id, program, draw.id))}
    line = sorted((r["waitlist"][program], s) for s, r in draw.results.items() if program in r["waitlist"])
    return [s for _, s in line if s not in asked and _rank(draw, s, program) < _rank(draw, s, held.get(s))]


def make_offers(conn: sqlite3.Connection, zone: Zone, program: str | None = None, actor: str = "zonepaper"
                ) -> list[Offer]:
    """Offer every free seat (of one program, or all) to the next in line; returns the new offers."""
    if program is not None and program not in {p.id for p in zone.programs}:
        raise InvalidInputError("waitlist.unknown_program", program=program)
    draw = load_draw(conn)
    made: list[Offer] = []
    with write_transaction(conn):
        held, pending, _ = holdings(conn, draw)
        for p in zone.programs:
            if program is not None and p.id != program:
                continue
            for grade, seats in sorted(p.seats.items()):
                taken = sum(1 for s, h in held.items() if h == p.id and draw.results[s]["grade"] == grade)
                taken += sum(1 for s in pending.get(p.id, []) if draw.results[s]["grade"] == grade)
                line = [s for s in next_in_line(conn, draw, p.id, held) if draw.results[s]["grade"] == grade]
                for serial in line[: max(0, seats - taken)]:
                    position = draw.results[serial]["waitlist"][p.id]
                    offer_id = conn.execute(
                        "INSERT INTO offers (draw_id, serial, program, position, status, created_at) "
                        "VALUES (?, ?, ?, ?, 'offered', ?)", (draw.id, serial, p.id, position, now_iso())).lastrowid
                    record_event(conn, actor, "waitlist.offered",
                                 {"draw": draw.id, "serial": serial, "program": p.id, "position": position},
                                 f"application:{serial}", ("offers",))
                    made.append(Offer(int(offer_id), serial, p.id, position, "offered"))
    return made


def answer_offer(conn: sqlite3.Connection, serial: str, accept: bool, actor: str = "zonepaper") -> Offer:
    """Record a family's answer to its open offer; an acceptance frees the seat it held before."""
    draw = load_draw(conn)
    with write_transaction(conn):
        row = conn.execute("SELECT id, serial, program, position, status FROM offers WHERE draw_id = ? AND serial = ? "
                           "AND status = 'offered' ORDER BY id DESC LIMIT 1", (draw.id, serial)).fetchone()
        if row is None:
            raise ConflictError("waitlist.no_open_offer", serial=serial)
        offer = Offer(*row)
        held, _, _ = holdings(conn, draw)
        status = "accepted" if accept else "declined"
        conn.execute("UPDATE offers SET status = ?, answered_at = ? WHERE id = ?", (status, now_iso(), offer.id))
        record_event(conn, actor, f"waitlist.{status}", {"draw": draw.id, "serial": serial, "program": offer.program,
                                                          "frees": held.get(serial) if accept else None},
                     f"application:{serial}", ("offers",))
    return Offer(offer.id, offer.serial, offer.program, offer.position, status)


def withdraw(conn: sqlite3.Connection, serial: str, reason: str, actor: str = "zonepaper") -> str | None:
    """A family leaves (moved away, chose another school): its seat, if any, is freed for the waitlist.
    Returns the program it held."""
    if not reason.strip():
        raise InvalidInputError("draw.reason_needed", option="withdraw --reason")
    draw = load_draw(conn)
    if serial not in draw.results:
        raise ConflictError("waitlist.unknown_form", serial=serial)
    with write_transaction(conn):
        held, _, _ = holdings(conn, draw)
        if conn.execute("SELECT 1 FROM withdrawals WHERE draw_id = ? AND serial = ?", (draw.id, serial)).fetchone():
            raise ConflictError("waitlist.already_withdrawn", serial=serial)
        conn.execute("INSERT INTO withdrawals (draw_id, serial, reason, created_at) VALUES (?, ?, ?, ?)",
                     (draw.id, serial, reason.strip()[:300], now_iso()))
        conn.execute("UPDATE offers SET status = 'declined', answered_at = ? WHERE draw_id = ? AND serial = ? "
                     "AND status = 'offered'", (now_iso(), draw.id, serial))
        record_event(conn, actor, "waitlist.withdrawn", {"draw": draw.id, "serial": serial, "frees": held.get(serial),
                                                          "reason": reason.strip()[:300]},
                     f"application:{serial}", ("offers",))
    return held.get(serial)


def program_states(conn: sqlite3.Connection, zone: Zone) -> list[ProgramState]:
    """Per program: seats, held now, offers waiting, seats and offers declined, and who is next in line."""
    draw = load_draw(conn)
    held, pending, declined = holdings(conn, draw)
    refused: dict[str, int] = {}
    for s in declined:
        if draw.results.get(s, {}).get("assigned"):
            refused[draw.results[s]["assigned"]] = refused.get(draw.results[s]["assigned"], 0) + 1
    for o in offers(conn, draw.id):
        if o.status == "declined":
            refused[o.program] = refused.get(o.program, 0) + 1
    out = []
    for p in zone.programs:
        line = next_in_line(conn, draw, p.id, held)
        out.append(ProgramState(p.id, sum(p.seats.values()), sum(1 for h in held.values() if h == p.id),
                                len(pending.get(p.id, [])), refused.get(p.id, 0), line[0] if line else None))
    return out


def unwritten_offers(conn: sqlite3.Connection, draw_id: int) -> list[Offer]:
    """Open offers whose letter was never written (a run stopped between recording them and printing)."""
    return [Offer(*r) for r in conn.execute(
        "SELECT id, serial, program, position, status FROM offers WHERE draw_id = ? AND status = 'offered' "
        "AND letter IS NULL ORDER BY id", (draw_id,))]


def letters_written(conn: sqlite3.Connection, offer_ids: list[int], path: str, actor: str = "zonepaper") -> None:
    """The letters of these offers are in this file (one transaction, one event)."""
    with write_transaction(conn):
        refuse_if_tables_changed(conn, ("offers",))
        conn.executemany("UPDATE offers SET letter = ? WHERE id = ?", [(path, i) for i in offer_ids])
        record_event(conn, actor, "waitlist.letters_written", {"offers": offer_ids, "file": path}, "offers",
                     ("offers",))


def offer_rows(conn: sqlite3.Connection, draw: Draw, made: list[Offer]) -> list[dict]:
    """What the offer letters need: serial, program, position, the family's language and the seat it holds
    now ("" when it holds none: its letter never says a seat passes on)."""
    language = dict(conn.execute("SELECT serial, value FROM fields WHERE name = 'letter_language'").fetchall())
    held, _, _ = holdings(conn, draw)
    return [{"id": o.id, "serial": o.serial, "program": o.program, "position": o.position,
             "language": "en" if language.get(o.serial) == "en" else "es", "holds": held.get(o.serial, "")}
            for o in made]

