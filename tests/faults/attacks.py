"""The attacks of the fault suite, as functions that say what happened.

tests/faults/ runs a few of each and asserts on them; scripts/fault_report.py runs many and prints
the counts, so that the figures can be compared release to release. Every attack uses the real
commands (a `zonepaper` process, killed with SIGKILL where that is the attack) and judges the
outcome on what is stored: the database after a re-run against the database of a clean run, the
exit code against the documented table, the stored values against their fields' rules.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]  # the helpers of the other tests (when run from scripts/)

from test_applications import desk_row, write_csv  # noqa: E402
from test_paper import DICE, drawn_cycle  # noqa: E402
from test_scan import _children, table_dump  # noqa: E402

from zonepaper.applications import csv_columns  # noqa: E402
from zonepaper.cli import run as cli_run  # noqa: E402
from zonepaper.cycle import Cycle, init_cycle  # noqa: E402
from zonepaper.fields import SINGLE_FIELDS, stored_value_problem  # noqa: E402
from zonepaper.forms.batch import print_forms  # noqa: E402
from zonepaper.simulate import simulate  # noqa: E402
from zonepaper.store.events import event_hash, find_broken_events  # noqa: E402
from zonepaper.zone import MAX_LABEL, MAX_SEATS, MAX_TEXT  # noqa: E402

DOCUMENTED_EXITS = {0, 1, 2, 3, 4, 5, 6, 7, 8, 130}  # README: what each exit code means; 15 is a bug
ZONEPAPER = str(Path(sys.executable).parent / "zonepaper")
ENV = {**os.environ, "ZONEPAPER_LANG": "en"}


@dataclass
class Tally:
    """One attack's counts: how many were tried, how many zonepaper held, and every failure named."""

    name: str
    tried: int = 0
    held: int = 0
    exit15: int = 0
    silent: int = 0  # a value outside its field's rules accepted without a word
    killed: int = 0  # runs really killed before they ended (the others ended first)
    failures: list[str] = field(default_factory=list)
    codes: Counter = field(default_factory=Counter)  # exit codes seen
    skipped: str = ""  # why the attack could not be made on this machine

    def fail(self, what: str) -> None:
        self.failures.append(what)


def cli(*args: str) -> tuple[int, str]:
    """A command run in this process (fast, for the fuzzing); (exit code, what it printed)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli_run(list(args))
    return code, out.getvalue()


def zp(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([ZONEPAPER, *args], capture_output=True, text=True, timeout=timeout, env=ENV)


def verified(root: Path) -> bool:
    return zp("verify", "--cycle", str(root)).returncode == 0


def copy_cycle(src: Path, dst: Path) -> Cycle:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return Cycle(dst)


def kill_at(cmd: list[str], seconds: float, worker: bool = False) -> tuple[bool, int | None, str]:
    """Start the command, SIGKILL it (or, with worker=True, one of its reading processes) after `seconds`;
    returns (whether it was killed before it ended, its exit code, what it printed on stderr)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    killed = False
    if proc.poll() is None:
        targets = [pid for pid, line in _children(proc.pid) if "spawn_main" in line] if worker else [proc.pid]
        for pid in targets[:1]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed = True
    try:
        _, err = proc.communicate(timeout=180)  # a killed worker must stop the run, never hang it
    except subprocess.TimeoutExpired:
        proc.kill()
        return killed, None, "hung for 180 s after the kill"
    return killed, proc.returncode, err


# --- worlds: what each attack starts from --------------------------------------------------------
@dataclass
class ScanWorld:
    pristine: Path  # a cycle with printed forms, before any ingest
    scans: Path
    clean: dict  # table_dump of one clean ingest
    seconds: float  # how long the clean ingest took


def scan_world(root: Path, forms: int = 12, seed: int = 11) -> ScanWorld:
    cycle = init_cycle(root / "cycle", "belmont")
    print_forms(cycle, forms + 4, "fault batch")
    simulate(cycle, forms, root / "scans", seed=seed, dpi=200)
    shutil.copytree(cycle.root, root / "pristine")
    start = time.time()
    done = zp("scan", "ingest", str(root / "scans"), "--received", "2009-03-14", "--cycle", str(cycle.root))
    assert done.returncode == 0, done.stderr
    return ScanWorld(root / "pristine", root / "scans", table_dump(cycle.db_path), time.time() - start)


def _ingest_cmd(world: ScanWorld, root: Path, *extra: str) -> list[str]:
    return [ZONEPAPER, "scan", "ingest", str(world.scans), "--received", "2009-03-14", *extra, "--cycle", str(root)]


