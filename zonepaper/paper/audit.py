"""The audit report: what was frozen, how the seed was made, what came out, and how to check it."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

from zonepaper.cycle import Cycle
from zonepaper.paper.bins import breakable_key, load_draw
from zonepaper.pdf import paragraph, register_fonts, write_story
from zonepaper.store.integrity import chain_head, grouped
from zonepaper.text import both_languages, translate


def demand(draw, zone) -> dict[str, list[int]]:
    """Per program id: how many forms ranked it 1st, 2nd, ... (eligible or not)."""
    out = {p.id: [0] * zone.max_choices for p in zone.programs}
    for a in draw.applicants.values():
        for k, c in enumerate(a["choices"][: zone.max_choices]):
            if c in out:
                out[c][k] += 1
    return out


def write_audit_report(cycle: Cycle, conn: sqlite3.Connection, draw_id: int | None = None) -> Path:
    """output/audit-report-draw-N.pdf, Spanish and English side by side in each part."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing, Group, String
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import KeepTogether, Spacer, Table, TableStyle

    register_fonts()
    zone = cycle.zone()
    draw = load_draw(conn, draw_id)
    row = conn.execute("SELECT d.sources, d.entropy_bits, d.created_at, d.bundle, f.input_digest, f.created_at, "
                       "f.unreviewed_reason FROM draws d JOIN freezes f ON f.id = d.freeze_id WHERE d.id = ?",
                       (draw.id,)).fetchone()
    sources, bits, drawn_at, bundle, input_digest, frozen_at, unreviewed = row
    h1 = ParagraphStyle("h1", fontName="Sans-Bold", fontSize=16, leading=20, spaceAfter=6)
    h2 = ParagraphStyle("h2", fontName="Sans-Bold", fontSize=12, leading=15, spaceBefore=10, spaceAfter=4,
                        keepWithNext=1)
    body = ParagraphStyle("b", fontName="Sans", fontSize=9.5, leading=12.5)
    mono = ParagraphStyle("m", fontName="Mono-Bold", fontSize=9, leading=12)

    def t(key: str, lang: str, **params: object) -> str:
        return translate("paper", key, lang, **params)

    def bi(key: str, **params: object) -> str:
        return both_languages("paper", key, **params)

    def both(key: str, **params: object) -> list:
        return [paragraph(t(key, lang, **params), body) for lang in ("es", "en")]

    results = list(draw.results.values())
    ranks = Counter(r["rank"] for r in results if r["assigned"])
    unplaced = Counter(r["reason"] for r in results if not r["assigned"])
    story: list = [paragraph(" / ".join(t("audit.title", lang, zone=zone.name[lang], cycle=zone.cycle)
                                        for lang in ("es", "en")), h1)]
    warnings = []  # what an observer must see first: a weak seed, data frozen before review was done
    if bits < 64:
        warnings += both("audit.weak_seed", bits=f"{bits:.1f}")
    if unreviewed:
        left = unreviewed_counts(conn, draw)
        warnings += both("audit.unreviewed_box", reason=unreviewed, review=left.get("review", "?"),
                         quarantine=left.get("quarantine", "?"), held=left.get("held", "?"))
    if warnings:
        box = Table([[w] for w in warnings], colWidths=[520])
        box.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "Sans", 9.5), ("BOX", (0, 0), (-1, -1), 1.5, colors.black),
                                 ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f2f2f2"))]))
        story += [box, Spacer(1, 6)]
    story += [paragraph(bi("audit.part_freeze"), h2)]
    story += both("audit.frozen", at=zone.local_time(frozen_at), applicants=len(results))
    if unreviewed:
        story += both("audit.unreviewed", reason=unreviewed)
    story += [paragraph(input_digest, mono)]
    story += [paragraph(bi("audit.part_seed"), h2)]
    story += both("audit.sources", at=zone.local_time(drawn_at), bits=f"{bits:.1f}")
    story += [paragraph(" | ".join(json.loads(sources)), mono),
              paragraph(breakable_key(draw.key_string), mono), *both("audit.key_spaces")]
    story += both("audit.result", digest=draw.result_digest)
    story += [paragraph(draw.result_digest, mono)]

    story += [paragraph(bi("audit.part_outcome"), h2)]
    table = [[bi("audit.col_outcome"), "n"]]
    for k in sorted(ranks):
        table.append([bi("audit.got_choice", rank=k), str(ranks[k])])
    for reason, n in sorted(unplaced.items()):
        table.append([bi(f"bins.reason_{reason}"), str(n)])
    table.append([bi("audit.total"), str(len(results))])
    tbl = Table(table, colWidths=[330, 60])
    tbl.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "Sans", 9.5), ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                             ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                             ("FONT", (0, -1), (-1, -1), "Sans-Bold", 9.5)]))
    story += [tbl]

    wanted = demand(draw, zone)
    story += [paragraph(bi("audit.part_demand"), h2)]
    chart = Drawing(540, 236)
    bars = VerticalBarChart()
    bars.x, bars.y, bars.width, bars.height = 44, 66, 486, 150
    bars.data = [[wanted[p.id][k] for p in zone.programs] for k in range(zone.max_choices)]
    bars.categoryAxis.categoryNames = [str(p.number) for p in zone.programs]
    bars.categoryAxis.labels.fontName = bars.valueAxis.labels.fontName = "Sans"
    bars.categoryAxis.style = "stacked"
    bars.valueAxis.valueMin = 0
    for k in range(zone.max_choices):  # greys evenly from black to white, outlined: apart in black and white
        level = k / max(1, zone.max_choices - 1)
        bars.bars[k].fillColor = colors.Color(level, level, level)
        bars.bars[k].strokeColor, bars.bars[k].strokeWidth = colors.black, 0.5
    legend = Legend()
    legend.x, legend.y, legend.fontName, legend.fontSize, legend.alignment = 44, 14, "Sans", 7.5, "right"
    legend.columnMaximum, legend.dx, legend.dy, legend.deltax = 1, 9, 9, 80
    legend.strokeColor, legend.strokeWidth = colors.black, 0.5
    legend.colorNamePairs = [(bars.bars[k].fillColor, bi("audit.rank", rank=k + 1)) for k in range(zone.max_choices)]
    x_title = String(44 + 243, 38, bi("audit.axis_programs"), fontName="Sans", fontSize=8, textAnchor="middle")
    y_title = Group(String(0, 0, bi("audit.axis_forms"), fontName="Sans", fontSize=8, textAnchor="middle"))
    y_title.transform = (0, 1, -1, 0, 12, 66 + 75)  # turned to run up the value axis
    chart.add(bars)
    chart.add(legend)
    chart.add(x_title)
    chart.add(y_title)
    story[-1:] = [KeepTogether([story[-1], *both("audit.chart_caption"), chart])]
    seats_table = [[paragraph(bi(f"audit.col_{k}"), body)
                    for k in ("program", "seats", "first", "placed")]]
    placed = Counter(r["assigned"] for r in results if r["assigned"])
    for p in zone.programs:
        seats_table.append([paragraph(f"{p.number}. {p.name}", body), str(sum(p.seats.values())),
                            str(wanted[p.id][0]), str(placed[p.id])])
    seats_table.append([paragraph(bi("audit.total"), body), str(sum(sum(p.seats.values()) for p in zone.programs)),
                        str(sum(wanted[p.id][0] for p in zone.programs)), str(sum(placed.values()))])
    tbl = Table(seats_table, colWidths=[290, 70, 90, 70], repeatRows=1)
    tbl.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "Sans", 9), ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                             ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                             ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("FONT", (1, -1), (-1, -1), "Sans-Bold", 9)]))
    story += [Spacer(1, 6), tbl]

    story += [paragraph(bi("audit.part_method"), h2)]
    for lang in ("es", "en"):
        story += [paragraph(translate("messages", f"draw.mechanism_{draw.mechanism}", lang), body),
                  paragraph(t("audit.lottery_explained", lang, bundle=Path(bundle).name), body), Spacer(1, 4)]
    replay = [paragraph(bi("audit.part_replay"), h2)]
    for lang in ("es", "en"):
        replay += [paragraph(t("audit.replay", lang, bundle=Path(bundle).name), body), Spacer(1, 4)]
    events, head = chain_head(conn)
    replay += [*both("audit.chain", events=events), paragraph(grouped(head), mono)]
    story += [KeepTogether(replay)]  # how to check the draw stays in one piece, with the chain head

    from datetime import datetime, timezone

    printed = zone.local_time(datetime.now(timezone.utc).isoformat(timespec="seconds"))
    footer = " / ".join(t("audit.footer", lang, draw=draw.id, at=printed) for lang in ("es", "en"))

    def on_page(c, doc) -> None:
        c.saveState()
        c.setFont("Sans", 7)
        c.setFillColor(colors.grey)
        c.drawString(42, 24, f"{footer} · {c.getPageNumber()}")
        c.restoreState()

    return write_story(cycle.root / "output" / f"audit-report-draw-{draw.id}.pdf", story,
                       f"Audit report, draw {draw.id}", 42, on_page)


def unreviewed_counts(conn: sqlite3.Connection, draw) -> dict:
    """What was still unreviewed when the draw's data were frozen (from its draw.frozen event)."""
    row = conn.execute("SELECT e.payload FROM events e JOIN draws d ON e.subject = 'freeze:' || d.freeze_id "
                       "WHERE d.id = ? AND e.kind = 'draw.frozen' ORDER BY e.id DESC LIMIT 1", (draw.id,)).fetchone()
    return (json.loads(row[0]).get("unreviewed") or {}) if row else {}
