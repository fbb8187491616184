"""Drawing application forms as PDF with reportlab, from the layout and the translations.

Everything that is the same on every form is drawn once into a PDF form XObject and
reused; per form only the serial, its QR codes and the back's code are drawn. That is
what makes a thousand unique forms take seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from zonepaper.layout import BUBBLE_D, Decoration, Layout, Rect, rank_label
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
                "grid_row": self._deco_grid_row, "office": self._deco_office}

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
        self.text(r.x + 6, r.y + 3.5, t("pen", "es"), "Sans-Bold", 7.4, max_width=r.w - 12)
        self.text(r.x + 6, r.y + 12, t("pen", "en"), "Sans", 7.2, GREY, max_width=r.w - 12)
        row = r.y + 26
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
            box = Rect(x, row - 8.5, 11, 13)
            c.setStrokeColor(LINE)
            if ch != " ":
                self.rect(box)
                self.text(x + 5.5, row - 6.5, ch, "Sans", 8.5, align="center")
            x += 11 if ch != " " else 6

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
        n = d.params["n"]
        self.text(d.rect.x, d.rect.y - 1, t("choices.instructions", "es", n=n), "Sans-Bold", 6.8,
                  max_width=d.rect.w)
        self.text(d.rect.x, d.rect.y + 7, t("choices.instructions", "en", n=n), "Sans", 6.8, GREY,
                  max_width=d.rect.w)

    def _deco_grid_heading(self, d: Decoration) -> None:
        r = d.rect
        self.bilingual(r.x + 2, r.y + 7, t("choices.program_heading", "es"), t("choices.program_heading", "en"),
                       7, max_width=d.params["bubbles_x"] - r.x - 4)
        for rank in range(1, d.params["ranks"] + 1):
            label = rank_label(rank)
            cx = d.params["bubbles_x"] + (rank - 0.5) * d.params["col_w"]
            self.text(cx, r.y, label.es, "Sans-Bold", 7.5, align="center")
            self.text(cx, r.y + 8, label.en, "Sans", 6, GREY, align="center")

    def _deco_grid_row(self, d: Decoration) -> None:
        r, p = d.rect, d.params
        size = min(8.0, r.h * 0.6)
        top = r.y + (r.h - size * 0.8) / 2
        self.text(r.x + 14, top, str(p["number"]), "Sans-Bold", size, align="right")
        avail = p["name_w"] + 20 - 22
        w = self.text(r.x + 20, top, p["name"], "Sans-Bold", size, max_width=avail * 0.68)
        self.text(r.x + 20 + w + 3, top + 0.5, f"— {p['campus']}", "Sans", size - 1, GREY,
                  max_width=max(20, avail - w - 6))

    def _deco_office(self, d: Decoration) -> None:
        r = d.rect
        self.text(r.x + 5, r.y + 14, t("office.title", "es"), "Sans-Bold", 7)
        self.text(r.x + 5, r.y + 23, t("office.title", "en"), "Sans", 7, GREY)

    # --- the back, drawn once --------------------------------------------------------------
    def _draw_back_static(self) -> None:
        width = self.layout.width
        left = (width - 535) / 2
        col_w = (535 - 14) / 2
        top = 30.0
        self.text(left, top, f"{t('back.title', 'es')} / ", "Sans-Bold", 14)
        self.text(left + pdfmetrics.stringWidth(f"{t('back.title', 'es')} / ", "Sans-Bold", 14), top,
                  t("back.title", "en"), "Sans", 14, GREY)
        top = self.layout.field("back_code").rect.bottom + 8
        es_style = ParagraphStyle("es", fontName="Sans", fontSize=8, leading=10.2, spaceAfter=3)
        en_style = ParagraphStyle("en", parent=es_style, textColor=GREY)
        bottoms = []
        for i, (lang, style) in enumerate((("es", es_style), ("en", en_style))):
            y = top
            for para in t("back.steps", lang, n=self.zone.max_choices).split("\n") + [how_decided(self.zone, lang)]:
                y = self._paragraph(para, style, left + i * (col_w + 14), y, col_w)
            bottoms.append(y)
        top = max(bottoms) + 10
        self.bar(Rect(left, top, 535, 15), "back.programs_title")
        top += 19
        name_style = ParagraphStyle("name", fontName="Sans-Bold", fontSize=7.6, leading=9)
        desc_style = ParagraphStyle("desc", fontName="Sans", fontSize=7, leading=8.4)
        desc_en_style = ParagraphStyle("desc_en", parent=desc_style, textColor=GREY)
        for i, program in enumerate(self.zone.programs):
            cells = [(f"{program.name} — {program.campus.name}", name_style, left + 20, 190),
                     (program.description.es, desc_style, left + 216, 155),
                     (program.description.en, desc_en_style, left + 378, 155)]
            paras = [(self._wrap(text, style, width), x) for text, style, x, width in cells]
            row_h = max(h for (_, h), _ in paras) + 4
            if i % 2:
                self.c.setFillColor(SHADE)
                self.rect(Rect(left, top - 2, 535, row_h), stroke=0, fill=1)
            self.text(left + 14, top + 1, str(program.number), "Sans-Bold", 9, align="right")
            for (para, h), x in paras:
                para.drawOn(self.c, x, self.y(top + h))
            top += row_h

    def _wrap(self, text: str, style: ParagraphStyle, width: float) -> tuple[Paragraph, float]:
        para = paragraph(text, style)
        _, h = para.wrapOn(self.c, width, 1000)
        return para, h

    def _paragraph(self, text: str, style: ParagraphStyle, x: float, top: float, width: float) -> float:
        para, h = self._wrap(text, style, width)
        para.drawOn(self.c, x, self.y(top + h))
        return top + h + style.spaceAfter


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
    canvas.setTitle(f"{t('title', 'es')} / {t('title', 'en')} — {zone.name.es}")
    canvas.setCreator("zonepaper")
    painter = FormPainter(canvas, layout, zone, cycle_id)
    count = 0
    for front, back in payloads:
        painter.draw_form(front, back)
        count += 1
        if on_form:
            on_form(count)
    canvas.save()
    return count
