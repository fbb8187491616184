"""Drawing application forms as PDF with reportlab, from the layout and the translations.

Everything that is the same on every form is drawn once into a PDF form XObject and
reused; per form only the serial, its QR codes and the back's code are drawn. That is
what makes a thousand unique forms take seconds.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

import segno
from reportlab.lib.colors import Color, black, white
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from zonepaper.errors import MissingDependencyError
from zonepaper.layout import BUBBLE_D, Decoration, Layout, Rect, rank_label
from zonepaper.serial import Payload, display_serial
from zonepaper.text import translate
from zonepaper.zone import Zone

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/local/share/fonts",
             "/usr/share/fonts/TTF", "/Library/Fonts")
FONTS = {"Sans": "DejaVuSans.ttf", "Sans-Bold": "DejaVuSans-Bold.ttf", "Mono-Bold": "DejaVuSansMono-Bold.ttf"}

INK = black
GREY = Color(0.35, 0.35, 0.35)
LINE = Color(0.45, 0.45, 0.45)
SHADE = Color(0.92, 0.92, 0.92)
BAR = Color(0.18, 0.18, 0.18)


@lru_cache(maxsize=1)
def register_fonts() -> None:
    """Register DejaVu Sans (covers á é í ó ú ñ ü ¿ ¡) with reportlab; a clear error if it is missing."""
    for name, filename in FONTS.items():
        path = next((Path(d) / filename for d in FONT_DIRS if (Path(d) / filename).is_file()), None)
        if path is None:
            raise MissingDependencyError("forms.font_missing", font=filename)
        pdfmetrics.registerFont(TTFont(name, str(path)))


def t(key: str, lang: str, /, **params: object) -> str:
    return translate("form", key, lang, **params)


class FormPainter:
    """Draws forms onto a reportlab canvas; coordinates come from the layout (top-left origin)."""

    def __init__(self, canvas: Canvas, layout: Layout, zone: Zone, cycle_id: str) -> None:
        register_fonts()
        self.c, self.layout, self.zone, self.cycle_id = canvas, layout, zone, cycle_id
        self.h = layout.height
        self._templates_ready = False
        self._qr_masks: dict[Rect, int] = {}

    # --- coordinate helpers -----------------------------------------------------------------
    def y(self, top: float) -> float:
        """Convert a top-left y to reportlab's bottom-left y."""
        return self.h - top

    def rect(self, r: Rect, stroke: int = 1, fill: int = 0) -> None:
        self.c.rect(r.x, self.h - r.bottom, r.w, r.h, stroke=stroke, fill=fill)

    def text(self, x: float, top: float, s: str, font: str = "Sans", size: float = 8.0,
             color: Color = INK, align: str = "left", max_width: float | None = None) -> float:
        """Draw one line with its cap top at `top`; shrinks to fit max_width. Returns the width drawn."""
        if max_width is not None:
            width = pdfmetrics.stringWidth(s, font, size)
            if width > max_width:
                size = max(5.0, size * max_width / width)
        self.c.setFont(font, size)
        self.c.setFillColor(color)
        baseline = self.y(top + size * 0.8)
        draw = {"left": self.c.drawString, "right": self.c.drawRightString, "center": self.c.drawCentredString}
        draw[align](x, baseline, s)
        return pdfmetrics.stringWidth(s, font, size)

    def bilingual(self, x: float, top: float, es: str, en: str, size: float = 7.5,
                  max_width: float | None = None, bold_es: bool = True) -> None:
        """'Spanish / English' on one line: Spanish first and bold, English after in grey."""
        sep = " / "
        font_es = "Sans-Bold" if bold_es else "Sans"
        total = pdfmetrics.stringWidth(es + sep, font_es, size) + pdfmetrics.stringWidth(en, "Sans", size)
        if max_width is not None and total > max_width:
            size = max(5.0, size * max_width / total)
        w = self.text(x, top, es + sep, font_es, size)
        self.text(x + w, top, en, "Sans", size, GREY)

    # --- one form -----------------------------------------------------------------------
    def draw_form(self, front: Payload, back: Payload | None) -> None:
        """Draw the front and (unless back is None) the back page of one form."""
        self._ensure_templates()
        self.c.doForm("front")
        self._draw_serial(front)
        self.c.showPage()
        if back is not None:
            self.c.doForm("back")
            self._draw_back_code(back)
            self.c.showPage()

    def _ensure_templates(self) -> None:
        if self._templates_ready:
            return
        self.c.beginForm("front")
        self._draw_front_static()
        self.c.endForm()
        self.c.beginForm("back")
        self._draw_back_static()
        self.c.endForm()
        self._templates_ready = True

    def _draw_serial(self, payload: Payload) -> None:
        code = self.layout.field("serial_code").rect
        self.draw_qr(payload.encode(), code)
        area = next(d.rect for d in self.layout.decorations if d.kind == "serial_text")
        self.text(area.right, area.y + 14, display_serial(payload.serial), "Mono-Bold", 19, align="right")

    def _draw_back_code(self, payload: Payload) -> None:
        code = self.layout.field("back_code").rect
        self.draw_qr(payload.encode(), code)
        es = t("back.back_of", "es", serial=display_serial(payload.serial))
        en = t("back.back_of", "en", serial=display_serial(payload.serial))
        self.text(code.x - 6, code.y + 8, es, "Sans-Bold", 8, align="right")
        self.text(code.x - 6, code.y + 19, en, "Sans", 8, GREY, align="right")

    def draw_qr(self, data: str, r: Rect) -> None:
        """A QR code filling r (quiet zone included), drawn as vector squares."""
        # Every mask decodes equally well; segno tries all eight to pick the prettiest, which is
        # most of its time. The codes of one batch differ only in a few characters, so the mask
        # chosen for the first code is kept for the rest.
        qr = segno.make_qr(data, error="m", boost_error=False, mask=self._qr_masks.get(r))
        self._qr_masks.setdefault(r, qr.mask)
        matrix = qr.matrix
        n = len(matrix) + 8  # four modules of quiet zone on each side
        m = min(r.w, r.h) / n
        ops = []
        for j, row in enumerate(matrix):
            i, width = 0, len(row)
            while i < width:
                if row[i]:
                    start = i
                    while i < width and row[i]:
                        i += 1
                    ops.append(f"{start} {j} {i - start} 1.05 re")  # 5 % overlap: no hairline between rows
                else:
                    i += 1
        self.c.saveState()
        self.c.setFillColor(INK)
        # Module units, y down, origin at the code's first module.
        self.c.transform(m, 0, 0, -m, r.x + 4 * m, self.y(r.y + 4 * m))
        self.c.addLiteral(" ".join(ops) + " f")
        self.c.restoreState()

    # --- the front, drawn once -------------------------------------------------------------
    def _draw_front_static(self) -> None:
        c = self.c
        # Shaded backgrounds (alternate grid rows, the office strip) go under the bubbles and
        # boxes, so they are painted first.
        for d in self.layout.decorations:
            if (d.kind == "grid_row" and d.params["shaded"]) or d.kind == "office":
                c.setFillColor(SHADE)
                self.rect(d.rect, stroke=0, fill=1)
        c.setLineWidth(0.7)
        for f in self.layout.fields:
            if f.side != "front":
                continue
            if f.kind == "marker":
                self._draw_marker(f.rect, f.marker_id or 0)
            elif f.kind == "boxes":
                c.setStrokeColor(LINE)
                c.setFillColor(white)
                for box in f.boxes:
                    self.rect(box, stroke=1, fill=1)
            elif f.kind == "bubbles":
                c.setStrokeColor(INK)
                c.setLineWidth(0.8)
                c.setFillColor(white)
                for bubble in f.bubbles:
                    cx, cy = bubble.rect.center
                    c.circle(cx, self.y(cy), bubble.rect.w / 2, stroke=1, fill=1)
                c.setLineWidth(0.7)
            elif f.kind == "signature":
                c.setStrokeColor(LINE)
                self.rect(f.rect)
                self.text(f.rect.x + 4, f.rect.y + f.rect.h - 12, "X", "Sans-Bold", 10, GREY)
        painters: dict[str, Callable[[Decoration], None]] = {
            "title": self._deco_title, "serial_text": self._deco_serial_label, "howto": self._deco_howto,
            "section": self._deco_section, "field_label": self._deco_field_label,
            "field_label_left": self._deco_field_label_left,
            "part_hint": self._deco_part_hint, "bubble_label": self._deco_bubble_label,
            "choices_instructions": self._deco_choices_instructions, "grid_heading": self._deco_grid_heading,
            "grid_row": self._deco_grid_row, "office": self._deco_office,
            "reply_text": lambda d: None,  # a letter's reply slip: the family's own words, drawn per letter
        }
        for d in self.layout.decorations:
            painters[d.kind](d)

    def _draw_marker(self, r: Rect, marker_id: int) -> None:
        cells = marker_cells(marker_id)
        n = len(cells)
        cell = r.w / n
        self.c.setFillColor(INK)
        for j, row in enumerate(cells):
            for i, dark in enumerate(row):
                if dark:
                    self.c.rect(r.x + i * cell, self.y(r.y + (j + 1) * cell), cell, cell, stroke=0, fill=1)

    def _deco_title(self, d: Decoration) -> None:
        r = d.rect
        self.text(r.x, r.y + 1, t("title", "es"), "Sans-Bold", 15, max_width=r.w)
        self.text(r.x, r.y + 19, t("title", "en"), "Sans", 11, GREY, max_width=r.w)
        params = {"zone_es": self.zone.name.es, "zone_en": self.zone.name.en, "cycle": self.zone.cycle}
        self.text(r.x, r.y + 34, t("subtitle", "es", **params), "Sans-Bold", 8, max_width=r.w)
        self.text(r.x, r.y + 44, t("subtitle", "en", **params), "Sans", 8, GREY, max_width=r.w)

    def _deco_serial_label(self, d: Decoration) -> None:
        r = d.rect
        self.bilingual(r.x, r.y, t("serial_label", "es"), t("serial_label", "en"), 8, max_width=r.w)
        self.text(r.right, r.y + 38, f"{self.zone.cycle} · {self.cycle_id}", "Sans", 6.5, GREY, align="right")

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

    def _deco_section(self, d: Decoration) -> None:
        self.bar(d.rect, d.params["key"])

    def bar(self, r: Rect, key: str) -> None:
        """A dark heading bar with 'Spanish / English' in white."""
        self.c.setFillColor(BAR)
        self.rect(r, stroke=0, fill=1)
        w = self.text(r.x + 5, r.y + 3, t(key, "es") + " / ", "Sans-Bold", 9, white)
        self.text(r.x + 5 + w, r.y + 3, t(key, "en"), "Sans", 9, white)

    def _deco_field_label(self, d: Decoration) -> None:
        key, r = d.params["key"], d.rect
        self.text(r.x, r.y, t(key, "es"), "Sans-Bold", 7.4, max_width=r.w)
        self.text(r.x, r.y + 7.8, t(key, "en"), "Sans", 6.8, GREY, max_width=r.w)

    def _deco_field_label_left(self, d: Decoration) -> None:
        key, r = d.params["key"], d.rect
        self.text(r.right, r.y + 2, t(key, "es"), "Sans-Bold", 7.4, align="right", max_width=r.w)
        self.text(r.right, r.y + 10.5, t(key, "en"), "Sans", 7, GREY, align="right", max_width=r.w)

    def _deco_part_hint(self, d: Decoration) -> None:
        key = d.params["key"]
        self.text(d.rect.x + d.rect.w / 2, d.rect.y + 1, f"{t(key, 'es')} / {t(key, 'en')}", "Sans", 5.5,
                  GREY, align="center", max_width=d.rect.w)

    def _deco_bubble_label(self, d: Decoration) -> None:
        r = d.rect
        es, en = d.params["es"], d.params["en"]
        if es == en:
            self.text(r.x, r.y + 3, es, "Sans-Bold", 7.5, max_width=r.w)
        else:
            self.text(r.x, r.y - 1, es, "Sans-Bold", 7, max_width=r.w)
            self.text(r.x, r.y + 7, en, "Sans", 7, GREY, max_width=r.w)

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
            for para in t("back.steps", lang, n=self.zone.max_choices).split("\n") + [t("back.how_decided", lang)]:
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
        para = Paragraph(text.replace("&", "&amp;").replace("<", "&lt;"), style)
        _, h = para.wrapOn(self.c, width, 1000)
        return para, h

    def _paragraph(self, text: str, style: ParagraphStyle, x: float, top: float, width: float) -> float:
        para, h = self._wrap(text, style, width)
        para.drawOn(self.c, x, self.y(top + h))
        return top + h + style.spaceAfter


@lru_cache(maxsize=8)
def marker_cells(marker_id: int) -> tuple[tuple[bool, ...], ...]:
    """The black/white cells (border included) of an ArUco DICT_4X4_50 marker."""
    import cv2

    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50)
    img = cv2.aruco.generateImageMarker(dictionary, marker_id, 6)
    return tuple(tuple(bool(v == 0) for v in row) for row in img)


def write_forms_pdf(path: Path, layout: Layout, zone: Zone, cycle_id: str,
                    payloads: Iterable[tuple[Payload, Payload | None]],
                    on_form: Callable[[int], None] | None = None) -> int:
    """Write one PDF of forms (front and back page each). Returns the number of forms."""
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
