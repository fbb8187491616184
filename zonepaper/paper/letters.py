"""Assignment letters: one per application, the family's language on the front and the other on the back.

The front ends with a tear-off reply slip drawn from the slip layout (layout.build_slip_layout),
so a returned slip goes through `zonepaper scan ingest` like a form. The family's address sits
where a standard US #10 window envelope shows it, for a letter folded in three.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from zonepaper.cycle import Cycle
from zonepaper.errors import LayoutDoesNotFitError
from zonepaper.layout import SLIP_H, build_slip_layout
from zonepaper.paper.bins import Draw, check_against_bundle, load_draw
from zonepaper.pdf import GREY, LayoutPainter, paragraph, register_fonts, whole_file
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
    other_language: bool = False  # the family ticked "other" for the letters' language
    apartment: str = ""
    city: str = ""  # as the family wrote it; empty: the zone's city

    def mailing_lines(self, zone: Zone, lang: str) -> list[str]:
        """The envelope window's lines: who, the street (and apartment), the city, state and ZIP code."""
        street = f"{self.address} APT {self.apartment}" if self.apartment else self.address
        state = zone.city.rsplit(",", 1)[1].strip() if "," in zone.city else ""
        city = f"{self.city}, {state}" if self.city and state else self.city or zone.city
        lines = [self.guardian or translate("paper", "letter.family_of", lang, student=self.student), street,
                 f"{city} {self.zip}".strip()]
        return [line for line in lines if line]

    @property
    def languages(self) -> tuple[str, str]:
        """The letter's languages in order: the family's first (the front), then the other."""
        return (self.language, "en" if self.language == "es" else "es")


def families(conn: sqlite3.Connection) -> dict[str, Family]:
    values: dict[str, dict[str, str]] = {}
    for serial, name, value in conn.execute(
            "SELECT serial, name, value FROM fields WHERE name IN ('letter_language', 'first_name', 'last_name', "
            "'guardian_name', 'address', 'apartment', 'city', 'zip')"):
        values.setdefault(serial, {})[name] = value or ""
    out = {}
    for serial, v in values.items():
        student = f"{v.get('first_name', '')} {v.get('last_name', '')}".strip()
        out[serial] = Family(serial, "en" if v.get("letter_language") == "en" else "es", student,
                             v.get("guardian_name", ""), v.get("address", ""), v.get("zip", ""),
                             v.get("letter_language") == "other", v.get("apartment", ""), v.get("city", ""))
    return out


# --- words ----------------------------------------------------------------------------------
def long_date(day: date, lang: str) -> str:
    """'17 de abril de 2009' / 'April 17, 2009'."""
    month = [m.strip() for m in translate("paper", "date.months", lang).split(",")][day.month - 1]
    return translate("paper", "date.long", lang, day=day.day, month=month, year=day.year)


def choice_words(rank: int, lang: str) -> str:
    """'su quinta opción' / 'your 5th choice' (words up to the 10th; a number beyond)."""
    words = [w.strip() for w in translate("paper", "choice.ordinal", lang).split(",")]
    return words[rank - 1] if 1 <= rank <= len(words) else translate("paper", "choice.numbered", lang, rank=rank)


def short_lottery(number: str) -> str:
    """The lottery number as a family reads it: its first 8 hex digits in two groups ('3f2a 9c1e')."""
    return f"{number[:4]} {number[4:8]}"


def _reply_date(text: str, lang: str) -> str:
    """The reply date as the sentence needs it: 'antes del 17 de abril' (an older zone.toml wrote 'el 17 ...')."""
    return text[3:] if lang == "es" and text.lower().startswith("el ") else text


def outcome(result: dict) -> str:
    """Which letter a family gets: placed (its first choice or any choice without waitlists), placed_lower
    (a seat, and waitlists for choices it preferred), no_seat (waitlists only), no_valid_choice, not_eligible."""
    if result["assigned"]:
        return "placed_lower" if result["waitlist"] else "placed"
    if result["reason"] == "no_valid_choice":
        return "no_valid_choice"
    if result["reason"] == "no_seat" or result["waitlist"]:
        return "no_seat"
    return "not_eligible"


NOT_ELIGIBLE = ("no_grade", "grade_not_offered", "unknown_program")


