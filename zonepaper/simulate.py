"""Filled-in, scanned-looking forms for the demo, the tests and the benchmarks.

Forms are those this cycle has issued (never an invented serial), drawn by the same code
that prints them, filled the way families fill them (hand-printing fonts with jitter,
marks of several kinds, known rates of mistakes), then made to look scanned. The ground
truth is written as JSON beside the scans. The same seed gives the same files.
"""

from __future__ import annotations

import json
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from zonepaper.cycle import Cycle
from zonepaper.errors import ConflictError, InvalidInputError, MissingDependencyError
from zonepaper.fields import DATE_FIELDS, FAMILY_DIGIT_FIELDS, LETTER_FIELDS, SINGLE_FIELDS, spec
from zonepaper.forms.document import write_forms_pdf
from zonepaper.layout import Field, Layout, Rect, build_layout
from zonepaper.pdf import FONT_DIRS, FONTS
from zonepaper.serial import BACK, FRONT, make_payload
from zonepaper.zone import Zone

HAND_FONTS = (
    "/usr/share/fonts/truetype/fifthhorseman/dkg.ttf",
    "/usr/share/fonts/truetype/fifthhorseman/dkgBd.ttf",
    "/usr/share/fonts/truetype/breip/Breip.ttf",
    "/usr/share/fonts/truetype/sjfonts/SteveHand.ttf",
    "/usr/share/fonts/truetype/sjfonts/Delphine.ttf",
    "/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf",
)

GIVEN_ES = ["JOSÉ", "MARÍA", "JUAN", "GUADALUPE", "LUIS", "ANA", "JESÚS", "SOFÍA", "CARLOS", "VALERIA", "MIGUEL",
            "XIMENA", "JORGE", "ANDREA", "RAÚL", "DANIELA", "ÁNGEL", "LUCÍA", "IVÁN", "NOEMÍ", "JOAQUÍN",
            "BRENDA", "EFRAÍN", "YESENIA", "ROCÍO", "MAURICIO", "ADRIÁN", "BELÉN"]
# Given names of two or more words, as families write them (MARÍA DE LOS ÁNGELES: 20 letters)
GIVEN_ES_LONG = ["MARÍA GUADALUPE", "JUAN CARLOS", "JOSÉ LUIS", "ANA SOFÍA", "MARÍA DE LOS ÁNGELES", "LUIS ÁNGEL",
                 "MARÍA FERNANDA", "JESÚS ALEJANDRO", "BRENDA YAZMÍN"]
GIVEN_EN = ["JAMES", "ASHLEY", "KEVIN", "JESSICA", "BRIAN", "NICOLE", "ANTHONY", "STEPHANIE", "JASON", "TIFFANY",
            "DAVID", "KIMBERLY", "ERIC", "MICHELLE", "JUSTIN", "AMBER"]
SURNAMES_ES = ["GARCÍA", "HERNÁNDEZ", "LÓPEZ", "MARTÍNEZ", "GONZÁLEZ", "RODRÍGUEZ", "PÉREZ", "SÁNCHEZ", "RAMÍREZ",
               "FLORES", "CRUZ", "MORALES", "REYES", "NÚÑEZ", "PEÑA", "CASTILLO", "ORTIZ", "GUTIÉRREZ", "CHÁVEZ",
               "RAMOS", "JIMÉNEZ", "MENDOZA", "VÁSQUEZ", "AGUILAR", "IBÁÑEZ", "MUÑOZ"]
SURNAMES_LONG = ["VILLASEÑOR", "CERVANTES", "BETANCOURT", "SANTISTEBAN", "VALENZUELA", "ZAMBRANO"]
SURNAMES_EN = ["SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "MILLER", "DAVIS", "WILSON", "KIM", "NGUYEN",
               "PARK", "LEE", "THOMPSON", "WHITE"]
STREETS = ["W MARTIN LUTHER KING JR BLVD", "S SAN PEDRO ST", "W OLYMPIC BLVD",
           "W 3RD ST", "W 2ND ST", "S ALVARADO ST", "BEVERLY BLVD", "TEMPLE ST", "N UNION AVE", "S BONNIE BRAE",
           "W 6TH ST", "COLTON ST", "LUCAS AVE", "W 1ST ST", "ECHO PARK AVE", "S BURLINGTON AVE", "WITMER ST"]
