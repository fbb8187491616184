"""Comparing what ingest stored with a simulation's ground truth (benchmarks and tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

CHOICE_MISTAKES = {"empty_choices", "two_marks_one_rank", "same_program_twice"}
EXPECTED_KIND = {"front": "front", "back": "back", "blank": "blank", "not_a_form": "quarantined",
                 "other_cycle": "quarantined"}


@dataclass
class FieldScore:
    total: int = 0
    auto: int = 0
    auto_wrong: int = 0
    right: int = 0  # the stored value (auto or first guess) equals the truth

    def add(self, status: str, ok: bool) -> None:
        self.total += 1
        self.right += ok
        if status == "auto":
            self.auto += 1
            self.auto_wrong += not ok


@dataclass
class Score:
    pages: int = 0
    pages_lost: list[str] = field(default_factory=list)
    pages_misplaced: list[str] = field(default_factory=list)
    fronts: int = 0
    serials_read: int = 0
    fields: dict[str, FieldScore] = field(default_factory=dict)
    hard: dict[str, dict[str, int]] = field(default_factory=dict)
    wrong_auto: list[str] = field(default_factory=list)
    clean_choices: FieldScore = field(default_factory=FieldScore)  # forms with no deliberate choice mistake

    def group(self, names: tuple[str, ...]) -> FieldScore:
        out = FieldScore()
        for n in names:
            s = self.fields.get(n, FieldScore())
            out.total += s.total
            out.auto += s.auto
            out.auto_wrong += s.auto_wrong
            out.right += s.right
        return out

    @property
    def silently_wrong(self) -> int:
        return sum(v.get("silently_wrong", 0) for v in self.hard.values()) + len(self.wrong_auto)


def truth_value(truth: dict, name: str) -> str:
    if name == "choices":
        return ",".join(truth["choices"])
    return str(truth["fields"].get(name, ""))


def score(db: sqlite_utils.Database, truth_path: Path) -> Score:
    """Page by page and field by field, how the stored result compares with the truth."""
    truth = json.loads(truth_path.read_text(encoding="utf-8"))["pages"]
    q = db.conn.execute
    stored = {(r[0], r[1]): (r[2], r[3], r[4], r[5]) for r in q(
        "SELECT f.original_name, p.page_index, p.kind, p.serial, p.reason, p.id FROM pages p "
        "JOIN files f ON f.sha256 = p.file_sha256")}
    fields: dict[int, dict[str, tuple[str, str]]] = {}
    for page_id, name, value, status in q("SELECT page_id, name, value, status FROM fields"):
        fields.setdefault(page_id, {})[name] = (value or "", status)
    copied = {t["serial"] for t in truth if t["copy"] == "photocopy"}
    s = Score()
    for t in truth:
        s.pages += 1
        key = (t["file"], t["page"])
        where = f"{t['file']}#{t['page'] + 1}"
        if key not in stored:
            s.pages_lost.append(where)
            continue
        kind, serial, reason, page_id = stored[key]
        expected = EXPECTED_KIND[t["kind"]]
        if t["serial"] in copied and t["kind"] == "front" and (kind, reason) == ("quarantined", "duplicate"):
            expected = "quarantined"  # of two sheets with one serial, whichever came second is held
        outcome = "right"
        if kind != expected:
            s.pages_misplaced.append(f"{where}: {t['kind']} stored as {kind} ({reason})")
            outcome = "silently_wrong" if kind == "front" else ("quarantined" if kind == "quarantined" else "lost")
        if t["kind"] == "front":
            s.fronts += t["copy"] == "original"
            if serial == t["serial"] and t["copy"] == "original":
                s.serials_read += 1
        page_fields = fields.get(page_id, {})
        any_review = False
        for name, (value, status) in page_fields.items():
            want = truth_value(t, name)
            ok = value == want
            s.fields.setdefault(name, FieldScore()).add(status, ok)
            any_review |= status == "review"
            if status == "auto" and not ok:
                s.wrong_auto.append(f"{where} {name}: stored {value!r}, truth {want!r}")
            if name == "choices" and not set(t["hard"]) & CHOICE_MISTAKES:
                s.clean_choices.add(status, ok)
        if kind == "quarantined" and outcome == "right":
            outcome = "quarantined"
        elif kind == "front" and outcome == "right" and any_review and t["hard"]:
            outcome = "review"
        for tag in t["hard"]:
            bucket = s.hard.setdefault(tag, {"right": 0, "review": 0, "quarantined": 0, "silently_wrong": 0,
                                             "lost": 0})
            if tag in CHOICE_MISTAKES | {"erasure", "stray_mark"}:
                status = page_fields.get("choices", ("", "review"))[1]
                ok = page_fields.get("choices", ("",))[0] == truth_value(t, "choices")
                tag_outcome = ("right" if ok else "silently_wrong") if status == "auto" else (
                    "review" if kind == "front" else outcome)
            elif tag == "missing_signature":
                value, status = page_fields.get("signature", ("", "review"))
                tag_outcome = ("right" if value == "missing" else "silently_wrong") if status == "auto" else (
                    "review" if kind == "front" else outcome)
            else:
                tag_outcome = outcome
            bucket[tag_outcome] += 1
    return s