def timed(cmd: list[str]) -> float:
    """Seconds one clean run of the command takes (the kills fall at random moments within it)."""
    start = time.time()
    done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
    assert done.returncode == 0, done.stderr
    return time.time() - start


def moment_in(rng: random.Random, seconds: float) -> float:
    return rng.uniform(0.3, 1.0) * seconds


def kill_midway(fresh: Callable[[], tuple[Cycle, list[str]]], moment: float, worker: bool = False
                ) -> tuple[Cycle, float, bool, int | None, str]:
    """kill_at on a fresh copy (`fresh()`: the copy and the command); a run that ended before the kill (quicker
    than the clean one, on a machine busier then) is tried again on another fresh copy at half the moment, up
    to 3 times, so that the attack is a kill in the middle of a run. (copy, moment, killed, exit code, stderr)."""
    for _ in range(3):
        c, cmd = fresh()
        killed, code, err = kill_at(cmd, moment, worker)
        if killed or code is None:
            break
        moment /= 2
    return c, moment, killed, code, err


def _judge(t: Tally, what: str, ok: bool, code: int | None) -> None:
    t.codes[code] += 1
    if code == 15:
        t.exit15 += 1
    if ok:
        t.held += 1
    else:
        t.fail(what)


# --- kill -9 at random moments ------------------------------------------------------------------
def kill_ingest(world: ScanWorld, work: Path, kills: int, rng: random.Random, worker: bool = False) -> Tally:
    """Ingest (or one of its two reading processes) killed at random moments, then the same command again:
    the database must be the clean run's, with an unbroken log."""
    t = Tally("scan ingest --workers 2, one worker killed" if worker else "scan ingest killed")
    for k in range(kills):
        extra = ("--workers", "2") if worker else ()
        def fresh(k: int = k) -> tuple[Cycle, list[str]]:
            c = copy_cycle(world.pristine, work / f"ingest-{k}")
            return c, _ingest_cmd(world, c.root, *extra)

        c, moment, killed, code, err = kill_midway(fresh, moment_in(rng, world.seconds), worker)
        t.tried += 1
        t.killed += killed
        if code is None:
            t.fail(f"kill {k} at {moment:.1f} s: {err}")
            continue
        if worker and killed and code not in (0, 5):
            t.fail(f"kill {k} at {moment:.1f} s: the run ended with exit {code}: {err[-200:]}")
        again = subprocess.run(_ingest_cmd(world, c.root, *extra), capture_output=True, text=True, env=ENV,
                               timeout=600)
        same = again.returncode == 0 and table_dump(c.db_path) == world.clean
        same = same and not find_broken_events(sqlite3.connect(c.db_path))
        _judge(t, f"kill {k} at {moment:.1f} s: re-run exit {again.returncode}, same as a clean run: {same}",
               same, again.returncode)
        shutil.rmtree(c.root)
    return t


def two_ingests(world: ScanWorld, work: Path, tries: int) -> Tally:
    """Two ingests of the same folder started together: one reads, the other says another is running
    (or waits); after one more run the database is the clean run's."""
    t = Tally("two ingests at once")
    for k in range(tries):
        c = copy_cycle(world.pristine, work / f"two-{k}")
        procs = [subprocess.Popen(_ingest_cmd(world, c.root), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True, env=ENV) for _ in range(2)]
        codes = [p.wait(timeout=600) for p in procs]
        again = zp("scan", "ingest", str(world.scans), "--received", "2009-03-14", "--cycle", str(c.root))
        t.tried += 1
        ok = set(codes) <= {0, 5} and again.returncode == 0 and table_dump(c.db_path) == world.clean
        _judge(t, f"try {k}: exits {codes}, then {again.returncode}", ok, max(codes + [again.returncode]))
        shutil.rmtree(c.root)
    return t


def backup_world(world: ScanWorld, work: Path) -> Path:
    c = copy_cycle(world.pristine, work / "backup-base")
    assert zp("scan", "ingest", str(world.scans), "--received", "2009-03-14", "--cycle", str(c.root)).returncode == 0
    return c.root


def kill_backup(base: Path, work: Path, kills: int, rng: random.Random) -> Tally:
    """A killed backup leaves nothing the next backup does not remove (and say so); that backup is whole."""
    t = Tally("backup killed")
    seconds = timed([ZONEPAPER, "backup", "--cycle", str(copy_cycle(base, work / "backup-clean").root)])
    for k in range(kills):
        def fresh(k: int = k) -> tuple[Cycle, list[str]]:
            c = copy_cycle(base, work / f"backup-{k}")
            return c, [ZONEPAPER, "backup", "--cycle", str(c.root)]

        c, moment, killed, _, _ = kill_midway(fresh, moment_in(rng, seconds))
        t.killed += killed
        again = zp("backup", "--cycle", str(c.root))
        folder = c.root / "backups"
        zips = sorted(folder.glob("zonepaper-backup-*.zip"))
        whole = bool(zips) and all(zipfile.ZipFile(z).testzip() is None and "zonepaper.db" in zipfile.ZipFile(z)
                                   .namelist() for z in zips)
        left = [p.name for p in folder.glob(".zonepaper-backup-*")]
        t.tried += 1
        ok = again.returncode == 0 and whole and not left and verified(c.root)
        _judge(t, f"kill {k} at {moment:.1f} s: re-run exit {again.returncode}, whole {whole}, left {left}", ok,
               again.returncode)
        shutil.rmtree(c.root)
    return t