SCHOOLS = ["BERENDO MS", "VIRGIL MS", "LIECHTY MS", "NIGHTINGALE MS", "EDISON MS", "SAL CASTRO MS",
           "CHARTER MS", "BELMONT MS"]
CITIES = ["LOS ANGELES"] * 8 + ["GLENDALE", "MONTEBELLO", "HUNTINGTON PARK"]
OTHER_ZIPS = ["90006", "90019", "90020", "90033", "90005", "90010", "90031"]
AREA_CODES = ["213", "213", "213", "323", "323", "310", "818", "626"]

NON_FORM_TEXT = [
    "Estimada familia: le invitamos a la feria de escuelas el sábado 14 de marzo.",
    "Dear families: the choice fair is on Saturday, March 14, from 9 a.m. to 1 p.m.",
    "Lista de útiles escolares / School supply list",
    "Boletín de la escuela secundaria — Primavera",
]


@dataclass
class PageTruth:
    """What a simulated page really is and says."""

    file: str = ""
    page: int = 0
    kind: str = "front"  # front | back | blank | not_a_form | other_cycle
    serial: str | None = None
    copy: str = "original"  # original | photocopy
    rotation: int = 0
    fields: dict[str, Any] = field(default_factory=dict)
    choices: list[str] = field(default_factory=list)
    hard: list[str] = field(default_factory=list)
    hand: str = ""  # the hand-printing font of the family

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class SimulationResult:
    files: tuple[Path, ...]
    truth_path: Path
    pages: tuple[PageTruth, ...]


def available_hand_fonts() -> list[str]:
    """The hand-printing fonts installed on this machine (Debian packages, see scripts/setup.sh)."""
    fonts = [f for f in HAND_FONTS if Path(f).is_file()]
    if not fonts:
        raise MissingDependencyError("simulate.fonts_missing")
    return fonts


# --- families ------------------------------------------------------------------------------
def _iso(d: date) -> str:
    return d.isoformat()


def make_family(rng: np.random.Generator, zone: Zone, popularity: np.ndarray) -> tuple[dict[str, Any], list[str]]:
    """Plausible values for one application, and its ranked choices (program ids)."""
    start = zone.start_year
    spanish = rng.random() < 0.8
    given = rng.choice(GIVEN_ES_LONG if spanish and rng.random() < 0.25 else GIVEN_ES if spanish else GIVEN_EN)
    if spanish and rng.random() < 0.1:  # HERNÁNDEZ-VILLASEÑOR: 21 letters
        last = f"{rng.choice(SURNAMES_ES)}-{rng.choice(SURNAMES_LONG)}"
    elif spanish and rng.random() < 0.6:
        last = f"{rng.choice(SURNAMES_ES)} {rng.choice(SURNAMES_ES)}"
    else:
        last = str(rng.choice(SURNAMES_ES if spanish else SURNAMES_EN))
    born_from = date(start - 15, 9, 2)
    birth = born_from + timedelta(days=int(rng.integers(0, 365 + (120 if rng.random() < 0.1 else 0))))
    zip_code = str(rng.choice(list(zone.zip_codes))) if zone.zip_codes and rng.random() < 0.8 else str(
        rng.choice(OTHER_ZIPS))
    address = f"{int(rng.integers(100, 12999))} {rng.choice(STREETS)}"
    apartment = "" if rng.random() >= 0.35 else str(int(rng.integers(1, 400))) + (
        str(rng.choice(list("ABCD"))) if rng.random() < 0.2 else "")
    language = "es" if rng.random() < (0.85 if spanish else 0.1) else ("en" if rng.random() < 0.97 else "other")
    sibling = rng.random() < 0.15
    n_choices = int(rng.choice(range(1, zone.max_choices + 1),
                               p=_normalize([1, 1, 2, 3, 6][-zone.max_choices:])))
    choices = list(rng.choice([p.id for p in zone.programs], size=n_choices, replace=False, p=popularity))
    guardian = f"{rng.choice(GIVEN_ES if spanish else GIVEN_EN)} {last.split()[0]}"
    sign_date = date(start, 3, 1) + timedelta(days=int(rng.integers(0, 30)))
    values = {
        "last_name": last, "first_name": str(given), "birth_date": _iso(birth),
        "current_school": str(rng.choice(SCHOOLS)), "grade": str(zone.grades[0]), "address": address,
        "apartment": apartment, "city": str(rng.choice(CITIES)), "zip": zip_code,
        "phone": f"{rng.choice(AREA_CODES)}{int(rng.integers(2, 10))}{int(rng.integers(0, 10**6)):06d}",
        "guardian_name": guardian, "letter_language": language, "sibling": "yes" if sibling else "no",
        "sibling_program": str(zone.program(str(rng.choice(choices))).number) if sibling else "",
        "signature": "present", "signature_date": _iso(sign_date), "received_date": "", "staff_initials": "",
    }
    return values, choices


