"""Bin sheets: how volunteers sort the stack of paper forms into bins that match the draw exactly.

Every form goes in exactly one bin: the program where it has a seat, or "no seat" (it waits on
lists), or "not in the draw" (no valid choice, not eligible). First a count per bin, to check a
bin once it is full, and an index by form number ("000140-2 -> 7") for whoever holds a random
stack; then one section per bin, by form number, each row with the serial (large), the student's
name, its choice there (or its waitlists, or why it has no seat) and a tick box "paper form
placed" for a second volunteer. Every page is headed with its bin and says "page N of M", the
draw, the method, the key string and the result fingerprint. For the `bins` method there are
also sheets per round: which forms move from which bin to which.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from zonepaper.cycle import Cycle
from zonepaper.errors import ConflictError
from zonepaper.pdf import paragraph, register_fonts, whole_file
from zonepaper.serial import display_serial
from zonepaper.store.integrity import refuse_if_tampered
from zonepaper.text import both_languages, translate
from zonepaper.zone import Zone


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


def breakable_key(key: str) -> str:
    """The key string with a space after each source's slash, so that a line breaks between sources and
    never inside one (the page says the string is read without those spaces)."""
    return key.replace("/", "/ ").strip()


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


def student_names(conn: sqlite3.Connection) -> dict[str, str]:
    names: dict[str, dict[str, str]] = {}
    for serial, name, value in conn.execute(
            "SELECT serial, name, value FROM fields WHERE name IN ('last_name', 'first_name')"):
        names.setdefault(serial, {})[name] = value or ""
    return {s: f"{n.get('last_name', '')}, {n.get('first_name', '')}".strip(", ") for s, n in names.items()}


NO_SEAT, NOT_IN_DRAW = "no_seat", "not_in_draw"  # the two bins of forms without a seat


def bin_of(result: dict) -> str:
    """Which bin a form goes in: the program where it has a seat, else no seat (it waits on lists) or not in
    the draw (no valid choice, not eligible). One bin per form."""
    if result["assigned"]:
        return result["assigned"]
    return NO_SEAT if result["waitlist"] else NOT_IN_DRAW


def bins_of(draw: Draw, zone: Zone) -> list[tuple[str, list[str]]]:
    """(bin, its forms by form number) in the order the sheets print them: programs as numbered on the
    form, then no seat, then not in the draw; empty bins left out."""
    forms: dict[str, list[str]] = {}
    for serial in sorted(draw.results):
        forms.setdefault(bin_of(draw.results[serial]), []).append(serial)
    order = [p.id for p in zone.programs] + [NO_SEAT, NOT_IN_DRAW]
    return [(b, forms[b]) for b in order if b in forms]


def row_outcome(draw: Draw, zone: Zone, serial: str, lang: str) -> str:
    """What the sheet says of one form in its bin: its choice there, or its waitlists, or why it has none."""
    numbers = {p.id: p.number for p in zone.programs}
    r = draw.results[serial]
    if r["assigned"]:
        return translate("paper", "bins.seat_choice", lang, rank=r["rank"])
    if r["waitlist"]:
        return ", ".join(translate("paper", "bins.waits", lang, number=numbers.get(p, p), position=n)
                         for p, n in sorted(r["waitlist"].items(), key=lambda w: numbers.get(w[0], 0)))
    return translate("paper", f"bins.reason_{r['reason'] or 'no_seat'}", lang)


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


def bin_title(b: str, zone: Zone) -> str:
    """A bin's heading in both languages: 'Caja / Bin 7: its program — its campus', or what the bin holds."""
    if b in (NO_SEAT, NOT_IN_DRAW):
        return both_languages("paper", f"bins.bin_{b}")
    p = zone.program(b)
    return f"{both_languages('paper', 'bins.bin_word')} {p.number}: {p.name} — {p.campus.name}"


def bin_label(b: str, zone: Zone) -> str:
    """The short name of a bin on the index: its program number, or a word."""
    if b in (NO_SEAT, NOT_IN_DRAW):
        return both_languages("paper", f"bins.short_{b}")
    return str(zone.program(b).number)


