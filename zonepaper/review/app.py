"""What the review page's routes share: the cycle, its zone and layout, the one writer, the read-only
connections, the decoded pages, and how an item is shown (its crop, its value as a person types it)."""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from zonepaper.cycle import Cycle
from zonepaper.layout import build_layout
from zonepaper.review.accounts import Throttle
from zonepaper.review.queue import Item
from zonepaper.review.values import answer_words, option_values
from zonepaper.review.writer import Readers, Writer
from zonepaper.scan.page import K, read_context
from zonepaper.serial import display_serial
from zonepaper.text import load_catalog, translate

STATIC = Path(__file__).parent / "static"
TEMPLATES = Path(__file__).parent / "templates"
BATCH_SCALE = 0.72  # a batch cell's crop at least this size: a box's handwriting (about 43 px) 30 px tall


def t(lang: str, key: str, **params: object) -> str:
    """Web text (forms/web.toml), falling back to the form's own labels (form.toml) and reasons (messages.toml)."""
    for catalog in ("web", "form", "messages"):
        if key in load_catalog(catalog):
            return translate(catalog, key, lang, **params)
    return key


class PageCache:
    """Decoded aligned pages, most recently used kept (a crop costs a few ms, a decode ~15 ms)."""

    def __init__(self, size: int = 32) -> None:
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, path: Path) -> np.ndarray | None:
        key = str(path)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        if not path.is_file():
            return None
        img = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_GRAYSCALE)
        with self._lock:
            self._items[key] = img
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return img


class ReviewApp:
    """Everything the request handlers share: the cycle, its zone and layout, the writer, the readers."""

    def __init__(self, cycle: Cycle, log: Callable[[str], None] | None = None) -> None:
        self.cycle = cycle
        self.zone = cycle.zone()
        self.layout = build_layout(self.zone, "letter")
        self.writer = Writer(cycle.db_path)
        self.readers = Readers(cycle.db_path)
        self.pages = PageCache()
        self.throttle = Throttle()
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._ctx = None
        self.max_upload = 500 * 1024 * 1024  # bytes of one file a station may send (review serve --max-upload-mb)
        self.inbox: Any = None  # the stations' files are read by it (review.inbox.Inbox), when the server runs one

    def close(self) -> None:
        self.writer.close()
        self.readers.close()

    def read_ctx(self):
        if self._ctx is None:
            self._ctx = read_context(self.cycle)
        return self._ctx

    # --- items as the page sees them -----------------------------------------------------
    def show_value(self, item: Item, lang: str) -> str:
        """The stored value written the way a person types it (dates MM/DD/YYYY, choices as program numbers,
        an answer as its word in the person's language: "firmado", "inglés")."""
        if item.kind in ("option", "signature") and item.value:
            return answer_words(item.value, lang)[0]
        if item.kind == "choices":
            numbers = {p.id: str(p.number) for p in self.zone.programs}
            return " ".join(numbers.get(v, v) for v in item.value.split(",") if v)
        if item.kind == "date" and len(item.value) == 10 and item.value[4] == "-":
            y, m, d = item.value.split("-")
            return f"{m}/{d}/{y}"
        return item.value

    def item_json(self, item: Item, lang: str) -> dict[str, Any]:
        kind = item.kind
        reasons = list(item.reasons) + (["illegible"] if item.illegible else [])
        hint_params = {}
        if kind == "option":
            hint_params["allowed"] = " / ".join(answer_words(v, lang)[0] for v in option_values(item.name, self.layout))
        return {"id": item.id, "version": item.version, "name": item.name, "kind": kind,
                "label": t(lang, f"field.{item.name}"), "value": self.show_value(item, lang),
                "status": item.status, "serial": display_serial(item.serial), "page": item.page_id,
                "illegible": item.illegible,
                "why": [t(lang, f"why.{r}") for r in dict.fromkeys(reasons)],
                "hint": t(lang, f"hint.{kind}", **hint_params),
                "image": f"/img/field/{item.id}" if item.box and item.page_id else None,
                "bubbles": self.choice_bubbles(item) if kind == "choices" and item.page_id else []}

    def crop_window(self, item: Item) -> tuple[int, int, int, int]:
        """The part of the aligned page shown for an item (x, y, w, h in pixels): its box and a margin.
        For the choices grid, the whole grid with its program names and column headings."""
        x, y, w, h = item.box  # type: ignore[misc]
        if item.kind == "choices":
            rows = [d.rect for d in self.layout.decorations if d.kind in ("grid_row", "grid_heading")]
            left, top = min([x] + [int(r.x * K) for r in rows]), min([y] + [int(r.y * K) for r in rows])
            w, h, x, y = x + w - left, y + h - top, left, top
        if item.kind == "choices":
            return x - 14, y - 8, w + 28, h + 16
        # above: the field's own label; below: its part hints (mes / month ...) and nothing of the next row,
        # whose label starts a few points under the boxes (a name's crop showed the next field's label)
        hints = [int((d.rect.y + d.rect.h) * K) for d in self.layout.decorations if d.kind == "part_hint"
                 and x - 5 <= d.rect.x * K <= x + w and 0 <= d.rect.y * K - (y + h) < 20]
        below = max(hints) - (y + h) + 4 if hints else 4
        return x - 14, y - 26, w + 28, h + 26 + below

    def batch_cells(self, name: str, room: int = 1068, rows: int = 2) -> tuple[int, int]:
        """(cells on a batch page, their least width in CSS pixels) for one field: each crop shown at least
        BATCH_SCALE of its size (its handwriting about 30 px tall), as many to a row as fit the page's
        width, `rows` rows (what fits a 768 px high screen with the page's keys)."""
        box = self.layout.field(name).rect
        width, gap = int((box.w * K + 28) * BATCH_SCALE), 12  # (the grid's gap between cells)
        per_row = max(1, min(5, (room + gap) // (width + gap)))
        return per_row * rows, min(width, room)

    def crop(self, item: Item) -> bytes | None:
        if not item.box or not item.page_id:
            return None
        with self.readers.connection() as conn:
            row = conn.execute("SELECT image FROM pages WHERE id = ?", (item.page_id,)).fetchone()
        if not row or not row[0]:
            return None
        page = self.pages.get(self.cycle.root / row[0])
        if page is None:
            return None
        scale = page.shape[1] / (self.layout.width * K)
        x, y, w, h = (int(round(v * scale)) for v in self.crop_window(item))
        pad = max(0, -x, -y, x + w - page.shape[1], y + h - page.shape[0])  # white beyond the page's edge
        padded = cv2.copyMakeBorder(page, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255) if pad else page
        crop = padded[y + pad: y + pad + h, x + pad: x + pad + w]
        ok, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 92])
        return data.tobytes() if ok else None

    def choice_bubbles(self, item: Item) -> list[dict]:
        """Where each bubble of the choices grid is on the item's crop (in % of it), to click on."""
        if not item.box:
            return []
        cx, cy, cw, ch = self.crop_window(item)
        out = []
        for b in self.layout.field("choices").bubbles:
            x, y, w, h = (v * K for v in (b.rect.x, b.rect.y, b.rect.w, b.rect.h))
            out.append({"program": b.program_number, "rank": b.rank, "left": round((x - cx) / cw * 100, 3),
                        "top": round((y - cy) / ch * 100, 3), "width": round(w / cw * 100, 3),
                        "height": round(h / ch * 100, 3)})
        return out
