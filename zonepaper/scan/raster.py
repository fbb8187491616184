"""From scanned files to greyscale page images: PDF (embedded JPEGs taken out directly), PNG, JPEG, TIFF,
and the other image files Pillow reads (BMP, WebP, GIF)."""

from __future__ import annotations

import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

RASTER_DPI = 200
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif"}
SUFFIXES = IMAGE_SUFFIXES | {".pdf"}
# A Letter page at 600 dpi is 34 million pixels, A3 at 600 dpi 70 million. Anything larger is not
# a scanned form, and decoding it (a 20000 x 20000 PNG, a PDF page of 200 x 200 inches) would
# take gigabytes: such a page is quarantined before it is decoded.
MAX_PAGE_PIXELS = 80_000_000
Image.MAX_IMAGE_PIXELS = MAX_PAGE_PIXELS  # Pillow refuses to decode more, whatever asks it
warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # a page that large is quarantined, not read


class UnreadableFile(Exception):
    """The file cannot be turned into pages; the message says why in plain words."""


@dataclass(frozen=True)
class RasterPage:
    index: int
    image: np.ndarray | None  # uint8 greyscale; None when the page cannot be a form (see problem)
    problem: str | None = None  # a quarantine reason: page_too_large


def too_large(width: float, height: float) -> bool:
    return width * height > MAX_PAGE_PIXELS


