"""Assignment letters: one per application, the family's language on the front and the other on the back.

The front ends with a tear-off reply slip drawn from the slip layout (layout.build_slip_layout),
so a returned slip goes through `zonepaper scan ingest` like a form. The family's address sits
where a standard US #10 window envelope shows it, for a letter folded in three.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from zonepaper.cycle import Cycle
from zonepaper.layout import SLIP_H, build_slip_layout
from zonepaper.paper.bins import Draw, check_against_bundle, load_draw
from zonepaper.pdf import GREY, LayoutPainter, register_fonts, whole_file
from zonepaper.serial import REPLY, display_serial, make_payload
from zonepaper.text import translate
from zonepaper.zone import Zone

# #10 window envelope (4 1/8 x 9 1/2 in): the window is about 4 1/2 x 1 1/8 in, 7/8 in from the
# left and 1/2 in from the bottom; folded in three, that is this block of the letter's first third.
WINDOW = (0.9 * 72, 2.05 * 72, 4.0 * 72, 1.0 * 72)  # x, top, width, height in points from the top left
LEFT, RIGHT = 0.9 * 72, 612 - 0.9 * 72


@dataclass(frozen=True)
class Family:
    serial: str
    language: str  # es | en: the front of the letter
    student: str
    guardian: str
    address: str
    zip: str


def families(conn: sqlite3.Connection) -> dict[str, Family]:
    values: dict[str, dict[str, str]] = {}
    for serial, name, value in conn.execute(
            "SELECT serial, name, value FROM fields WHERE name IN ('letter_language', 'first_name', 'last_name', "
            "'guardian_name', 'address', 'zip')"):
        values.setdefault(serial, {})[name] = value or ""
    out = {}
    for serial, v in values.items():
        student = f"{v.get('first_name', '')} {v.get('last_name', '')}".strip()
        out[serial] = Family(serial, "en" if v.get("letter_language") == "en" else "es", student,
                             v.get("guardian_name", ""), v.get("address", ""), v.get("zip", ""))
    return out


def letter_paragraphs(zone: Zone, draw: Draw, family: Family, lang: str) -> list[tuple[str, str]]:
    """(style, text) of one letter in one language: greeting, outcome, waitlists, next steps, lottery, contact."""
    def t(key: str, **params: object) -> str:
        return translate("paper", f"letter.{key}", lang, **params)

    programs = {p.id: p for p in zone.programs}
    r = draw.results[family.serial]
    a = draw.applicants.get(family.serial, {"choices": []})
    out = [("title", t("title", zone=zone.name[lang], cycle=zone.cycle)),
           ("body", t("greeting", student=family.student or display_serial(family.serial)))]
    if r["assigned"]:
        p = programs[r["assigned"]]
        out.append(("strong", t("assigned", number=p.number, program=p.name, rank=r["rank"])))
        out.append(("body", t("campus", campus=p.campus.name, address=p.campus.address)))
    else:
        out.append(("strong", t("not_assigned")))
    waits = [(k + 1, programs[c], r["waitlist"][c]) for k, c in enumerate(a["choices"])
             if c in r["waitlist"] and c in programs]
    for rank, p, position in waits:
        out.append(("body", t("waitlist", position=position, number=p.number, program=p.name, rank=rank)))
    if zone.letters is not None:
        if r["assigned"]:
            out.append(("body", t("reply", date=zone.letters.reply_by[lang], steps=zone.letters.next_steps[lang])))
        out.append(("body", t("contact", contact=zone.letters.contact[lang])))
    out.append(("small", t("lottery", number=r["lottery"], draw=draw.id)))
    return out


def write_letters_pdf(cycle: Cycle, conn: sqlite3.Connection, draw_id: int | None = None) -> tuple[Path, int]:
    """All letters of a draw in one double-sided PDF; returns (path, letters)."""
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import Frame, Paragraph

    register_fonts()
    zone = cycle.zone()
    info = cycle.info()
    secret, cycle_id = bytes.fromhex(info["secret"]), info["cycle_id"]
    draw = load_draw(conn, draw_id)
    check_against_bundle(cycle, conn, draw)
    who = families(conn)
    slip = build_slip_layout("letter")
    styles = {"title": ParagraphStyle("t", fontName="Sans-Bold", fontSize=13, leading=16, spaceAfter=8),
              "strong": ParagraphStyle("s", fontName="Sans-Bold", fontSize=11, leading=14.5, spaceAfter=6),
              "body": ParagraphStyle("b", fontName="Sans", fontSize=10, leading=13.5, spaceAfter=6),
              "small": ParagraphStyle("m", fontName="Sans", fontSize=8, leading=10.5, spaceAfter=4)}
    out = cycle.root / "output" / f"letters-draw-{draw.id}.pdf"
    count = 0
    with whole_file(out) as part:
        c = Canvas(str(part), pagesize=letter)
        c.setTitle(f"Letters, draw {draw.id}")
        painter = LayoutPainter(c, slip, zone, cycle_id)
        page_h = letter[1]
        for serial in sorted(draw.results):
            family = who.get(serial, Family(serial, "es", "", "", "", ""))
            for side, lang in enumerate((family.language, "en" if family.language == "es" else "es")):
                _draw_address(c, zone, family, page_h, lang, window=side == 0)
                story = [Paragraph(_escape(text), styles[style]) for style, text in
                         letter_paragraphs(zone, draw, family, lang)]
                Frame(LEFT, SLIP_H + 10, RIGHT - LEFT, page_h - 3.35 * 72 - SLIP_H - 10, showBoundary=0,
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0).addFromList(story, c)
                if side == 0:  # the reply slip: on the front only, below a cut line
                    c.setDash(4, 3)
                    c.setStrokeColor(GREY)
                    c.line(18, SLIP_H, letter[0] - 18, SLIP_H)
                    c.setDash()
                    c.setFont("Sans", 7)
                    c.setFillColor(GREY)
                    c.drawString(20, SLIP_H + 3, "✂ " + translate("paper", "letter.cut", lang))
                    painter.draw_static()
                    painter.draw_serial(make_payload(secret, cycle_id, serial, REPLY))
                    _draw_slip_text(painter, slip, zone, draw, family, lang)
                else:
                    c.setFont("Sans", 8)
                    c.setFillColor(GREY)
                    c.drawString(LEFT, SLIP_H - 14, translate("paper", "letter.slip_on_front", lang))
                c.showPage()
            count += 1
        c.save()
    return out, count


def _draw_address(c, zone: Zone, family: Family, page_h: float, lang: str, window: bool) -> None:
    """The zone's name and contact at the top; on the front, the family's address in the envelope window."""
    c.setFillColorRGB(0, 0, 0)
    c.setFont("Sans-Bold", 9)
    c.drawString(LEFT, page_h - 0.6 * 72, zone.name[lang])
    if zone.letters is not None:
        c.setFont("Sans", 8)
        c.drawString(LEFT, page_h - 0.6 * 72 - 11, zone.letters.contact[lang][:110])
    if not window:
        return
    x, top, _, _ = WINDOW
    lines = [family.guardian or translate("paper", "letter.family_of", lang, student=family.student),
             family.address, f"{zone.city} {family.zip}".strip()]
    c.setFont("Sans", 10.5)
    for i, line in enumerate(line for line in lines if line):
        c.drawString(x, page_h - top - 13 - i * 13.5, line[:48])


def _draw_slip_text(painter, slip, zone: Zone, draw: Draw, family: Family, lang: str) -> None:
    area = next(d.rect for d in slip.decorations if d.kind == "reply_text")
    r = draw.results[family.serial]
    programs = {p.id: p for p in zone.programs}
    lines = [family.student or display_serial(family.serial)]
    if r["assigned"]:
        p = programs[r["assigned"]]
        lines.append(translate("paper", "letter.slip_program", lang, number=p.number, program=p.name))
    else:
        lines.append(translate("paper", "letter.slip_none", lang))
    for i, line in enumerate(lines):
        painter.text(area.x, area.y + i * 14, line, "Sans-Bold" if i == 0 else "Sans", 9.5, max_width=area.w)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def offer_and_print(cycle: Cycle, program: str | None = None, actor: str = "zonepaper"
                    ) -> tuple[list, list, Path | None]:
    """Offer the free seats and write the letters: those of the new offers, and those of earlier offers
    whose letters were never written (a run stopped in between). Returns (new offers, earlier ones, the PDF)."""
    from zonepaper.paper.waitlist import letters_written, make_offers, offer_rows, unwritten_offers

    db = cycle.db()
    try:
        made = make_offers(db.conn, cycle.zone(), program, actor)
        draw_id = load_draw(db.conn).id
        pending = unwritten_offers(db.conn, draw_id)
        rows = offer_rows(db.conn, pending)
    finally:
        db.close()
    if not pending:
        return made, [], None
    path = write_offer_letters(cycle, rows, draw_id)
    db = cycle.db()
    try:
        letters_written(db.conn, [o.id for o in pending], str(path), actor)
    finally:
        db.close()
    new = {o.id for o in made}
    return made, [o for o in pending if o.id not in new], path


def write_offer_letters(cycle: Cycle, rows: list[dict], draw_id: int) -> Path:
    """One page per waitlist offer: the family's language on top, the other below; address in the window."""
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import Frame, Paragraph

    register_fonts()
    zone = cycle.zone()
    db = cycle.db()
    try:
        who = families(db.conn)
    finally:
        db.close()
    first = min(r["id"] for r in rows)
    programs = {p.id: p for p in zone.programs}
    body = ParagraphStyle("b", fontName="Sans", fontSize=10, leading=13.5, spaceAfter=6)
    strong = ParagraphStyle("s", fontName="Sans-Bold", fontSize=11, leading=14.5, spaceAfter=6)
    out = cycle.root / "output" / f"offers-draw-{draw_id}-from-{first}.pdf"
    with whole_file(out) as part:
        c = Canvas(str(part), pagesize=letter)
        for row in rows:
            family = who.get(row["serial"], Family(row["serial"], row["language"], "", "", "", ""))
            _draw_address(c, zone, family, letter[1], family.language, window=True)
            p = programs[row["program"]]
            story = []
            for lang in (family.language, "en" if family.language == "es" else "es"):
                def t(key: str, lang: str = lang, **params: object) -> str:
                    return _escape(translate("paper", f"offer.{key}", lang, **params))
                story += [Paragraph(t("title", student=family.student or display_serial(family.serial)), strong),
                          Paragraph(t("seat", number=p.number, program=p.name, campus=p.campus.name,
                                      address=p.campus.address, position=row["position"]), body)]
                if zone.letters is not None:
                    story.append(Paragraph(t("how", contact=zone.letters.contact[lang]), body))
                story.append(Paragraph(t("form", serial=display_serial(row["serial"])), body))
            Frame(LEFT, 72, RIGHT - LEFT, letter[1] - 3.35 * 72 - 72, showBoundary=0, leftPadding=0,
                  rightPadding=0, topPadding=0, bottomPadding=0).addFromList(story, c)
            c.showPage()
        c.save()
    return out