def _normalize(weights: list[float]) -> np.ndarray:
    a = np.array(weights, dtype=float)
    return a / a.sum()


def program_popularity(zone: Zone, rng: np.random.Generator) -> np.ndarray:
    """A few programs much in demand, most moderately, some little."""
    base = rng.gamma(1.2, 1.0, len(zone.programs))
    for i in rng.choice(len(zone.programs), size=min(3, len(zone.programs)), replace=False):
        base[i] *= 4
    return base / base.sum()


# --- drawing on the page -------------------------------------------------------------------
NOT_A_CHARACTER = "\U0010fffd"  # no font draws it: what a font draws for it is its "missing glyph" box


@lru_cache(maxsize=64)  # one per font and size: a Pen keeps its fonts, and every character asks
def _missing_glyph(font: ImageFont.FreeTypeFont) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(NOT_A_CHARACTER)
    return mask.size, bytes(mask)


def has_glyph(font: ImageFont.FreeTypeFont, ch: str) -> bool:
    """Whether the font draws this character itself: not nothing (Humor Sans has no Á) and not its
    "missing glyph" box (some training fonts draw one): a family's Á written as a box is no hand."""
    mask = font.getmask(ch)
    if font.getbbox(ch) is None or mask.getbbox() is None:
        return False
    return (mask.size, bytes(mask)) != _missing_glyph(font)