def letter_paragraphs(zone: Zone, draw: Draw, family: Family, lang: str, today: date) -> list[tuple[str, str]]:
    """(style, text) of one letter in one language: the date, greeting, the outcome and what it means, what
    to do and by when, whom to ask, and the lottery number with how to check it."""
    def t(key: str, **params: object) -> str:
        return translate("paper", f"letter.{key}", lang, **params)

    programs = {p.id: p for p in zone.programs}
    letters = zone.letters
    r = draw.results[family.serial]
    a = draw.applicants.get(family.serial, {"choices": []})
    kind = outcome(r)
    out = [("title", t("title", zone=zone.name[lang], cycle=zone.cycle)),
           ("small", t("dated", date=long_date(today, lang))),
           ("body", t("greeting", student=family.student or display_serial(family.serial)))]
    if r["assigned"]:
        p = programs[r["assigned"]]
        out.append(("strong", t("assigned", number=p.number, program=p.name, choice=choice_words(r["rank"], lang))))
        out.append(("body", t("campus", campus=p.campus.name, address=p.campus.address)))
    elif kind == "no_seat":
        out.append(("strong", t("no_seat")))
    elif kind == "no_valid_choice":
        out.append(("strong", t("no_valid_choice", grade=r["grade"] or "?")))
    else:
        why = r["reason"] if r["reason"] in NOT_ELIGIBLE else "not_eligible"
        out.append(("strong", t("not_eligible", why=t(f"why_{why}", grade=r["grade"]))))
    waits = [(k + 1, programs[c], r["waitlist"][c]) for k, c in enumerate(a["choices"])
             if c in r["waitlist"] and c in programs]
    if waits:
        if r["assigned"]:
            out.append(("body", t("still_waiting")))
        for rank, p, position in waits:
            out.append(("item", t("waitlist_line", position=position, number=p.number, program=p.name,
                                  choice=choice_words(rank, lang))))
        position = waits[0][2]
        ahead = t("ahead_none") if position == 1 else t("ahead", count=position - 1)
        until = letters.waitlist_until[lang] if letters and letters.waitlist_until else t("waitlist_until")
        out.append(("body", t("meaning", position=position, ahead=ahead, until=until)))
        out.append(("body", t("keeps") if r["assigned"] else t("nothing_to_do")))
    if letters is not None and r["assigned"]:
        out.append(("strong", t("reply", date=_reply_date(letters.reply_by[lang], lang),
                                steps=letters.next_steps[lang])))
        out.append(("body", letters.no_reply[lang] if letters.no_reply else t("no_reply")))
    if kind in ("no_valid_choice", "not_eligible"):
        out.append(("body", letters.apply_again[lang] if letters and letters.apply_again else t("apply_again")))
    if letters is not None:
        out.append(("body", t("contact", contact=letters.contact[lang])))
        if letters.office_address:
            out.append(("body", t("office", address=letters.office_address)))
    if kind not in ("no_valid_choice", "not_eligible"):  # only a form that was in the draw has a number that counts
        out.append(("small", t("lottery", number=r["lottery"], short=short_lottery(r["lottery"]), draw=draw.id,
                               form=display_serial(family.serial), plain=family.serial)))
    if family.other_language and letters is not None and letters.other_languages:
        out += [("small", line) for line in letters.other_languages]
    return out


# A letter is laid out at this size or, if it is long, a little smaller; never below the last one.
SCALES = (1.0, 0.94, 0.88, 0.82)


def letter_styles(scale: float) -> dict:
    from reportlab.lib.styles import ParagraphStyle

    def style(name: str, font: str, size: float, leading: float, after: float, indent: float = 0) -> ParagraphStyle:
        return ParagraphStyle(name, fontName=font, fontSize=size * scale, leading=leading * scale,
                              spaceAfter=after * scale, leftIndent=indent, bulletIndent=indent - 10,
                              bulletFontName="Sans")

    return {"title": style("t", "Sans-Bold", 13, 16, 6), "strong": style("s", "Sans-Bold", 11, 14.5, 6),
            "body": style("b", "Sans", 10, 13.5, 6), "item": style("i", "Sans", 10, 13.5, 3, 16),
            "small": style("m", "Sans", 8, 10.5, 4)}


def fit_story(paragraphs: list[tuple[str, str]], width: float, height: float) -> tuple[list, bool]:
    """(the paragraphs as flowables, whether they fit): at the largest of SCALES at which they fit one frame
    of this size whole (wrapped to its width, ready to draw), or else at the second size, to flow on."""
    for scale in SCALES + (SCALES[1],):
        story = [_wrapped(style, text, scale, width) for style, text in paragraphs]
        used = sum(f.height + f.getSpaceBefore() + f.getSpaceAfter() for f in story)
        if used <= height:
            return story, True
    return story, False


