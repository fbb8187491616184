"""Learning this community's handwriting during the cycle (`zonepaper models adapt`), and
reading again what still waits for a person (`zonepaper scan rescan-review`).

Every digits field a person confirmed is a labelled sample of how the families of this zone
write. Adapting fits a new last layer for each digit network on those samples, with numpy:
the committed networks' features stay as they are, the new layer starts from the committed
one and is held near it (so that a few thousand digits move it only as far as they show).

The cycle switches to the adapted layers only if they are at least as safe and more useful,
measured on confirmed forms they were not fitted on: the confirmed forms are split in FOLDS
by form; each fold is read with layers fitted on the others and decided by the same rules
as ingest. The switch needs, over all folds, not one wrong value accepted alone, not one
value the committed reader accepted alone read as another, no more confirmed digits read
wrong yet surely (at the lowest bar any box needs) than the committed reader reads, and more
fields accepted alone than the committed reader accepts. The switch is an event; the reader's name is stored with
every digit reading made after it.

Pages are read again from the aligned image ingest stored for each form (pages/), the image
the review page shows.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from zonepaper.cycle import Cycle
from zonepaper.errors import InvalidInputError
from zonepaper.fields import DIGIT_FIELDS, written_digits
from zonepaper.layout import Layout
from zonepaper.scan.boxes import BoxesReading, DigitCrops, digit_crops, read_fields_crops
from zonepaper.scan.digits import Head, Reader, digit_nets, heads_bytes
from zonepaper.scan.page import (K, SURE_STRONG_RULES, FieldResult, decide_page_digits, read_context,
                                 stored_aligned)
from zonepaper.store.database import write_transaction
from zonepaper.store.freeze import ensure_not_frozen
from zonepaper.store.readers import (ADAPT_AFTER_DIGITS, COMMITTED, confirmed_digits, current_reader, reader_name,
                                     switch_reader)
from zonepaper.store.records import settle_application
from zonepaper.store.state import record_application_event
from zonepaper.zone import Zone

FOLDS = 3
PULL = 0.01  # how strongly the new last layer is held near the committed one (L2, per digit)
STEPS, RATE = 300, 0.01  # Adam on the whole set of digits at once

Progress = Callable[[int, int], None]


@dataclass
class FormDigits:
    """One form's digits fields taken out of its stored image, and what people confirmed there."""

    serial: str
    page_id: int
    sibling: str
    crops: dict[str, DigitCrops]
    choices: tuple[str, ...] = ()  # the program ids stored for the choices grid, in rank order
    confirmed: dict[str, str] = field(default_factory=dict)  # field -> the value a person confirmed
    accepted: dict[str, str] = field(default_factory=dict)  # field -> the value the machine accepted alone

    def labelled(self) -> list[tuple[np.ndarray, int]]:
        """(normalised character, its digit) for every box of the confirmed fields."""
        out = []
        for name, value in self.confirmed.items():
            crops = self.crops[name]
            text = written_digits(name, value, [n is not None for n in crops.normalised])
            if text is None:
                continue  # the value was not written in these boxes as read (a digit outside its box)
            for char, first, again in zip(text, crops.normalised, crops.again):
                if first is not None:
                    out.append((first, int(char)))
                if again is not None:
                    out.append((again, int(char)))
        return out


def _page_image(cycle: Cycle, rel: str, layout: Layout) -> np.ndarray | None:
    try:
        return stored_aligned((cycle.root / rel).read_bytes(), layout)
    except OSError:
        return None


Wanted = Callable[[list[tuple]], bool]


def _forms(cycle: Cycle, conn, layout: Layout, statuses: tuple[str, ...],  # noqa: ANN001 - sqlite3 connection
           progress: Progress | None = None, wanted: Wanted | None = None) -> list[FormDigits]:
    """Every form with a digits field in one of these statuses, read again from its stored image
    (only those whose rows (name, value, status, illegible, votes) are `wanted`, if given: reading
    a page again is the slow part)."""
    names = ",".join("?" * len(DIGIT_FIELDS))
    marks = ",".join("?" * len(statuses))
    pages = conn.execute(
        f"SELECT DISTINCT p.id, p.image, f.serial FROM fields f JOIN pages p ON p.id = f.page_id "
        f"WHERE f.name IN ({names}) AND f.status IN ({marks}) AND f.illegible = 0 AND p.image IS NOT NULL "
        f"ORDER BY p.id", (*DIGIT_FIELDS, *statuses)).fetchall()
    out = []
    for done, (page_id, image_path, serial) in enumerate(pages, 1):
        rows = conn.execute("SELECT name, value, status, illegible, votes FROM fields WHERE serial = ? AND page_id = ?",
                            (serial, page_id)).fetchall()
        image = _page_image(cycle, image_path, layout) if wanted is None or wanted(rows) else None
        if image is not None:
            sibling = next((r[1] for r in rows if r[0] == "sibling"), "") or ""
            choices = next((r[1] for r in rows if r[0] == "choices"), "") or ""
            form = FormDigits(serial, page_id, sibling,
                              {name: digit_crops(image, layout.field(name), K) for name in DIGIT_FIELDS},
                              tuple(c for c in choices.split(",") if c))
            for name, value, status, illegible, _ in rows:
                if name in DIGIT_FIELDS and status == "confirmed" and not illegible and value:
                    form.confirmed[name] = value
                elif name in DIGIT_FIELDS and status == "auto" and value:
                    form.accepted[name] = value
            out.append(form)
        if progress:
            progress(done, len(pages))
    return out