def kill_forms_print(work: Path, kills: int, rng: random.Random, count: int = 60) -> Tally:
    """A killed `forms print`: the next one closes the killed batch (its numbers never come back) and prints
    a whole new one."""
    t = Tally("forms print killed")
    base = init_cycle(work / "print-base", "belmont")
    seconds = timed([ZONEPAPER, "forms", "print", "--count", str(count), "--cycle",
                     str(copy_cycle(base.root, work / "print-clean").root)])
    for k in range(kills):
        def fresh(k: int = k) -> tuple[Cycle, list[str]]:
            c = copy_cycle(base.root, work / f"print-{k}")
            return c, [ZONEPAPER, "forms", "print", "--count", str(count), "--cycle", str(c.root)]

        c, moment, killed, _, _ = kill_midway(fresh, moment_in(rng, seconds))
        t.killed += killed
        again = zp("forms", "print", "--count", str(count), "--cycle", str(c.root))
        conn = sqlite3.connect(c.db_path)
        states = conn.execute("SELECT status, output FROM batches ORDER BY id").fetchall()
        conn.close()
        last = Path(states[-1][1]) if states and states[-1][1] else None
        pages = _pdf_pages(last) if last and last.is_file() else 0
        parts = list(c.root.rglob("*.part"))
        t.tried += 1
        ok = (again.returncode == 0 and states[-1][0] == "printed" and all(s != "printing" for s, _ in states)
              and pages == 2 * count and not parts and verified(c.root))
        _judge(t, f"kill {k} at {moment:.1f} s: re-run exit {again.returncode}, batches {[s for s, _ in states]}, "
                  f"{pages} pages, leftovers {parts}", ok, again.returncode)
        shutil.rmtree(c.root)
    return t


def _pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    m = re.search(r"^Pages:\s+(\d+)", info, re.M)
    return int(m.group(1)) if m else 0


def import_world(work: Path, rows: int = 300) -> tuple[Path, Path, dict, float]:
    """A cycle with `rows` issued forms, a CSV of them typed at the desk, one clean import's tables and
    how long it took."""
    base = init_cycle(work / "import-base", "belmont")
    serials = print_forms(base, rows, "desk").serials
    zone = base.zone()
    csv_path = write_csv(work / "desk.csv", zone, [desk_row(zone, s) for s in serials])
    clean = copy_cycle(base.root, work / "import-clean")
    seconds = timed([ZONEPAPER, "applications", "import", str(csv_path), "--cycle", str(clean.root)])
    return base.root, csv_path, table_dump(clean.db_path), seconds


def kill_import(base: Path, csv_path: Path, clean: dict, seconds: float, work: Path, kills: int,
                rng: random.Random) -> Tally:
    """A killed import is all or nothing: run again, the tables are those of one clean import."""
    t = Tally("applications import killed")
    for k in range(kills):
        def fresh(k: int = k) -> tuple[Cycle, list[str]]:
            c = copy_cycle(base, work / f"import-{k}")
            return c, [ZONEPAPER, "applications", "import", str(csv_path), "--cycle", str(c.root)]

        c, moment, killed, _, _ = kill_midway(fresh, moment_in(rng, seconds))
        t.killed += killed
        before = table_dump(c.db_path)
        again = zp("applications", "import", str(csv_path), "--cycle", str(c.root))
        done_before = before["applications"] == clean["applications"]
        ok = table_dump(c.db_path) == clean and verified(c.root) and (
            again.returncode == 0 or (done_before and again.returncode == 2))  # already in: its serials are used
        partial = bool(before["applications"]) and not done_before
        t.tried += 1
        _judge(t, f"kill {k} at {moment:.1f} s: partial import {partial}, re-run exit {again.returncode}",
               ok and not partial, again.returncode)
        shutil.rmtree(c.root)
    return t


