"""The canonical inputs of a draw, built from the store: pseudonymous (serials only), complete, digestible."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from zonepaper.draw.verify_draw import input_digest
from zonepaper.fields import REPLY_FIELDS
from zonepaper.zone import Zone

PRIORITY_EVIDENCE = ("sibling", "zip_code")


@dataclass(frozen=True)
class DrawInputs:
    settings: dict
    programs: list[dict]
    applicants: list[dict]
    digest: str
    counts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Unfinished:
    """What still needs a person before a fair freeze: fields in review, open quarantine, held applications,
    and files scanning stations sent that are not read yet (or could not be read)."""

    review: dict[str, int]
    quarantine: int
    held: list[str]
    uploads: int = 0

    @property
    def any(self) -> bool:
        return bool(self.review or self.quarantine or self.held or self.uploads)


def unfinished(conn: sqlite3.Connection) -> Unfinished:
    # A family's answer to its letter comes after the draw and is not one of its inputs.
    review = {name: n for name, n in conn.execute(
        "SELECT name, count(*) FROM fields WHERE status = 'review' GROUP BY name") if name not in REPLY_FIELDS}
    quarantine = conn.execute("SELECT count(*) FROM pages WHERE kind = 'quarantined' AND resolution IS NULL"
                              ).fetchone()[0]
    held = [r[0] for r in conn.execute("SELECT serial FROM applications WHERE status = 'held' ORDER BY serial")]
    uploads = conn.execute("SELECT count(*) FROM uploads WHERE status != 'ingested'").fetchone()[0]
    return Unfinished(review, quarantine, held, uploads)


def priority_groups(zone: Zone, values: dict[str, str], choices: list[str]) -> dict[str, int]:
    """For each ranked program, the applicant's priority group there (0 = the zone's first priority)."""
    numbers = {p.id: str(p.number) for p in zone.programs}
    groups = {}
    for program in choices:
        group = len(zone.priorities)
        for i, priority in enumerate(zone.priorities):
            if priority.evidence == "sibling":
                holds = values.get("sibling") == "yes" and values.get("sibling_program") == numbers.get(program)
            elif priority.evidence == "zip_code":
                holds = bool(zone.zip_codes) and values.get("zip", "") in zone.zip_codes
            else:
                holds = False
            if holds:
                group = i
                break
        groups[program] = group
    return groups


def build_inputs(conn: sqlite3.Connection, zone: Zone, mechanism: str) -> DrawInputs:
    """Every application as the draw sees it, every program's seats, and the SHA-256 of it all."""
    fields: dict[str, dict[str, str]] = {}
    office: dict[str, str] = {}  # the office's received date on the form, once the machine or a person is sure of it
    for serial, name, value, status in conn.execute("SELECT serial, name, value, status FROM fields"):
        fields.setdefault(serial, {})[name] = value or ""
        if name == "received_date" and value and status != "review":
            office[serial] = value
    known = {p.id for p in zone.programs}
    applicants = []
    for serial, received_batch, received_form, created in conn.execute(
            "SELECT serial, received_batch, received_form, created_at FROM applications ORDER BY serial"):
        values = fields.get(serial, {})
        choices = [c for c in values.get("choices", "").split(",") if c]
        grade_text = values.get("grade", "")
        grade = int(grade_text) if grade_text.isdigit() else 0
        reason = ""
        if not grade:
            reason = "no_grade"
        elif grade not in zone.grades:
            reason = "grade_not_offered"
        elif any(c not in known for c in choices):
            reason = "unknown_program"
        applicants.append({"serial": serial, "grade": grade, "eligible": not reason, "reason": reason,
                           "received": office.get(serial) or received_form or received_batch or created[:10],
                           "choices": choices, "priorities": priority_groups(zone, values, choices)})
    programs = [{"program": p.id, "grade": int(g), "seats": int(s)} for p in zone.programs for g, s in p.seats.items()]
    settings = {"mechanism": mechanism, "priorities": [p.id for p in zone.priorities], "cycle": zone.cycle,
                "max_choices": zone.max_choices}
    counts = {"applicants": len(applicants), "eligible": sum(a["eligible"] for a in applicants),
              "programs": len(zone.programs), "seats": sum(p["seats"] for p in programs)}
    return DrawInputs(settings, programs, applicants, input_digest(settings, programs, applicants), counts)