def find_files(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Files to ingest: the files named, and every scan file inside the folders named (recursively),
    sorted; and the other files in those folders, which are not read (hidden files left out)."""
    found: list[Path] = []
    other: list[Path] = []
    for path in paths:
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file() and not p.name.startswith("."):
                    (found if p.suffix.lower() in SUFFIXES else other).append(p)
        else:
            found.append(path)
    return found, other


def count_pages(path: Path) -> int:
    """How many pages the file has (raises UnreadableFile)."""
    if path.suffix.lower() == ".pdf":
        out = _run(["pdfinfo", str(path)])
        for line in out.splitlines():
            if line.startswith("Pages:"):
                return int(line.split()[1])
        raise UnreadableFile("no page count")
    try:
        with Image.open(path) as img:
            return getattr(img, "n_frames", 1)
    except Image.DecompressionBombError:
        return 1  # read_pages says the page is too large
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise UnreadableFile(str(exc) or type(exc).__name__) from None


def read_pages(path: Path, skip: set[int] = frozenset()) -> Iterator[RasterPage]:
    """Yield the pages of one file as greyscale images, except those in skip (raises UnreadableFile)."""
    if not path.is_file():
        raise UnreadableFile("no such file (moved or deleted before it was read)")
    if path.stat().st_size == 0:
        raise UnreadableFile("empty file (0 bytes)")
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        yield from _pdf_pages(path, skip)
        return
    try:
        with Image.open(path) as img:
            for i, frame in enumerate(ImageSequence.Iterator(img)):
                if i in skip:
                    continue
                if too_large(*frame.size):
                    yield RasterPage(i, None, "page_too_large")
                else:
                    yield RasterPage(i, grey(frame))
    except Image.DecompressionBombError:
        if 0 not in skip:
            yield RasterPage(0, None, "page_too_large")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise UnreadableFile(str(exc) or type(exc).__name__) from None


def grey(frame: Image.Image) -> np.ndarray:
    """One image frame as 8-bit grey. Pillow's own conversion clips 16- and 32-bit grey at 255,
    which turns a 16-bit scan of a form into a white page: those are scaled instead."""
    if frame.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(frame, dtype=np.float64)
        top = 65535.0 if frame.mode.startswith("I;16") or values.max() > 255 else 255.0
        return np.clip(values * (255.0 / top), 0, 255).round().astype(np.uint8)
    return np.array(frame.convert("L"))


def _run(cmd: list[str]) -> str:
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        raise UnreadableFile(f"{cmd[0]} is not installed (poppler-utils)") from None
    if result.returncode != 0:
        raise UnreadableFile((result.stderr.strip().splitlines() or ["unreadable PDF"])[-1])
    return result.stdout


@lru_cache(maxsize=8)
def _pdf_plan(path: str, size: int, mtime_ns: int) -> tuple[int, dict[int, list[list[str]]], bool,
                                                                dict[int, tuple[float, float]]]:
    """A PDF's pages, embedded images per page, whether every page is one JPEG, and page sizes; kept for
    the file's next pages while it is unchanged (a cluster's worker reads one page of a file at a time)."""
    listing = _run(["pdfimages", "-list", path]).splitlines()[2:]
    pages = count_pages(Path(path))
    rows = [line.split() for line in listing if line.strip()]
    per_page: dict[int, list[list[str]]] = {}
    for row in rows:
        per_page.setdefault(int(row[0]), []).append(row)
    direct = len(per_page) == pages and all(len(v) == 1 and v[0][8] == "jpeg" and v[0][2] == "image"
                                            for v in per_page.values())
    return pages, per_page, direct, _page_sizes(Path(path), pages)


EXTRACT_BATCH = 16  # a scanner PDF's pages taken out by one pdfimages run (one run a page cost 8 ms more each)


def _pdf_pages(path: Path, skip: set[int]) -> Iterator[RasterPage]:
    """Scanner PDFs hold one JPEG per page: take it out as it is (fast, up to EXTRACT_BATCH pages in a
    row at once); otherwise render at 200 dpi."""
    stat = path.stat()
    pages, per_page, direct, sizes = _pdf_plan(str(path), stat.st_size, stat.st_mtime_ns)
    with tempfile.TemporaryDirectory() as tmp:
        taken_out = -1  # the last page of the run of pages taken out so far
        for i in range(pages):
            if i in skip:
                continue
            width, height = sizes.get(i, (0.0, 0.0))
            embedded = per_page.get(i + 1, [[]])[0]
            if too_large(width / 72 * RASTER_DPI, height / 72 * RASTER_DPI) or (
                    direct and too_large(float(embedded[3]), float(embedded[4]))):
                yield RasterPage(i, None, "page_too_large")
            elif direct:
                if i > taken_out:  # this page and the wanted ones right after it
                    taken_out = i
                    while taken_out + 1 < min(pages, i + EXTRACT_BATCH) and taken_out + 1 not in skip:
                        taken_out += 1
                    _run(["pdfimages", "-j", "-p", "-f", str(i + 1), "-l", str(taken_out + 1), str(path),
                          str(Path(tmp) / "p")])
                out = sorted(Path(tmp).glob(f"p-{i + 1:03d}-*"))  # -p: named by page, then image number
                if not out:
                    raise UnreadableFile(f"page {i + 1}: no image could be taken out")
                with Image.open(out[0]) as img:
                    yield RasterPage(i, np.array(img.convert("L")))
                for f in out:
                    f.unlink()
            else:
                yield RasterPage(i, _render_pdf_page(path, i))


def _page_sizes(path: Path, pages: int) -> dict[int, tuple[float, float]]:
    """Each page's size in points, from pdfinfo (before anything is rendered)."""
    out: dict[int, tuple[float, float]] = {}
    for line in _run(["pdfinfo", "-f", "1", "-l", str(max(pages, 1)), str(path)]).splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[0] == "Page" and parts[2] == "size:":
            try:
                out[int(parts[1]) - 1] = (float(parts[3]), float(parts[5]))
            except ValueError:
                continue
    return out


def _render_pdf_page(path: Path, index: int) -> np.ndarray:
    from pdf2image import convert_from_path
    from pdf2image.exceptions import PDFPageCountError, PDFSyntaxError

    try:
        page = convert_from_path(str(path), dpi=RASTER_DPI, grayscale=True, first_page=index + 1,
                                 last_page=index + 1)[0]
    except (PDFPageCountError, PDFSyntaxError, IndexError) as exc:
        raise UnreadableFile(str(exc)) from None
    return np.array(page.convert("L"))