class Pen:
    """Draws hand-printing and marks onto a greyscale page, in pixels of `dpi`."""

    def __init__(self, page: Image.Image, dpi: int, rng: np.random.Generator, fonts: list[str],
                 digits: Any = None) -> None:
        self.page, self.k, self.rng, self.dpi = page, dpi / 72.0, rng, dpi
        self.digits = digits  # real handwritten digits (scripts/pen_digits.py), or None: the font's
        self.writer = digits.writer() if digits is not None else None  # one person, one pen, for this Pen
        self.font_path = str(rng.choice(fonts))
        self.ink = int(rng.integers(15, 70))
        self._fonts: dict[int, ImageFont.FreeTypeFont] = {}

    def px(self, r: Rect) -> tuple[float, float, float, float]:
        return r.x * self.k, r.y * self.k, r.w * self.k, r.h * self.k

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        if size not in self._fonts:
            self._fonts[size] = ImageFont.truetype(self.font_path, size)
        return self._fonts[size]

    def char(self, ch: str, box: Rect, touching: bool = False) -> str:
        """Write one character in a box; returns what was really written (fonts without accents drop them)."""
        x, y, w, h = self.px(box)
        if self.digits is not None and ch.isdigit():
            alpha, dx, dy = self.digits.glyph(ch, w, h, self.dpi, self.writer)
            self.stamp(Image.fromarray((alpha * 255).astype(np.uint8)), int(x + dx), int(y + dy), self.ink)
            return ch
        size = int(h * self.rng.uniform(0.78, 1.0))
        font = self.font(size)
        if not has_glyph(font, ch):
            ch = unicodedata.normalize("NFD", ch)[0]
        glyph = Image.new("L", (int(size * 1.6), int(size * 1.6)), 0)
        ImageDraw.Draw(glyph).text((size * 0.3, size * 0.1), ch, font=font, fill=255)
        glyph = glyph.rotate(float(self.rng.uniform(-9, 9)), resample=Image.BILINEAR)
        bbox = glyph.getbbox()
        if bbox is None:
            return ch
        glyph = glyph.crop(bbox)
        gw, gh = glyph.size
        limit = 0.8 * h / gh
        if limit < 1:
            glyph = glyph.resize((max(1, int(gw * limit)), max(1, int(gh * limit))))
            gw, gh = glyph.size
        cx = x + w / 2 + self.rng.normal(0, w * 0.06)
        cy = y + h / 2 + self.rng.normal(0, h * 0.05)
        if touching:
            cy += h * 0.22 * self.rng.choice([-1, 1])
        self.stamp(glyph, int(cx - gw / 2), int(cy - gh / 2), self.ink)
        return ch

    def stamp(self, alpha: Image.Image, x: int, y: int, ink: int) -> None:
        """Lay ink of darkness `ink` through the alpha mask at (x, y)."""
        colour = Image.new("L", alpha.size, ink)
        region = self.page.crop((x, y, x + alpha.width, y + alpha.height))
        blended = Image.composite(colour, region, alpha)
        self.page.paste(Image.fromarray(np.minimum(np.array(region), np.array(blended))), (x, y))

    def write(self, f: Field, text: str, touching_rate: float = 0.04) -> str:
        """One character per box, left to right; returns the text as really written."""
        written = []
        for ch, box in zip(text, f.boxes):
            written.append(ch if ch == " " else self.char(ch, box, touching=self.rng.random() < touching_rate))
        return "".join(written)

    def mark(self, r: Rect, style: str) -> None:
        x, y, w, h = self.px(r)
        cx, cy, rad = x + w / 2, y + h / 2, w / 2
        size = int(w * 2) + 4
        alpha = Image.new("L", (size, size), 0)
        d = ImageDraw.Draw(alpha)
        o = size / 2
        jx, jy = self.rng.normal(0, rad * 0.08, 2)
        ink = self.ink
        if style in ("solid", "pencil", "erased"):
            rr = rad * self.rng.uniform(0.85, 1.08)
            d.ellipse((o - rr + jx, o - rr + jy, o + rr + jx, o + rr + jy), fill=255)
            ink = {"solid": ink, "pencil": int(self.rng.integers(120, 160)),
                   "erased": int(self.rng.integers(222, 236))}[style]
        elif style == "partial":
            rr = rad * 0.75
            d.ellipse((o - rr + jx - rad * 0.2, o - rr + jy, o + rr + jx - rad * 0.2, o + rr * 0.6 + jy), fill=255)
        elif style == "check":
            lw = max(2, int(rad * 0.28))
            d.line([(o - rad * 0.7, o), (o - rad * 0.15, o + rad * 0.65), (o + rad * 0.9, o - rad * 0.9)], fill=255,
                   width=lw)
        elif style == "cross":
            lw = max(2, int(rad * 0.26))
            d.line([(o - rad * 0.8, o - rad * 0.8), (o + rad * 0.8, o + rad * 0.8)], fill=255, width=lw)
            d.line([(o - rad * 0.8, o + rad * 0.8), (o + rad * 0.8, o - rad * 0.8)], fill=255, width=lw)
        elif style == "stray":
            sx, sy = self.rng.uniform(-0.5, 0.5, 2) * rad
            rr = rad * 0.12
            d.ellipse((o + sx - rr, o + sy - rr, o + sx + rr, o + sy + rr), fill=255)
        self.stamp(alpha, int(cx - o), int(cy - o), ink)

    def signature(self, r: Rect) -> None:
        x, y, w, h = self.px(r)
        alpha = Image.new("L", (int(w), int(h)), 0)
        d = ImageDraw.Draw(alpha)
        pts, px_, py = [], w * 0.1, h * 0.6
        for _ in range(int(self.rng.integers(12, 24))):
            px_ = min(w * 0.9, px_ + self.rng.uniform(4, w * 0.05))
            py = min(h * 0.85, max(h * 0.2, py + self.rng.normal(0, h * 0.18)))
            pts.append((px_, py))
        d.line(pts, fill=255, width=max(2, int(h * 0.05)), joint="curve")
        self.stamp(alpha, int(x), int(y), self.ink)


MARK_STYLES = (("solid", 0.5), ("check", 0.15), ("cross", 0.1), ("partial", 0.13), ("pencil", 0.12))
# Share of forms with each difficulty. A mistake in the choices (two marks in one rank, one
# program in two ranks, no choice at all) always needs a person; about one form in forty has
# one, which is what a target of 97 % of forms read without a person allows. Tests force
# each mistake with `rates` to see where it goes.
FAMILY_LETTER_FIELDS = tuple(n for n in LETTER_FIELDS if spec(n).written_by == "family")
FAMILY_DATE_FIELDS = tuple(n for n in DATE_FIELDS if n in FAMILY_DIGIT_FIELDS)
RATES = {"erasure": 0.05, "stray_mark": 0.05, "two_marks_one_rank": 0.012, "same_program_twice": 0.01,
         "empty_choices": 0.005, "missing_signature": 0.04, "touching_boxes": 0.3, "office_received": 0.4}