def offer_world(work: Path) -> Path:
    """A drawn cycle where three families with a seat withdrew: `waitlist offer` has seats to offer."""
    c = drawn_cycle(work / "offer-base", "da")
    conn = sqlite3.connect(c.db_path)
    holders = [r[0] for r in conn.execute("SELECT serial FROM draw_results WHERE assigned IS NOT NULL "
                                          "ORDER BY serial LIMIT 3")]
    conn.close()
    for serial in holders:
        assert zp("waitlist", "withdraw", serial, "--reason", "moved", "--cycle", str(c.root)).returncode == 0
    return c.root


def _offers(root: Path) -> list[tuple]:
    conn = sqlite3.connect(root / "zonepaper.db")
    rows = conn.execute("SELECT serial, program, position, status, letter IS NOT NULL FROM offers "
                        "ORDER BY id").fetchall()
    conn.close()
    return rows


def kill_offer(base: Path, work: Path, kills: int, rng: random.Random) -> Tally:
    """A killed `waitlist offer`: the next run writes every letter the killed one did not, and the offers are
    those of one clean run."""
    t = Tally("waitlist offer killed")
    clean = copy_cycle(base, work / "offer-clean")
    seconds = timed([ZONEPAPER, "waitlist", "offer", "--cycle", str(clean.root)])
    expected = _offers(clean.root)
    for k in range(kills):
        def fresh(k: int = k) -> tuple[Cycle, list[str]]:
            c = copy_cycle(base, work / f"offer-{k}")
            return c, [ZONEPAPER, "waitlist", "offer", "--cycle", str(c.root)]

        c, moment, killed, _, _ = kill_midway(fresh, moment_in(rng, seconds))
        t.killed += killed
        again = zp("waitlist", "offer", "--cycle", str(c.root))
        letters = [_pdf_pages(p) for p in (c.root / "output").glob("offers-*.pdf")]
        got = _offers(c.root)
        t.tried += 1
        ok = again.returncode == 0 and got == expected and sum(letters) == len(expected) and verified(c.root)
        _judge(t, f"kill {k} at {moment:.1f} s: re-run exit {again.returncode}, offers {len(got)}/{len(expected)}, "
                  f"letter pages {sum(letters)}", ok, again.returncode)
        shutil.rmtree(c.root)
    return t


# --- fuzzing: zone.toml and the CSV import -------------------------------------------------------
HOSTILE = ['"²"', '"９０００４"', "1e30", "-1", "100001", "0", '""', '"' + "x" * 5000 + '"', "[]", "{}",
           '"\\u0000"', "true", '"ABCDE"', '"9000"', "3.5", '"\u202e90004"', "[1, 2]", '{ "²" = 100 }',
           '{ 9 = 1e30 }', '{ "9" = -5 }', '"' + "é" * 300 + '"', '"https://example.org"', '"{missing}"']


