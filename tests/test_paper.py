"""Printed outputs after the draw: the bin sheets match the draw's results, in order."""

from __future__ import annotations

import json
import random
import re
import subprocess
from pathlib import Path

import pytest
from conftest import add_field, cli

from zonepaper.cycle import init_cycle
from zonepaper.draw.ceremony import freeze, run
from zonepaper.forms.batch import print_forms
from zonepaper.paper.bins import load_draw
from zonepaper.scan.page import FieldResult
from zonepaper.serial import display_serial
from zonepaper.store.database import write_transaction
from zonepaper.store.records import create_read_application

DICE = [f"dice: {' '.join(str(random.Random(i).randint(1, 6)) for _ in range(5))}" for i in range(10)]
NAMES = ["PÉREZ", "NÚÑEZ", "GARCÍA", "LEE", "HERNÁNDEZ", "PARK", "LÓPEZ", "SMITH"]


def drawn_cycle(tmp_path: Path, mechanism: str, seats: int = 2):
    c = init_cycle(tmp_path / "cycle", "belmont")
    text = re.sub(r"seats = \{ 9 = \d+ \}", f"seats = {{ 9 = {seats} }}", c.zone_path.read_text(encoding="utf-8"))
    c.zone_path.write_text(text, encoding="utf-8")
    batch = print_forms(c, 24, "t")
    rng = random.Random(3)
    ids = [p.id for p in c.zone().programs]
    db = c.db()
    with write_transaction(db.conn):
        for n, serial in enumerate(batch.serials):
            values = {"grade": "9", "choices": ",".join(rng.sample(ids[:4], 3)), "zip": "90012",
                      "last_name": NAMES[n % len(NAMES)], "first_name": f"ANA {n}", "sibling": "no"}
            create_read_application(db.conn, serial, tuple(FieldResult(k, v, "auto", 1.0, {}, (), (0, 0, 1, 1))
                                                      for k, v in values.items()), None, f"2009-03-{n % 9 + 1:02d}")
    db.close()
    freeze(c, mechanism)
    run(c, DICE)
    return c


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("mechanism", ["da", "bins", "fcfs"])
def test_bin_sheets_put_every_form_in_one_bin_with_an_index_and_a_count(tmp_path: Path, mechanism: str,
                                                                         capsys) -> None:
    from zonepaper.paper.bins import NO_SEAT, NOT_IN_DRAW, bin_of

    c = drawn_cycle(tmp_path, mechanism)
    assert cli("print", "bins", "--cycle", str(c.root)) == 0
    pdf = c.root / "output" / "bins-draw-1.pdf"
    assert str(pdf) in capsys.readouterr().out
    pages = pdf_text(pdf).split("\f")[:-1]
    zone = c.zone()
    db = c.db()
    draw = load_draw(db.conn)
    db.close()
    total = len(pages)
    for n, page in enumerate(pages, start=1):  # every page: its bin, page N of M, the draw and its fingerprint
        flat = " ".join(page.split())
        assert f"página {n} de {total} / page {n} of {total}" in flat
        assert "Draw no. 1 · method: " in flat and draw.result_digest[:16] in flat
        assert flat.startswith("Caja") or flat.startswith("Recuento") or flat.startswith("Rondas")
    where = {s: bin_of(r) for s, r in draw.results.items()}
    numbers = {p.id: p.number for p in zone.programs}
    label = {**{p.id: str(p.number) for p in zone.programs}, NO_SEAT: "sin plaza", NOT_IN_DRAW: "fuera"}
    # (a cell's first line: pdftotext -layout interleaves the wrapped lines of a row's cells)
    # the index: every form once, with its bin
    index = " ".join(" ".join(pages[:3]).split())
    for serial, b in where.items():
        assert re.search(rf"{display_serial(serial)} {re.escape(label[b])}\b", index), (serial, b)
    # each bin's section lists exactly its forms, by form number, each with its tick box
    sections: dict[str, list[str]] = {}
    for page in pages:
        head = " ".join(page.split()[:12])
        m = re.match(r"Caja / Bin (\d+):", head)
        b = next((p.id for p in zone.programs if m and p.number == int(m[1])), None)
        if b is None and head.startswith("Caja / Bin: sin plaza"):
            b = NO_SEAT
        if b is None and head.startswith("Caja / Bin: fuera"):
            b = NOT_IN_DRAW
        if b is not None:
            sections.setdefault(b, []).extend(re.findall(r"\b(\d{6}-\d)\b", page))
    for b in set(where.values()):
        expected = sorted(display_serial(s) for s, w in where.items() if w == b)
        assert sections[b] == expected, b
    assert sum(len(v) for v in sections.values()) == len(draw.results)  # each form in one bin only
    seated = [s for s, w in where.items() if w in numbers]
    assert " ".join(pdf_text(pdf).split()).count("PLAZA (su opción") == len(seated)
    # the count per bin, and its total
    first = " ".join(pages[0].split())
    assert re.search(rf"Total {len(draw.results)}\b", first)
    if mechanism == "bins":
        raw = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout.split())
        assert "Round 1, bin of program" in raw and "to the bin of its choice 2" in raw


def test_print_bins_without_a_draw_says_what_to_do(tmp_path: Path, capsys) -> None:
    c = init_cycle(tmp_path / "c", "belmont")
    assert cli("print", "bins", "--cycle", str(c.root)) == 5
    assert "draw run" in capsys.readouterr().err