def fill_front(page: Image.Image, layout: Layout, zone: Zone, dpi: int, rng: np.random.Generator,
               fonts: list[str], values: dict[str, Any], choices: list[str], truth: PageTruth,
               rates: dict[str, float] = RATES, digits: Any = None) -> None:
    """Fill one front page in place and record what a reader should find in truth.

    `digits`, when given, writes every digit with real handwriting instead of the page's font."""
    pen = Pen(page, dpi, rng, fonts, digits)
    truth.hand = Path(pen.font_path).stem
    touching = 0.12 if rng.random() < rates["touching_boxes"] else 0.0
    for name in FAMILY_LETTER_FIELDS:
        f = layout.field(name)
        values[name] = pen.write(f, values[name][: len(f.boxes)].rstrip(), touching)
    for name in FAMILY_DATE_FIELDS:
        y, m, d = values[name].split("-")
        pen.write(layout.field(name), f"{m}{d}{y}", touching)
    pen.write(layout.field("zip"), values["zip"], touching)
    pen.write(layout.field("phone"), values["phone"], touching)
    style = str(rng.choice([s for s, _ in MARK_STYLES], p=_normalize([p for _, p in MARK_STYLES])))

    def bubble(field_name: str, value: str, mark_style: str = style) -> None:
        b = next(b for b in layout.field(field_name).bubbles if b.value == value)
        pen.mark(b.rect, mark_style)

    for name in SINGLE_FIELDS:
        bubble(name, values[name])
    if values["sibling_program"]:
        pen.write(layout.field("sibling_program"), f"{int(values['sibling_program']):02d}")

    grid = layout.field("choices")
    by_key = {(b.program, b.rank): b for b in grid.bubbles}
    if rng.random() < rates["empty_choices"]:
        choices = []
        truth.hard.append("empty_choices")
    for rank, program in enumerate(choices, start=1):
        pen.mark(by_key[(program, rank)].rect, style)
    if choices and rng.random() < rates["erasure"]:
        # the family changed its mind: the first choice was erased and written one row over
        other = next(p.id for p in zone.programs if p.id not in choices)
        pen.mark(by_key[(other, 1)].rect, "erased")
        truth.hard.append("erasure")
    if rng.random() < rates["stray_mark"]:
        rank = int(rng.integers(1, zone.max_choices + 1))
        free = [p.id for p in zone.programs
                if (p.id, rank) in by_key and (len(choices) < rank or choices[rank - 1] != p.id)]
        pen.mark(by_key[(str(rng.choice(free)), rank)].rect, "stray")
        truth.hard.append("stray_mark")
    if choices and rng.random() < rates["two_marks_one_rank"]:
        rank = int(rng.integers(1, len(choices) + 1))
        other = next(p.id for p in zone.programs if p.id not in choices)
        pen.mark(by_key[(other, rank)].rect, style)
        truth.hard.append("two_marks_one_rank")
    elif len(choices) < zone.max_choices and choices and rng.random() < rates["same_program_twice"]:
        pen.mark(by_key[(choices[0], len(choices) + 1)].rect, style)
        truth.hard.append("same_program_twice")
    truth.choices = list(choices)

    if rng.random() < rates["missing_signature"]:
        values["signature"] = "missing"
        truth.hard.append("missing_signature")
    else:
        pen.signature(layout.field("signature").rect)
    if rng.random() < rates["office_received"]:
        staff = Pen(page, dpi, rng, fonts, digits)
        received = date.fromisoformat(values["signature_date"]) + timedelta(days=int(rng.integers(1, 12)))
        values["received_date"] = _iso(received)
        staff.write(layout.field("received_date"), received.strftime("%m%d%Y"))
        initials = "".join(rng.choice(list("ABCDEFGHJKLMNPRSTVW"), size=2))
        values["staff_initials"] = staff.write(layout.field("staff_initials"), initials)
    truth.fields = dict(values)
    truth.fields.pop("choices", None)