def mutate_zone(text: str, rng: random.Random) -> str:
    """One to three hostile changes to a zone.toml: a value replaced, a line removed or doubled, a BOM,
    a character of another script in a code."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        k = rng.randrange(len(lines))
        how = rng.randrange(6)
        if how <= 2 and "=" in lines[k] and not lines[k].lstrip().startswith("#"):
            key = lines[k].split("=", 1)[0]
            lines[k] = f"{key}= {rng.choice(HOSTILE)}"
        elif how == 3:
            del lines[k]
        elif how == 4:
            lines.insert(k, lines[k])
        else:
            lines[k] = re.sub(r"\d", lambda m: chr(0xFF10 + int(m.group())) if rng.random() < 0.5 else m.group(),
                              lines[k])
    out = "\n".join(lines)
    return ("\ufeff" + out) if rng.random() < 0.1 else out


def zone_problems(cycle: Cycle) -> list[str]:
    """What an accepted zone must never hold: a number or a text outside its bounds, a code that is not ASCII."""
    zone = cycle.zone()
    out = []
    texts = [zone.cycle, zone.city, *(t for c in zone.campuses for t in (c.id, c.name, c.address))]
    labels = [zone.name, *(p.description for p in zone.programs), *(q.label for q in zone.priorities)]
    if zone.letters:
        labels += [zone.letters.reply_by, zone.letters.next_steps, zone.letters.contact]
        labels += [lab for lab in (zone.letters.no_reply, zone.letters.waitlist_until, zone.letters.apply_again) if lab]
        texts += [zone.letters.office_address, *zone.letters.other_languages]
    for p in zone.programs:
        texts += [p.id, p.name]
        for grade, seats in p.seats.items():
            if type(seats) is not int or not 0 <= seats <= MAX_SEATS or type(grade) is not int:
                out.append(f"program {p.id}: seats {grade!r} = {seats!r}")
    out += [f"a text of {len(t)} characters" for t in texts if len(t) > MAX_TEXT]
    out += [f"a label of {len(lab[lang])} characters" for lab in labels for lang in ("es", "en")
            if len(lab[lang]) > MAX_LABEL]
    out += [f"ZIP {z!r}" for z in zone.zip_codes if not (len(z) == 5 and z.isascii() and z.isdigit())]
    out += [f"area code {a!r}" for a in zone.area_codes if not (len(a) == 3 and a.isascii() and a.isdigit())]
    out += [f"grade {g!r}" for g in zone.grades if type(g) is not int or not 0 <= g <= 12]
    return out


def judge_fuzz(t: Tally, code: int, out: str, problems: Callable[[], list[str]]) -> None:
    """One fuzzed input: the exit code must be a documented one and never 15; when accepted, nothing
    stored may break its rules."""
    t.tried += 1
    t.codes[code] += 1
    if code == 15 or code not in DOCUMENTED_EXITS:
        t.exit15 += code == 15
        t.fail(f"exit {code}: {out[-300:]}")
        return
    found = problems() if code == 0 else []
    if found:
        t.silent += 1
        t.fail(f"accepted {found[:3]}")
        return
    t.held += 1


def fuzz_zone_once(base: Path, work: Path, rng: random.Random, t: Tally) -> None:
    c = copy_cycle(base, work / "zone-fuzz")
    text = mutate_zone((base / "zone.toml").read_text(encoding="utf-8"), rng)
    (c.root / "zone.toml").write_text(text, encoding="utf-8")
    judge_fuzz(t, *cli("zone", "check", "--cycle", str(c.root)), lambda: zone_problems(c))


HOSTILE_CELLS = ["2009-02-30", "03/14/1995", "2031-01-01", "yesterday", "99", "ABCDE", "fr", "maybe", "not a date",
                 "\u0000", "x" * 200_000, "１９９４-１１-０２", "90O26", "9002６", "-1", "1e3", " 9", "9 ",
                 "=1+1",
                 "\ufeff", '"', "", "0000000", "1795-03-23", "7935-01-01", "2135550147x", "present;missing",
                 "civitas;lahsa", "CIVITAS", "\u202eabc"]


def mutate_csv(text: str, rng: random.Random) -> str:
    """One to three hostile changes to a desk CSV: a cell replaced, the header changed, a row cut or lengthened,
    another delimiter."""
    import csv as csvmod

    rows = list(csvmod.reader(io.StringIO(text, newline="")))
    for _ in range(rng.randint(1, 3)):
        how = rng.randrange(8)
        r = rng.randrange(1, len(rows))
        if how <= 4 and rows[r]:
            rows[r][rng.randrange(len(rows[r]))] = rng.choice(HOSTILE_CELLS)
        elif how == 5:
            rows[0][rng.randrange(len(rows[0]))] = rng.choice([" serial", "Serial", "zip ", "", "choice_9", "zip"])
        elif how == 6:
            rows[r] = rows[r][: rng.randrange(len(rows[r]))] if rows[r] and rng.random() < 0.5 else rows[r] + ["x"]
        else:
            rows.insert(r, list(rows[r]))  # the same form twice
    out = io.StringIO(newline="")
    csvmod.writer(out, delimiter=rng.choice([",", ",", ",", ";", "\t"]), lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def csv_world(work: Path, rows: int = 3) -> tuple[Path, str]:
    base = init_cycle(work / "csv-base", "belmont")
    serials = print_forms(base, rows, "desk").serials
    zone = base.zone()
    text = write_csv(work / "csv-base.csv", zone, [desk_row(zone, s) for s in serials]).read_text(encoding="utf-8")
    return base.root, text


def stored_problems(cycle: Cycle) -> list[str]:
    """Every accepted or confirmed value stored that breaks its field's rules (the rules scanning and review use)."""
    from zonepaper.layout import build_layout

    zone = cycle.zone()
    layout = build_layout(zone)
    options = {name: tuple(b.value for b in layout.field(name).bubbles) for name in SINGLE_FIELDS}
    names = set(csv_columns(zone))
    out = []
    conn = sqlite3.connect(cycle.db_path)
    for serial, name, value, status in conn.execute("SELECT serial, name, value, status FROM fields"):
        if name in names and status != "review" and value:
            problem = stored_value_problem(name, value, zone, options.get(name, ()))
            if problem:
                out.append(f"{serial} {name}={value[:30]!r}: {problem}")
    conn.close()
    return out


def fuzz_csv_once(base: Path, text: str, work: Path, rng: random.Random, t: Tally) -> None:
    c = copy_cycle(base, work / "csv-fuzz")
    path = work / "fuzz.csv"
    path.write_text(mutate_csv(text, rng), encoding="utf-8", newline="")
    judge_fuzz(t, *cli("applications", "import", str(path), "--cycle", str(c.root)), lambda: stored_problems(c))


