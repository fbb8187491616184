"""Printed outputs after the draw: the bin sheets match the draw's results, in order."""

from __future__ import annotations

import random
import re
import subprocess
from pathlib import Path

import pytest
from conftest import add_field, cli

from zonepaper.cycle import init_cycle
from zonepaper.draw.ceremony import freeze, run
from zonepaper.forms.batch import print_forms
from zonepaper.paper.bins import load_draw, program_order
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
def test_bin_sheets_list_every_form_in_the_programs_draw_order(tmp_path: Path, mechanism: str, capsys) -> None:
    c = drawn_cycle(tmp_path, mechanism)
    assert cli("print", "bins", "--cycle", str(c.root)) == 0
    pdf = c.root / "output" / "bins-draw-1.pdf"
    assert str(pdf) in capsys.readouterr().out
    text = pdf_text(pdf)
    zone = c.zone()
    db = c.db()
    draw = load_draw(db.conn)
    starts = [text.index(f"{p.number}. {p.name[:25]}") for p in zone.programs]
    sections = [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]
    for p, section in zip(zone.programs[:4], sections):
        shown = re.findall(r"\b(\d{6}-\d)\b", section)
        expected = [display_serial(s) for s in program_order(draw, p.id, len(zone.priorities))]
        assert shown == expected, p.id
        placed = [s for s, r in draw.results.items() if r["assigned"] == p.id]
        assert section.count("SEAT HERE") == len(placed) <= 2
    flat = " ".join(text.split())
    assert draw.key_string in flat.replace(" ", "") and draw.result_digest in flat.replace(" ", "")
    if mechanism == "bins":
        raw = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout.split())
        assert "Round 1, bin of program" in raw and "to the bin of its choice 2" in raw
    db.close()


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
    assert cli("export", "assignments", "--format", "xlsx", "--cycle", str(c.root)) == 0
    book = openpyxl.load_workbook(c.root / "output" / "assignments-draw-1.xlsx")
    sheet = list(book.active.iter_rows(values_only=True))
    assert list(sheet[0][:3]) == ["form", "serial", "student"]
    assert [list(r) for r in sheet[1:]] == [[v for v in r.values()] for r in rows]
    assert sheet[1][1].startswith("0")  # form numbers keep their leading zeros
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
    assert cli("print", "letters", "--cycle", str(c.root)) == 0
    pdf = c.root / "output" / "letters-draw-1.pdf"
    pages = pdf_text(pdf).split("\f")
    results = db.conn.execute("SELECT serial, assigned, rank FROM draw_results ORDER BY serial").fetchall()
    numbers = {p.id: p for p in c.zone().programs}
    assert len([p for p in pages if p.strip()]) == 2 * len(results)
    for i, (serial, assigned, rank) in enumerate(results):
        front, back = " ".join(pages[2 * i].split()), " ".join(pages[2 * i + 1].split())
        assert display_serial(serial) in front  # on the reply slip
        spanish_first = serial != english
        assert ("Estimada familia" in front) == spanish_first and ("Dear family" in back) == spanish_first
        assert "Pasadena, CA" in front  # the zone's city, in the envelope window
        if assigned:
            program = numbers[assigned]
            said = f"program {program.number}, {program.name} (your choice {rank})"
            assert said in (back if spanish_first else front)
        else:
            assert "no seat" in (back if spanish_first else front)
    db.close()


def test_a_reply_slip_goes_through_ingest_and_records_the_answer(tmp_path: Path, capsys) -> None:
    from zonepaper.scan.ingest import ingest
    from zonepaper.simulate import simulate_replies

    c = drawn_cycle(tmp_path, "da")
    assert cli("print", "letters", "--cycle", str(c.root)) == 0
    db = c.db()
    serials = [r[0] for r in db.conn.execute("SELECT serial FROM draw_results ORDER BY serial")]
    letters = c.root / "output" / "letters-draw-1.pdf"
    answers = simulate_replies(letters, serials, serials[:6], tmp_path / "replies" / "r.pdf", seed=4)
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
    assert display_serial(first) in pdf_text(letters)
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
