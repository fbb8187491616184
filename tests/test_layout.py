"""The layout contract: every field, in the page, apart, and adapting to the zone."""

from __future__ import annotations

import html
import itertools
import json
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import cli

from zonepaper.cycle import Cycle
from zonepaper.layout import MM, build_layout
from zonepaper.zone import Campus, Label, Program, load_zone

REQUIRED = {
    "last_name": ("boxes", "letters"), "first_name": ("boxes", "letters"), "birth_date": ("boxes", "digits"),
    "current_school": ("boxes", "both"), "grade": ("bubbles", None), "address": ("boxes", "both"),
    "apartment": ("boxes", "both"), "city": ("boxes", "letters"), "zip": ("boxes", "digits"),
    "phone": ("boxes", "digits"), "guardian_name": ("boxes", "letters"),
    "letter_language": ("bubbles", None), "sibling": ("bubbles", None), "sibling_program": ("boxes", "digits"),
    "choices": ("bubbles", None), "signature": ("signature", None), "signature_date": ("boxes", "digits"),
    "received_date": ("boxes", "digits"), "staff_initials": ("boxes", "letters"), "serial_code": ("code", None),
    "back_code": ("code", None),
}


def test_layout_json_is_the_published_contract(cycle: Cycle, capsys) -> None:
    assert cli("forms", "layout", "--json", "--cycle", str(cycle.root)) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["page"] == {"width": 612.0, "height": 792.0, "units": "pt", "origin": "top-left", "y_axis": "down"}
    fields = {f["name"]: f for f in data["fields"]}
    for name, (kind, charset) in REQUIRED.items():
        assert fields[name]["kind"] == kind, name
        assert fields[name]["label"]["es"] and fields[name]["label"]["en"]
        if charset:
            assert fields[name]["charset"] == charset
    assert sorted(f["marker_id"] for f in data["fields"] if f["kind"] == "marker") == [0, 1, 2, 3]
    assert [(p["meaning"], p["boxes"]) for p in fields["birth_date"]["parts"]] == [
        ("month", [0, 1]), ("day", [2, 3]), ("year", [4, 5, 6, 7])]
    assert {n: f.get("value") for n, f in fields.items() if f["kind"] == "boxes"} == {
        "last_name": "name", "first_name": "name", "birth_date": "date", "current_school": "text",
        "address": "address", "apartment": "text", "city": "text", "zip": "zip", "phone": "phone",
        "guardian_name": "name",
        "sibling_program": "program_number", "signature_date": "date", "received_date": "date",
        "staff_initials": "initials"}
    assert [p["meaning"] for p in fields["phone"]["parts"]] == ["area_code", "exchange", "line"]
    # real names fit: MARÍA DE LOS ÁNGELES (20), HERNÁNDEZ-VILLASEÑOR (21); a street of 28 and the apartment apart
    assert [len(fields[n]["boxes"]) for n in ("first_name", "last_name", "address", "apartment", "city")] == [
        20, 24, 28, 5, 16]
    assert fields["signature"]["rect"][3] >= 0.45 * 72
    assert fields["zip"]["parts"] == [{"meaning": "zip", "boxes": [0, 1, 2, 3, 4]}]
    choices = fields["choices"]["bubbles"]
    zone = cycle.zone()
    assert {(b["program"], b["rank"]) for b in choices} == {
        (p.id, r) for p in zone.programs for r in range(1, zone.max_choices + 1)}
    assert all(b["program_number"] == zone.program(b["program"]).number for b in choices)
    assert {b["value"] for b in fields["letter_language"]["bubbles"]} == {"es", "en", "other"}