# --- tampering ----------------------------------------------------------------------------------
GUARDS = ("events_append_only_update", "events_append_only_delete")

# What someone with a database tool does behind zonepaper's back, on a drawn cycle with an offer made.
TAMPERINGS: dict[str, list[str]] = {
    "last event deleted": ["DELETE FROM events WHERE id = (SELECT MAX(id) FROM events)"],
    "secret changed": ["UPDATE cycle_info SET value = '" + "ab" * 32 + "' WHERE key = 'secret'"],
    "draw result edited": ["UPDATE draw_results SET assigned = (SELECT assigned FROM draw_results "
                           "WHERE assigned IS NOT NULL AND serial != draw_results.serial LIMIT 1), rank = 1 "
                           "WHERE serial = (SELECT MIN(serial) FROM draw_results WHERE assigned IS NULL OR rank > 1)"],
    "freeze inputs edited, digest kept": ["UPDATE freezes SET inputs = replace(inputs, '\"seats\": 2', "
                                          "'\"seats\": 3')"],
    "extra serial": ["INSERT INTO serials (serial, number, batch_id, issued_at) "
                     "VALUES ('9999990', 999999, 1, '2026-01-01T00:00:00+00:00')"],
    "offer deleted": ["DELETE FROM offers WHERE id = (SELECT MAX(id) FROM offers)"],
    "withdrawal deleted": ["DELETE FROM withdrawals WHERE rowid = (SELECT MAX(rowid) FROM withdrawals)"],
    "application edited": ["UPDATE fields SET value = '90099' WHERE name = 'zip' "
                           "AND serial = (SELECT MIN(serial) FROM applications)"],
    "event payload edited": ["UPDATE events SET payload = replace(payload, '\"da\"', '\"fcfs\"') "
                             "WHERE kind = 'draw.frozen'"],
    "batch marked printed": ["UPDATE batches SET status = 'failed' WHERE id = 1"],
    "printed grid edited": ["UPDATE printed_grids SET grid = replace(grid, 'civitas', 'lahsa')"],
    "append-only guard dropped": [],  # the guard itself is the edit
}


@contextlib.contextmanager
def unguarded(root: Path, keep_guards: bool = True):
    """A plain SQLite connection to a cycle's database with the event log's append-only guard dropped, as
    someone editing it by hand would have it (the guard put back at the end unless keep_guards is False);
    committed at the end."""
    conn = sqlite3.connect(root / "zonepaper.db")
    guards = [sql for (sql,) in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                                              "AND name LIKE 'events_append_only_%'")]
    for name in GUARDS:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    yield conn
    if keep_guards:
        for sql in guards:
            conn.execute(sql)
    conn.commit()
    conn.close()


def behind(root: Path, statements: list[str], keep_guards: bool = True, params: tuple = ()) -> None:
    """Run SQL on a cycle's database behind zonepaper's back."""
    with unguarded(root, keep_guards) as conn:
        for sql in statements:
            conn.execute(sql, params if "?" in sql else ())


def rechain(conn: sqlite3.Connection) -> None:
    """What a careful forger does last: recompute every hash of the log so that the chain is whole again."""
    prev = "0" * 64
    for id_, at, actor, kind, subject, body in conn.execute(
            "SELECT id, at, actor, kind, subject, payload FROM events ORDER BY id").fetchall():
        digest = event_hash(prev, at, actor, kind, subject, body)
        conn.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?", (prev, digest, id_))
        prev = digest


def tamper_world(work: Path) -> Path:
    """A drawn cycle where a family withdrew and its seat was offered."""
    root = offer_world(work)
    assert zp("waitlist", "offer", "--cycle", str(root)).returncode == 0
    return root


def tamper(base: Path, work: Path) -> Tally:
    """Each tampering on a fresh copy: `verify` must find it (exit 5) and `print letters` must refuse."""
    t = Tally("tamperings detected (verify, and print letters refused)")
    for name, statements in TAMPERINGS.items():
        c = copy_cycle(base, work / "tamper")
        behind(c.root, statements, keep_guards=name != "append-only guard dropped")
        found = zp("verify", "--cycle", str(c.root))
        printed = zp("print", "letters", "--cycle", str(c.root))
        t.tried += 1
        _judge(t, f"{name}: verify exit {found.returncode}, print letters exit {printed.returncode}",
               found.returncode == 5 and printed.returncode == 5, max(found.returncode, printed.returncode))
    return t