def write_bins_pdf(cycle: Cycle, conn: sqlite3.Connection, draw_id: int | None = None) -> tuple[Path, Draw]:
    """The bin sheets of a draw as one PDF (written whole, then moved into place): a count per bin, an index
    by form number (for whoever holds a random stack), then one section per bin, each form in exactly one
    bin; every page says which bin it is, the draw, its fingerprint and "page N of M"."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import (BaseDocTemplate, Flowable, Frame, PageBreak, PageTemplate, Spacer,
                                    Table, TableStyle)

    register_fonts()
    zone = cycle.zone()
    draw = load_draw(conn, draw_id)
    names = student_names(conn)
    title = ParagraphStyle("t", fontName="Sans-Bold", fontSize=15, leading=19, spaceAfter=4)
    small = ParagraphStyle("s", fontName="Sans", fontSize=8.5, leading=11)
    cell = ParagraphStyle("c", fontName="Sans", fontSize=9, leading=11)
    grid = [("FONT", (0, 0), (-1, -1), "Sans", 9),  # every cell (a table's own default is Helvetica, not embedded)
            ("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8"))]

    def both(text_key: str, /, **params: object) -> str:
        return both_languages("paper", text_key, **params)

    state = {"bin": both("bins.bin_index")}

    class Mark(Flowable):
        """Says which bin the pages from here on belong to (read by each page's heading)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

        def wrap(self, *args):
            return 0, 0

        def draw(self) -> None:
            state["bin"] = self.text

    binned = bins_of(draw, zone)
    story: list = [Mark(both("bins.bin_index")), paragraph(both("bins.count_title"), title),
                   paragraph(both("bins.key", key=breakable_key(draw.key_string)), small),
                   paragraph(both("bins.digest", digest=draw.result_digest), small), Spacer(1, 6)]
    counts = [[paragraph(both("bins.col_bin"), small), paragraph(both("bins.col_forms"), small),
               paragraph(both("bins.col_checked"), small)]]
    for b, forms in binned:
        counts.append([paragraph(bin_title(b, zone), cell),
                       str(len(forms)), "☐"])
    counts.append([paragraph(both("bins.total"), cell), str(sum(len(f) for _, f in binned)), ""])
    table = Table(counts, colWidths=[390, 70, 80], repeatRows=1)
    table.setStyle(TableStyle(grid + [("FONT", (1, 1), (1, -1), "Sans-Bold", 11), ("FONT", (2, 1), (2, -1), "Sans", 16),
                                      ("FONT", (0, -1), (-1, -1), "Sans-Bold", 11)]))
    story += [table, Spacer(1, 10), paragraph(both("bins.index_title"), title),
              paragraph(both("bins.index_how"), small), Spacer(1, 4)]
    where = {s: bin_label(b, zone) for b, forms in binned for s in forms}
    pairs = [(display_serial(s), where[s]) for s in sorted(where)]
    index = [[paragraph(both("bins.col_serial"), small), paragraph(both("bins.col_bin_short"), small)] * 3]
    for i in range(0, len(pairs), 3):  # three "form -> bin" pairs a row, in form order along each row
        line: list = []
        for form, label in pairs[i:i + 3]:
            line += [form, label]
        index.append(line + [""] * (6 - len(line)))
    table = Table(index, colWidths=[80, 100] * 3, repeatRows=1)
    table.setStyle(TableStyle(grid + [("FONT", (0, 1), (-1, -1), "Mono-Bold", 10)]
                              + [("FONT", (c, 1), (c, -1), "Sans-Bold", 8.5) for c in (1, 3, 5)]))
    story += [table, PageBreak()]
    for b, forms in binned:
        heading = bin_title(b, zone)
        short = heading if b not in (NO_SEAT, NOT_IN_DRAW) else f"{both('bins.bin_word')}: {bin_label(b, zone)}"
        story += [Mark(short), paragraph(heading, title)]
        if b not in (NO_SEAT, NOT_IN_DRAW):
            seats = sum(zone.program(b).seats.values())
            story.append(paragraph(both("bins.header", seats=seats, forms=len(forms)), small))
        story.append(Spacer(1, 6))
        head = [both("bins.col_serial"), both("bins.col_name"), both("bins.col_outcome"), both("bins.col_placed")]
        data = [[paragraph(h, small) for h in head]]
        for serial in forms:
            data.append([display_serial(serial), paragraph(names.get(serial, ""), cell),
                         paragraph(f"{row_outcome(draw, zone, serial, 'es')} / {row_outcome(draw, zone, serial, 'en')}",
                                   cell), "☐"])
        table = Table(data, colWidths=[100, 190, 190, 60], repeatRows=1)
        table.setStyle(TableStyle(grid + [("FONT", (0, 1), (0, -1), "Mono-Bold", 13),
                                          ("FONT", (3, 1), (3, -1), "Sans", 16),
                                          ("ROWBACKGROUNDS", (0, 1), (-1, -1),
                                           [colors.white, colors.HexColor("#f4f4f4")])]))
        story += [table, PageBreak()]
    if draw.mechanism == "bins":
        numbers = {p.id: p.number for p in zone.programs}
        story.append(Mark(both("bins.rounds")))
        for k, program, movers in round_moves(draw, zone):
            story.append(paragraph(both("bins.round_title", k=k, number=numbers[program]), title))
            data = [[paragraph(both("bins.col_serial"), small), paragraph(both("bins.col_name"), small),
                     paragraph(both("bins.col_moves"), small), paragraph(both("bins.col_placed"), small)]]
            for serial, nxt in movers:
                target = both("bins.moves_to", k=k + 1, number=numbers[nxt]) if nxt else both("bins.no_more")
                data.append([display_serial(serial), paragraph(names.get(serial, ""), cell),
                             paragraph(target, small), "☐"])
            table = Table(data, colWidths=[100, 230, 160, 50], repeatRows=1)  # a serial and a name on one line
            table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "Sans", 9),
                                       ("FONT", (0, 1), (0, -1), "Mono-Bold", 13),
                                       ("FONT", (3, 1), (3, -1), "Sans", 16),
                                       ("GRID", (0, 0), (-1, -1), 0.5, colors.grey)]))
            story += [table, Spacer(1, 14)]
    footer = " / ".join(translate("paper", "bins.footer", lang, draw=draw.id, digest=draw.result_digest[:16],
                                  method=translate("paper", f"bins.method_{draw.mechanism}", lang))
                        for lang in ("es", "en"))

    def fitted(c, x: float, y: float, text: str, font: str, size: float, width: float) -> None:
        """One line, made smaller until it fits its width (never cut)."""
        while size > 4.5 and c.stringWidth(text, font, size) > width:
            size -= 0.25
        c.setFont(font, size)
        c.drawString(x, y, text)

    def heading(c, doc) -> None:  # at the end of each page: the bin its rows belong to is known then
        c.saveState()
        fitted(c, 36, letter[1] - 26, state["bin"], "Sans-Bold", 9, letter[0] - 72 - 110)
        c.setFillColor(colors.grey)
        fitted(c, 36, 20, footer, "Sans", 7, letter[0] - 72)
        c.restoreState()

    class Numbered(Canvas):
        """Pages kept until the end, so each can say "page N of M"."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.pages: list[dict] = []

        def showPage(self) -> None:
            self.pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self.pages)
            for n, page in enumerate(self.pages, start=1):
                self.__dict__.update(page)
                self.setFont("Sans", 8)
                self.drawRightString(letter[0] - 36, letter[1] - 26, both("bins.page", page=n, pages=total))
                super().showPage()
            super().save()

    out = cycle.root / "output" / f"bins-draw-{draw.id}.pdf"
    with whole_file(out) as part:
        doc = BaseDocTemplate(str(part), pagesize=letter, leftMargin=36, rightMargin=36, topMargin=44, bottomMargin=36,
                              title=f"Bin sheets, draw {draw.id}")
        doc.addPageTemplates([PageTemplate("bins", [Frame(36, 36, letter[0] - 72, letter[1] - 80)],
                                           onPageEnd=heading)])
        doc.build(story, canvasmaker=Numbered)
    return out, draw