@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_everything_is_on_the_page_apart_and_big_enough(paper: str, cycle: Cycle) -> None:
    layout = build_layout(cycle.zone(), paper)
    rects = []
    for f in layout.fields:
        parts = list(f.boxes) + [b.rect for b in f.bubbles] or [f.rect]
        for r in parts:
            assert 0 <= r.x and r.right <= layout.width and 0 <= r.y and r.bottom <= layout.height, f.name
            rects.append((f.side, f.name, r))
        if f.kind == "boxes":
            assert all(b.h >= 7 * MM for b in f.boxes), f.name
    front = [(n, r) for side, n, r in rects if side == "front"]
    for (n1, a), (n2, b) in itertools.combinations(front, 2):
        overlap_x = min(a.right, b.right) - max(a.x, b.x)
        overlap_y = min(a.bottom, b.bottom) - max(a.y, b.y)
        assert overlap_x <= 0.01 or overlap_y <= 0.01, f"{n1} overlaps {n2}"


def zone_with(programs: int, choices: int):
    base = load_zone(__import__("pathlib").Path(__file__).parent.parent / "zonepaper/examples/belmont.toml")
    campus = Campus("c", "Campus", "1 Main St")
    progs = tuple(Program(f"p{i}", i + 1, f"Program {i + 1}", campus, Label("es", "en"), {9: 80})
                  for i in range(programs))
    return replace(base, programs=progs, max_choices=choices)


def test_layout_adapts_to_the_zone() -> None:
    small = build_layout(zone_with(6, 3), "letter")
    assert len(small.field("choices").bubbles) == 18
    wide = build_layout(zone_with(34, 4), "letter")  # two columns of programs
    xs = {round(b.rect.x) for b in wide.field("choices").bubbles}
    assert len(xs) == 8 and len(wide.field("choices").bubbles) == 136
    from zonepaper.errors import LayoutDoesNotFitError

    with pytest.raises(LayoutDoesNotFitError):
        build_layout(zone_with(80, 5), "letter")


def test_the_layout_and_the_schema_describe_the_same_fields(cycle: Cycle, capsys) -> None:
    """Every field a person fills in is in zonepaper/fields.py, on the sheet the schema says, as the schema says."""
    from zonepaper.fields import SCHEMA
    from zonepaper.layout import build_slip_layout

    sheets = {"form": build_layout(cycle.zone()), "slip": build_slip_layout()}
    for sheet, layout in sheets.items():
        readable = {f.name: f for f in layout.fields if f.kind in ("boxes", "bubbles", "signature")}
        assert set(readable) == {s.name for s in SCHEMA if s.sheet == sheet}, sheet
        for s in SCHEMA:
            if s.sheet != sheet:
                continue
            f = readable[s.name]
            assert f.kind == {"choices": "bubbles"}.get(s.kind, s.kind), s.name
            assert (f.charset, f.value) == ((s.charset, s.meaning) if s.kind == "boxes" else (None, None)), s.name
    assert cli("forms", "layout", "--json", "--cycle", str(cycle.root)) == 0
    published = {f["name"]: f for f in json.loads(capsys.readouterr().out)["fields"]}
    assert published["sibling_program"]["schema"] == {
        "meaning": "program_number", "sheet": "form", "written_by": "family", "may_be_empty": True,
        "empty_only_if": {"sibling": "no"}, "draw_input": True, "set_by": ["scan", "import", "review"]}
    assert published["received_date"]["schema"]["written_by"] == "office"
    assert "schema" not in published["marker_top_left"]


def test_every_field_has_its_name_on_the_form_in_both_languages() -> None:
    """Messages name fields as the form does (draw freeze lists what is in review by those names)."""
    from zonepaper.fields import SCHEMA
    from zonepaper.text import load_catalog

    labels = load_catalog("form")
    assert [f.name for f in SCHEMA if f"field.{f.name}" not in labels] == []


# --- legible at any size of zone: every text 7 pt or more, nothing printed over anything -------------------
WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>')


def pdf_words(pdf: Path, page: int) -> list[tuple[float, float, float, float, str]]:
    """Every word pdftotext finds on one page, with its box in points (top-left origin; height = type size)."""
    out = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-bbox", str(pdf), "-"],
                         capture_output=True, text=True, check=True).stdout
    return [(float(a), float(b), float(c), float(d), html.unescape(w)) for a, b, c, d, w in WORD.findall(out)]