# --- the machine: a full disk, a read-only folder, a missing program ------------------------------
def _folder_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def disk_full(world: ScanWorld, work: Path) -> Tally:
    """Ingest on a small tmpfs that fills up: exit 8 with "the disk is full", nothing half-written; after
    space is freed the same command completes as one clean run. Needs the right to mount (root, as in CI)."""
    t = Tally("disk full during ingest")
    disk = work / "disk"
    disk.mkdir(exist_ok=True)
    limit = _folder_size(world.pristine) + 1_500_000  # room for part of the originals, not for all of them
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={limit}", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        t.skipped = f"cannot mount a small tmpfs here ({mounted.stderr.strip() or 'not allowed'})"
        return t
    try:
        c = copy_cycle(world.pristine, disk / "c")
        full = subprocess.run(_ingest_cmd(world, c.root), capture_output=True, text=True, timeout=600, env=ENV)
        subprocess.run(["mount", "-o", f"remount,size={limit * 20}", str(disk)], check=True)
        again = subprocess.run(_ingest_cmd(world, c.root), capture_output=True, text=True, timeout=600, env=ENV)
        t.tried += 1
        ok = (full.returncode == 8 and "The disk is full" in full.stderr and "run the same command again" in
              full.stderr and "Traceback" not in full.stderr and again.returncode == 0
              and table_dump(c.db_path) == world.clean and not list(c.root.rglob("*.part")))
        _judge(t, f"full: exit {full.returncode} {full.stderr[-200:]!r}; then exit {again.returncode}", ok,
               max(full.returncode, again.returncode))
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
    return t


READ_COMMANDS = (["verify"], ["scan", "status"], ["users", "list"], ["export", "applications", "--out", "{out}"],
                 ["backup", "--out", "{work}"])
WRITE_COMMANDS = (["forms", "print", "--count", "1"], ["backup"], ["scan", "ingest", "{scans}"])


def read_only(world: ScanWorld, work: Path) -> Tally:
    """A cycle on a read-only mount (a write-protected stick): the commands that only read work; the others
    say the folder cannot be written, and nothing changes. Needs the right to mount (root, as in CI)."""
    t = Tally("read-only cycle folder")
    c = copy_cycle(world.pristine, work / "ro-cycle")
    view = work / "stick"
    view.mkdir(exist_ok=True)
    bound = subprocess.run(["mount", "--bind", str(c.root), str(view)], capture_output=True, text=True)
    if bound.returncode != 0:
        t.skipped = f"cannot bind-mount here ({bound.stderr.strip() or 'not allowed'})"
        return t
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True, capture_output=True)
        before = c.db_path.read_bytes()
        names = {"out": str(work / "out.csv"), "work": str(work), "scans": str(world.scans)}
        for args, expected in [(a, 0) for a in READ_COMMANDS] + [(a, 6) for a in WRITE_COMMANDS]:
            done = zp(*[a.format(**names) for a in args], "--cycle", str(view))
            t.tried += 1
            ok = done.returncode == expected and (expected == 0 or "cannot be written: it is read-only" in done.stderr)
            _judge(t, f"{' '.join(args)}: exit {done.returncode} (expected {expected}) {done.stderr[-200:]!r}", ok,
                   done.returncode)
        if c.db_path.read_bytes() != before:
            t.fail("the database changed")
    finally:
        subprocess.run(["umount", "-l", str(view)], capture_output=True)
    return t


def missing_program(world: ScanWorld, work: Path) -> Tally:
    """Ingest where poppler's programs are not on the PATH: exit 7 before any file is marked read; with them
    back, the same command completes as one clean run."""
    t = Tally("poppler missing during ingest")
    c = copy_cycle(world.pristine, work / "no-poppler")
    bin_dir = work / "bin-without-poppler"
    bin_dir.mkdir(exist_ok=True)
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        for exe in Path(folder).glob("*") if Path(folder).is_dir() else ():
            if exe.name.startswith("pdf") or (bin_dir / exe.name).exists():
                continue
            with contextlib.suppress(OSError):
                (bin_dir / exe.name).symlink_to(exe)
    env = {**ENV, "PATH": str(bin_dir)}
    gone = subprocess.run(_ingest_cmd(world, c.root), capture_output=True, text=True, timeout=600, env=env)
    files = sqlite3.connect(c.db_path).execute("SELECT count(*) FROM files").fetchone()[0]
    again = subprocess.run(_ingest_cmd(world, c.root), capture_output=True, text=True, timeout=600, env=ENV)
    t.tried += 1
    ok = (gone.returncode == 7 and "poppler-utils" in gone.stderr and files == 0 and again.returncode == 0
          and table_dump(c.db_path) == world.clean)
    _judge(t, f"without poppler: exit {gone.returncode}, {files} file(s) stored; then exit {again.returncode}",
           ok, max(gone.returncode, again.returncode))
    return t


