"""The README agrees with --help, and the demo does what it says."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import zxingcpp
from conftest import cli_subprocess
from pdf2image import convert_from_path

from zonepaper.serial import parse_payload

ROOT = Path(__file__).parent.parent
BUILT = {("init",), ("backup",), ("demo",), ("zone", "check"), ("forms", "print"), ("forms", "layout"),
         ("simulate",), ("scan", "ingest"), ("scan", "status"), ("scan", "quarantine"),
         ("applications", "import"), ("export", "applications"), ("users", "add"), ("users", "list"),
         ("review", "serve"), ("verify",), ("draw", "freeze"), ("draw", "unfreeze"), ("draw", "run"),
         ("draw", "replay"), ("draw", "rfc3797"), ("print", "bins"),
         ("print", "audit-report"), ("export", "assignments"), ("print", "letters"),
         ("waitlist", "status"), ("waitlist", "offer"), ("waitlist", "answer"),
         ("waitlist", "withdraw")}


def readme_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("#")[0].strip()
            if line.startswith("zonepaper "):
                commands.append(line.split()[1:])
    return commands


def test_every_command_in_the_readme_exists_with_its_options() -> None:
    commands = readme_commands()
    assert len(commands) >= 5
    for words in commands:
        path = tuple(w for w in words[:2] if re.fullmatch(r"[a-z][a-z0-9-]*", w))
        path = next(p for p in (path, path[:1]) if p in BUILT)
        help_text = cli_subprocess(*path, "--help").stdout
        for option in (w.strip("[]") for w in words if w.strip("[").startswith("--")):
            assert option in help_text, f"README uses {' '.join(words)} but {option} is not in --help"


def test_readme_quick_start_is_the_two_make_targets() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start")[1].split("```sh")[1].split("```")[0]
    assert [line.split()[:2] for line in quick.strip().splitlines()] == [["make", "demo"], ["make", "test"]]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo: setup", makefile, re.M) and re.search(r"^test: setup", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_demo_runs_everything_built_and_leaves_a_cycle(tmp_path: Path) -> None:
    result = cli_subprocess("demo", str(tmp_path / "demo"), timeout=900)
    assert result.returncode == 0, result.stderr
    pdf = next((tmp_path / "demo" / "output").glob("demo-forms-*.pdf"))
    assert str(pdf) in result.stdout
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True,
                                                            text=True).stdout).group(1))
    assert pages == 600
    first = convert_from_path(str(pdf), dpi=150, grayscale=True, first_page=1, last_page=1)[0]
    payload = parse_payload(zxingcpp.read_barcodes(first)[0].text)
    import sqlite3

    db = sqlite3.connect(tmp_path / "demo" / "zonepaper.db")
    # 300 printed, and one new number for the other cycle's form the coordinator accepted
    assert db.execute("SELECT count(*) FROM serials").fetchone()[0] == 301
    assert db.execute("SELECT count(*) FROM serials WHERE serial = ?", (payload.serial,)).fetchone()[0] == 1
    assert list((tmp_path / "demo" / "backups").glob("*.zip"))
    assert db.execute("SELECT count(*) FROM applications").fetchone()[0] == 261
    days = {r[0] for r in db.execute("SELECT DISTINCT received_batch FROM applications")}
    assert days == {"2009-03-09", "2009-03-13", "2009-03-20"}
    reasons = {r[0] for r in db.execute("SELECT reason FROM pages WHERE kind = 'quarantined'")}
    assert reasons == {"not_a_form", "other_cycle", "duplicate"}
    assert db.execute("SELECT count(*) FROM pages WHERE kind = 'quarantined' AND resolution IS NULL").fetchone() == (0,)
    # the review step left nothing; only answers on reply slips that came back later may wait for a person
    assert db.execute("SELECT count(*) FROM fields WHERE status = 'review' AND name NOT IN ('reply', "
                      "'reply_signature')").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM draw_results").fetchone() == (261,)
    assert "Applications: 260" in result.stdout and "zonepaper review serve" in result.stdout
    assert "Draw recomputed from the bundle: MATCH" in result.stdout
    for name in ("bins-draw-1.pdf", "letters-draw-1.pdf", "audit-report-draw-1.pdf", "assignments-draw-1.xlsx"):
        assert (tmp_path / "demo" / "output" / name).is_file(), name
    assert db.execute("SELECT count(*) FROM pages WHERE kind = 'reply'").fetchone() == (40,)
    declined = db.execute("SELECT count(*) FROM fields WHERE name = 'reply' AND value = 'decline'").fetchone()[0]
    offers = db.execute("SELECT count(*) FROM offers").fetchone()[0]
    assert offers <= declined and ("Waitlist: declined seats are offered" in result.stdout)
    bundle = next((tmp_path / "demo" / "output").glob("draw-*-bundle.zip"))
    assert cli_subprocess("draw", "replay", str(bundle)).returncode == 0
    assert cli_subprocess("verify", "--cycle", str(tmp_path / "demo")).returncode == 0
