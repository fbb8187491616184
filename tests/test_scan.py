"""Reading scanned returns end to end, on simulated scans with known truth."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import cli
from PIL import Image

from zonepaper.cycle import Cycle, init_cycle
from zonepaper.forms.batch import print_forms
from zonepaper.scan.ingest import ingest
from zonepaper.scan.marks import px_rect
from zonepaper.scan.page import K
from zonepaper.scan.scoring import score
from zonepaper.simulate import simulate

FORMS = 24


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory):
    """A cycle with simulated returns (mixed PDF, PNG, JPEG, TIFF) and a pristine copy before ingest."""
    root = tmp_path_factory.mktemp("scan")
    cycle = init_cycle(root / "cycle", "belmont")
    print_forms(cycle, FORMS + 6, "test batch")
    sim = simulate(cycle, FORMS, root / "scans", seed=11, dpi=200)
    pristine = root / "pristine"
    shutil.copytree(cycle.root, pristine)
    summary = ingest(cycle, [root / "scans"], "2009-03-14")
    return cycle, sim, pristine, summary, root


def fresh_cycle(scanned, tmp_path: Path) -> Cycle:
    """A copy of the scanned cycle as it was before any ingest."""
    cycle = Cycle(tmp_path / "c")
    shutil.copytree(scanned[2], cycle.root)
    return cycle


def _ingest_command(scanned, tmp_path: Path, *extra: str) -> tuple[Cycle, list[str]]:
    """A fresh copy of the cycle, and the real command that ingests the scans into it."""
    cycle = fresh_cycle(scanned, tmp_path)
    exe = Path(sys.executable).parent / "zonepaper"
    return cycle, [str(exe), "scan", "ingest", str(scanned[4] / "scans"), "--received", "2009-03-14", *extra,
                   "--cycle", str(cycle.root)]


def table_dump(db_path: Path) -> dict[str, list]:
    """What ingest decided, without ids and times: comparable between runs."""
    conn = sqlite3.connect(db_path)
    q = conn.execute
    return {
        "files": sorted(q("SELECT sha256, original_name, status, page_count FROM files").fetchall()),
        "pages": sorted(q("SELECT f.original_name, p.page_index, p.kind, p.serial, p.reason, p.rotation "
                          "FROM pages p JOIN files f ON f.sha256 = p.file_sha256").fetchall()),
        "applications": sorted(q("SELECT serial, source, status, received_batch, received_form, flags "
                                 "FROM applications").fetchall()),
        "fields": sorted(q("SELECT serial, name, value, status, votes, reasons FROM fields").fetchall()),
    }


def test_every_page_lands_where_it_belongs(scanned) -> None:
    cycle, sim, _, summary, _ = scanned
    db = cycle.db()
    s = score(db, sim.truth_path)
    assert s.pages == len(sim.pages) == summary.pages
    assert s.pages_lost == [] and s.pages_misplaced == []
    assert s.serials_read == s.fronts == FORMS
    assert s.wrong_auto == []  # nothing the machine accepted alone is wrong
    assert s.silently_wrong == 0
    kinds = dict(db.conn.execute("SELECT kind, count(*) FROM pages GROUP BY kind").fetchall())
    assert kinds["back"] >= 1 and kinds["blank"] == 1
    reasons = dict(db.conn.execute("SELECT reason, count(*) FROM pages WHERE kind = 'quarantined' "
                                   "GROUP BY reason").fetchall())
    assert reasons == {"not_a_form": 1, "other_cycle": 1, "duplicate": 1}
    held = db.conn.execute("SELECT serial, flags FROM applications WHERE status = 'held'").fetchall()
    copy = next(p for p in sim.pages if p.copy == "photocopy")
    assert held == [(copy.serial, '["duplicate"]')]
    assert db.conn.execute("SELECT count(*) FROM applications").fetchone()[0] == FORMS


def test_fields_keep_value_status_votes_and_box(scanned) -> None:
    cycle, sim, _, _, _ = scanned
    db = cycle.db()
    truth = {p.serial: p for p in sim.pages if p.kind == "front" and p.copy == "original"}
    rows = db.conn.execute("SELECT serial, name, value, status, votes, box, reasons FROM fields").fetchall()
    assert len(rows) == FORMS * 19  # 18 fields of the form and the choices
    for serial, name, value, status, votes, box, reasons in rows:
        assert status in ("auto", "review")
        x, y, w, h = json.loads(box)
        assert w > 0 and h > 0
        if name in ("zip", "phone", "birth_date"):
            assert set(json.loads(votes)) >= {"network", "network_b", "probabilities", "probabilities_b"}
        if status == "review":
            assert json.loads(reasons), f"{serial} {name} in review without a reason"
    # the choices the families marked, where accepted alone, are exactly right
    for serial, value, status in db.conn.execute("SELECT serial, value, status FROM fields WHERE name = 'choices'"):
        if status == "auto":
            assert value == ",".join(truth[serial].choices)
    events = [r[0] for r in db.conn.execute("SELECT kind FROM events")]
    assert events.count("application.scanned") == FORMS
    assert events.count("scan.file_done") == len(sim.files)


def test_received_date_is_stored_and_the_office_date_overrides(scanned) -> None:
    cycle, sim, _, _, _ = scanned
    db = cycle.db()
    truth = {p.serial: p for p in sim.pages if p.kind == "front" and p.copy == "original"}
    for serial, batch, form in db.conn.execute("SELECT serial, received_batch, received_form FROM applications"):
        assert batch == "2009-03-14"
        if form is not None:
            assert form == truth[serial].fields["received_date"]


def test_re_ingesting_changes_nothing(scanned) -> None:
    cycle, sim, _, _, root = scanned
    before = table_dump(cycle.db_path)
    events = cycle.db().conn.execute("SELECT count(*) FROM events").fetchone()[0]
    again = ingest(cycle, [root / "scans"], "2009-04-01")
    assert again.files_skipped == len(sim.files) and again.pages == 0
    assert table_dump(cycle.db_path) == before
    assert cycle.db().conn.execute("SELECT count(*) FROM events").fetchone()[0] == events


def test_originals_are_kept_by_content(scanned) -> None:
    cycle, sim, _, _, _ = scanned
    import hashlib

    stored = {p.name.split(".")[0] for p in cycle.originals.rglob("*") if p.is_file()}
    for f in sim.files:
        assert hashlib.sha256(f.read_bytes()).hexdigest() in stored


def test_status_and_quarantine_commands(scanned, capsys) -> None:
    cycle, *_ = scanned
    assert cli("scan", "status", "--cycle", str(cycle.root)) == 0
    out = capsys.readouterr().out
    assert f"Applications: {FORMS} " in out and "another cycle: 1" in out
    assert "1 page was taken as blank: look at it on the review page" in out
    assert cli("scan", "quarantine", "--cycle", str(cycle.root)) == 0
    out = capsys.readouterr().out
    assert "not a form of this zone" in out and "photocopy" in out


def test_corrupt_and_foreign_files_are_quarantined_with_reasons(scanned, tmp_path: Path) -> None:
    cycle = fresh_cycle(scanned, tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.pdf").write_bytes(b"")
    (bad / "truncated.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n")
    (bad / "noise.png").write_bytes(bytes(range(256)) * 10)
    rng = np.random.default_rng(1)
    photo = (rng.normal(180, 40, (1100, 850))).clip(0, 255).astype(np.uint8)
    Image.fromarray(photo).save(bad / "photo.jpg")
    summary = ingest(cycle, [bad], None)
    assert summary.pages == 4
    rows = dict(cycle.db().conn.execute(
        "SELECT f.original_name, p.reason FROM pages p JOIN files f ON f.sha256 = p.file_sha256").fetchall())
    assert rows == {"empty.pdf": "unreadable_file", "truncated.pdf": "unreadable_file",
                    "noise.png": "unreadable_file", "photo.jpg": "not_a_form"}


def test_any_orientation_and_forged_codes(scanned, tmp_path: Path) -> None:
    cycle0, sim, pristine, _, root = scanned
    cycle = Cycle(tmp_path / "c")
    shutil.copytree(pristine, cycle.root)
    first = next(p for p in sim.pages if p.kind == "front" and p.copy == "original" and not p.hard)
    from zonepaper.scan.raster import read_pages

    page = next(p.image for p in read_pages(root / "scans" / first.file) if p.index == first.page)
    folder = tmp_path / "turned"
    folder.mkdir()
    for k in (1, 3):  # 90 and 270 degrees more than it already was
        cv2.imwrite(str(folder / f"turned-{k}.png"), np.ascontiguousarray(np.rot90(page, k)))
    summary = ingest(cycle, [folder], None)
    kinds = [r[0] for r in cycle.db().conn.execute("SELECT kind FROM pages ORDER BY id")]
    assert kinds == ["front", "quarantined"]  # the second is the same serial again: a duplicate
    rotations = {r[0] for r in cycle.db().conn.execute("SELECT rotation FROM pages")}
    assert rotations == {(first.rotation + 90) % 360, (first.rotation + 270) % 360}
    assert summary.pages == 2


@pytest.mark.parametrize(("mistake", "reason"), [("two_marks_one_rank", "several_marks_in_rank"),
                                               ("same_program_twice", "program_in_two_ranks"),
                                               ("empty_choices", "no_choices")])
def test_every_choice_mistake_goes_to_a_person(scanned, tmp_path: Path, mistake: str, reason: str) -> None:
    cycle = fresh_cycle(scanned, tmp_path)
    forced = {"two_marks_one_rank": 0.0, "same_program_twice": 0.0, mistake: 1.0}
    sim = simulate(cycle, 2, tmp_path / "scans", seed=8, rates=forced)
    ingest(cycle, [tmp_path / "scans"], None)
    fronts = {p.serial for p in sim.pages if p.kind == "front" and p.copy == "original" and mistake in p.hard}
    assert fronts  # (a family that used every rank cannot repeat a program)
    for serial in fronts:
        status, reasons = cycle.db().conn.execute(
            "SELECT status, reasons FROM fields WHERE serial = ? AND name = 'choices'", (serial,)).fetchone()
        assert status == "review" and reason in json.loads(reasons), (serial, reasons)


def test_a_form_signed_with_another_secret_is_caught(scanned, tmp_path: Path) -> None:
    _, _, pristine, _, _ = scanned
    from zonepaper.forms.document import write_forms_pdf
    from zonepaper.layout import build_layout
    from zonepaper.serial import make_payload

    cycle = Cycle(tmp_path / "c")
    shutil.copytree(pristine, cycle.root)
    info = cycle.info()
    serial = cycle.db().conn.execute("SELECT serial FROM serials LIMIT 1").fetchone()[0]
    forged = make_payload(b"\x01" * 32, info["cycle_id"], serial)
    wrong_check = serial[:-1] + str((int(serial[-1]) + 1) % 10)
    bad_digit = make_payload(bytes.fromhex(info["secret"]), info["cycle_id"], wrong_check)
    pdf = tmp_path / "forged.pdf"
    write_forms_pdf(pdf, build_layout(cycle.zone()), cycle.zone(), info["cycle_id"],
                    [(forged, None), (bad_digit, None)])
    ingest(cycle, [pdf], None)
    reasons = [r[0] for r in cycle.db().conn.execute("SELECT reason FROM pages ORDER BY page_index")]
    assert reasons == ["bad_tag", "bad_check_digit"]


def test_bad_received_date_is_a_clear_error(scanned, capsys) -> None:
    cycle, _, _, _, root = scanned
    assert cli("scan", "ingest", str(root / "scans"), "--received", "March 14", "--cycle", str(cycle.root)) == 2
    assert "2009-03-14" in capsys.readouterr().err


@pytest.mark.slow
def test_killed_midway_and_run_again_equals_one_clean_run(scanned, tmp_path: Path) -> None:
    clean, root = scanned[0], scanned[4]
    cycle, cmd = _ingest_command(scanned, tmp_path)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.2)
        try:
            n = sqlite3.connect(cycle.db_path, timeout=5).execute("SELECT count(*) FROM pages").fetchone()[0]
        except sqlite3.OperationalError:
            continue
        if n >= 7:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = sqlite3.connect(cycle.db_path).execute("SELECT count(*) FROM pages").fetchone()[0]
    assert 0 < partial < sum(1 for _ in root.joinpath("scans").glob("scan-*")) * 100
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert table_dump(cycle.db_path) == table_dump(clean.db_path)
    from zonepaper.store.events import find_broken_events

    assert find_broken_events(sqlite3.connect(cycle.db_path)) == []


@pytest.mark.slow
def test_workers_give_the_same_result_as_one_process(scanned, tmp_path: Path) -> None:
    clean, _, pristine, _, root = scanned
    cycle = Cycle(tmp_path / "c")
    shutil.copytree(pristine, cycle.root)
    assert cli("scan", "ingest", str(root / "scans"), "--received", "2009-03-14", "--workers", "2",
               "--cycle", str(cycle.root)) == 0
    assert table_dump(cycle.db_path) == table_dump(clean.db_path)


def test_simulation_is_deterministic_and_never_invents_serials(scanned, tmp_path: Path, capsys) -> None:
    _, sim, pristine, _, _ = scanned
    cycle = Cycle(tmp_path / "c")
    shutil.copytree(pristine, cycle.root)
    again = simulate(cycle, FORMS, tmp_path / "again", seed=11, dpi=200)
    assert [p.to_json() for p in again.pages] == [p.to_json() for p in sim.pages]
    from zonepaper.scan.raster import read_pages

    for mine, theirs in zip(again.files, sim.files):  # same pixels (PDF metadata holds a creation time)
        assert all(np.array_equal(a.image, b.image) for a, b in zip(read_pages(mine), read_pages(theirs)))
    issued = {r[0] for r in cycle.db().conn.execute("SELECT serial FROM serials")}
    assert {p.serial for p in sim.pages if p.serial} <= issued
    assert cli("simulate", "--count", "500", "--out", str(tmp_path / "x"), "--cycle", str(cycle.root)) == 2
    assert "never invents serials" in capsys.readouterr().err
    truth = (tmp_path / "again" / "truth.json").read_bytes()
    assert cli("simulate", "--count", "2", "--out", str(tmp_path / "again"), "--cycle", str(cycle.root)) == 5
    assert "another simulation is there" in capsys.readouterr().err
    assert (tmp_path / "again" / "truth.json").read_bytes() == truth  # the first simulation is untouched


def test_percentile_of_pixels_is_numpys() -> None:
    from zonepaper.scan.marks import percentile

    rng = np.random.default_rng(3)
    for i in range(300):
        shape = (int(rng.integers(1, 50)), int(rng.integers(1, 50)))
        pixels = (rng.integers(0, 256, shape) if i % 2 else rng.choice([20, 200, 231], shape)).astype(np.uint8)
        for q in (0, 75, 90, 100):
            assert percentile(pixels, q) == pytest.approx(float(np.percentile(pixels, q)), abs=1e-9)


def _a_front(scanned) -> np.ndarray:
    from zonepaper.scan.raster import read_pages

    _, sim, _, _, root = scanned
    first = next(p for p in sim.pages if p.kind == "front" and p.copy == "original" and not p.hard)
    return next(p.image for p in read_pages(root / "scans" / first.file) if p.index == first.page)


def test_a_page_is_blank_only_when_it_is_a_light_sheet_with_nothing_on_it(scanned, tmp_path: Path) -> None:
    cycle = fresh_cycle(scanned, tmp_path)
    form = _a_front(scanned)
    rng = np.random.default_rng(3)
    folder = tmp_path / "pages"
    folder.mkdir()
    # a form photographed small on dark cloth, out of focus so that its markers are not found
    cloth = rng.normal(45, 12, form.shape).clip(0, 255).astype(np.uint8)
    small = cv2.GaussianBlur(cv2.resize(form, None, fx=0.45, fy=0.45, interpolation=cv2.INTER_AREA), (0, 0), 6)
    y, x = (form.shape[0] - small.shape[0]) // 2, (form.shape[1] - small.shape[1]) // 2
    cloth[y: y + small.shape[0], x: x + small.shape[1]] = small
    cv2.imwrite(str(folder / "on-cloth.png"), cloth)
    cv2.imwrite(str(folder / "inverted.png"), 255 - form)  # a scan stored white on black
    dark = rng.normal(60, 10, form.shape).clip(0, 255).astype(np.uint8)  # the lid left open: almost black
    cv2.imwrite(str(folder / "dark.png"), dark)
    white = rng.normal(243, 4, form.shape).clip(0, 255).astype(np.uint8)  # a blank sheet, with scanner noise
    white[rng.random(form.shape) < 0.0005] = 30  # and a few specks of dust
    cv2.imwrite(str(folder / "white.png"), white)
    sixteen = (form.astype(np.uint16) * 257)  # a 16-bit greyscale scan of the form
    Image.fromarray(sixteen).save(folder / "sixteen.png")
    ingest(cycle, [folder], None)
    rows = dict(cycle.db().conn.execute(
        "SELECT f.original_name, p.kind || ':' || coalesce(p.reason, '') FROM pages p "
        "JOIN files f ON f.sha256 = p.file_sha256").fetchall())
    assert rows["on-cloth.png"] == "quarantined:not_a_form"
    assert rows["inverted.png"].split(":")[0] in ("front", "quarantined")
    assert rows["dark.png"] == "quarantined:not_a_form"
    assert rows["white.png"] == "blank:"
    assert rows["sixteen.png"] == "front:"  # read, not clipped to white and called blank
    image = cycle.db().conn.execute("SELECT p.image FROM pages p JOIN files f ON f.sha256 = p.file_sha256 "
                                    "WHERE f.original_name = 'white.png'").fetchone()[0]
    thumb = cv2.imread(str(cycle.root / image), cv2.IMREAD_GRAYSCALE)
    assert thumb is not None and thumb.shape[1] == 400  # a person can look at what was called blank


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that says it is width x height (grey) and holds no pixels: what a decoder would have to allocate."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_pages_too_large_to_be_forms_are_quarantined_and_the_batch_goes_on(scanned, tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    cycle = fresh_cycle(scanned, tmp_path)
    folder = tmp_path / "big"
    folder.mkdir()
    _png_header_only(folder / "a-bomb.png", 20000, 20000)  # Pillow itself refuses this one
    _png_header_only(folder / "b-large.png", 9500, 9500)  # Pillow would decode this one: 90 million pixels
    pdf = canvas.Canvas(str(folder / "c-poster.pdf"), pagesize=(200 * 72, 200 * 72))  # 200 x 200 inches
    pdf.drawString(100, 100, "a poster")
    pdf.showPage()
    pdf.save()
    cv2.imwrite(str(folder / "d-form.png"), _a_front(scanned))
    summary = ingest(cycle, [folder], None)
    rows = dict(cycle.db().conn.execute(
        "SELECT f.original_name, p.kind || ':' || coalesce(p.reason, '') FROM pages p "
        "JOIN files f ON f.sha256 = p.file_sha256").fetchall())
    assert rows == {"a-bomb.png": "quarantined:page_too_large", "b-large.png": "quarantined:page_too_large",
                    "c-poster.pdf": "quarantined:page_too_large", "d-form.png": "front:"}
    assert summary.pages == 4
    again = ingest(cycle, [folder], None)  # and every run after goes through them too
    assert again.files_skipped == 4


def test_other_image_kinds_are_read_odd_names_are_kept_and_what_is_not_read_is_named(
        scanned, tmp_path: Path, capsys) -> None:
    cycle = fresh_cycle(scanned, tmp_path)
    folder = tmp_path / "mixed"
    folder.mkdir()
    form = _a_front(scanned)
    Image.fromarray(form).save(folder / "form.bmp")
    Image.fromarray(form).save(folder / "form.webp", quality=90)
    latin1 = os.fsdecode(folder.as_posix().encode() + b"/formulario-\xe9.png")  # named by an old Windows scanner
    Image.fromarray(form).save(latin1, format="PNG")
    (folder / "photo.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(100))
    (folder / "notes.docx").write_bytes(b"PK\x03\x04")
    assert cli("scan", "ingest", str(folder), "--cycle", str(cycle.root)) == 0
    out = capsys.readouterr().out
    assert "2 files in the folders were not read because they are not scans" in out
    assert "notes.docx" in out and "photo.heic" in out
    rows = sorted(cycle.db().conn.execute(
        "SELECT f.original_name, p.kind FROM pages p JOIN files f ON f.sha256 = p.file_sha256").fetchall())
    # the three are one sheet: the first is a form, the others the same form again
    assert [name for name, _ in rows] == ["form.bmp", "form.webp", "formulario-\\xe9.png"]
    assert sorted(kind for _, kind in rows) == ["front", "quarantined", "quarantined"]
    reasons = {r[0] for r in cycle.db().conn.execute("SELECT reason FROM pages WHERE kind = 'quarantined'")}
    assert reasons == {"duplicate"}


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of a process's children, from /proc."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                out.append((int(stat.parent.name), cmdline))
        except (OSError, IndexError, ValueError):
            continue
    return out


@pytest.mark.slow
def test_a_killed_worker_stops_the_run_with_a_message_and_the_rerun_completes(scanned, tmp_path: Path) -> None:
    clean = scanned[0]
    cycle, cmd = _ingest_command(scanned, tmp_path, "--workers", "2")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "ZONEPAPER_LANG": "en"})
    deadline = time.time() + 120
    workers: list[int] = []
    while time.time() < deadline and not workers:
        time.sleep(0.3)
        try:
            n = sqlite3.connect(cycle.db_path, timeout=5).execute("SELECT count(*) FROM pages").fetchone()[0]
        except sqlite3.OperationalError:
            continue
        if n >= 3:
            workers = [pid for pid, line in _children(proc.pid) if "spawn_main" in line]
    assert workers, "no worker process found"
    os.kill(workers[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=60)  # it stops, it does not wait forever
    assert proc.returncode == 5, err
    assert "A reading process stopped suddenly" in err and "run the same command again" in err
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert table_dump(cycle.db_path) == table_dump(clean.db_path)


def test_a_second_ingest_into_the_same_cycle_is_told_another_is_running(scanned, tmp_path: Path, capsys) -> None:
    from zonepaper.scan.ingest import ingest_lock

    _, _, pristine, _, root = scanned
    cycle = Cycle(tmp_path / "c")
    shutil.copytree(pristine, cycle.root)
    with ingest_lock(cycle):
        assert cli("scan", "ingest", str(root / "scans"), "--cycle", str(cycle.root)) == 5
        assert "Another 'zonepaper scan ingest' is reading into this cycle" in capsys.readouterr().err
    assert sqlite3.connect(cycle.db_path).execute("SELECT count(*) FROM pages").fetchone()[0] == 0
    with ingest_lock(cycle):  # the lock was let go: it can be taken again
        pass


def test_a_missing_program_stops_ingest_before_any_file_is_marked_read(scanned, tmp_path: Path, monkeypatch,
                                                                        capsys) -> None:
    import zonepaper.scan.ingest as ing

    _, _, pristine, _, root = scanned
    cycle = Cycle(tmp_path / "c")
    shutil.copytree(pristine, cycle.root)
    real_which = shutil.which
    monkeypatch.setattr(ing.shutil, "which", lambda name: None if name == "pdfimages" else real_which(name))
    assert cli("scan", "ingest", str(root / "scans"), "--cycle", str(cycle.root)) == 7
    err = capsys.readouterr().err
    assert "The program pdfimages (package poppler-utils) is missing" in err and "nothing was read" in err
    assert sqlite3.connect(cycle.db_path).execute("SELECT count(*) FROM files").fetchone()[0] == 0


def test_an_empty_database_file_is_refused_not_made_anew(cycle: Cycle, capsys) -> None:
    cycle.db_path.write_bytes(b"")
    assert cli("scan", "status", "--cycle", str(cycle.root)) == 6
    assert "is empty (0 bytes)" in capsys.readouterr().err
    assert cycle.db_path.stat().st_size == 0


def test_a_file_gone_before_it_is_read_is_not_called_empty(tmp_path) -> None:
    """A scan moved or deleted between listing and reading (a USB stick pulled out) says so; a 0-byte file
    says it is empty: two different fixes for the person reading the quarantine."""
    from zonepaper.scan.raster import UnreadableFile, read_pages

    with pytest.raises(UnreadableFile, match="no such file"):
        list(read_pages(tmp_path / "gone.pdf"))
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(UnreadableFile, match="empty file"):
        list(read_pages(tmp_path / "empty.png"))


@pytest.mark.parametrize("blanked", ["grade", "letter_language", "sibling"])
def test_a_sure_choice_list_goes_to_a_person_when_another_question_lost_its_mark(scanned, blanked: str) -> None:
    """A 1-bit scan drops light pencil marks: on a real-hand bw200 page the grade and the language were blank
    and only the first of 5 ranks was left, and that list was accepted alone. Every form asks for a mark in
    each one-answer question, so a page where one has none may have lost marks: the choices go to a person."""
    from zonepaper.scan.page import read_context, read_fields
    from zonepaper.scan.register import align_page, register_page

    cycle = scanned[0]
    ctx = read_context(cycle)
    gray = _a_front(scanned)
    aligned = align_page(gray, register_page(gray, ctx.layout), ctx.layout)
    before = {r.name: r for r in read_fields(aligned, ctx)}
    assert before["choices"].status == "auto" and before[blanked].status == "auto"
    for bubble in ctx.layout.field(blanked).bubbles:  # the mark gone, as a 1-bit scan loses a pencil mark
        x0, y0, x1, y1 = px_rect(bubble.rect, K)
        cv2.circle(aligned, ((x0 + x1) // 2, (y0 + y1) // 2), (x1 - x0) // 2 - 2, 255, -1)
    after = {r.name: r for r in read_fields(aligned, ctx)}
    assert after[blanked].status == "review" and "no_mark" in after[blanked].reasons
    assert after["choices"].value == before["choices"].value
    assert after["choices"].status == "review" and after["choices"].reasons == ("marks_missing_elsewhere",)
