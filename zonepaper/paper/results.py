"""The public results list: what the office posts and hands to observers after the draw.

Every form by its number as printed, its lottery number (short, and whole), and for each program it
ranked what happened (a seat, a waitlist position, not needed); no names, birth dates or addresses.
The rows are the audit bundle's public-results.csv (written by the draw, checked by verify_draw.py),
read back and checked here against the stored results, so the posted paper and the published check
are one list.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from zonepaper.cycle import Cycle
from zonepaper.errors import ConflictError
from zonepaper.paper.bins import Draw, breakable_key, bundle_csv, bundle_path, check_against_bundle, load_draw
from zonepaper.paper.letters import short_lottery
from zonepaper.pdf import paragraph, register_fonts, whole_file
from zonepaper.serial import display_serial
from zonepaper.text import both_languages, translate

PUBLIC_FILE = "public-results.csv"  # (verify_draw.PUBLIC_FILE: the paper stage does not import the draw's code)


def public_list(conn: sqlite3.Connection, cycle: Cycle, draw_id: int | None = None):
    """(draw, its input digest, the public rows) of the current draw (or the one asked for): the bundle's
    list, once the bundle's results are the stored ones and its list says what they say."""
    draw = load_draw(conn, draw_id)
    check_against_bundle(cycle, conn, draw)
    try:
        _, rows = bundle_csv(cycle, conn, draw, PUBLIC_FILE)
    except KeyError:
        raise ConflictError("paper.no_public_list", draw=draw.id, file=str(bundle_path(cycle, conn, draw))) from None
    wrong = disagreements(draw, rows)
    if wrong:
        raise ConflictError("paper.public_differs", draw=draw.id, count=len(wrong),
                            serials=", ".join(wrong[:5]))
    digest = conn.execute("SELECT f.input_digest FROM draws d JOIN freezes f ON f.id = d.freeze_id WHERE d.id = ?",
                          (draw.id,)).fetchone()[0]
    return draw, digest, rows


def disagreements(draw: Draw, rows: list[dict]) -> list[str]:
    """The forms (as printed) where the list does not say what the stored draw says: a seat that is not the
    stored one, a waitlist position that is not, a ranked program missing or out of order, a reason."""
    by_form: dict[str, list[dict]] = {}
    for r in rows:
        by_form.setdefault(r.get("form", ""), []).append(r)
    wrong = []
    for serial, result in sorted(draw.results.items()):
        form = display_serial(serial)
        listed = by_form.pop(form, [])
        choices = draw.applicants.get(serial, {"choices": []})["choices"]
        if not result["assigned"] and not result["waitlist"]:
            ok = [(r["rank"], r["outcome"]) for r in listed] == [("", result["reason"])]
        else:
            ok = [r["program"] for r in listed] == choices and [r["rank"] for r in listed] == \
                [str(k) for k in range(1, len(choices) + 1)] and all(
                (r["outcome"] == "seat") == (r["program"] == result["assigned"])
                and (r["outcome"] == "waitlist") == (r["program"] in result["waitlist"])
                and r["position"] == str(result["waitlist"].get(r["program"], ""))
                and r["lottery"] == result["lottery"] for r in listed)
        if not ok:
            wrong.append(form)
    return wrong + sorted(by_form)


def write_results_pdf(cycle: Cycle, conn: sqlite3.Connection, draw_id: int | None = None) -> tuple[Path, int]:
    """output/results-draw-N.pdf; returns (path, forms listed)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import SimpleDocTemplate, Table, TableStyle

    register_fonts()
    zone = cycle.zone()
    draw, input_digest, rows = public_list(conn, cycle, draw_id)
    numbers = {p.id: p.number for p in zone.programs}
    ranks = max([int(r["rank"]) for r in rows if r["rank"]] or [1])

    def bi(name: str, /, **params: object) -> str:
        return both_languages("paper", f"results.{name}", **params)

    h1 = ParagraphStyle("h1", fontName="Sans-Bold", fontSize=14, leading=18, spaceAfter=4)
    body = ParagraphStyle("b", fontName="Sans", fontSize=8.5, leading=11, spaceAfter=3)
    mono = ParagraphStyle("m", fontName="Mono-Bold", fontSize=7.5, leading=10, spaceAfter=3)
    cell = ParagraphStyle("c", fontName="Sans", fontSize=7.5, leading=9)
    head = ParagraphStyle("h", fontName="Sans-Bold", fontSize=7.5, leading=9)
    title = " / ".join(translate("paper", "results.title", lang, draw=draw.id, zone=zone.name[lang])
                       for lang in ("es", "en"))
    story = [paragraph(title, h1),
             paragraph(bi("what"), body),
             paragraph(f"{bi('key')}:", body), paragraph(breakable_key(draw.key_string), mono),
             paragraph(f"{bi('inputs')}: {input_digest}", mono),
             paragraph(f"{bi('results')}: {draw.result_digest}", mono),
             paragraph(bi("check", draw=draw.id), body),
             paragraph(bi("legend"), body)]
    by_form: dict[str, list[dict]] = {}
    for r in rows:
        by_form.setdefault(r["form"], []).append(r)
    table = [[paragraph(bi("col_form"), head), paragraph(bi("col_lottery"), head)]
             + [paragraph(bi("col_choice", rank=k), head) for k in range(1, ranks + 1)]]
    for form, ranked in by_form.items():
        line = [paragraph(form, head), paragraph(short_lottery(ranked[0]["lottery"]), cell)]
        if not ranked[0]["rank"]:  # not in the draw: the reason, once
            line += [paragraph(bi(f"reason_{ranked[0]['outcome']}"), cell)] + [""] * (ranks - 1)
        else:
            by_rank = {int(r["rank"]): r for r in ranked}
            line += [paragraph(_outcome(by_rank[k], numbers, bi), head if by_rank[k]["outcome"] == "seat" else cell)
                     if k in by_rank else "" for k in range(1, ranks + 1)]
        table.append(line)
    width = letter[0] - 2 * 36
    first = [0.95 * 72, 0.85 * 72]
    t = Table(table, colWidths=first + [(width - sum(first)) / ranks] * ranks, repeatRows=1)
    t.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "Sans", 7.5),
                           ("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                           ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                           ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f6f6f6")])]))
    story.append(t)
    footer = bi("footer", draw=draw.id, digest=draw.result_digest[:16])

    def on_page(c, doc) -> None:
        c.setFont("Sans", 7)
        c.setFillColor(colors.grey)
        c.drawString(36, 22, f"{footer} · {c.getPageNumber()}")

    out = cycle.root / "output" / f"results-draw-{draw.id}.pdf"
    with whole_file(out) as part:
        SimpleDocTemplate(str(part), pagesize=letter, leftMargin=36, rightMargin=36, topMargin=36, bottomMargin=40,
                          title=f"Results, draw {draw.id}").build(story, onFirstPage=on_page, onLaterPages=on_page)
    return out, len(by_form)


def _outcome(row: dict, numbers: dict[str, int], bi) -> str:
    """One ranked program's cell: its number on the form, then what happened there."""
    number = numbers.get(row["program"], row["program"])
    if row["outcome"] == "waitlist":
        return f"{number} · {bi('waitlist', position=row['position'])}"
    return f"{number} · {bi(row['outcome'])}"
