"""The draw: RFC 3797, the mechanisms' properties on random instances, freeze/run/replay, the bundle."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import cli
from hypothesis import given, settings
from hypothesis import strategies as st

from zonepaper.cycle import init_cycle
from zonepaper.draw import verify_draw as vd
from zonepaper.draw.ceremony import freeze, replay, run, unfreeze
from zonepaper.draw.seed import parse_seed
from zonepaper.errors import ConflictError, InvalidInputError
from zonepaper.forms.batch import print_forms
from zonepaper.scan.page import FieldResult
from zonepaper.store.database import write_transaction
from zonepaper.store.records import create_read_application
from zonepaper.store.state import record_application_event

RFC_SOURCES = ["9319", "2 5 12 8 10", "9 18 26 34 41 45"]
DICE = [f"dice: {' '.join(str(random.Random(i).randint(1, 6)) for _ in range(5))}" for i in range(10)]


# --- RFC 3797 ----------------------------------------------------------------------------------
def test_rfc3797_worked_example_exactly(capsys) -> None:
    seed = parse_seed(RFC_SOURCES)
    assert seed.key_string == "9319./2.5.8.10.12./9.18.26.34.41.45./"
    picks = vd.rfc3797_select(seed.key_string, 25, 16)
    assert [p for p, _ in picks] == [17, 7, 2, 16, 25, 23, 8, 24, 19, 13, 22, 5, 18, 9, 1, 4]
    assert picks[0][1] == "990DD0A5692A029A98B5E01AA28F3459"
    assert picks[15][1] == "3269E6CE559ABD57E2BA6AAB495EB9BD"
    args = [a for s in RFC_SOURCES for a in ("--source", s)]
    assert cli("draw", "rfc3797", *args, "--pool", "25", "--count", "16") == 0
    out = capsys.readouterr().out
    assert "9319./2.5.8.10.12./9.18.26.34.41.45./" in out
    assert re.findall(r"Selection \d+: (\d+)", out) == [str(p) for p, _ in picks]
    assert cli("draw", "rfc3797", *args, "--pool", "5", "--count", "9") == 2  # 9 different numbers of 5: refused
    assert "no more than --pool" in capsys.readouterr().err


def test_sources_entropy_and_mistakes() -> None:
    assert parse_seed(["dice: 4 1 6 2 5"]).bits == pytest.approx(7.977, abs=0.01)  # log2(C(10, 5))
    assert parse_seed(["lottery 49: 9 18 26 34 41 45"]).bits == pytest.approx(23.73, abs=0.01)
    assert parse_seed(["digits: " + "7" * 20]).bits == pytest.approx(66.44, abs=0.01)
    for bad in ("dice: 7 1", "lottery 10: 3 3", "dice: a b", "coins: 1 0", ""):
        with pytest.raises(InvalidInputError):
            parse_seed([bad])


# --- the mechanisms on random instances ---------------------------------------------------------
PROGRAMS = ["p1", "p2", "p3", "p4", "p5"]


@st.composite
def instances(draw):
    n = draw(st.integers(1, 25))
    progs = PROGRAMS[: draw(st.integers(1, 5))]
    seats = {p: draw(st.integers(0, 4)) for p in progs}
    applicants = []
    for i in range(n):
        choices = draw(st.permutations(progs + ["gone"]))[: draw(st.integers(0, 4))]
        applicants.append({"serial": f"{i:06d}{i % 10}", "grade": 9, "eligible": draw(st.booleans()) or i % 3 > 0,
                           "reason": "", "received": f"2009-03-{draw(st.integers(1, 5)):02d}",
                           "choices": list(choices), "priorities": {c: draw(st.integers(0, 2)) for c in choices}})
    for a in applicants:
        if not a["eligible"]:
            a["reason"] = "grade_not_offered"
    programs = [{"program": p, "grade": 9, "seats": s} for p, s in seats.items()]
    key = "".join(f"{draw(st.integers(1, 6))}." for _ in range(3)) + "/"
    return programs, applicants, key


def run_mechanism(mechanism: str, programs, applicants, key):
    settings_ = {"mechanism": mechanism, "priorities": ["sibling", "resident"], "cycle": "x", "max_choices": 5}
    digest = vd.input_digest(settings_, programs, applicants)
    return {r["serial"]: r for r in vd.assign(settings_, programs, applicants, key, digest)}, digest


def order_key(a, result, program):
    return (a["priorities"].get(program, 2), result[a["serial"]]["lottery"])


@settings(max_examples=150, deadline=None)
@given(instances())
def test_da_is_stable_and_within_seats(case) -> None:
    programs, applicants, key = case
    result, _ = run_mechanism("da", programs, applicants, key)
    seats = {p["program"]: p["seats"] for p in programs}
    held = {p: [a for a in applicants if result[a["serial"]]["assigned"] == p] for p in seats}
    assert all(len(held[p]) <= seats[p] for p in seats)
    for a in applicants:
        r = result[a["serial"]]
        options = [c for c in a["choices"] if c in seats] if a["eligible"] else []
        better = options[: options.index(r["assigned"])] if r["assigned"] else options
        for p in better:  # a prefers p: p must be full of applicants it ranks above a
            assert len(held[p]) == seats[p]
            assert all(order_key(b, result, p) < order_key(a, result, p) for b in held[p])


@settings(max_examples=100, deadline=None)
@given(instances(), st.sampled_from(vd.MECHANISMS), st.randoms(use_true_random=False))
def test_reordering_the_rows_changes_nothing(case, mechanism, rnd) -> None:
    programs, applicants, key = case
    first, _ = run_mechanism(mechanism, programs, applicants, key)
    shuffled = applicants[:]
    rnd.shuffle(shuffled)
    progs = programs[:]
    rnd.shuffle(progs)
    second, _ = run_mechanism(mechanism, progs, shuffled, key)
    assert first == second


def bins_by_definition(programs, applicants, result):
    """The 2007 basement process, round by round, written as plainly as possible."""
    seats_left = {p["program"]: p["seats"] for p in programs}
    assigned = {}
    for k in range(max((len(a["choices"]) for a in applicants), default=0)):
        for program in seats_left:
            in_bin = [a for a in applicants if a["serial"] not in assigned and a["eligible"]
                      and len(a["choices"]) > k and a["choices"][k] == program]
            in_bin.sort(key=lambda a: order_key(a, result, program))
            for a in in_bin[: max(seats_left[program], 0)]:
                assigned[a["serial"]] = program
                seats_left[program] -= 1
    return assigned


@settings(max_examples=150, deadline=None)
@given(instances())
def test_bins_equals_the_round_by_round_definition(case) -> None:
    programs, applicants, key = case
    result, _ = run_mechanism("bins", programs, applicants, key)
    got = {s: r["assigned"] for s, r in result.items() if r["assigned"]}
    assert got == bins_by_definition(programs, applicants, result)


@settings(max_examples=150, deadline=None)
@given(instances())
def test_fcfs_respects_time_order(case) -> None:
    programs, applicants, key = case
    result, _ = run_mechanism("fcfs", programs, applicants, key)
    seats = {p["program"]: p["seats"] for p in programs}
    turn = {a["serial"]: (a["received"], result[a["serial"]]["lottery"]) for a in applicants}
    for a in applicants:
        options = [c for c in a["choices"] if c in seats] if a["eligible"] else []
        mine = result[a["serial"]]["assigned"]
        better = options[: options.index(mine)] if mine else options
        for b in applicants:  # nobody after a took a program a wanted more than what a got
            if turn[b["serial"]] > turn[a["serial"]]:
                assert result[b["serial"]]["assigned"] not in better
    assert all(sum(r["assigned"] == p for r in result.values()) <= seats[p] for p in seats)


def test_waitlists_list_who_ranked_it_higher_in_the_programs_order() -> None:
    programs = [{"program": "a", "grade": 9, "seats": 1}, {"program": "b", "grade": 9, "seats": 2}]
    applicants = [{"serial": f"00000{i}{i}", "grade": 9, "eligible": True, "reason": "", "received": "2009-03-01",
                   "choices": ["a", "b"], "priorities": {"a": 2, "b": 2}} for i in range(4)]
    result, _ = run_mechanism("da", programs, applicants, "1./")
    winner = next(s for s, r in result.items() if r["assigned"] == "a")
    others = sorted((r["lottery"], s) for s, r in result.items() if s != winner)
    assert [result[s]["waitlist"].get("a") for _, s in others] == [1, 2, 3]
    assert sum(r["assigned"] == "b" for r in result.values()) == 2
    assert result[others[-1][1]]["reason"] == "no_seat" and result[others[-1][1]]["waitlist"] == {"a": 3, "b": 1}


# --- freeze, run, replay ------------------------------------------------------------------------
@pytest.fixture
def ready(tmp_path: Path):
    """A cycle with 12 complete applications (some siblings, some outside the zone) and one in review."""
    c = init_cycle(tmp_path / "cycle", "belmont")
    batch = print_forms(c, 16, "t")
    rng = random.Random(5)
    db = c.db()
    ids = [p.id for p in c.zone().programs]
    with write_transaction(db.conn):
        for n, serial in enumerate(batch.serials[:13]):
            choices = rng.sample(ids[:6], 3)
            values = {"grade": "9", "choices": ",".join(choices), "zip": rng.choice(["90012", "91001"]),
                      "sibling": "yes" if n % 4 == 0 else "no", "sibling_program": "1" if n % 4 == 0 else "",
                      "last_name": "PÉREZ", "birth_date": "1995-03-14"}
            status = "review" if n == 12 else "auto"
            fields = tuple(FieldResult(k, v, status if k == "last_name" else "auto", 1.0, {}, (), (0, 0, 1, 1))
                           for k, v in values.items())
            create_read_application(db.conn, serial, fields, None, f"2009-03-{n % 5 + 1:02d}")
    db.close()
    return c, batch.serials


def test_freeze_refuses_unfinished_review_then_records_the_override(ready) -> None:
    c, _ = ready
    with pytest.raises(ConflictError) as err:
        freeze(c)
    assert "Student's last name(s) 1" in err.value.message("en")
    assert "Apellido(s) del estudiante 1" in err.value.message("es")  # the fields by their names on the form
    with pytest.raises(InvalidInputError):
        freeze(c, allow_unreviewed=True)
    f, inputs, (txt, pdf) = freeze(c, allow_unreviewed=True, reason="one name unreadable, family called")
    assert inputs.counts["applicants"] == 13 and len(f.digest) == 64
    assert f.digest.replace("", "") in txt.read_text(encoding="utf-8").replace(" ", "")
    assert pdf.read_bytes().startswith(b"%PDF")
    event = json.loads(c.db().conn.execute("SELECT payload FROM events WHERE kind = 'draw.frozen'").fetchone()[0])
    assert event["unreviewed"]["reason"] == "one name unreadable, family called" and event["input_digest"] == f.digest


def test_a_reply_in_review_does_not_hold_up_the_next_freeze(ready) -> None:
    c, serials = ready
    db = c.db()
    with write_transaction(db.conn):  # the name in review is settled; a reply slip's answer is unclear
        settled = [r[0] for r in db.conn.execute("SELECT serial FROM fields WHERE status = 'review'")]
        db.conn.execute("UPDATE fields SET status = 'confirmed' WHERE status = 'review'")
        db.conn.execute("INSERT INTO fields (serial, name, value, status) VALUES (?, 'reply', '', 'review')",
                        (serials[0],))
        for serial in {*settled, serials[0]}:  # as the review page and ingest record what they change
            record_application_event(db.conn, "test", "review.decided", serial, {})
    db.close()
    f, inputs, _ = freeze(c)  # the answer to a letter is not an input of the draw
    assert inputs.counts["applicants"] == 13 and len(f.digest) == 64


def test_frozen_inputs_refuse_changes_until_unfreeze(ready, tmp_path: Path) -> None:
    c, serials = ready
    freeze(c, allow_unreviewed=True, reason="test")
    from zonepaper.layout import build_layout
    from zonepaper.review import accounts, queue

    db = c.db()
    user = accounts.add_user(db.conn, "ana", "coordinator", "a good password")
    item = queue.next_item(db.conn, user)
    with pytest.raises(ConflictError):
        queue.decide(db.conn, user, queue.Decision(item.id, item.version, "accept", "GARCÍA"), c.zone(),
                     build_layout(c.zone(), "letter"))
    db.close()
    # a form that arrives now is kept, but set aside: it can be read once the freeze is lifted
    from pdf2image import convert_from_path

    late = tmp_path / "late"
    late.mkdir()
    pdf = next((c.root / "output").glob("forms-batch-*.pdf"))
    convert_from_path(str(pdf), dpi=200, grayscale=True, first_page=27, last_page=27)[0].save(late / "late.png")
    assert cli("scan", "ingest", str(late), "--cycle", str(c.root)) == 0
    assert c.db().conn.execute("SELECT kind, reason, serial FROM pages").fetchall() == [
        ("quarantined", "after_freeze", serials[13])]
    with pytest.raises(InvalidInputError):
        unfreeze(c, "")
    unfreeze(c, "a name to correct")
    db = c.db()
    item = queue.next_item(db.conn, user)
    queue.decide(db.conn, user, queue.Decision(item.id, item.version, "accept", "GARCÍA"), c.zone(),
                 build_layout(c.zone(), "letter"))
    db.close()


def test_run_replay_and_the_standalone_verifier_agree(ready, tmp_path: Path) -> None:
    c, _ = ready
    f, _, _ = freeze(c, allow_unreviewed=True, reason="test")
    with pytest.raises(InvalidInputError):  # 8 bits is not a seed
        run(c, DICE[:1])
    out = run(c, DICE)
    assert out.seed.bits >= 64 and out.bundle.is_file()
    assert replay(out.bundle) == []
    script = tmp_path / "verify_draw.py"
    with zipfile.ZipFile(out.bundle) as z:
        script.write_bytes(z.read("verify_draw.py"))
        results = vd.read_csv(z.read("results.csv"))
        manifest = json.loads(z.read("manifest.json"))
    standalone = subprocess.run([sys.executable, "-I", str(script), str(out.bundle)], capture_output=True, text=True)
    assert standalone.returncode == 0 and standalone.stdout.strip().endswith("MATCH")
    stored = {r[0]: r[1:] for r in c.db().conn.execute(
        "SELECT serial, lottery, assigned, rank FROM draw_results WHERE draw_id = ?", (out.draw_id,))}
    assert {r["serial"]: (r["lottery"], r["assigned"] or None, int(r["rank"])) for r in results} == stored
    assert manifest["input_digest"] == f.digest and manifest["key_string"] == parse_seed(DICE).key_string
    # no personal data in the bundle
    with zipfile.ZipFile(out.bundle) as z:
        everything = b"".join(z.read(n) for n in z.namelist() if n != "verify_draw.py")
    assert "PÉREZ" not in everything.decode("utf-8") and b"1995-03-14" not in everything


def test_a_changed_row_in_a_bundle_is_detected(ready, tmp_path: Path) -> None:
    c, _ = ready
    freeze(c, allow_unreviewed=True, reason="test")
    out = run(c, DICE)
    with zipfile.ZipFile(out.bundle) as z:
        files = {n: z.read(n) for n in z.namelist()}
    rows = files["results.csv"].decode().splitlines()
    first = rows[1].split(",")
    first[3] = "latpa" if first[3] != "latpa" else "lahsa"  # a different program for one form
    tampered = dict(files, **{"results.csv": ("\n".join([rows[0], ",".join(first), *rows[2:]]) + "\n").encode()})
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        for n, data in tampered.items():
            z.writestr(n, data)
    problems = replay(bad)
    assert any(first[0] in p for p in problems)
    assert cli("draw", "replay", str(bad)) == 1
    moved = dict(files, **{"applicants.csv": files["applicants.csv"].replace(b"2009-03-01", b"2009-02-01", 1)})
    with zipfile.ZipFile(bad, "w") as z:
        for n, data in moved.items():
            z.writestr(n, data)
    assert any("input digest" in p for p in replay(bad))


def test_same_inputs_and_sources_give_identical_results_and_a_second_run_needs_supersede(ready) -> None:
    c, _ = ready
    freeze(c, allow_unreviewed=True, reason="test")
    first = run(c, DICE)
    with pytest.raises(ConflictError):
        run(c, DICE)
    with pytest.raises(InvalidInputError):
        run(c, DICE, supersede=True)
    second = run(c, DICE, supersede=True, reason="the projector failed; rerun in public")
    assert second.result_digest == first.result_digest
    with zipfile.ZipFile(first.bundle) as a, zipfile.ZipFile(second.bundle) as b:
        assert a.read("results.csv") == b.read("results.csv")
    statuses = dict(c.db().conn.execute("SELECT id, status FROM draws").fetchall())
    assert statuses == {first.draw_id: "superseded", second.draw_id: "current"}
    assert c.db().conn.execute("SELECT count(*) FROM events WHERE kind = 'draw.run'").fetchone()[0] == 2


def test_a_family_checks_its_lottery_number_with_the_documented_one_liners(ready) -> None:
    c, _ = ready
    freeze(c, allow_unreviewed=True, reason="test")
    out = run(c, DICE)
    serial, lottery = c.db().conn.execute("SELECT serial, lottery FROM draw_results LIMIT 1").fetchone()
    reference = (Path(__file__).parent.parent / "docs" / "reference.md").read_text(encoding="utf-8")
    lines = [x for x in reference.splitlines() if x.startswith(("python3 -c", "printf %s SERIAL")) and "SERIAL" in x]
    assert len(lines) == 2
    with zipfile.ZipFile(out.bundle) as z:
        manifest = json.loads(z.read("manifest.json"))
    for line in lines:
        command = (line.replace("KEY_STRING", manifest["key_string"]).replace("INPUT_DIGEST", manifest["input_digest"])
                   .replace("SERIAL", serial))
        got = subprocess.run(command, shell=True, capture_output=True, text=True).stdout.strip()
        assert got.split()[-1] == lottery, line


def test_the_schema_says_truly_which_fields_the_draw_reads(ready) -> None:
    """fields.draw_input is what build_inputs reads: changing such a field changes the inputs, any other does not."""
    from zonepaper.draw.inputs import build_inputs
    from zonepaper.fields import SCHEMA

    c, serials = ready
    zone, db, serial = c.zone(), c.db(), serials[0]
    conn = db.conn

    def put(name: str, value: str) -> None:
        update = "UPDATE fields SET value = ? WHERE serial = ? AND name = ?"
        if not conn.execute(update, (value, serial, name)).rowcount:
            conn.execute("INSERT INTO fields (serial, name, value, status) VALUES (?, ?, ?, 'auto')",
                         (serial, name, value))

    first = conn.execute("SELECT value FROM fields WHERE serial = ? AND name = 'choices'", (serial,)).fetchone()[0]
    unranked = next(p for p in zone.programs if p.id not in first.split(","))
    changes = {"choices": unranked.id, "grade": "10", "zip": "91001", "sibling": "no",
               "sibling_program": str(unranked.number), "received_date": "2009-04-01"}
    for f in (f for f in SCHEMA if f.sheet == "form"):
        conn.execute("BEGIN")  # every draw input is in play: a sibling in the first choice, living in the zone
        for name, value in {"sibling": "yes", "sibling_program": str(zone.program(first.split(",")[0]).number),
                            "zip": "90012"}.items():
            put(name, value)
        before = build_inputs(conn, zone, "da").digest
        put(f.name, changes.get(f.name, "SOMETHING ELSE"))
        changed = build_inputs(conn, zone, "da").digest != before
        conn.execute("ROLLBACK")
        assert changed == f.draw_input, f"{f.name}: draw_input {f.draw_input}, yet a change changed inputs: {changed}"
    db.close()


def test_the_office_date_a_person_confirmed_is_when_the_form_was_received(ready) -> None:
    """First come, first served: an office date read unsure counts only once a person has confirmed it."""
    from zonepaper.draw.inputs import build_inputs

    c, serials = ready
    db = c.db()
    conn, zone = db.conn, c.zone()
    conn.execute("INSERT INTO fields (serial, name, value, status) VALUES (?, 'received_date', '2009-02-27', 'review')",
                 (serials[3],))
    received = {a["serial"]: a["received"] for a in build_inputs(conn, zone, "fcfs").applicants}
    assert received[serials[3]] == "2009-03-04"  # the batch's date: nobody has looked at the office's yet
    conn.execute("UPDATE fields SET status = 'confirmed' WHERE serial = ? AND name = 'received_date'", (serials[3],))
    received = {a["serial"]: a["received"] for a in build_inputs(conn, zone, "fcfs").applicants}
    assert received[serials[3]] == "2009-02-27"
    db.close()


def test_the_draw_does_not_run_on_data_changed_behind_the_tools_back(ready) -> None:
    import sqlite3

    c, serials = ready
    conn = sqlite3.connect(c.db_path)  # someone edits a ZIP with a database tool: now inside the zone
    conn.execute("UPDATE fields SET value = CASE value WHEN '90012' THEN '90026' ELSE '90012' END "
                 "WHERE serial = ? AND name = 'zip'", (serials[1],))
    conn.commit()
    conn.close()
    with pytest.raises(ConflictError) as err:
        freeze(c, allow_unreviewed=True, reason="one name unreadable")
    assert err.value.key == "store.tampered" and err.value.params == {"count": 1}
    assert "run 'zonepaper verify' to see it" in err.value.message("en")
    assert sqlite3.connect(c.db_path).execute("SELECT count(*) FROM freezes").fetchone()[0] == 0