def _overlap(a, b, slack: float) -> bool:
    return a[0] + slack < b[2] and b[0] + slack < a[2] and a[1] + slack < b[3] and b[1] + slack < a[3]


def belmont_like(cycle: Cycle, programs: int, choices: int, short: bool = False):
    """The example zone with `programs` programs of its real names and descriptions (repeated with a number;
    `short`: descriptions of a few words)."""
    base = cycle.zone()
    real = base.programs
    progs = tuple(replace(real[i % len(real)], id=f"p{i}", number=i + 1,
                          name=real[i % len(real)].name + (f" {i // len(real) + 1}" if i >= len(real) else ""),
                          **({"description": Label("Artes y oficios.", "Arts and crafts.")} if short else {}))
                  for i in range(programs))
    return replace(base, programs=progs, max_choices=choices)


def print_one(zone, paper: str, out: Path):
    from zonepaper.forms.document import write_forms_pdf
    from zonepaper.serial import BACK, FRONT, make_payload

    layout = build_layout(zone, paper)
    secret = b"k" * 32
    write_forms_pdf(out, layout, zone, "ABCDEFGH", [(make_payload(secret, "ABCDEFGH", "0000013", FRONT),
                                                    make_payload(secret, "ABCDEFGH", "0000013", BACK))])
    return layout


def assert_legible(pdf: Path, layout, zone) -> None:
    """Both sides: every word at least 7 pt; no word over another, over a box, a bubble, a marker or a code;
    every program named on both sides."""
    for page in (1, 2):
        words = pdf_words(pdf, page)
        small = [w for w in words if w[3] - w[1] < 6.95]
        assert not small, f"page {page}: text under 7 pt: {small[:5]}"
        for i, a in enumerate(words):
            for b in words[i + 1:]:
                assert not _overlap(a, b, 0.6), f"page {page}: '{a[4]}' is printed over '{b[4]}'"
        if page == 1:
            drawn = [r for f in layout.fields if f.side == "front" and f.kind != "signature"
                     for r in ([b.rect for b in f.bubbles] + list(f.boxes) or [f.rect])]
            for w in words:
                for r in drawn:
                    assert not _overlap(w, (r.x, r.y, r.right, r.bottom), 1.2), f"'{w[4]}' is printed over {r}"
        text = " ".join(w[4] for w in words)
        for p in zone.programs:
            assert p.name.split()[0] in text and str(p.number) in text


@pytest.mark.parametrize(("programs", "choices", "short", "letter", "a4"), [
    (19, 5, False, "fits", "fits"), (8, 3, False, "fits", "fits"), (20, 4, False, "a4", "fits"),
    (30, 3, False, "no", "no"), (30, 1, False, "back", "back"), (30, 1, True, "fits", "fits"),
    (26, 2, True, "fits", "fits")])
def test_the_form_is_legible_at_any_size_or_refused_naming_a4(cycle: Cycle, tmp_path: Path, programs: int,
                                                              choices: int, short: bool, letter: str,
                                                              a4: str) -> None:
    """20 programs x 4 choices, 30 x 3, 30 x 1 once overprinted campus names on bubbles, set names in 5 pt and
    cut programs 23-30 off the back: now each size is legible or refused, the refusal naming --paper a4
    when A4 holds it and the back's descriptions when they are what does not fit."""
    from zonepaper.errors import LayoutDoesNotFitError

    zone = belmont_like(cycle, programs, choices, short)
    for paper, expected in (("letter", letter), ("a4", a4)):
        out = tmp_path / f"{paper}.pdf"
        if expected == "fits":
            assert_legible(out, print_one(zone, paper, out), zone)
            continue
        with pytest.raises(LayoutDoesNotFitError) as refused:
            print_one(zone, paper, out)
        said = refused.value.message("en")
        assert ("--paper a4" in said) == (expected == "a4"), said
        assert ("descriptions" in said) == (expected == "back"), said
        assert f"{programs} programs" in said and not out.exists()
