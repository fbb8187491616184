"""What the scanning stage holds: counts for `scan status`, the list for `scan quarantine`."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from zonepaper.fields import LETTER_FIELDS, REPLY_FIELDS


@dataclass(frozen=True)
class ScanStatus:
    files: int
    pages: int
    pages_by_kind: dict[str, int]
    applications: int
    applications_by_status: dict[str, int]
    forms_all_auto: int  # every field but the handwritten text (which a person always confirms) accepted alone
    fields_by_status: dict[str, int]
    replies_in_review: int  # of the fields in review, the answers on letters' reply slips
    quarantined_by_reason: dict[str, int]


def scan_status(db: sqlite_utils.Database) -> ScanStatus:
    """Counts of pages, applications, fields and quarantined pages."""
    q = db.conn.execute
    kinds = dict(q("SELECT kind, count(*) FROM pages GROUP BY kind").fetchall())
    apps = dict(q("SELECT status, count(*) FROM applications GROUP BY status").fetchall())
    fields = dict(q("SELECT status, count(*) FROM fields GROUP BY status").fetchall())
    reasons = dict(q("SELECT reason, count(*) FROM pages WHERE kind = 'quarantined' AND resolution IS NULL "
                     "GROUP BY reason").fetchall())
    text, replies = ", ".join("?" * len(LETTER_FIELDS)), ", ".join("?" * len(REPLY_FIELDS))
    all_auto = q("SELECT count(*) FROM applications a WHERE source = 'scan' AND NOT EXISTS "
                 f"(SELECT 1 FROM fields f WHERE f.serial = a.serial AND f.status != 'auto' AND f.name NOT IN "
                 f"({text}, {replies}))", (*LETTER_FIELDS, *REPLY_FIELDS)).fetchone()[0]
    replies_in_review = q(f"SELECT count(*) FROM fields WHERE status = 'review' AND name IN ({replies})",
                          REPLY_FIELDS).fetchone()[0]
    return ScanStatus(
        files=q("SELECT count(*) FROM files").fetchone()[0],
        pages=sum(kinds.values()), pages_by_kind=kinds,
        applications=sum(apps.values()), applications_by_status=apps, forms_all_auto=all_auto,
        fields_by_status=fields, replies_in_review=replies_in_review, quarantined_by_reason=reasons,
    )


@dataclass(frozen=True)
class QuarantinedPage:
    page_id: int
    file: str
    page_number: int
    reason: str
    serial: str | None
    detail: str | None


def quarantined_pages(db: sqlite_utils.Database) -> list[QuarantinedPage]:
    """Every quarantined page not yet resolved, oldest first."""
    rows = db.conn.execute(
        "SELECT p.id, f.original_name, p.page_index, p.reason, p.serial, p.detail FROM pages p "
        "JOIN files f ON f.sha256 = p.file_sha256 WHERE p.kind = 'quarantined' AND p.resolution IS NULL "
        "ORDER BY p.id").fetchall()
    return [QuarantinedPage(r[0], r[1], r[2] + 1, r[3], r[4], r[5]) for r in rows]
