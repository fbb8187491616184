"""Bin sheets: how volunteers sort the stack of paper forms into bins that match the draw exactly.

One section per program: the header says which draw (id, key string, result fingerprint) and
the program's seats; then every form that ranked the program, in the program's draw order,
with its position, serial (large), the student's name, the rank the family gave the program,
and what happened (placed here, waitlist position, or placed in a choice it ranked higher),
and a tick box "paper form placed" so that a second volunteer can check. For the `bins`
method there are also sheets per round: which forms move from which bin to which.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from zonepaper.cycle import Cycle
from zonepaper.errors import ConflictError
from zonepaper.pdf import register_fonts, write_story
from zonepaper.serial import display_serial
from zonepaper.store.integrity import refuse_if_tampered
from zonepaper.text import both_languages, translate
from zonepaper.zone import Zone


@dataclass(frozen=True)
class Row:
    position: int
    serial: str
    name: str
    rank: int  # the rank the family gave this program
    outcome: str  # words for the volunteer


@dataclass(frozen=True)
class Draw:
    id: int
    key_string: str
    result_digest: str
    mechanism: str
    applicants: dict[str, dict]  # serial -> frozen inputs row
    results: dict[str, dict]  # serial -> lottery, assigned, rank, reason, waitlist


def load_draw(conn: sqlite3.Connection, draw_id: int | None = None) -> Draw:
    """The current draw (or the one asked for) with its frozen inputs and results; refused when the
    database is not what the event log says (nothing is printed or offered from data changed behind
    the tool's back)."""
    refuse_if_tampered(conn)
    sql = ("SELECT d.id, d.key_string, d.result_digest, f.mechanism, f.inputs FROM draws d "
           "JOIN freezes f ON f.id = d.freeze_id ")
    row = conn.execute(sql + ("WHERE d.id = ?" if draw_id else "WHERE d.status = 'current' ORDER BY d.id DESC LIMIT 1"),
                       (draw_id,) if draw_id else ()).fetchone()
    if row is None:
        raise ConflictError("paper.no_such_draw" if draw_id else "paper.no_draw", draw=draw_id or "")
    inputs = json.loads(row[4])
    results = {}
    for serial, grade, lottery, assigned, rank, reason, waitlist in conn.execute(
            "SELECT serial, grade, lottery, assigned, rank, reason, waitlist FROM draw_results WHERE draw_id = ?",
            (row[0],)):
        results[serial] = {"grade": grade, "lottery": lottery, "assigned": assigned or "", "rank": rank,
                           "reason": reason, "waitlist": json.loads(waitlist)}
    return Draw(row[0], row[1], row[2], row[3], {a["serial"]: a for a in inputs["applicants"]}, results)


def bundle_path(cycle: Cycle, conn: sqlite3.Connection, draw: Draw) -> Path:
    stored = Path(conn.execute("SELECT bundle FROM draws WHERE id = ?", (draw.id,)).fetchone()[0])
    bundle = cycle.root / "output" / stored.name  # where the draw wrote it, even if the cycle folder moved
    return bundle if bundle.is_file() else stored


def bundle_csv(cycle: Cycle, conn: sqlite3.Connection, draw: Draw, name: str) -> tuple[bytes, list[dict]]:
    """(bytes, rows) of one CSV file of the draw's published audit bundle; a missing or unreadable bundle is
    refused, named. A file the bundle does not hold raises KeyError."""
    import csv
    import io
    import zipfile

    bundle = bundle_path(cycle, conn, draw)
    try:
        with zipfile.ZipFile(bundle) as z:
            if name not in z.namelist():
                raise KeyError(name)
            data = z.read(name)
        return data, list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    except FileNotFoundError:
        raise ConflictError("paper.bundle_missing", draw=draw.id, file=str(bundle)) from None
    except (OSError, ValueError, zipfile.BadZipFile):
        raise ConflictError("paper.bundle_unreadable", draw=draw.id, file=str(bundle)) from None


def check_against_bundle(cycle: Cycle, conn: sqlite3.Connection, draw: Draw) -> None:
    """The stored results are those of the draw's audit bundle (the file that was published): its
    results.csv has the draw's fingerprint and says, form by form, what the database says."""
    import hashlib

    bundle = bundle_path(cycle, conn, draw)
    try:
        data, rows = bundle_csv(cycle, conn, draw, "results.csv")
        published = {r["serial"]: (r["lottery"], r["assigned"], int(r["rank"]), r["reason"],
                                   {p: int(n) for p, n in (w.split("=") for w in r["waitlist"].split(";") if w)})
                     for r in rows}
    except (KeyError, ValueError, AttributeError):
        raise ConflictError("paper.bundle_unreadable", draw=draw.id, file=str(bundle)) from None
    ours = {s: (r["lottery"], r["assigned"], r["rank"], r["reason"], r["waitlist"]) for s, r in draw.results.items()}
    differ = sorted(s for s in set(ours) | set(published) if ours.get(s) != published.get(s))
    if hashlib.sha256(data).hexdigest() != draw.result_digest or differ:
        raise ConflictError("paper.bundle_differs", draw=draw.id, file=str(bundle), count=len(differ),
                            serials=", ".join(display_serial(s) for s in differ[:5]) or "-")


def program_order(draw: Draw, program: str, no_priority: int) -> list[str]:
    """Serials of the forms that ranked `program`, in the program's draw order (as verify_draw orders them)."""
    ranked = [s for s, a in draw.applicants.items() if program in a["choices"]]
    if draw.mechanism == "fcfs":
        return sorted(ranked, key=lambda s: (draw.applicants[s]["received"], draw.results[s]["lottery"]))
    return sorted(ranked, key=lambda s: (draw.applicants[s]["priorities"].get(program, no_priority),
                                         draw.results[s]["lottery"]))


def student_names(conn: sqlite3.Connection) -> dict[str, str]:
    names: dict[str, dict[str, str]] = {}
    for serial, name, value in conn.execute(
            "SELECT serial, name, value FROM fields WHERE name IN ('last_name', 'first_name')"):
        names.setdefault(serial, {})[name] = value or ""
    return {s: f"{n.get('last_name', '')}, {n.get('first_name', '')}".strip(", ") for s, n in names.items()}


def program_rows(draw: Draw, zone: Zone, program: str, names: dict[str, str], lang: str) -> list[Row]:
    numbers = {p.id: p.number for p in zone.programs}
    rows = []
    for position, serial in enumerate(program_order(draw, program, len(zone.priorities)), start=1):
        a, r = draw.applicants[serial], draw.results[serial]
        if r["assigned"] == program:
            outcome = translate("paper", "bins.placed_here", lang)
        elif program in r["waitlist"]:
            outcome = translate("paper", "bins.waitlist", lang, position=r["waitlist"][program])
        elif r["assigned"]:
            outcome = translate("paper", "bins.placed_higher", lang, rank=r["rank"], number=numbers[r["assigned"]])
        else:
            outcome = translate("paper", f"bins.reason_{r['reason'] or 'no_seat'}", lang)
        rows.append(Row(position, serial, names.get(serial, ""), a["choices"].index(program) + 1, outcome))
    return rows


def round_moves(draw: Draw, zone: Zone) -> list[tuple[int, str, list[tuple[str, str]]]]:
    """For the bins method: per round k and bin, the forms that do not fit and the bin they move to next."""
    moves = []
    for k in range(1, zone.max_choices + 1):
        for p in zone.programs:
            movers = []
            for serial, a in draw.applicants.items():
                r = draw.results[serial]
                in_bin = len(a["choices"]) >= k and a["choices"][k - 1] == p.id
                placed_before = r["assigned"] and r["rank"] < k
                if in_bin and not placed_before and r["assigned"] != p.id:
                    nxt = a["choices"][k] if len(a["choices"]) > k else ""
                    movers.append((serial, nxt))
            if movers:
                moves.append((k, p.id, sorted(movers, key=lambda m: draw.results[m[0]]["lottery"])))
    return moves


def write_bins_pdf(cycle: Cycle, conn: sqlite3.Connection, draw_id: int | None = None) -> tuple[Path, Draw]:
    """The bin sheets of a draw as one PDF (written whole, then moved into place)."""
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import PageBreak, Paragraph, Spacer, Table, TableStyle

    register_fonts()
    zone = cycle.zone()
    draw = load_draw(conn, draw_id)
    names = student_names(conn)
    title = ParagraphStyle("t", fontName="Sans-Bold", fontSize=15, leading=19)
    small = ParagraphStyle("s", fontName="Sans", fontSize=8.5, leading=11)
    cell = ParagraphStyle("c", fontName="Sans", fontSize=9, leading=11)

    def both(text_key: str, /, **params: object) -> str:
        return both_languages("paper", text_key, **params)

    story = []
    for p in zone.programs:
        seats = sum(p.seats.values())
        story.append(Paragraph(f"{p.number}. {p.name} — {p.campus.name}", title))
        story.append(Paragraph(both("bins.header", seats=seats, mechanism=draw.mechanism, draw=draw.id), small))
        story.append(Paragraph(both("bins.key", key=draw.key_string), small))
        story.append(Paragraph(both("bins.digest", digest=draw.result_digest), small))
        story.append(Spacer(1, 6))
        rows = program_rows(draw, zone, p.id, names, "es")
        rows_en = program_rows(draw, zone, p.id, names, "en")
        head = [both("bins.col_position"), both("bins.col_serial"), both("bins.col_name"), both("bins.col_rank"),
                both("bins.col_outcome"), both("bins.col_placed")]
        data = [[Paragraph(h, small) for h in head]]
        for r, r_en in zip(rows, rows_en):
            data.append([str(r.position), display_serial(r.serial), Paragraph(r.name, cell), str(r.rank),
                         Paragraph(f"{r.outcome} / {r_en.outcome}", cell), "☐"])
        if len(data) == 1:
            data.append(["", "", Paragraph(both("bins.nobody"), cell), "", "", ""])
        table = Table(data, colWidths=[42, 92, 146, 50, 160, 50], repeatRows=1)
        table.setStyle(TableStyle([
            ("FONT", (0, 1), (-1, -1), "Sans", 9), ("FONT", (1, 1), (1, -1), "Mono-Bold", 13),
            ("FONT", (5, 1), (5, -1), "Sans", 16), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f4f4f4")]),
        ]))
        story += [table, PageBreak()]
    if draw.mechanism == "bins":
        numbers = {p.id: p.number for p in zone.programs}
        for k, program, movers in round_moves(draw, zone):
            story.append(Paragraph(both("bins.round_title", k=k, number=numbers[program]), title))
            data = [[Paragraph(both("bins.col_serial"), small), Paragraph(both("bins.col_name"), small),
                     Paragraph(both("bins.col_moves"), small), Paragraph(both("bins.col_placed"), small)]]
            for serial, nxt in movers:
                target = both("bins.moves_to", k=k + 1, number=numbers[nxt]) if nxt else both("bins.no_more")
                data.append([display_serial(serial), Paragraph(names.get(serial, ""), cell),
                             Paragraph(target, cell), "☐"])
            table = Table(data, colWidths=[100, 170, 210, 60], repeatRows=1)
            table.setStyle(TableStyle([("FONT", (0, 1), (0, -1), "Mono-Bold", 13),
                                       ("FONT", (3, 1), (3, -1), "Sans", 16),
                                       ("GRID", (0, 0), (-1, -1), 0.5, colors.grey)]))
            story += [table, Spacer(1, 14)]
    out = write_story(cycle.root / "output" / f"bins-draw-{draw.id}.pdf", story, f"Bin sheets, draw {draw.id}", 36)
    return out, draw