# --- scanning ------------------------------------------------------------------------------
def scan_effects(page: Image.Image, rng: np.random.Generator, upside_down: bool, photocopy: bool = False,
                 blank: bool = False) -> Image.Image:
    """Make a clean page look like a scan: grey paper, skew, scale, blur, noise."""
    img = np.asarray(page, dtype=np.float32)
    paper = rng.uniform(0.86, 0.98)
    img = img * np.float32(paper)
    if photocopy:
        img = np.clip((img - 60) * 1.25, 0, 255).astype(np.float32)
    h, w = img.shape
    angle = rng.uniform(-3, 3) + (180 if upside_down else 0)
    scale = rng.uniform(0.97, 1.03)
    # The scanner's image is a little larger than the sheet (a flatbed, or an ADF that scans a
    # margin), so a skewed sheet keeps its corners; the bed around it is darker than paper.
    bed_w, bed_h = int(w * 1.05), int(h * 1.04)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += ((bed_w - w) / 2, (bed_h - h) / 2) + rng.uniform(-0.008, 0.008, 2) * (w, h)
    img = cv2.warpAffine(img, m, (bed_w, bed_h), flags=cv2.INTER_LINEAR, borderValue=float(rng.uniform(150, 250)))
    sigma = rng.uniform(0.0, 1.1) if not photocopy else 1.2
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(2, 7))
    np.clip(img, 0, 255, out=img)
    return Image.fromarray(img.astype(np.uint8))


