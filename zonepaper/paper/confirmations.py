"""Confirmation letters: before the freeze, each family reads back what the office read from its form.

One letter per application, the family's language on the front and the other on the back: the
student's name, birth date, grade, current school, address, phone, parent or guardian, the letters'
language, the sibling answer and the choices in order, as stored now (a value still waiting for a
person says so). At the foot of the front, a correction slip: the form number large and in a code, lines to write
what is wrong, and the date to return it by. The slip has its own four markers (8-11) and code, so
`scan ingest` recognises it, torn off or on the whole letter, and sets it aside for a coordinator
(reason `correction_slip`: an open page, so the draw's freeze waits for it). The coordinator reads it
beside the form, opens the fields to correct from the whole-form view (each correction is a decision,
an event in the log) and closes the slip ("corrected" or "nothing to change", an event too), so
mistakes of the machine and of the reviewers are caught before the draw.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from pathlib import Path

from zonepaper.cycle import Cycle
from zonepaper.errors import ConflictError
from zonepaper.fields import ON_FORM, names, spec
from zonepaper.layout import SLIP_H, Layout, build_correction_layout
from zonepaper.paper.letters import Family, both_sides, choice_words, cut_line, families, long_date
from zonepaper.pdf import LayoutPainter, register_fonts, whole_file
from zonepaper.serial import CORRECTION, display_serial, make_payload
from zonepaper.store.freeze import active_freeze
from zonepaper.text import translate
from zonepaper.zone import Zone

# what the family wrote, in the form's order: everything but its signature and the day it signed (the
# choices are shown apart, in rank order)
SHOWN = tuple(n for n in names(sheet=ON_FORM, written_by="family")
              if spec(n).kind not in ("signature", "choices") and n != "signature_date")
SLIP_FORM = "correction_slip"  # its fixed parts, drawn once


def stored_values(conn: sqlite3.Connection) -> dict[str, dict[str, tuple[str, str]]]:
    """serial -> field -> (value, status) of every application."""
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for serial, name, value, status in conn.execute("SELECT serial, name, value, status FROM fields"):
        out.setdefault(serial, {})[name] = (value or "", status)
    return out


def _shown(zone: Zone, name: str, value: str, lang: str) -> str:
    """A stored value as the family wrote it, in words."""
    def t(key: str, **params: object) -> str:
        return translate("paper", f"confirm.{key}", lang, **params)

    if name == "birth_date" and len(value) == 10:
        return long_date(date.fromisoformat(value), lang)
    if name == "letter_language":
        return translate("paper", f"office.language_{value or 'es'}", lang)
    if name == "sibling":
        return t("yes") if value == "yes" else t("no") if value == "no" else value
    if name == "sibling_program" and value.isdigit():
        p = next((p for p in zone.programs if p.number == int(value)), None)
        return f"{value}, {p.name}" if p else value
    if name == "phone" and len(value) == 10:
        return f"({value[:3]}) {value[3:6]}-{value[6:]}"
    return value


def confirmation_paragraphs(zone: Zone, values: dict[str, tuple[str, str]], family: Family, lang: str,
                            today: date, due: date) -> list[tuple[str, str]]:
    """(style, text) of one confirmation letter in one language."""
    def t(key: str, **params: object) -> str:
        return translate("paper", f"confirm.{key}", lang, **params)

    out = [("title", t("title", zone=zone.name[lang], cycle=zone.cycle)), ("small", long_date(today, lang)),
           ("body", translate("paper", "letter.greeting", lang,
                              student=family.student or display_serial(family.serial))),
           ("body", t("intro", form=display_serial(family.serial)))]
    for name in SHOWN:
        value, status = values.get(name, ("", "auto"))
        if name == "sibling_program" and not value:
            continue
        shown = t("waiting") if status == "review" else _shown(zone, name, value, lang) or t("empty")
        label = translate("form", f"field.{name}", lang)
        out.append(("item", f"{label}{'' if label.endswith(('?', ':')) else ':'} {shown}"))
    programs = {p.id: p for p in zone.programs}
    value, status = values.get("choices", ("", "auto"))
    if status == "review":
        out.append(("item", f"{t('choices')}: {t('waiting')}"))
    else:
        ranked = [f"{programs[c].number}, {programs[c].name}" if c in programs else c for c in value.split(",") if c]
        out.append(("item", f"{t('choices')}: " + ("; ".join(
            f"{choice_words(k, lang)}: {p}" for k, p in enumerate(ranked, start=1)) or t("empty"))))
    out += [("strong", t("check", date=long_date(due, lang))), ("body", t("nothing_wrong"))]
    if zone.letters is not None:
        out.append(("body", translate("paper", "letter.contact", lang, contact=zone.letters.contact[lang])))
    return out


def write_confirmations_pdf(cycle: Cycle, conn: sqlite3.Connection, today: date | None = None) -> tuple[Path, int]:
    """output/confirmations-YYYY-MM-DD.pdf, one double-sided letter per application; refused while the draw's
    data are frozen (a correction could not be stored then)."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen.canvas import Canvas

    freeze = active_freeze(conn)
    if freeze is not None:
        raise ConflictError("paper.confirm_frozen", freeze=freeze.id)
    register_fonts()
    today = today or date.today()
    zone = cycle.zone()
    due = today + timedelta(days=zone.letters.confirm_days if zone.letters else 10)
    who = families(conn)
    values = stored_values(conn)
    serials = [r[0] for r in conn.execute("SELECT serial FROM applications ORDER BY serial")]
    info = cycle.info()
    secret, cycle_id = bytes.fromhex(info["secret"]), info["cycle_id"]
    slip = build_correction_layout("letter")
    out = cycle.root / "output" / f"confirmations-{today.isoformat()}.pdf"
    with whole_file(out) as part:
        c = Canvas(str(part), pagesize=letter)
        c.setTitle("Confirmations")
        painter = LayoutPainter(c, slip, zone, cycle_id)
        c.beginForm(SLIP_FORM)
        painter.draw_static()
        c.endForm()
        for serial in serials:
            family = who.get(serial, Family(serial, "es", "", "", "", ""))

            def correction_foot(lang: str, serial: str = serial) -> float:
                _draw_correction_slip(c, painter, slip, make_payload(secret, cycle_id, serial, CORRECTION), lang, due)
                return SLIP_H + 10

            both_sides(c, zone, family, lambda lang, family=family: confirmation_paragraphs(
                zone, values.get(family.serial, {}), family, lang, today, due), correction_foot)
        c.save()
    return out, len(serials)


def _draw_correction_slip(c, painter: LayoutPainter, slip: Layout, payload, lang: str, due: date) -> None:
    """The tear-off at the foot of the front: its fixed parts, the form's number and code, and by when to
    return it, in both languages (the family's first)."""
    other = "en" if lang == "es" else "es"
    cut_line(c, SLIP_H, translate("paper", "confirm.cut", lang))
    c.doForm(SLIP_FORM)
    painter.draw_serial(payload)
    area = next(d.rect for d in slip.decorations if d.kind == "correction_text")
    for i, (language, font) in enumerate(((lang, "Sans-Bold"), (other, "Sans"))):
        for j, key in enumerate(("slip_how", "slip_by")):
            painter.text(area.x, area.y + 2 + 23 * i + 11 * j, translate(
                "paper", f"confirm.{key}", language, date=long_date(due, language)), font, 8.5, max_width=area.w)