def fit_head(features: np.ndarray, digits: np.ndarray, start: Head) -> Head:
    """A last layer fitted to these labelled features (softmax cross-entropy), held near `start`."""
    x = features.astype(np.float64)
    target = np.eye(10)[digits]
    w0, b0 = start.weights.astype(np.float64), start.bias.astype(np.float64)
    params = [w0.copy(), b0.copy()]
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    for step in range(1, STEPS + 1):
        error = (Head(params[0], params[1]).probabilities(x) - target) / len(x)
        grads = [error.T @ x + PULL * (params[0] - w0), error.sum(axis=0) + PULL * (params[1] - b0)]
        for p, g, m, v in zip(params, grads, first, second):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            p -= RATE * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    return Head(params[0].astype(np.float32), params[1].astype(np.float32))


def fit_heads(forms: list[FormDigits]) -> tuple[Head, ...]:
    """New last layers for every network, fitted on the confirmed digits of these forms."""
    samples = [s for form in forms for s in form.labelled()]
    images, digits = [s[0] for s in samples], np.array([s[1] for s in samples], np.int64)
    return tuple(fit_head(net.features(images), digits, net.head) for net in digit_nets())


@dataclass
class Judgement:
    """How a reader decides the confirmed fields of some forms."""

    fields: int = 0  # confirmed digits fields
    accepted: int = 0  # of those, accepted alone
    wrong: int = 0  # of those, accepted alone with a value other than the person's
    changed: int = 0  # values the committed reader accepted alone, accepted as another value
    digits: int = 0  # confirmed digits
    sure_wrong: int = 0  # of those, read as another digit with the lowest bar any box needs, or more

    def add(self, other: Judgement) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def safer_than(self, other: Judgement) -> bool:
        """Not one wrong or changed value accepted alone, no more surely wrong digits, and more accepted."""
        return (self.wrong == 0 and self.changed == 0 and self.sure_wrong <= other.sure_wrong
                and self.accepted > other.accepted)


def decide_form(form: FormDigits, reader: Reader, layout: Layout, zone: Zone
                ) -> tuple[dict[str, BoxesReading], dict[str, FieldResult]]:
    readings = read_fields_crops(form.crops, reader)
    chosen = tuple(str(p.number) for p in zone.programs if p.id in form.choices)
    return readings, decide_page_digits(readings, layout, zone, form.sibling, chosen)


def judge(forms: list[FormDigits], reader: Reader, layout: Layout, zone: Zone) -> Judgement:
    out = Judgement()
    for form in forms:
        readings, results = decide_form(form, reader, layout, zone)
        for name, value in form.confirmed.items():
            out.fields += 1
            if results[name].status == "auto":
                out.accepted += 1
                out.wrong += results[name].value != value
            boxes = readings[name].ensemble
            text = written_digits(name, value, [g is not None for g in boxes]) or ""
            for want, guess in zip(text, boxes):
                if guess is not None:
                    out.digits += 1
                    out.sure_wrong += guess.digit != want and guess.probability >= SURE_STRONG_RULES
        for name, value in form.accepted.items():
            out.changed += results[name].status == "auto" and results[name].value != value
    return out


def _fold(serial: str) -> int:
    return int(hashlib.sha256(serial.encode()).hexdigest()[:8], 16) % FOLDS


@dataclass(frozen=True)
class AdaptReport:
    digits: int  # confirmed digits learnt from
    forms: int
    committed: Judgement  # on the held-out confirmed forms
    adapted: Judgement
    switched: bool
    reader: str  # the reader in use afterwards