@lru_cache(maxsize=8192)
def _wrapped(style: str, text: str, scale: float, width: float):
    """One paragraph of a letter, built and wrapped once: most are the same in many letters (what to do,
    whom to call, what a waitlist means), and a wrapped paragraph draws as often as it is placed."""
    f = paragraph(text, letter_styles(scale)[style], bulletText="•" if style == "item" else None)
    f.wrap(width, 10_000)
    return f


def _place(c, story: list, top: float) -> None:
    """Draw flowables already wrapped to the text's width, from `top` down (they were measured to fit; a
    frame would only wrap every paragraph a second time)."""
    y = top
    for n, f in enumerate(story):
        y -= f.getSpaceBefore() if n else 0
        f.drawOn(c, LEFT, y - f.height)
        y -= f.height + f.getSpaceAfter()


SLIP_FORM = "reply-slip"
MAX_PAGES = 2  # of one language of one letter: longer than that, it is refused (named), never cut


def flow(c, paragraphs: list[tuple[str, str]], decorate, what: str, lang: str, window: bool = True) -> int:
    """Lay the paragraphs out on as many pages as they need (at most MAX_PAGES), all of them; decorate(page)
    draws a page's fixed parts and says where its text stops. The first page's text starts under the
    envelope window when `window`. Returns the pages used; a letter that needs more is refused, by name."""
    from reportlab.lib.pagesizes import letter
    from reportlab.platypus import Frame

    def frame(top: float, bottom: float) -> Frame:
        return Frame(LEFT, bottom, RIGHT - LEFT, top - bottom, showBoundary=0, leftPadding=0, rightPadding=0,
                     topPadding=0, bottomPadding=0)

    page_h = letter[1]
    story = None
    for page in range(MAX_PAGES):
        bottom = decorate(page)
        top = page_h - 1.2 * 72
        if window and page == 0:  # the heading (title, date) above the envelope window, the rest below it
            band = (page_h - 1.0 * 72, page_h - 1.95 * 72)
            head, fits = fit_story(paragraphs[:2], RIGHT - LEFT, band[0] - band[1])
            if fits:
                _place(c, head, band[0])
                paragraphs = paragraphs[2:]
            top = page_h - 3.2 * 72
        if story is None:
            story, fits = fit_story(paragraphs, RIGHT - LEFT, top - bottom)
            if fits:
                _place(c, story, top)
                story = []
        if story:
            frame(top, bottom).addFromList(story, c)
        if story and page + 1 < MAX_PAGES:
            c.setFont("Sans", 8)
            c.setFillColor(GREY)
            c.drawRightString(RIGHT, bottom - 7, translate("paper", "letter.continued", lang))
        c.showPage()
        if not story:
            return page + 1
    raise LayoutDoesNotFitError("paper.letter_too_long", letter=what)


def _check_glyphs(lines: tuple[str, ...]) -> None:
    """Every character of the lines for other languages is in the letters' font (else it would print as a box)."""
    from reportlab.pdfbase import pdfmetrics

    have = pdfmetrics.getFont("Sans").face.charToGlyph
    missing = sorted({ch for line in lines for ch in line if ord(ch) not in have and not ch.isspace()})
    if missing:
        raise LayoutDoesNotFitError("paper.glyphs_missing", characters=" ".join(missing[:12]))


