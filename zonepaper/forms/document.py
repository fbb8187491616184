"""Drawing application forms as PDF with reportlab, from the layout and the translations.

Everything that is the same on every form is drawn once into a PDF form XObject and
reused; per form only the serial, its QR codes and the back's code are drawn. That is
what makes a thousand unique forms take seconds.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable

from reportlab.lib.colors import white
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from zonepaper.errors import LayoutDoesNotFitError
from zonepaper.layout import BUBBLE_D, CONTENT_WIDTH, Decoration, Layout, Rect, rank_label
from zonepaper.pdf import GREY, INK, LINE, SHADE, LayoutPainter, paragraph, register_fonts, t
from zonepaper.serial import Payload, display_serial
from zonepaper.zone import Zone


class FormPainter(LayoutPainter):
    """Draws application forms (front and back) onto a reportlab canvas, from the layout."""

    def __init__(self, canvas: Canvas, layout: Layout, zone: Zone, cycle_id: str) -> None:
        super().__init__(canvas, layout, zone, cycle_id)
        self._templates_ready = False

    # --- one form -----------------------------------------------------------------------
    def draw_form(self, front: Payload, back: Payload | None) -> None:
        """Draw the front and (unless back is None) the back page of one form."""
        self._ensure_templates()
        self.c.doForm("front")
        self.draw_serial(front)
        self.c.showPage()
        if back is not None:
            self.c.doForm("back")
            self._draw_back_code(back)
            self.c.showPage()

    def _ensure_templates(self) -> None:
        if self._templates_ready:
            return
        self.c.beginForm("front")
        self.draw_static()
        self.c.endForm()
        self.c.beginForm("back")
        self._draw_back_static()
        self.c.endForm()
        self._templates_ready = True

    def _draw_back_code(self, payload: Payload) -> None:
        code = self.layout.field("back_code").rect
        self.draw_qr(payload.encode(), code)
        es = t("back.back_of", "es", serial=display_serial(payload.serial))
        en = t("back.back_of", "en", serial=display_serial(payload.serial))
        self.text(code.x - 6, code.y + 8, es, "Sans-Bold", 8, align="right")
        self.text(code.x - 6, code.y + 19, en, "Sans", 8, GREY, align="right")

    # --- the front, drawn once -------------------------------------------------------------
    def shaded(self, d: Decoration) -> bool:
        return (d.kind == "grid_row" and d.params["shaded"]) or d.kind == "office"

    def decoration_painters(self) -> dict[str, Callable[[Decoration], None]]:
        return {**super().decoration_painters(), "title": self._deco_title, "howto": self._deco_howto,
                "choices_instructions": self._deco_choices_instructions, "grid_heading": self._deco_grid_heading,
                "grid_row": self._deco_grid_row, "office": self._deco_office,
                "return_by": self._deco_return_by}

    def _deco_title(self, d: Decoration) -> None:
        r = d.rect
        self.text(r.x, r.y + 1, t("title", "es"), "Sans-Bold", 15, max_width=r.w)
        self.text(r.x, r.y + 19, t("title", "en"), "Sans", 11, GREY, max_width=r.w)
        params = {"zone_es": self.zone.name.es, "zone_en": self.zone.name.en, "cycle": self.zone.cycle}
        self.text(r.x, r.y + 34, t("subtitle", "es", **params), "Sans-Bold", 8, max_width=r.w)
        self.text(r.x, r.y + 44, t("subtitle", "en", **params), "Sans", 8, GREY, max_width=r.w)

    def _deco_howto(self, d: Decoration) -> None:
        r, c = d.rect, self.c
        c.setStrokeColor(LINE)
        c.setLineWidth(0.6)
        c.roundRect(r.x, self.y(r.bottom), r.w, r.h, 4, stroke=1, fill=0)
        self.text(r.x + 6, r.y + 3, t("pen", "es"), "Sans-Bold", 7.4, max_width=r.w - 12)
        self.text(r.x + 6, r.y + 11, t("pen", "en"), "Sans", 7.2, GREY, max_width=r.w - 12)
        row = r.y + 23
        x = r.x + 6
        x += self.text(x, row - 3, f"{t('howto.bubble_yes', 'es')} / {t('howto.bubble_yes', 'en')}", "Sans-Bold", 7)
        x += 4
        self._example_bubble(x, row, "filled")
        x += BUBBLE_D + 14
        x += self.text(x, row - 3, f"{t('howto.bubble_no', 'es')} / {t('howto.bubble_no', 'en')}", "Sans-Bold", 7)
        for style in ("check", "cross", "dot"):
            x += 5
            self._example_bubble(x, row, style)
            x += BUBBLE_D
        x += 16
        x += self.text(x, row - 3, f"{t('howto.boxes', 'es')} / {t('howto.boxes', 'en')}", "Sans-Bold", 7) + 4
        for ch in "MARÍA 03":
            box = Rect(x, row - 6, 10, 11)
            c.setStrokeColor(LINE)
            if ch != " ":
                self.rect(box)
                self.text(x + 5, row - 4, ch, "Sans", 8, align="center")
            x += 10 if ch != " " else 6

    def _example_bubble(self, x: float, row_center: float, style: str) -> None:
        c = self.c
        cx, cy, rad = x + BUBBLE_D / 2, self.y(row_center), BUBBLE_D / 2
        c.setStrokeColor(INK)
        c.setFillColor(INK)
        c.setLineWidth(0.8)
        c.circle(cx, cy, rad, stroke=1, fill=1 if style == "filled" else 0)
        c.setLineWidth(1.1)
        if style == "check":
            c.lines([(cx - 3, cy, cx - 1, cy - 3), (cx - 1, cy - 3, cx + 4, cy + 4)])
        elif style == "cross":
            c.lines([(cx - 3, cy - 3, cx + 3, cy + 3), (cx - 3, cy + 3, cx + 3, cy - 3)])
        elif style == "dot":
            c.circle(cx, cy, 1.2, stroke=0, fill=1)
        c.setLineWidth(0.7)

    def _deco_choices_instructions(self, d: Decoration) -> None:
        self._instructions(d.rect.x, d.rect.y, d.params["n"], d.rect.w)

    def _instructions(self, x: float, top: float, n: int, width: float) -> None:
        self.text(x, top, t("choices.instructions", "es", n=n), "Sans-Bold", 7, max_width=width)
        self.text(x, top + 8, t("choices.instructions", "en", n=n), "Sans", 7, GREY, max_width=width)

    def _deco_grid_heading(self, d: Decoration) -> None:
        r, p = d.rect, d.params
        if p["instructions"]:
            self._instructions(r.x + 2, r.y, p["n"], p["bubbles_x"] - r.x - 6)
        else:
            key = "choices.program_heading" if p["campus"] else "choices.program_heading_short"
            self.text(r.x + 2, r.y, t(key, "es"), "Sans-Bold", 7, max_width=p["bubbles_x"] - r.x - 6)
            self.text(r.x + 2, r.y + 8, t(key, "en"), "Sans", 7, GREY, max_width=p["bubbles_x"] - r.x - 6)
        for rank in range(1, p["ranks"] + 1):
            label = rank_label(rank)
            cx = p["bubbles_x"] + (rank - 0.5) * p["col_w"]
            self.text(cx, r.y, label.es, "Sans-Bold", 7.5, align="center")
            self.text(cx, r.y + 8, label.en, "Sans", 7, GREY, align="center")

    def _deco_grid_row(self, d: Decoration) -> None:
        """'N  Name — Campus' at the size the layout measured to fit (7 pt or more); the campus left out
        when the layout found no room for it (the back gives it)."""
        r, p = d.rect, d.params
        size = p["size"]
        top = r.y + (r.h - size * 0.8) / 2
        self.text(r.x + 14, top, str(p["number"]), "Sans-Bold", size, align="right")
        w = self.text(r.x + 20, top, p["name"], "Sans-Bold", size)
        if p["campus"]:
            self.text(r.x + 20 + w + 3, top + 0.5, f"— {p['campus']}", "Sans", p["campus_size"], GREY)

    def _deco_return_by(self, d: Decoration) -> None:
        """In the signature's bar: by when to return the form (zone.toml [forms] return_by)."""
        when = self.zone.forms.return_by
        if when is None:
            return
        text = f"{t('sign.return_by', 'es', date=when.es)} / {t('sign.return_by', 'en', date=when.en)}"
        self.text(d.rect.right, d.rect.y + 3, text, "Sans-Bold", 8, white, align="right", max_width=d.rect.w)

    def _deco_office(self, d: Decoration) -> None:
        r = d.rect
        self.text(r.x + 5, r.y + 14, t("office.title", "es"), "Sans-Bold", 7)
        self.text(r.x + 5, r.y + 23, t("office.title", "en"), "Sans", 7, GREY)

    # --- the back, drawn once --------------------------------------------------------------
    def _draw_back_static(self) -> None:
        width = self.layout.width
        left = (width - CONTENT_WIDTH) / 2
        self.text(left, 30, f"{t('back.title', 'es')} / ", "Sans-Bold", 14)
        self.text(left + pdfmetrics.stringWidth(f"{t('back.title', 'es')} / ", "Sans-Bold", 14), 30,
                  t("back.title", "en"), "Sans", 14, GREY)
        for kind, item in self.back_plan:
            if kind == "shade":
                self.c.setFillColor(SHADE)
                self.rect(item, stroke=0, fill=1)
            elif kind == "number":
                number, top = item
                self.text(left + 14, top + 1, number, "Sans-Bold", 9, align="right")
            elif kind == "bar":
                self.bar(item, "back.programs_title")
            elif kind == "example":
                self._ranking_example(*item)
            else:
                para, x, top, h = item
                para.drawOn(self.c, x, self.y(top + h))

    @cached_property
    def back_plan(self) -> list[tuple[str, object]]:
        """Where everything of the back goes: the return details and the steps in two columns (Spanish,
        English), a filled-in ranking, then every program with its campus and description. The program
        list is set at the largest of two sizes (both 7 pt or more) at which it fits; a zone whose list
        does not fit even so is refused (LayoutDoesNotFitError), never printed cut."""
        left = (self.layout.width - CONTENT_WIDTH) / 2
        col_w = (CONTENT_WIDTH - 14) / 2
        top = self.layout.field("back_code").rect.bottom + 8
        es_style = ParagraphStyle("es", fontName="Sans", fontSize=7.6, leading=9.3, spaceAfter=2)
        strong = ParagraphStyle("strong", parent=es_style, fontName="Sans-Bold")
        plan: list[tuple[str, object]] = []
        bottoms = []
        for i, lang in enumerate(("es", "en")):
            color = {} if lang == "es" else {"textColor": GREY}
            y = top
            told = returning(self.zone, lang)
            paras = [(told, strong)] if told else []
            paras += [(p, es_style) for p in t("back.steps", lang, n=self.zone.max_choices).split("\n")]
            paras.append((how_decided(self.zone, lang), es_style))
            for text, style in paras:
                para, h = self._wrap(text, ParagraphStyle(f"{style.name}_{lang}", parent=style, **color), col_w)
                plan.append(("para", (para, left + i * (col_w + 14), y, h)))
                y += h + style.spaceAfter
            bottoms.append(y)
        top = max(bottoms) + 4
        plan.append(("example", (left, top)))
        top += EXAMPLE_H + 6
        plan.append(("bar", Rect(left, top, CONTENT_WIDTH, 15)))
        top += 19
        room = self.layout.height - 24 - top
        for sizes in ((7.6, 7.0, 8.4), (7.0, 7.0, 7.8)):
            for arrangement in ARRANGEMENTS:
                bottom, rows = self._program_rows(left, top, *sizes, *arrangement)
                if bottom <= top + room:
                    return plan + rows
        raise LayoutDoesNotFitError("forms.back_does_not_fit", programs=len(self.zone.programs))

    def _program_rows(self, left: float, top: float, name_size: float, desc_size: float, leading: float,
                      name_w: float, side_by_side: bool) -> tuple[float, list[tuple[str, object]]]:
        """The program list's rows from `top`: (its bottom, what to draw). The descriptions in Spanish and
        English one above the other, or side by side."""
        name_style = ParagraphStyle("name", fontName="Sans-Bold", fontSize=name_size, leading=leading + 0.6)
        desc_style = ParagraphStyle("desc", fontName="Sans", fontSize=desc_size, leading=leading)
        desc_en_style = ParagraphStyle("desc_en", parent=desc_style, textColor=GREY)
        desc_x = left + 26 + name_w
        desc_w = (CONTENT_WIDTH - 26 - name_w - 8) / 2 if side_by_side else CONTENT_WIDTH - 26 - name_w
        out: list[tuple[str, object]] = []
        for i, program in enumerate(self.zone.programs):
            name, name_h = self._wrap(f"{program.name} — {program.campus.name}", name_style, name_w)
            es, es_h = self._wrap(program.description.es, desc_style, desc_w)
            en, en_h = self._wrap(program.description.en, desc_en_style, desc_w)
            row_h = max(name_h, max(es_h, en_h) if side_by_side else es_h + en_h) + 2
            if i % 2:
                out.append(("shade", Rect(left, top - 1.5, CONTENT_WIDTH, row_h)))
            out.append(("number", (str(program.number), top)))
            en_at = (desc_x + desc_w + 8, top) if side_by_side else (desc_x, top + es_h)
            out += [("para", (name, left + 20, top, name_h)), ("para", (es, desc_x, top, es_h)),
                    ("para", (en, *en_at, en_h))]
            top += row_h
        return top, out

    def _ranking_example(self, left: float, top: float) -> None:
        """A filled-in ranking of three programs, and what it says."""
        marked = {(2, 1), (3, 2), (1, 3)}  # (program, rank): program 2 first, 3 second, 1 third
        x0 = left + 30
        for rank in range(1, 4):
            label = rank_label(rank)
            self.text(x0 + 20 + (rank - 0.5) * 20, top, label.es, "Sans-Bold", 7, align="center")
        for program in range(1, 4):
            y = top + 9 + (program - 1) * 12
            self.text(x0 + 8, y + 2, str(program), "Sans-Bold", 8, align="right")
            for rank in range(1, 4):
                cx, cy = x0 + 20 + (rank - 0.5) * 20, y + 6
                self.c.setStrokeColor(INK)
                self.c.setFillColor(INK if (program, rank) in marked else white)
                self.c.circle(cx, self.y(cy), BUBBLE_D / 2 - 0.5, stroke=1, fill=1)
        self.c.setStrokeColor(LINE)
        self.rect(Rect(left, top - 3, CONTENT_WIDTH, EXAMPLE_H))
        x = x0 + 100
        self.text(x, top + 6, t("back.example", "es"), "Sans-Bold", 8, max_width=CONTENT_WIDTH - (x - left) - 6)
        self.text(x, top + 20, t("back.example", "en"), "Sans", 8, GREY, max_width=CONTENT_WIDTH - (x - left) - 6)

    def _wrap(self, text: str, style: ParagraphStyle, width: float) -> tuple[Paragraph, float]:
        para = paragraph(text, style)
        _, h = para.wrapOn(self.c, width, 1000)
        return para, h