def non_form_page(size: tuple[int, int], dpi: int, rng: np.random.Generator) -> Image.Image:
    """A page that is not a form: a flyer or a letter."""
    page = Image.new("L", size, 255)
    d = ImageDraw.Draw(page)
    font_path = next(str(Path(p) / FONTS["Sans"]) for p in FONT_DIRS if (Path(p) / FONTS["Sans"]).is_file())
    title = ImageFont.truetype(font_path, int(dpi * 0.25))
    body = ImageFont.truetype(font_path, int(dpi * 0.12))
    y = int(dpi * 0.8)
    d.text((int(dpi * 0.8), y), str(rng.choice(NON_FORM_TEXT)), font=title, fill=20)
    for _ in range(int(rng.integers(12, 30))):
        y += int(dpi * 0.22)
        words = " ".join(rng.choice(["escuela", "school", "familia", "family", "marzo", "March", "lunes", "feria",
                                     "estudiantes", "students", "programa"], size=9))
        d.text((int(dpi * 0.8), y), words, font=body, fill=40)
    if rng.random() < 0.5:
        d.rectangle((dpi, y + dpi // 2, size[0] - dpi, y + dpi * 2), outline=0, width=4)
    return page


# --- the run -------------------------------------------------------------------------------
def _render_forms(layout: Layout, zone: Zone, cycle_id: str, secret: bytes, serials: list[str], dpi: int,
                  with_back: bool) -> list[Image.Image]:
    """Blank printed forms for these serials, as greyscale images (front, then back if asked)."""
    from pdf2image import convert_from_path

    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "forms.pdf"
        write_forms_pdf(pdf, layout, zone, cycle_id,
                        [(make_payload(secret, cycle_id, s, FRONT),
                          make_payload(secret, cycle_id, s, BACK) if with_back else None) for s in serials])
        return convert_from_path(str(pdf), dpi=dpi, grayscale=True, thread_count=2)


def simulate(cycle: Cycle, count: int, out: Path, seed: int = 1, dpi: int = 200,
             on_page: Callable[[int, int], None] | None = None,
             rates: dict[str, float] | None = None, digits: Any = None,
             page_effect: Callable[[Image.Image, np.random.Generator], Image.Image] | None = None) -> SimulationResult:
    """Fill `count` issued forms, scan them, and write the scans and their truth.

    `rates` overrides some of RATES (tests use it to force one kind of mistake). The benchmark
    gives `digits` (real handwritten digits instead of the fonts' for every digit written) and
    `page_effect` (what happens to each scanned page: a phone photo, 1-bit, colour, ...)."""
    rates = {**RATES, **(rates or {})}
    if dpi not in (150, 200, 300):
        raise InvalidInputError("simulate.bad_dpi", dpi=dpi)
    if count < 1:
        raise InvalidInputError("simulate.bad_count", count=count)
    truth_file = (out / "truth.json") if not out.suffix else out
    if truth_file.exists():  # another simulation's scans and truth are there: never mix or overwrite them
        raise ConflictError("simulate.out_exists", file=str(truth_file))
    zone = cycle.zone()
    layout = build_layout(zone, "letter")
    info = cycle.info()
    db = cycle.db()
    # Forms already returned (an application or a scanned page) are not filled again.
    issued = [r[0] for r in db.execute(
        "SELECT serial FROM serials WHERE serial NOT IN (SELECT serial FROM applications) "
        "AND serial NOT IN (SELECT serial FROM pages WHERE serial IS NOT NULL) ORDER BY number")]
    db.close()
    if len(issued) < count:
        raise InvalidInputError("simulate.too_few_serials", count=count, issued=len(issued))
    fonts = available_hand_fonts()
    rng = np.random.default_rng(seed)
    serials = [str(s) for s in rng.choice(issued, size=count, replace=False)]
    popularity = program_popularity(zone, rng)
    secret, cycle_id = bytes.fromhex(info["secret"]), info["cycle_id"]

    pages: list[tuple[Image.Image, PageTruth]] = []
    fronts = _render_forms(layout, zone, cycle_id, secret, serials, dpi, with_back=False)
    for serial, blank in zip(serials, fronts):
        values, choices = make_family(rng, zone, popularity)
        truth = PageTruth(kind="front", serial=serial)
        fill_front(blank, layout, zone, dpi, rng, fonts, values, choices, truth, rates, digits)
        pages.append((blank, truth))
    # Hard pages beyond the forms themselves, at fixed small rates.
    extras: list[tuple[Image.Image, PageTruth]] = []
    n_extra = max(1, count // 25)
    size = fronts[0].size
    for i in range(n_extra):
        extras.append((non_form_page(size, dpi, rng), PageTruth(kind="not_a_form")))
    copy_src = pages[int(rng.integers(0, len(pages)))]
    extras.append((copy_src[0].copy(), PageTruth(kind="front", serial=copy_src[1].serial, copy="photocopy",
                                                  fields=dict(copy_src[1].fields), choices=list(copy_src[1].choices),
                                                  hard=["duplicate"], hand=copy_src[1].hand)))
    other_secret = bytes(rng.integers(0, 256, 32, dtype=np.uint8))
    other = _render_forms(layout, zone, "OTHERCYC", other_secret, [serials[0]], dpi, with_back=True)
    values, choices = make_family(rng, zone, popularity)
    other_truth = PageTruth(kind="other_cycle", serial=serials[0], hard=["other_cycle"])
    fill_front(other[0], layout, zone, dpi, rng, fonts, values, choices, other_truth, digits=digits)
    extras.append((other[0], other_truth))
    backs = _render_forms(layout, zone, cycle_id, secret, serials[: max(1, count // 20)], dpi, with_back=True)[1::2]
    for s, back in zip(serials, backs):
        extras.append((back, PageTruth(kind="back", serial=s)))
    extras.append((Image.new("L", size, 255), PageTruth(kind="blank")))
    for extra in extras:
        pages.insert(int(rng.integers(0, len(pages) + 1)), extra)

    scanned: list[tuple[Image.Image, PageTruth]] = []
    effect_rng = np.random.default_rng(seed + 1_000_003)  # its own stream: the pages stay those of this seed
    for i, (img, truth) in enumerate(pages):
        truth.rotation = 180 if rng.random() < 0.08 else 0
        page = scan_effects(img, rng, truth.rotation == 180, photocopy=truth.copy == "photocopy",
                            blank=truth.kind == "blank")
        scanned.append((page_effect(page, effect_rng) if page_effect else page, truth))
        if on_page:
            on_page(i + 1, len(pages))
    files = _write_scans(scanned, out, dpi, rng)
    truth_path = (out / "truth.json") if not out.suffix else out.with_suffix(out.suffix + ".truth.json")
    truth_path.write_text(json.dumps({"seed": seed, "dpi": dpi, "cycle_id": cycle_id,
                                      "pages": [t.to_json() for _, t in scanned]}, ensure_ascii=False, indent=1),
                          encoding="utf-8")
    return SimulationResult(tuple(files), truth_path, tuple(t for _, t in scanned))


def _write_scans(scanned: list[tuple[Image.Image, PageTruth]], out: Path, dpi: int,
                 rng: np.random.Generator) -> list[Path]:
    """One file (PDF or TIFF) when out has that suffix; else a folder of mixed files, as scanners make."""
    suffix = out.suffix.lower()
    if suffix in (".pdf", ".tif", ".tiff"):
        out.parent.mkdir(parents=True, exist_ok=True)
        _save_multi([img for img, _ in scanned], out, dpi, int(rng.integers(40, 71)))
        for i, (_, truth) in enumerate(scanned):
            truth.file, truth.page = out.name, i
        return [out]
    if suffix:
        raise InvalidInputError("simulate.bad_out", file=str(out))
    out.mkdir(parents=True, exist_ok=True)
    files, i, n = [], 0, 0
    while i < len(scanned):
        n += 1
        kind = str(rng.choice(["pdf", "pdf", "pdf", "png", "jpg", "tiff"]))
        if kind == "jpg" and scanned[i][0].mode == "1":  # a black-and-white scan is never a JPEG
            kind = "png"
        take = 1 if kind in ("png", "jpg") else int(rng.integers(3, 25))
        chunk = scanned[i: i + take]
        path = out / f"scan-{n:03d}.{kind}"
        if kind in ("png", "jpg"):
            img = chunk[0][0]
            if kind == "jpg":
                img.save(path, quality=int(rng.integers(40, 71)), dpi=(dpi, dpi))
            else:
                img.save(path, dpi=(dpi, dpi), compress_level=1)
        else:
            _save_multi([img for img, _ in chunk], path, dpi, int(rng.integers(40, 71)))
        for j, (_, truth) in enumerate(chunk):
            truth.file, truth.page = path.name, j
        files.append(path)
        i += take
    return files


def _save_multi(images: list[Image.Image], path: Path, dpi: int, quality: int) -> None:
    if path.suffix.lower() == ".pdf":
        # PIL embeds each greyscale page as a JPEG (DCTDecode), as scanners do; a 1-bit page as G4 fax.
        extra = {"quality": quality} if images[0].mode != "1" else {}
        images[0].save(path, save_all=True, append_images=images[1:], resolution=dpi, **extra)
    else:
        images[0].save(path, save_all=True, append_images=images[1:], compression="tiff_lzw", dpi=(dpi, dpi))



# --- reply slips --------------------------------------------------------------------------------
REPLY_ACCEPT_RATE = 0.85


def simulate_replies(letters_pdf: Path, first_pages: dict[str, int], serials: list[str], out: Path, seed: int = 1,
                     dpi: int = 200, fonts: list[str] | None = None) -> dict[str, str]:
    """Families send back the reply slips of some letters: each marks accept or decline with a pen
    and signs; the slip is torn off and scanned (skewed, maybe upside down) into one PDF at `out`.
    `first_pages` gives each letter's first page in the letters PDF (from 1; the slip is at its foot:
    only letters of families with a seat have one). Returns serial -> the answer marked."""
    from pdf2image import convert_from_path

    from zonepaper.layout import SLIP_H, build_slip_layout

    rng = np.random.default_rng(seed)
    slip = build_slip_layout("letter")
    answers: dict[str, str] = {}
    scans = []
    fonts = fonts or available_hand_fonts()
    for serial in serials:
        first = first_pages[serial]
        page = convert_from_path(str(letters_pdf), dpi=dpi, grayscale=True, first_page=first, last_page=first)[0]
        k = dpi / 72.0
        top = int(round((page.height / k - SLIP_H) * k))
        torn = page.crop((0, top, page.width, page.height))
        pen = Pen(torn, dpi, rng, fonts)
        answer = "accept" if rng.random() < REPLY_ACCEPT_RATE else "decline"
        pen.mark(next(b for b in slip.field("reply").bubbles if b.value == answer).rect,
                 str(rng.choice(["solid", "check", "cross"])))
        pen.signature(slip.field("reply_signature").rect)
        scans.append(scan_effects(torn, rng, upside_down=rng.random() < 0.2))
        answers[serial] = answer
    out.parent.mkdir(parents=True, exist_ok=True)
    _save_multi(scans, out, dpi, 80)
    return answers