def test_export_assignments_as_csv_and_xlsx_match_the_draw(tmp_path: Path, capsys) -> None:
    import csv
    import io

    import openpyxl

    c = drawn_cycle(tmp_path, "da")
    assert cli("export", "assignments", "--cycle", str(c.root)) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    db = c.db()
    stored = {s: (a or "", r) for s, a, r in db.conn.execute("SELECT serial, assigned, rank FROM draw_results")}
    assert {r["serial"]: (r["assigned_program"], int(r["choice_rank"] or 0)) for r in rows} == stored
    add_field(db.conn, rows[0]["serial"], "phone", "2139078720")
    add_field(db.conn, rows[0]["serial"], "guardian_name", "ROSA PÉREZ")
    assert cli("export", "assignments", "--format", "xlsx", "--cycle", str(c.root)) == 0
    book = openpyxl.load_workbook(c.root / "output" / "assignments-draw-1.xlsx")
    sheet = list(book.active.iter_rows(values_only=True))
    head = list(sheet[0])
    assert head[:4] == ["Solicitud / Form", "Estudiante / Student", "Padre, madre o tutor / Parent or guardian",
                        "Teléfono / Phone"]  # the office calls families: headed in both languages
    col = {h.split(" / ")[1]: i for i, h in enumerate(head)}
    by_form = {r[col["Form"]]: r for r in sheet[1:]}
    assert len(by_form) == len(rows)
    numbers = {p.id: p.number for p in c.zone().programs}
    for r in rows:
        line = by_form[display_serial(r["serial"])]  # form numbers as printed, as text (their zeros kept)
        assert line[col["Student"]] == r["student"]
        assert line[col["Grade"]] == 9 and isinstance(line[col["Grade"]], int)  # numbers as numbers
        if r["assigned_program"]:
            assert line[col["Outcome"]] == "plaza / seat" and line[col["Choice"]] == int(r["choice_rank"])
            assert line[col["Program no."]] == numbers[r["assigned_program"]]
        else:
            assert line[col["Outcome"]] == "sin plaza (en espera) / no seat (waitlisted)"  # words, not codes
            assert line[col["Choice"]] is None
        assert line[col["Received"]].date().isoformat() == r["received"][:10]  # a date, as a date
    first = by_form[display_serial(rows[0]["serial"])]
    assert first[col["Phone"]] == "(213) 907-8720" and first[col["Parent or guardian"]] == "ROSA PÉREZ"
    widths = [book.active.column_dimensions[chr(65 + i)].width for i in range(len(head))]
    assert widths[col["Student"]] > widths[col["Grade"]]  # widths fitted to what the columns hold
    assert cli("export", "assignments", "--format", "pdf", "--cycle", str(c.root)) == 2
    db.close()