EXAMPLE_H = 48.0  # the filled-in ranking on the back
# how the back's program list may be set, tried in order: (width of "name — campus", descriptions side by side)
ARRANGEMENTS = ((232.0, False), (232.0, True), (300.0, True), (340.0, True))


def returning(zone: Zone, lang: str) -> str:
    """By when, where and how to return the form, whom to call, and when the results come (zone.toml
    [forms]; what is not given is not said)."""
    info, said = zone.forms, []
    if info.return_by is not None or info.return_to is not None:
        key = "back.return" if info.return_by and info.return_to else "back.return_by" if info.return_by \
            else "back.return_to"
        said.append(t(key, lang, date=info.return_by[lang] if info.return_by else "",
                      place=info.return_to[lang] if info.return_to else ""))
    if info.phone:
        said.append(t("back.phone", lang, phone=info.phone))
    if info.results_by is not None:
        said.append(t("back.results", lang, date=info.results_by[lang]))
    return " ".join(said)


def how_decided(zone: Zone, lang: str) -> str:
    """How seats are given, as the draw gives them: by lottery or by arrival, the zone's priorities in their
    order (a sibling's only in the sibling's own program, as the draw applies it), and what ranking a
    program first costs under the zone's method."""
    said = [t("back.decided_fcfs" if zone.mechanism == "fcfs" else "back.decided_lottery", lang)]
    if zone.priorities:
        said.append(t("back.priorities", lang, list="; ".join(t(f"back.priority_{p.evidence}", lang)
                                                               for p in zone.priorities)))
    said.append(t(f"back.method_{zone.mechanism}", lang))
    return " ".join(said)


def write_forms_pdf(path: Path, layout: Layout, zone: Zone, cycle_id: str,
                    payloads: Iterable[tuple[Payload, Payload | None]],
                    on_form: Callable[[int], None] | None = None) -> int:
    """Write one PDF of forms (front and back page each). Returns the number of forms."""
    register_fonts()  # before the canvas: its first font is then the embedded DejaVu
    canvas = Canvas(str(path), pagesize=(layout.width, layout.height), pageCompression=1)
    painter = FormPainter(canvas, layout, zone, cycle_id)
    _ = painter.back_plan  # made once: a back that does not fit is refused here, before any page
    canvas.setTitle(f"{t('title', 'es')} / {t('title', 'en')} — {zone.name.es}")
    canvas.setCreator("zonepaper")
    count = 0
    for front, back in payloads:
        painter.draw_form(front, back)
        count += 1
        if on_form:
            on_form(count)
    canvas.save()
    return count