def write_letters_pdf(cycle: Cycle, conn: sqlite3.Connection, draw_id: int | None = None,
                      today: date | None = None, pages: dict | None = None) -> tuple[Path, int]:
    """All letters of a draw in one double-sided PDF, dated `today`; returns (path, letters). A family with
    a seat gets the reply slip at the foot of the front; every other letter uses the whole page. A long
    letter goes on to another page (each letter ends at the end of a sheet). `pages`, when given, gets
    serial -> the page numbers (from 1) on which each language of its letter starts, and its last page."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen.canvas import Canvas

    register_fonts()
    today = today or date.today()
    zone = cycle.zone()
    if zone.letters is not None:
        _check_glyphs(zone.letters.other_languages)
    info = cycle.info()
    secret, cycle_id = bytes.fromhex(info["secret"]), info["cycle_id"]
    draw = load_draw(conn, draw_id)
    check_against_bundle(cycle, conn, draw)
    who = families(conn)
    slip = build_slip_layout("letter")
    out = cycle.root / "output" / f"letters-draw-{draw.id}.pdf"
    count = 0
    with whole_file(out) as part:
        c = Canvas(str(part), pagesize=letter)
        c.setTitle(f"Letters, draw {draw.id}")
        painter = LayoutPainter(c, slip, zone, cycle_id)
        c.beginForm(SLIP_FORM)  # the slip's fixed parts, drawn once and placed by every letter that has one
        painter.draw_static()
        c.endForm()
        for serial in sorted(draw.results):
            family = who.get(serial, Family(serial, "es", "", "", "", ""))
            with_slip = bool(draw.results[serial]["assigned"])

            def slip_foot(lang: str, family: Family = family, serial: str = serial) -> float:
                _draw_slip(c, painter, slip, zone, draw, family, lang, make_payload(secret, cycle_id, serial, REPLY))
                return SLIP_H + 10

            starts = both_sides(c, zone, family, lambda lang, family=family: letter_paragraphs(
                zone, draw, family, lang, today), slip_foot if with_slip else None,
                "letter.slip_on_front" if with_slip else None)
            if pages is not None:
                pages[serial] = (*starts, c.getPageNumber() - 1)
            count += 1
        c.save()
    return out, count


def both_sides(c, zone: Zone, family: Family, paragraphs_of, front_foot=None, note: str | None = None
               ) -> list[int]:
    """One letter: in the family's language from a new page (its front: the address in the window and
    `front_foot(lang)` at the foot, which draws a slip and says where the text stops), then in the other
    language from the next page; it ends at the end of a sheet (printed on both sides). `note` is a
    text key printed at the foot of its other pages (where the slip is). Returns the page numbers on
    which each language starts."""
    from reportlab.lib.pagesizes import letter

    used, starts = 0, []
    for side, lang in enumerate(family.languages):
        starts.append(c.getPageNumber())

        def decorate(page: int, lang: str = lang, side: int = side) -> float:
            """One page's fixed parts; returns where its text must stop (points from the foot)."""
            first = side == 0 and page == 0
            _draw_address(c, zone, family, letter[1], lang, window=first)
            if first and front_foot is not None:
                return front_foot(lang)
            if note:
                c.setFont("Sans", 8)
                c.setFillColor(GREY)
                c.drawString(LEFT, 0.45 * 72, translate("paper", note, lang))
            return 0.7 * 72
        used += flow(c, paragraphs_of(lang), decorate, f"{display_serial(family.serial)} ({lang})", lang,
                     window=side == 0)
    if used % 2:
        c.showPage()
    return starts


def cut_line(c, y: float, text: str) -> None:
    """The dashed line a slip is torn off along, with what to do with it."""
    from reportlab.lib.pagesizes import letter

    c.setDash(4, 3)
    c.setStrokeColor(GREY)
    c.line(18, y, letter[0] - 18, y)
    c.setDash()
    c.setFont("Sans", 7)
    c.setFillColor(GREY)
    c.drawString(20, y + 3, "✂ " + text)


def _draw_address(c, zone: Zone, family: Family, page_h: float, lang: str, window: bool) -> None:
    """The zone's name and contact at the top; on the front, the family's address in the envelope window."""
    c.setFillColorRGB(0, 0, 0)
    c.setFont("Sans-Bold", 9)
    c.drawString(LEFT, page_h - 0.6 * 72, zone.name[lang])
    if zone.letters is not None:  # the office, as one line when it fits (the letter's text says it in full)
        head = "; ".join(t for t in (zone.letters.contact[lang], zone.letters.office_address) if t)
        if c.stringWidth(head, "Sans", 8) > RIGHT - LEFT:
            head = zone.letters.office_address
        c.setFont("Sans", 8)
        c.drawString(LEFT, page_h - 0.6 * 72 - 11, head)
    if not window:
        return
    x, top, width, _ = WINDOW
    for i, line in enumerate(family.mailing_lines(zone, lang)):
        size = 10.5  # a long address line is set smaller, never cut: it must fit the envelope's window
        while size > 7 and c.stringWidth(line, "Sans", size) > width:
            size -= 0.5
        c.setFont("Sans", size)
        c.drawString(x, page_h - top - 13 - i * 13.5, line)


