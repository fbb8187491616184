"""Drawing PDFs: the fonts, the colours, painting a layout's fields, and writing a file whole.

The application forms (`forms/`), the letters and sheets after the draw (`paper/`) and the
freeze receipt (`draw/`) all draw through this module, so none depends on another's printer.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

import segno
from reportlab.lib.colors import Color, black, white
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from zonepaper.cycle import private_umask
from zonepaper.errors import MissingDependencyError
from zonepaper.layout import Decoration, Layout, Rect
from zonepaper.serial import Payload, display_serial
from zonepaper.text import translate
from zonepaper.zone import Zone

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/local/share/fonts",
             "/usr/share/fonts/TTF", "/Library/Fonts")
FONTS = {"Sans": "DejaVuSans.ttf", "Sans-Bold": "DejaVuSans-Bold.ttf", "Mono-Bold": "DejaVuSansMono-Bold.ttf",
         "Sans-Condensed": "DejaVuSansCondensed.ttf", "Sans-Condensed-Bold": "DejaVuSansCondensed-Bold.ttf"}
CONDENSED = {"Sans": "Sans-Condensed", "Sans-Bold": "Sans-Condensed-Bold"}
MIN_SIZE = 7.0  # nothing a family reads is printed smaller (points)

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
    from reportlab import rl_config
    from reportlab.graphics import shapes

    # a new page's font and a chart's starting font: the embedded DejaVu, never a Helvetica not embedded
    rl_config.canvas_basefontname = "Sans"
    shapes.STATE_DEFAULTS["fontName"] = "Sans"


def t(key: str, lang: str, /, **params: object) -> str:
    """Printed text from forms/form.toml."""
    return translate("form", key, lang, **params)


def fit(text: str, font: str, size: float, max_width: float) -> tuple[str, float]:
    """The font and size to print `text` in at most max_width: smaller down to 7 pt, then condensed (a text
    that does not fit even so is printed condensed at 7 pt; the layout's tests find it)."""
    if pdfmetrics.stringWidth(text, font, size) <= max_width:
        return font, size
    smaller = max(MIN_SIZE, min(size, size * max_width / pdfmetrics.stringWidth(text, font, size)))
    if pdfmetrics.stringWidth(text, font, smaller) <= max_width or font not in CONDENSED:
        return font, smaller
    narrow = CONDENSED[font]
    return narrow, max(MIN_SIZE, min(size, size * max_width / pdfmetrics.stringWidth(text, narrow, size)))


class LayoutPainter:
    """Draws a layout (a form's front, a letter's reply slip) onto a reportlab canvas (top-left origin)."""

    def __init__(self, canvas: Canvas, layout: Layout, zone: Zone, cycle_id: str) -> None:
        register_fonts()
        self.c, self.layout, self.zone, self.cycle_id = canvas, layout, zone, cycle_id
        self.h = layout.height
        self._qr_masks: dict[Rect, int] = {}

    def y(self, top: float) -> float:
        """Convert a top-left y to reportlab's bottom-left y."""
        return self.h - top

    def rect(self, r: Rect, stroke: int = 1, fill: int = 0) -> None:
        self.c.rect(r.x, self.h - r.bottom, r.w, r.h, stroke=stroke, fill=fill)

    def text(self, x: float, top: float, s: str, font: str = "Sans", size: float = 8.0,
             color: Color = INK, align: str = "left", max_width: float | None = None) -> float:
        """Draw one line with its cap top at `top`; to fit max_width it is set a little smaller (never under
        7 pt), then condensed. Returns the width drawn."""
        if max_width is not None:
            font, size = fit(s, font, size, max_width)
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
        font_en = "Sans"
        total = pdfmetrics.stringWidth(es + sep, font_es, size) + pdfmetrics.stringWidth(en, "Sans", size)
        if max_width is not None and total > max_width:
            size = max(MIN_SIZE, min(size, size * max_width / total))
            total = pdfmetrics.stringWidth(es + sep, font_es, size) + pdfmetrics.stringWidth(en, "Sans", size)
            if total > max_width:
                font_es, font_en = CONDENSED[font_es], CONDENSED[font_en]
        w = self.text(x, top, es + sep, font_es, size)
        self.text(x + w, top, en, font_en, size, GREY)

    def draw_serial(self, payload: Payload) -> None:
        """The sheet's code and its serial in print, where the layout puts them."""
        code = self.layout.field("serial_code").rect
        self.draw_qr(payload.encode(), code)
        area = next(d.rect for d in self.layout.decorations if d.kind == "serial_text")
        self.text(area.right, area.y + 14, display_serial(payload.serial), "Mono-Bold", 19, align="right")

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

    def draw_static(self) -> None:
        """Everything of the layout's front that is the same on every sheet: fields, then decorations."""
        c = self.c
        # Shaded backgrounds go under the bubbles and boxes, so they are painted first.
        for d in self.layout.decorations:
            if self.shaded(d):
                c.setFillColor(SHADE)
                self.rect(d.rect, stroke=0, fill=1)
        c.setLineWidth(0.7)
        for f in self.layout.fields:
            if f.side != "front":
                continue
            if f.kind == "marker":
                self.draw_marker(f.rect, f.marker_id or 0)
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
        painters = self.decoration_painters()
        for d in self.layout.decorations:
            painters[d.kind](d)

    def shaded(self, d: Decoration) -> bool:
        """Whether this decoration is a shaded background (none in a plain layout)."""
        return False

    def decoration_painters(self) -> dict[str, Callable[[Decoration], None]]:
        """How each kind of decoration is painted; a painter of a richer layout adds its own."""
        return {"serial_text": self._deco_serial_label, "section": self._deco_section,
                "field_label": self._deco_field_label, "field_label_left": self._deco_field_label_left,
                "part_hint": self._deco_part_hint, "bubble_label": self._deco_bubble_label,
                "reply_text": lambda d: None,  # a letter's reply slip: the family's own words, drawn per letter
                "correction_text": lambda d: None,  # a confirmation's slip: its date, drawn per letter
                "write_lines": self._deco_write_lines}

    def _deco_write_lines(self, d: Decoration) -> None:
        """Lines to write on, the last one for the signature."""
        r, c = d.rect, self.c
        c.setStrokeColor(LINE)
        c.setLineWidth(0.5)
        count = int(r.h // 19)
        for i in range(1, count + 1):
            c.line(r.x, self.y(r.y + i * 19), r.right, self.y(r.y + i * 19))
        label = f"{t('field.reply_signature', 'es')} / {t('field.reply_signature', 'en')}"
        self.text(r.x, r.y + count * 19 + 1.5, label, "Sans", 7, GREY)
        c.setLineWidth(0.7)

    def draw_marker(self, r: Rect, marker_id: int) -> None:
        """An ArUco marker filling r."""
        cells = marker_cells(marker_id)
        n = len(cells)
        cell = r.w / n
        self.c.setFillColor(INK)
        for j, row in enumerate(cells):
            for i, dark in enumerate(row):
                if dark:
                    self.c.rect(r.x + i * cell, self.y(r.y + (j + 1) * cell), cell, cell, stroke=0, fill=1)

    def _deco_serial_label(self, d: Decoration) -> None:
        r = d.rect
        self.bilingual(r.x, r.y, t("serial_label", "es"), t("serial_label", "en"), 8, max_width=r.w)
        self.text(r.right, r.y + 38, f"{self.zone.cycle} · {self.cycle_id}", "Sans", 7, GREY, align="right")

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
        self.text(r.x, r.y + 7.4, t(key, "en"), "Sans", 7, GREY, max_width=r.w)

    def _deco_field_label_left(self, d: Decoration) -> None:
        key, r = d.params["key"], d.rect
        self.text(r.right, r.y + 2, t(key, "es"), "Sans-Bold", 7.4, align="right", max_width=r.w)
        self.text(r.right, r.y + 10.5, t(key, "en"), "Sans", 7, GREY, align="right", max_width=r.w)

    def _deco_part_hint(self, d: Decoration) -> None:
        key = d.params["key"]
        # may reach into half the gap between groups: "mes/month" is a little wider than two boxes
        self.text(d.rect.x + d.rect.w / 2, d.rect.y + 1, f"{t(key, 'es')}/{t(key, 'en')}", "Sans-Condensed", 7,
                  GREY, align="center")

    def _deco_bubble_label(self, d: Decoration) -> None:
        r = d.rect
        es, en = d.params["es"], d.params["en"]
        if es == en:
            self.text(r.x, r.y + 3, es, "Sans-Bold", 7.5, max_width=r.w)
        else:
            self.text(r.x, r.y - 1, es, "Sans-Bold", 7, max_width=r.w)
            self.text(r.x, r.y + 7, en, "Sans", 7, GREY, max_width=r.w)


@lru_cache(maxsize=8)
def marker_cells(marker_id: int) -> tuple[tuple[bool, ...], ...]:
    """The black/white cells (border included) of an ArUco DICT_4X4_50 marker."""
    import cv2

    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50)
    img = cv2.aruco.generateImageMarker(dictionary, marker_id, 6)
    return tuple(tuple(bool(v == 0) for v in row) for row in img)


@contextmanager
def whole_file(out: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `out` at once (never a half-written PDF)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with private_umask(), tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        part = Path(tmp) / out.name
        yield part
        os.replace(part, out)


def paragraph(text: str, style, **kwargs):
    """A reportlab Paragraph of plain text: `&`, `<` and `>` are printed as written, never read as markup
    (a program named 'Arts <Media>' would otherwise lose its words)."""
    from xml.sax.saxutils import escape

    from reportlab.platypus import Paragraph

    return Paragraph(escape(text), style, **kwargs)


def write_story(out: Path, story: list, title: str, margin: float, on_page=None) -> Path:
    """A reportlab story (paragraphs, tables, charts) as a Letter PDF; on_page(canvas, doc) draws each
    page's footer."""
    from reportlab.lib.pagesizes import letter
    from reportlab.platypus import SimpleDocTemplate

    pages = {"onFirstPage": on_page, "onLaterPages": on_page} if on_page else {}
    with whole_file(out) as part:
        SimpleDocTemplate(str(part), pagesize=letter, leftMargin=margin, rightMargin=margin, topMargin=margin,
                          bottomMargin=margin, title=title).build(story, **pages)
    return out