def test_audit_report_shows_the_ceremony_and_the_outcome(tmp_path: Path, capsys) -> None:
    c = drawn_cycle(tmp_path, "da")
    assert cli("print", "audit-report", "--cycle", str(c.root)) == 0
    pdf = c.root / "output" / "audit-report-draw-1.pdf"
    flat = " ".join(pdf_text(pdf).split())
    db = c.db()
    digest, key, result = db.conn.execute("SELECT f.input_digest, d.key_string, d.result_digest FROM draws d "
                                          "JOIN freezes f ON f.id = d.freeze_id").fetchone()
    for value in (digest, key, result):
        assert value in flat.replace(" ", "")
    first = db.conn.execute("SELECT count(*) FROM draw_results WHERE rank = 1").fetchone()[0]
    assert re.search(rf"Seat in choice 1 {first}\b", flat)
    assert "deferred acceptance" in flat and "aceptación diferida" in flat
    assert "verify_draw.py" in flat
    head = db.conn.execute("SELECT hash FROM events ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert head in flat.replace(" ", "") and "Event chain head when this report was printed" in flat
    db.close()
    capsys.readouterr()
    assert cli("verify", "--head", head, "--cycle", str(c.root)) == 0  # the printed head checks the log


def test_letters_match_the_draw_and_a_spanish_family_reads_spanish_first(tmp_path: Path, capsys) -> None:
    c = drawn_cycle(tmp_path, "da")
    db = c.db()
    english = db.conn.execute("SELECT serial FROM applications ORDER BY serial LIMIT 1").fetchone()[0]
    add_field(db.conn, english, "letter_language", "en")  # one family asked for English letters
    zone_text = c.zone_path.read_text(encoding="utf-8")
    c.zone_path.write_text(zone_text.replace('city = "Los Angeles, CA"', 'city = "Pasadena, CA"'), encoding="utf-8")
    assert cli("print", "letters", "--date", "2009-04-01", "--cycle", str(c.root)) == 0
    pdf = c.root / "output" / "letters-draw-1.pdf"
    for made in (pdf, c.root / "output" / "freeze-1-receipt.pdf"):  # every font embedded: no Helvetica
        fonts = subprocess.run(["pdffonts", str(made)], capture_output=True, text=True, check=True).stdout
        assert "Helvetica" not in fonts and all(" yes " in r for r in fonts.splitlines()[2:]), fonts
    pages = pdf_text(pdf).split("\f")
    results = db.conn.execute("SELECT serial, assigned, rank, lottery FROM draw_results ORDER BY serial").fetchall()
    numbers = {p.id: p for p in c.zone().programs}
    assert len([p for p in pages if p.strip()]) == 2 * len(results)
    ordinal = {1: "1st", 2: "2nd", 3: "3rd"}
    for i, (serial, assigned, rank, lottery) in enumerate(results):
        front, back = " ".join(pages[2 * i].split()), " ".join(pages[2 * i + 1].split())
        spanish_first = serial != english
        english_side, spanish_side = (back, front) if spanish_first else (front, back)
        assert ("Estimada familia" in front) == spanish_first and ("Dear family" in back) == spanish_first
        assert "Pasadena, CA" in front  # the zone's city, in the envelope window
        assert "April 1, 2009" in english_side and "1 de abril de 2009" in spanish_side  # the letter's date
        assert f"{lottery[:4]} {lottery[4:8]}" in english_side and lottery in english_side  # short, and whole
        assert f"'{serial}' (your form number without the dash)" in english_side
        assert ("Yes, I accept the seat" in front) == bool(assigned)  # a slip only for a seat
        assert display_serial(serial) in front
        if assigned:
            program = numbers[assigned]
            assert f"program {program.number}, {program.name}: your {ordinal[rank]} choice" in english_side
            assert "Responda antes del 17 de abril de 2009" in spanish_side and "de el" not in spanish_side
            assert "Without a reply by that date" in english_side
        else:
            assert "no seat for your student in any of the programs you chose" in english_side
            assert "You do not need to do anything" in english_side and "reply by" not in english_side
    db.close()


def outcome_cycle(tmp_path: Path, next_steps: str | None = None, zone_edit: tuple[str, str] | None = None):
    """One letter of each outcome (seats = 1 everywhere): six families rank the same five programs (five are
    placed, in their 1st to 5th choice, the last with four waitlists; one gets no seat), one marked no
    program, one applied for a grade the zone does not offer. All but two asked for Spanish letters."""
    c = init_cycle(tmp_path / "cycle", "belmont")
    text = re.sub(r"seats = \{ 9 = \d+ \}", "seats = { 9 = 1 }", c.zone_path.read_text(encoding="utf-8"))
    if zone_edit:
        text = text.replace(*zone_edit)
    if next_steps:
        text = re.sub(r'next_steps = \{ es = "[^"]*", en = "[^"]*" \}',
                      f'next_steps = {{ es = "{next_steps}", en = "{next_steps}" }}', text)
    c.zone_path.write_text(text, encoding="utf-8")
    batch = print_forms(c, 10, "t")
    ids = [p.id for p in c.zone().programs][:5]
    rows = [{"choices": ",".join(ids)} for _ in range(6)] + [{"choices": ""}, {"choices": ids[0], "grade": "10"}]
    db = c.db()
    with write_transaction(db.conn):
        for n, (serial, row) in enumerate(zip(batch.serials, rows)):
            values = {"grade": "9", "zip": "90012", "last_name": "HERNÁNDEZ-VILLASEÑOR", "first_name": f"MARÍA {n}",
                      "guardian_name": "GUADALUPE HERNÁNDEZ", "address": "1234 W SUNSET BLVD APT 12", "sibling": "no",
                      "letter_language": "other" if n == 7 else "en" if n == 6 else "es", **row,
                      **({"address": "1234 W SUNSET BLVD", "apartment": "12B", "city": "GLENDALE"} if n == 1 else {})}
            create_read_application(db.conn, serial, tuple(FieldResult(k, v, "auto", 1.0, {}, (), (0, 0, 1, 1))
                                                      for k, v in values.items()), None, f"2009-03-{n + 1:02d}")
    db.close()
    freeze(c, "da")
    run(c, DICE)
    return c


def test_letters_go_to_the_familys_own_street_apartment_and_city(tmp_path: Path) -> None:
    """The form has the apartment and the city apart: the envelope window prints them, with the zone's state;
    a family that wrote no city gets the zone's city."""
    c = outcome_cycle(tmp_path)
    serials = [r[0] for r in c.db().conn.execute("SELECT serial FROM applications ORDER BY serial")]
    sides = letter_sides(c)
    own, other = sides[serials[1]][0], sides[serials[0]][0]
    assert "1234 W SUNSET BLVD APT 12B GLENDALE, CA 90012" in own and "Los Angeles, CA 90012" not in own
    assert "1234 W SUNSET BLVD APT 12 Los Angeles, CA 90012" in other


def _pages(c, today: str = "2009-04-01") -> dict:
    from datetime import date

    from zonepaper.paper.letters import write_letters_pdf

    index: dict = {}
    db = c.db()
    write_letters_pdf(c, db.conn, today=date.fromisoformat(today), pages=index)
    db.close()
    return index


def letter_sides(c, today: str = "2009-04-01") -> dict[str, tuple[str, str]]:
    """serial -> (the family's language, the other) text of the letters, whitespace made single; the pages of
    each are those write_letters_pdf reports, checked against the PDF's own page count."""
    index = _pages(c, today)
    pages = pdf_text(c.root / "output" / "letters-draw-1.pdf").split("\f")
    assert len(pages) - 1 == max(last for *_, last in index.values())  # (pdftotext ends with a form feed)

    def text(first: int, last: int) -> str:
        return " ".join(" ".join(pages[first - 1:last]).split())
    return {s: (text(a, b - 1), text(b, end)) for s, (a, b, end) in index.items()}


def test_each_outcome_gets_its_own_letter_and_no_paragraph_is_ever_dropped(tmp_path: Path) -> None:
    from datetime import date

    from zonepaper.paper.bins import load_draw
    from zonepaper.paper.letters import families, letter_paragraphs, outcome

    three = ("Firme el talón, marque si acepta la plaza y entréguelo en la oficina de la zona antes de la fecha. "
             "Si necesita ayuda para llenarlo, venga a la oficina con el talón y un documento. "
             "Traiga también el comprobante de domicilio y la última libreta de calificaciones del estudiante.")
    c = outcome_cycle(tmp_path, next_steps=three)
    assert cli("print", "letters", "--date", "2009-04-01", "--cycle", str(c.root)) == 0
    sides = letter_sides(c)
    db = c.db()
    draw, who, zone = load_draw(db.conn), families(db.conn), c.zone()
    db.close()
    kinds = {s: outcome(r) for s, r in draw.results.items()}
    assert sorted(kinds.values()) == sorted(["placed", "placed_lower", "placed_lower", "placed_lower", "placed_lower",
                                             "no_seat", "no_valid_choice", "not_eligible"])
    fifth = next(s for s, r in draw.results.items() if r["rank"] == 5)
    assert len(draw.results[fifth]["waitlist"]) == 4
    for serial, (front, back) in sides.items():
        family = who[serial]
        first, other = (family.language, "en" if family.language == "es" else "es")
        for side, lang in ((front, first), (back, other)):
            for _, text in letter_paragraphs(zone, draw, family, lang, date(2009, 4, 1)):
                assert " ".join(text.split()) in side, (serial, kinds[serial], lang, text)  # every paragraph printed
        english = back if first == "es" else front
        kind = kinds[serial]
        assert ("Yes, I accept the seat" in front) == kind.startswith("placed")
        if kind == "no_valid_choice":
            assert "no valid program for grade 9" in english and "To apply again" in english
            assert "no seat" not in english and "lottery number" not in english
        if kind == "not_eligible":
            assert "the zone does not offer grade 10" in english and "To apply again" in english
        if kind == "no_seat":
            assert "is on the waitlist of each one" in english and "reply by" not in english
            assert english.count("for program") == 5 and "You do not need to do anything" in english
        if serial == fifth:
            assert "your 5th choice" in english and "su quinta opción" in (front if first == "es" else back)
            assert english.count("for program") == 4 and "does not cost your place on these lists" in english
    other = next(s for s, f in who.items() if f.other_language)
    assert "Tiếng Việt" in sides[other][0]  # the zone's help line in the other languages, for who asked
    # the bin sheets: the two forms out of the draw in their own bin, on no other
    assert cli("print", "bins", "--cycle", str(c.root)) == 0
    pages = pdf_text(c.root / "output" / "bins-draw-1.pdf").split("\f")
    out = [p for p in pages if " ".join(p.split()).startswith("Caja / Bin: fuera")]
    outside = sorted(display_serial(s) for s, k in kinds.items() if k in ("no_valid_choice", "not_eligible"))
    assert len(out) == 1 and re.findall(r"\b(\d{6}-\d)\b", out[0]) == outside


def test_a_letter_that_cannot_fit_is_refused_by_name_and_nothing_is_printed(tmp_path: Path, capsys,
                                                                             monkeypatch) -> None:
    """A long letter goes on to a second page; one that would need a third is refused with its form number
    and language, and no PDF is left (zone.toml's limits keep real letters far from that)."""
    from zonepaper.paper import letters

    c = outcome_cycle(tmp_path, next_steps="Traiga el talón firmado a la oficina. " * 38)  # (1,500 at most)
    assert cli("print", "letters", "--cycle", str(c.root)) == 0
    long = {s: (a, b, end) for s, (a, b, end) in _pages(c).items() if b - a > 1}
    assert long, "the 1,500-letter next steps go on to a second page"
    assert all((end - a + 1) % 2 == 0 for a, _, end in long.values())  # whole sheets
    (c.root / "output" / "letters-draw-1.pdf").unlink()
    real = letters.letter_paragraphs
    monkeypatch.setattr(letters, "letter_paragraphs", lambda *a: real(*a) + [("body", "Texto. " * 200)] * 12)
    assert cli("print", "letters", "--cycle", str(c.root)) == 4
    err = capsys.readouterr().err
    assert "does not fit its sheet" in err and re.search(r"\d{6}-\d \((es|en)\)", err)
    assert not (c.root / "output" / "letters-draw-1.pdf").exists()


def test_a_reply_slip_goes_through_ingest_and_records_the_answer(tmp_path: Path, capsys) -> None:
    from zonepaper.scan.ingest import ingest
    from zonepaper.simulate import simulate_replies

    c = drawn_cycle(tmp_path, "da")
    first_pages = {s: p[0] for s, p in _pages(c).items()}
    db = c.db()
    placed = [r[0] for r in db.conn.execute("SELECT serial FROM draw_results WHERE assigned IS NOT NULL "
                                            "ORDER BY serial")]
    letters = c.root / "output" / "letters-draw-1.pdf"
    answers = simulate_replies(letters, first_pages, placed[:6], tmp_path / "replies" / "r.pdf", seed=4)
    assert set(answers.values()) <= {"accept", "decline"}
    summary = ingest(c, [tmp_path / "replies"], "2009-04-10")
    assert summary.kinds.get("reply") == 6
    for serial, answer in answers.items():
        value, status = db.conn.execute("SELECT value, status FROM fields WHERE serial = ? AND name = 'reply'",
                                        (serial,)).fetchone()
        assert value == answer or status == "review"  # never silently wrong
        event = db.conn.execute("SELECT payload FROM events WHERE kind = 'reply.scanned' AND subject = ?",
                                (f"application:{serial}",)).fetchone()
        assert f'"answer":"{value}"' in event[0]
    read_alone = [s for s, a in answers.items() if db.conn.execute(
        "SELECT value FROM fields WHERE serial = ? AND name = 'reply' AND status = 'auto'", (s,)).fetchone() == (a,)]
    assert len(read_alone) >= 5
    again = ingest(c, [tmp_path / "replies"], "2009-04-11")  # the same file again: nothing changes
    assert again.files_skipped == 1
    db.close()
    capsys.readouterr()
    assert cli("scan", "status", "--cycle", str(c.root)) == 0  # every page is counted, the slips too
    out = capsys.readouterr().out
    pages = re.search(r"Pages: (\d+) \((\d+) forms, (\d+) backs, (\d+) blank, (\d+) reply slips, (\d+) quarantined",
                      out)
    assert pages and int(pages[5]) == 6 and int(pages[1]) == sum(int(n) for n in pages.groups()[1:]), out
    in_review = len(answers) - len(read_alone)
    assert f"to review (of them {in_review} on reply slips)" in out


def test_a_decline_makes_an_offer_and_an_accepted_offer_frees_the_earlier_seat(tmp_path: Path, capsys) -> None:
    from zonepaper.paper.bins import load_draw
    from zonepaper.paper.waitlist import holdings, program_states

    c = drawn_cycle(tmp_path, "da", seats=2)
    db = c.db()
    draw = load_draw(db.conn)
    zone = c.zone()
    # a program with a waitlist whose seat-holder will decline
    program = next(p.id for p in zone.programs
                   if any(p.id in r["waitlist"] for r in draw.results.values())
                   and any(r["assigned"] == p.id for r in draw.results.values()))
    holder = sorted(s for s, r in draw.results.items() if r["assigned"] == program)[0]
    line = sorted((r["waitlist"][program], s) for s, r in draw.results.items() if program in r["waitlist"])
    first = line[0][1]
    assert cli("waitlist", "offer", "--cycle", str(c.root)) == 0
    assert "No free seats" in capsys.readouterr().out  # every seat is held: nothing to offer yet
    add_field(db.conn, holder, "reply", "decline")  # the holder's reply slip said no
    assert cli("waitlist", "offer", "--program", program, "--cycle", str(c.root)) == 0
    out = capsys.readouterr().out
    assert f"form {first}, program {program} (no. 1 on its list)" in out
    letters = next((c.root / "output").glob("offers-draw-1-from-*.pdf"))
    offer = " ".join(pdf_text(letters).split())
    assert display_serial(first) in offer
    from datetime import date, timedelta

    from zonepaper.paper.letters import long_date
    due = long_date(date.today() + timedelta(days=7), "en")  # offer_reply_days in the example zone
    assert f"call or come by before {due}" in offer and "Without an answer by that date" in offer
    # the seat it holds passes on only if it holds one
    assert ("the seat you hold now" in offer) == bool(draw.results[first]["assigned"])
    earlier = draw.results[first]["assigned"]
    before = sum(1 for h in holdings(db.conn, draw)[0].values() if h == earlier)
    assert cli("waitlist", "answer", first, "--accept", "--cycle", str(c.root)) == 0
    held, _, _ = holdings(db.conn, draw)
    assert held[first] == program and holder not in held
    if earlier:  # the seat the family held before is free again
        after = next(s for s in program_states(db.conn, zone) if s.program == earlier).holding
        assert after == before - 1 == sum(1 for h in held.values() if h == earlier)
    kinds = [r[0] for r in db.conn.execute("SELECT kind FROM events WHERE kind LIKE 'waitlist.%' ORDER BY id")]
    assert kinds == ["waitlist.offered", "waitlist.letters_written", "waitlist.accepted"]
    assert cli("waitlist", "answer", first, "--decline", "--cycle", str(c.root)) == 5  # no open offer now
    assert cli("waitlist", "status", "--cycle", str(c.root)) == 0
    db.close()


def test_offers_whose_letters_were_never_written_get_them_from_the_next_run(tmp_path: Path, capsys) -> None:
    """What a `waitlist offer` killed after recording its offers leaves: offers, no letter. The next run writes them."""
    from zonepaper.paper.bins import load_draw
    from zonepaper.paper.waitlist import make_offers

    c = drawn_cycle(tmp_path, "da", seats=2)
    db = c.db()
    draw = load_draw(db.conn)
    holder = sorted(s for s, r in draw.results.items() if r["assigned"] and any(
        r["assigned"] in o["waitlist"] for o in draw.results.values()))[0]
    add_field(db.conn, holder, "reply", "decline")
    made = make_offers(db.conn, c.zone())  # recorded; the run is killed before any letter is written
    assert made and not list((c.root / "output").glob("offers-*.pdf"))
    assert cli("waitlist", "offer", "--cycle", str(c.root)) == 0
    out = capsys.readouterr().out
    assert f"Also written: the letter{'s' if len(made) > 1 else ''} of {len(made)} offer" in out
    text = pdf_text(next((c.root / "output").glob("offers-draw-1-from-*.pdf")))
    assert all(display_serial(o.serial) in text for o in made)
    assert db.conn.execute("SELECT count(*) FROM offers WHERE letter IS NULL").fetchone()[0] == 0
    assert cli("waitlist", "offer", "--cycle", str(c.root)) == 0
    assert "No free seats" in capsys.readouterr().out  # written once: not again
    db.close()


def test_a_withdrawal_frees_the_seat_for_the_next_in_line(tmp_path: Path, capsys) -> None:
    from zonepaper.paper.bins import load_draw
    from zonepaper.paper.waitlist import holdings

    c = drawn_cycle(tmp_path, "da", seats=2)
    db = c.db()
    draw = load_draw(db.conn)
    program = next(p.id for p in c.zone().programs
                   if any(p.id in r["waitlist"] for r in draw.results.values())
                   and any(r["assigned"] == p.id for r in draw.results.values()))
    leaving = sorted(s for s, r in draw.results.items() if r["assigned"] == program)[0]
    assert cli("waitlist", "withdraw", leaving, "--cycle", str(c.root)) == 2  # a reason is needed
    assert cli("waitlist", "withdraw", leaving, "--reason", "moved to Fresno", "--cycle", str(c.root)) == 0
    assert leaving not in holdings(db.conn, draw)[0]
    assert cli("waitlist", "offer", "--program", program, "--cycle", str(c.root)) == 0
    first = min((r["waitlist"][program], s) for s, r in draw.results.items() if program in r["waitlist"])[1]
    assert f"form {first}, program {program}" in capsys.readouterr().out
    assert cli("waitlist", "withdraw", leaving, "--reason", "again", "--cycle", str(c.root)) == 5
    db.close()


def test_a_family_checks_its_lottery_number_from_the_printed_form_number(tmp_path: Path) -> None:
    """What the letter says is true: the bundle's own verifier, given the form number as printed on the
    letter (000002-1), prints the same short number the letter shows."""
    import sys
    import zipfile

    c = outcome_cycle(tmp_path)
    sides = letter_sides(c)
    bundle = next((c.root / "output").glob("draw-1-bundle*.zip"))
    script = tmp_path / "verify_draw.py"
    with zipfile.ZipFile(bundle) as z:
        script.write_bytes(z.read("verify_draw.py"))
    checked = 0
    for serial, (front, back) in sides.items():
        english = front if "Dear family" in front else back
        said = re.search(r"Your lottery number in draw no\. 1: ([0-9a-f]{4} [0-9a-f]{4}) .*?form number "
                         r"(\d{6}-\d)\)", english)
        if said is None:
            continue  # (no valid choice, not eligible: not in the draw)
        out = subprocess.run([sys.executable, "-I", str(script), str(bundle), "--lottery", said[2]],
                             capture_output=True, text=True, check=True).stdout
        assert out.startswith(f"{said[2]}: {said[1]}"), (out, said.groups())
        checked += 1
    assert checked == 6


def test_an_offer_letter_says_a_seat_passes_on_only_to_a_family_that_holds_one(tmp_path: Path) -> None:
    from datetime import date

    from zonepaper.paper.letters import Family, offer_paragraphs

    zone = init_cycle(tmp_path / "cycle", "belmont").zone()
    family = Family("0000013", "es", "ANA", "", "", "")
    p = zone.programs
    for holds, said in (("", False), (p[3].id, True)):
        row = {"id": 1, "serial": "0000013", "program": p[0].id, "position": 2, "holds": holds}
        for lang, words in (("es", "la plaza que tiene ahora"), ("en", "the seat you hold now")):
            text = " ".join(t for _, t in offer_paragraphs(zone, row, family, lang, date(2009, 5, 1),
                                                          date(2009, 5, 8)))
            assert (words in text) == said, (lang, holds)
            assert ("8 de mayo de 2009" if lang == "es" else "May 8, 2009") in text
            if said:
                assert f"{p[3].number}, {p[3].name}" in text


def test_the_public_results_list_is_the_bundles_list_and_names_nobody(tmp_path: Path, capsys) -> None:
    """print results: every form by its printed number with its short lottery number and what happened in
    each choice, in form order; no names or addresses; the same rows as the bundle's public-results.csv,
    which verify_draw.py checks (an edited row is found)."""

    import zipfile

    from zonepaper.draw import verify_draw as vd

    c = outcome_cycle(tmp_path)
    assert cli("print", "results", "--cycle", str(c.root)) == 0
    assert "Public results list (8 forms, no names)" in capsys.readouterr().out
    for command in ("bins", "audit-report", "confirmations"):
        cli("print", command, "--cycle", str(c.root))  # (confirmations: refused, frozen)
    for made in (c.root / "output").glob("*.pdf"):  # every font of every printed PDF embedded: no Helvetica
        fonts = subprocess.run(["pdffonts", str(made)], capture_output=True, text=True, check=True).stdout
        assert "Helvetica" not in fonts and all(" yes " in r for r in fonts.splitlines()[2:]), (made.name, fonts)
    text = pdf_text(c.root / "output" / "results-draw-1.pdf")
    flat = " ".join(text.split())
    for word in ("HERNÁNDEZ", "MARÍA", "SUNSET", "GUADALUPE", "90012"):
        assert word not in text  # nobody's name or address on the posted list
    bundle = next((c.root / "output").glob("draw-1-bundle*.zip"))
    with zipfile.ZipFile(bundle) as z:
        files = {n: z.read(n) for n in z.namelist()}
    rows = vd.read_csv(files[vd.PUBLIC_FILE])
    numbers = {p.id: p.number for p in c.zone().programs}
    forms = list(dict.fromkeys(r["form"] for r in rows))
    assert forms == sorted(forms) and len(forms) == 8
    assert [flat.index(f) for f in forms] == sorted(flat.index(f) for f in forms)  # printed in form order
    words = {"seat": "plaza / seat", "not_needed": "no hace falta", "not_offered": "no ofrece el grado",
             "waitlist": "espera n.º"}  # (a cell's first line: pdftotext interleaves a row's wrapped cells)
    for r in rows:
        line = flat[flat.index(r["form"]):]
        assert line.startswith(f"{r['form']} {r['lottery'][:4]} {r['lottery'][4:8]}")
        if r["outcome"] == "waitlist":
            assert f"{numbers[r['program']]} · espera n.º {r['position']}" in line[:400]
        elif r["outcome"] in words:
            assert f"{numbers[r['program']]} · {words[r['outcome']]}" in line[:400]
        else:
            assert "not in the draw" in line[:200]
    assert {r["outcome"] for r in rows} >= {"seat", "waitlist", "not_needed", "no_valid_choice",
                                            "grade_not_offered"}
    db = c.db()  # and it says what the stored draw says, form by form
    stored = {s: (a or "", json.loads(w)) for s, a, w in db.conn.execute(
        "SELECT serial, assigned, waitlist FROM draw_results")}
    db.close()
    for r in rows:
        assigned, waits = stored[r["form"].replace("-", "")]
        if r["outcome"] == "seat":
            assert r["program"] == assigned
        elif r["outcome"] == "waitlist":
            assert waits[r["program"]] == int(r["position"]) and r["program"] != assigned
        elif r["outcome"] == "not_needed":
            assert assigned and r["program"] not in waits
    assert sum(r["outcome"] == "seat" for r in rows) == sum(1 for a, _ in stored.values() if a)
    # the posted list is checked by the bundle's own verifier
    assert vd.check(files) == []
    seat = next(i for i, r in enumerate(rows) if r["outcome"] == "seat")
    rows[seat]["outcome"] = "waitlist"
    edited = dict(files, **{vd.PUBLIC_FILE: vd.write_csv(rows, vd.PUBLIC_COLUMNS)})
    problems = vd.check(edited)
    assert len(problems) == 1 and problems[0].startswith(f"{vd.PUBLIC_FILE}, line {seat + 2}:")



def _rewrite_bundle(bundle: Path, change) -> None:
    import zipfile

    with zipfile.ZipFile(bundle) as z:
        files = {n: z.read(n) for n in z.namelist()}
    files = change(files)
    with zipfile.ZipFile(bundle, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)


def test_print_results_refuses_a_list_edited_in_the_bundle_or_missing_from_it(tmp_path: Path, capsys) -> None:
    from zonepaper.draw import verify_draw as vd

    c = outcome_cycle(tmp_path)
    bundle = next((c.root / "output").glob("draw-1-bundle*.zip"))
    original = bundle.read_bytes()

    def seat_to_waitlist(files: dict) -> dict:
        rows = vd.read_csv(files[vd.PUBLIC_FILE])
        row = next(r for r in rows if r["outcome"] == "seat")
        row.update(outcome="waitlist", position="1")
        return dict(files, **{vd.PUBLIC_FILE: vd.write_csv(rows, vd.PUBLIC_COLUMNS)})

    _rewrite_bundle(bundle, seat_to_waitlist)
    assert cli("print", "results", "--cycle", str(c.root)) == 5
    err = capsys.readouterr().err
    assert "does not say what the stored results say (1 form(s): " in err and re.search(r"\d{6}-\d\)", err)
    assert not (c.root / "output" / "results-draw-1.pdf").exists()
    bundle.write_bytes(original)
    _rewrite_bundle(bundle, lambda files: {n: d for n, d in files.items() if n != vd.PUBLIC_FILE})
    assert cli("print", "results", "--cycle", str(c.root)) == 5
    assert "holds no public list (an earlier zonepaper made it)" in capsys.readouterr().err
    assert vd.check(vd.read_bundle(bundle)) == []  # an older bundle still checks
    bundle.write_bytes(original)
    assert cli("print", "results", "--cycle", str(c.root)) == 0


def test_the_audit_report_flags_a_weak_seed_and_unreviewed_data_and_prints_the_zones_time(tmp_path: Path) -> None:
    """Page 1 says in a box that the seed was weak and that the data were frozen before review ended (with
    what was left); every time is the zone's clock with its offset (here Chicago), on the receipt too; the
    key string breaks only between sources; the check command itself is printed; totals, page numbers and
    the date it was printed."""
    c = init_cycle(tmp_path / "cycle", "belmont")
    text = c.zone_path.read_text(encoding="utf-8").replace('timezone = "America/Los_Angeles"',
                                                          'timezone = "America/Chicago"')
    c.zone_path.write_text(text, encoding="utf-8")
    batch = print_forms(c, 6, "t")
    db = c.db()
    with write_transaction(db.conn):
        for n, serial in enumerate(batch.serials[:5]):
            values = {"grade": "9", "choices": "lahsa,arts", "zip": "90012", "last_name": NAMES[n], "sibling": "no"}
            create_read_application(db.conn, serial, tuple(FieldResult(k, v, "auto", 1.0, {}, (), (0, 0, 1, 1))
                                                      for k, v in values.items())
                                    + (FieldResult("first_name", "ANA", "review", 0.4, {}, (), (0, 0, 1, 1)),),
                                    None, "2009-03-02")
    frozen_at = None
    db.close()
    f, _, _ = freeze(c, "da", allow_unreviewed=True, reason="the office closes today")
    frozen_at = f.created_at
    run(c, DICE[:4], weak_ok=True)  # four dice sources: about 30 bits
    assert cli("print", "audit-report", "--cycle", str(c.root)) == 0
    pdf = c.root / "output" / "audit-report-draw-1.pdf"
    raw = pdf_text(pdf)
    pages = raw.split("\f")[:-1]
    first = " ".join(pages[0].split())
    assert "WARNING: the draw's sources gave only" in first and "ATENCIÓN: las fuentes del sorteo" in first
    assert ("WARNING: the data were frozen before review was done (reason: the office closes today). At the "
            "freeze, 5 fields were left to review, 0 pages in quarantine and 0 applications held.") in first
    local = c.zone().local_time(frozen_at)
    assert re.search(r"\(UTC-0[56]:00\)$", local) and local in first  # Chicago's clock, with its offset
    assert local in (c.root / "output" / "freeze-1-receipt.txt").read_text(encoding="utf-8")
    db = c.db()
    key = db.conn.execute("SELECT key_string FROM draws").fetchone()[0]
    db.close()
    for source in key.split("/")[:-1]:  # every source whole on one line of the printed page
        assert any(f"{source}/" in line for line in raw.splitlines()), source
    flat = " ".join(raw.split())
    assert "python3 verify_draw.py draw-1-bundle.zip --lottery 000123-4" in flat
    assert re.search(r"Total / Total 5\b", flat)
    for n, page in enumerate(pages, start=1):
        assert re.search(rf"Report of draw no\. 1, printed \d{{4}}-\d\d-\d\d \d\d:\d\d \(UTC-0[56]:00\) · {n}$",
                         " ".join(page.split())), n


def test_confirmation_letters_read_back_the_form_before_the_freeze(tmp_path: Path, capsys) -> None:
    """print confirmations: one letter per application, the family's language first, with every value the
    family wrote as stored (dates and phones as a person writes them; one still in review says so), the
    choices in order in words, and a correction slip with the form number and the date to return it by;
    refused once the data are frozen."""
    c = init_cycle(tmp_path / "cycle", "belmont")
    batch = print_forms(c, 4, "t")
    zone = c.zone()
    ids = [p.id for p in zone.programs]
    db = c.db()
    with write_transaction(db.conn):
        for n, serial in enumerate(batch.serials[:3]):
            values = {"grade": "9", "choices": ",".join(ids[n:n + 3]), "zip": "90012", "last_name": "NÚÑEZ",
                      "first_name": f"MARÍA {n}", "birth_date": "1995-03-14", "address": "1234 W SUNSET BLVD APT 12",
                      "phone": "2139078720", "guardian_name": "ROSA NÚÑEZ", "current_school": "KING MS",
                      "letter_language": "en" if n == 2 else "es", "sibling": "no"}
            fields = [FieldResult(k, v, "auto", 1.0, {}, (), (0, 0, 1, 1)) for k, v in values.items()]
            if n == 1:
                fields[-1] = FieldResult("sibling", "yes", "review", 0.6, {}, (), (0, 0, 1, 1))
            create_read_application(db.conn, serial, tuple(fields), None, "2009-03-02")
    db.close()
    assert cli("print", "confirmations", "--date", "2009-03-10", "--cycle", str(c.root)) == 0
    assert "3 confirmation letters" in capsys.readouterr().out
    pages = pdf_text(c.root / "output" / "confirmations-2009-03-10.pdf").split("\f")[:-1]
    assert len(pages) == 6  # one sheet each
    for n, serial in enumerate(batch.serials[:3]):
        front, back = (" ".join(p.split()) for p in pages[2 * n:2 * n + 2])
        english, spanish = (front, back) if n == 2 else (back, front)
        assert front.startswith("Belmont Zone" if n == 2 else "Zona de Elección")  # the family's language first
        for words in (f"MARÍA {n}", "NÚÑEZ", "March 14, 1995", "(213) 907-8720", "1234 W SUNSET BLVD APT 12",
                      "ROSA NÚÑEZ", "KING MS", "90012"):
            assert words in english, words
        assert "14 de marzo de 1995" in spanish
        said = "; ".join(f"your {o} choice: {zone.program(p).number}, {zone.program(p).name}"
                         for o, p in zip(("1st", "2nd", "3rd"), ids[n:n + 3]))
        assert f"Programs chosen, in order: {said}" in english
        assert ("(a person is still checking it)" in english) == (n == 1)
        assert display_serial(serial) in front and "Return it by March 20, 2009" in front  # the slip, 10 days
    freeze(c, "da", allow_unreviewed=True, reason="test")
    assert cli("print", "confirmations", "--cycle", str(c.root)) == 5
    assert "print them before 'zonepaper draw freeze'" in capsys.readouterr().err


def test_names_with_markup_characters_are_printed_as_written(tmp_path: Path) -> None:
    """A program named with & < > (a zone's own words) is printed whole on every paper: reportlab would read
    '<Academy>' as markup and drop it."""
    name = "Arts & Media <Academy>"
    c = outcome_cycle(tmp_path, zone_edit=('name = "Los Angeles High School of the Arts"', f'name = "{name}"'))
    for command in ("bins", "results", "audit-report", "letters"):
        assert cli("print", command, "--cycle", str(c.root)) == 0
    for pdf in ("bins-draw-1.pdf", "results-draw-1.pdf", "audit-report-draw-1.pdf", "letters-draw-1.pdf"):
        flat = " ".join(pdf_text(c.root / "output" / pdf).split())
        assert name in flat or pdf == "results-draw-1.pdf", pdf  # (the public list names programs by number)
    forms = next((c.root / "output").glob("forms-batch-*.pdf"))
    assert name in " ".join(pdf_text(forms).split())  # the form's back lists it too