def _draw_slip(c, painter, slip, zone: Zone, draw: Draw, family: Family, lang: str, payload) -> None:
    cut_line(c, SLIP_H, translate("paper", "letter.cut", lang))
    c.doForm(SLIP_FORM)
    painter.draw_serial(payload)
    _draw_slip_text(painter, slip, zone, draw, family, lang)


def _draw_slip_text(painter, slip, zone: Zone, draw: Draw, family: Family, lang: str) -> None:
    area = next(d.rect for d in slip.decorations if d.kind == "reply_text")
    r = draw.results[family.serial]
    programs = {p.id: p for p in zone.programs}
    lines = [family.student or display_serial(family.serial)]
    p = programs[r["assigned"]]  # (only a family with a seat has a slip)
    lines.append(translate("paper", "letter.slip_program", lang, number=p.number, program=p.name))
    for i, line in enumerate(lines):
        painter.text(area.x, area.y + i * 14, line, "Sans-Bold" if i == 0 else "Sans", 9.5, max_width=area.w)


def offer_and_print(cycle: Cycle, program: str | None = None, actor: str = "zonepaper", today: date | None = None
                    ) -> tuple[list, list, Path | None]:
    """Offer the free seats and write the letters: those of the new offers, and those of earlier offers
    whose letters were never written (a run stopped in between). Returns (new offers, earlier ones, the PDF)."""
    from zonepaper.paper.waitlist import letters_written, make_offers, offer_rows, unwritten_offers

    db = cycle.db()
    try:
        made = make_offers(db.conn, cycle.zone(), program, actor)
        draw = load_draw(db.conn)
        draw_id = draw.id
        pending = unwritten_offers(db.conn, draw_id)
        rows = offer_rows(db.conn, draw, pending)
    finally:
        db.close()
    if not pending:
        return made, [], None
    path = write_offer_letters(cycle, rows, draw_id, today)
    db = cycle.db()
    try:
        letters_written(db.conn, [o.id for o in pending], str(path), actor)
    finally:
        db.close()
    new = {o.id for o in made}
    return made, [o for o in pending if o.id not in new], path


def write_offer_letters(cycle: Cycle, rows: list[dict], draw_id: int, today: date | None = None) -> Path:
    """One page per waitlist offer: the family's language on top, the other below; address in the window.
    The answer is due `[letters] offer_reply_days` after the letter's date."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen.canvas import Canvas

    register_fonts()
    zone = cycle.zone()
    db = cycle.db()
    try:
        who = families(db.conn)
    finally:
        db.close()
    first = min(r["id"] for r in rows)
    today = today or date.today()
    due = today + timedelta(days=zone.letters.offer_reply_days if zone.letters else 7)
    out = cycle.root / "output" / f"offers-draw-{draw_id}-from-{first}.pdf"
    with whole_file(out) as part:
        c = Canvas(str(part), pagesize=letter)
        for row in rows:
            family = who.get(row["serial"], Family(row["serial"], row["language"], "", "", "", ""))
            paragraphs = []
            for lang in family.languages:
                paragraphs += offer_paragraphs(zone, row, family, lang, today, due)
            def decorate(page: int, family: Family = family) -> float:
                _draw_address(c, zone, family, letter[1], family.language, window=page == 0)
                return 0.7 * 72
            flow(c, paragraphs, decorate, f"{display_serial(row['serial'])} (offer {row['id']})", family.language)
        c.save()
    return out


def offer_paragraphs(zone: Zone, row: dict, family: Family, lang: str, today: date, due: date
                     ) -> list[tuple[str, str]]:
    """One language of an offer letter: the seat, by when to answer and what happens without an answer, what
    happens to the seat the family holds now (only if it holds one), the form number."""
    def t(key: str, **params: object) -> str:
        return translate("paper", f"offer.{key}", lang, **params)

    programs = {p.id: p for p in zone.programs}
    p = programs[row["program"]]
    out = [("small", long_date(today, lang)),
           ("strong", t("title", student=family.student or display_serial(family.serial))),
           ("body", t("seat", number=p.number, program=p.name, campus=p.campus.name, address=p.campus.address,
                      position=row["position"]))]
    contact = zone.letters.contact[lang] if zone.letters else zone.name[lang]
    out.append(("strong", t("how", date=long_date(due, lang), contact=contact)))
    if row.get("holds") in programs:
        now = programs[row["holds"]]
        out.append(("body", t("passes_on", number=now.number, program=now.name)))
    out.append(("body", t("form", serial=display_serial(row["serial"]))))
    return out