def adapt(cycle: Cycle, actor: str, min_digits: int = ADAPT_AFTER_DIGITS, progress: Progress | None = None
          ) -> AdaptReport:
    """Fit last layers on the cycle's confirmed digits; switch to them only if held-out forms say they are safer."""
    ctx = read_context(cycle)
    db = cycle.db()
    try:
        have = confirmed_digits(db.conn, DIGIT_FIELDS)
        if have < min_digits:
            raise InvalidInputError("models.too_few", have=have, need=min_digits)
        forms = [f for f in _forms(cycle, db.conn, ctx.layout, ("confirmed", "auto"), progress) if f.confirmed]
        committed, adapted = Judgement(), Judgement()
        for k in range(FOLDS):
            held = [f for f in forms if _fold(f.serial) == k]
            rest = [f for f in forms if _fold(f.serial) != k]
            if not held or not rest:
                continue
            committed.add(judge(held, Reader(), ctx.layout, ctx.zone))
            adapted.add(judge(held, Reader("fold", fit_heads(rest)), ctx.layout, ctx.zone))
        safe = adapted.safer_than(committed)
        reader = current_reader(db.conn).reader
        if safe:
            heads = heads_bytes(fit_heads(forms))
            figures = {"digits": have, "forms": len(forms), "folds": FOLDS,
                       "committed": vars(committed), "adapted": vars(adapted)}
            if reader_name(heads) != reader:  # the same confirmed digits give the same layers: nothing to switch
                with write_transaction(db.conn):
                    reader = switch_reader(db.conn, actor, heads, figures)
        return AdaptReport(have, len(forms), committed, adapted, safe, reader)
    finally:
        db.close()


def reset(cycle: Cycle, actor: str) -> str:
    """Read with the committed networks again (an event, like every switch)."""
    db = cycle.db()
    try:
        with write_transaction(db.conn):
            return switch_reader(db.conn, actor, None, {})
    finally:
        db.close()


@dataclass(frozen=True)
class RescanReport:
    forms: int  # forms read again: with a digits field in review that another reader read
    fields: int  # digits fields in review read again (not those a reviewer holds)
    accepted: int  # of those, now accepted alone
    reader: str


def rescan_review(cycle: Cycle, actor: str = "zonepaper", progress: Progress | None = None,
                  now: float | None = None) -> RescanReport:
    """Read again, with the reader in use, every digits field still waiting for a person.

    Only fields read with another reader than the one in use are read again (the same reader
    reading the same field twice is not more evidence). A field the reader is now sure of is
    accepted alone, as at ingest; every other field stays exactly as it was (what a reviewer is
    looking at does not change under them). A field a reviewer holds a claim on is left alone.
    Only the pages that hold such a field are read again. Each form is one transaction; refused
    while the draw's inputs are frozen.
    """
    ctx = read_context(cycle)
    db = cycle.db()
    conn = db.conn
    try:
        ensure_not_frozen(conn)
        def rereadable(rows: list[tuple]) -> bool:  # a field in review another reader read
            return any(name in DIGIT_FIELDS and status == "review" and not illegible
                       and _read_with(votes) != ctx.reader.id for name, _, status, illegible, votes in rows)

        forms = _forms(cycle, conn, ctx.layout, ("review",), progress, rereadable)
        fields = accepted = 0
        for form in forms:
            _, results = decide_form(form, ctx.reader, ctx.layout, ctx.zone)
            with write_transaction(conn):
                ensure_not_frozen(conn)
                changed = []
                for name, result in results.items():
                    row = conn.execute("SELECT rowid, status, illegible, version, votes FROM fields WHERE serial = ? "
                                       "AND name = ? AND page_id = ?", (form.serial, name, form.page_id)).fetchone()
                    if row is None or row[1] != "review" or row[2] or _read_with(row[4]) == ctx.reader.id:
                        continue
                    held = conn.execute("SELECT 1 FROM claims WHERE item = ? AND expires_at >= ?",
                                        (f"f:{row[0]}", time.time() if now is None else now)).fetchone()
                    if held:
                        continue  # read again next time, once the reviewer has let it go
                    fields += 1
                    if result.status != "auto":  # still unsure: noted, so that the same reader does not try again
                        votes = {**json.loads(row[4] or "{}"), "reread_with": ctx.reader.id}
                        conn.execute("UPDATE fields SET votes = ? WHERE rowid = ?",
                                     (json.dumps(votes, sort_keys=True), row[0]))
                        continue
                    conn.execute("UPDATE fields SET value = ?, status = 'auto', confidence = ?, votes = ?, "
                                 "reasons = '[]', version = version + 1 WHERE rowid = ? AND version = ?",
                                 (result.value, result.confidence, _votes(result), row[0], row[3]))
                    conn.execute("DELETE FROM skips WHERE item = ?", (f"f:{row[0]}",))
                    changed.append(name)
                if changed:
                    accepted += len(changed)
                    settle_application(conn, form.serial)
                    record_application_event(conn, actor, "scan.reread", form.serial,
                                             {"fields": changed, "reader": ctx.reader.id, "page": form.page_id})
        return RescanReport(len(forms), fields, accepted, ctx.reader.id)
    finally:
        db.close()


def _read_with(votes: str) -> str:
    """The reader that last read a stored digits field (readings from before readers were named: the committed)."""
    stored = json.loads(votes or "{}")
    return stored.get("reread_with") or stored.get("reader", COMMITTED)


def _votes(result: FieldResult) -> str:
    return json.dumps(result.votes, sort_keys=True)