# --- hostile files -------------------------------------------------------------------------------
def hostile_files(world: ScanWorld, folder: Path) -> list[Path]:
    """Files that are not what a scan should be, beside one real scanned page of a form."""
    from PIL import Image
    from reportlab.pdfgen.canvas import Canvas

    folder.mkdir(parents=True, exist_ok=True)
    from zonepaper.scan.raster import read_pages

    first = next(p for p in sorted(world.scans.iterdir()) if p.name.startswith("scan-"))
    form = Image.fromarray(next(iter(read_pages(first))).image).convert("L")  # one real scanned page of a form
    out = []
    huge = folder / "huge.png"  # 20000 x 20000: a decompression bomb for Pillow
    Image.new("1", (20000, 20000), 1).save(huge)
    big_pdf = folder / "big-page.pdf"  # a 200 x 200 inch page
    c = Canvas(str(big_pdf), pagesize=(200 * 72, 200 * 72))
    c.drawString(100, 100, "x")
    c.save()
    name = os.fsdecode(b"scan-\xff\xfe.png")  # a name that is not UTF-8
    form.save(folder / name)
    out += [huge, big_pdf, folder / name]
    deep = folder / "sixteen-bit.png"
    import numpy as np

    Image.fromarray((np.asarray(form).astype(np.uint16) * 257)).save(deep)
    out.append(deep)
    for fmt in ("bmp", "webp", "gif"):
        path = folder / f"form.{fmt}"
        form.save(path)
        out.append(path)
    junk = {"photo.heic": os.urandom(4000), "empty.pdf": b"", "cut.pdf": big_pdf.read_bytes()[:300],
            "letter.pdf": b"Dear office, here are the forms.\n", "named-wrong.png": _jpeg_bytes(form),
            "notes.txt": b"not a scan"}
    for n, data in junk.items():
        (folder / n).write_bytes(data)
        out.append(folder / n)
    return out


def _jpeg_bytes(image) -> bytes:  # noqa: ANN001
    buf = io.BytesIO()
    image.save(buf, "JPEG")
    return buf.getvalue()


def hostile_ingest(world: ScanWorld, work: Path) -> Tally:
    """One batch of hostile files: the batch goes on, every file is read, quarantined or named as not read,
    never exit 15; a second run reads nothing again."""
    t = Tally("hostile files in one batch")
    c = copy_cycle(world.pristine, work / "hostile")
    files = hostile_files(world, work / "hostile-files")
    first = zp("scan", "ingest", str(work / "hostile-files"), "--cycle", str(c.root))
    again = zp("scan", "ingest", str(work / "hostile-files"), "--cycle", str(c.root))
    conn = sqlite3.connect(c.db_path)
    stored = {n for (n,) in conn.execute("SELECT original_name FROM files")}
    conn.close()
    said = first.stdout + first.stderr
    for f in files:
        shown = os.fsencode(f.name).decode("utf-8", "backslashreplace")  # as zonepaper stores and shows it
        t.tried += 1
        _judge(t, f"{shown}: not stored and not named in the summary", shown in stored or shown in said,
               first.returncode)
    if first.returncode not in (0,) or again.returncode != 0:
        t.fail(f"ingest exits {first.returncode}, then {again.returncode}: {first.stderr[-300:]}")
    t.exit15 += (first.returncode == 15) + (again.returncode == 15)
    return t


def report(tallies: list[Tally], write: Callable[[str], None] = print) -> int:
    """Print the counts; returns how many attacks zonepaper did not hold."""
    width = max(len(t.name) for t in tallies)
    write(f"{'attack'.ljust(width)}  tried  killed  held  exit-15  silent")
    for t in tallies:
        write(f"{t.name.ljust(width)}  {t.tried:5d}  {t.killed or '':>6}  {t.held:4d}  {t.exit15:7d}  {t.silent:6d}"
              + (f"  skipped: {t.skipped}" if t.skipped else ""))
    for t in tallies:
        write(f"  {t.name}: " + ", ".join(f"exit {c} x{n}" for c, n in sorted(t.codes.items(), key=str)))
    failed = [f"{t.name}: {f}" for t in tallies for f in t.failures]
    for f in failed:
        write(f"  NOT HELD  {f}")
    write(f"total: {sum(t.tried for t in tallies)} tried ({sum(t.killed for t in tallies)} runs killed midway), "
          f"{sum(t.held for t in tallies)} held, "
          f"{sum(t.exit15 for t in tallies)} exit-15 runs, {sum(t.silent for t in tallies)} silent acceptances")
    return len(failed)


__all__ = ["DICE", "Tally", "TAMPERINGS", "behind", "report"]
