"""The README agrees with --help, and the demo does what it says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import zxingcpp
from conftest import cli_subprocess
from pdf2image import convert_from_path

from zonepaper.serial import parse_payload

ROOT = Path(__file__).parent.parent
DOCS = ("README.md", "docs/guide.md", "docs/guia.md", "docs/reference.md", "docs/ARCHITECTURE.md",
        "docs/DEVELOPING.md")


def cli_commands() -> dict[tuple[str, ...], set[str]]:
    """Every command of the command line (as --help lists them) with the options it takes."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from docs_commands import _walk
    finally:
        sys.path.pop(0)
    import typer.main

    from zonepaper.cli import app

    return {tuple(path): {o for p in command.params for o in [*p.opts, *p.secondary_opts] if o.startswith("--")}
            | {"--help"} for path, command in _walk(typer.main.get_command(app), [])}


def doc_commands(name: str) -> list[list[str]]:
    """The `zonepaper ...` lines of a document's shell blocks, comments left out."""
    text = (ROOT / name).read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("zonepaper "):
                commands.append(line.split()[1:])
    return commands


@pytest.mark.parametrize("doc", DOCS)
def test_every_command_in_the_docs_exists_with_its_options(doc: str) -> None:
    known = cli_commands()
    for words in doc_commands(doc):
        path = next((tuple(words[:n]) for n in (2, 1) if tuple(words[:n]) in known), None)
        assert path is not None, f"{doc} uses 'zonepaper {' '.join(words)}', which is not a command"
        for option in (w.strip("[]").split("=")[0] for w in words if w.strip("[").startswith("--")):
            assert option in known[path], f"{doc} uses {' '.join(words)} but {option} is not in its --help"


def test_the_english_and_spanish_guides_name_the_same_commands() -> None:
    english, spanish = doc_commands("docs/guide.md"), doc_commands("docs/guia.md")
    assert len(english) >= 25
    assert spanish == english
    for name in ("docs/guide.md", "docs/guia.md"):  # every command a user runs is in both guides
        text = (ROOT / name).read_text(encoding="utf-8")
        missing = [" ".join(p) for p in cli_commands() if f"zonepaper {' '.join(p)}" not in text]
        assert missing == [], f"{name} never mentions {missing}"
    headings = [len(re.findall(r"^#+ ", (ROOT / n).read_text(encoding="utf-8"), re.M))
                for n in ("docs/guide.md", "docs/guia.md")]
    assert headings[0] == headings[1]


def test_the_reference_is_generated_from_the_command_line_and_up_to_date() -> None:
    """docs/reference.md's command list and field table are what cog writes from the code today."""
    result = subprocess.run([sys.executable, "-m", "cogapp", "--check", "docs/reference.md"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr + "\nFix: run `make docs`."
    text = (ROOT / "docs/reference.md").read_text(encoding="utf-8")
    for path in cli_commands():
        assert f"### `zonepaper {' '.join(path)}`" in text, path


def test_the_docs_point_only_inside_the_project_and_the_readme_is_current() -> None:
    for name in DOCS:
        text = (ROOT / name).read_text(encoding="utf-8")
        assert "../shared" not in text and "DESIGN.md" not in text, name
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
            if not target.startswith("http"):
                assert (ROOT / name).parent.joinpath(target).exists(), f"{name} links to missing {target}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "Status" not in readme and "next steps" not in readme
    assert len(readme) < 12_000  # the quick start and the workflow; the reference lives in docs/


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
    for name in ("bins-draw-1.pdf", "letters-draw-1.pdf", "audit-report-draw-1.pdf", "assignments-draw-1.xlsx",
                 "results-draw-1.pdf", "confirmations-2009-03-23.pdf"):
        assert (tmp_path / "demo" / "output" / name).is_file(), name
    assert db.execute("SELECT count(*) FROM pages WHERE kind = 'reply'").fetchone() == (40,)
    declined = db.execute("SELECT count(*) FROM fields WHERE name = 'reply' AND value = 'decline'").fetchone()[0]
    offers = db.execute("SELECT count(*) FROM offers").fetchone()[0]
    assert offers <= declined and ("Waitlist: declined seats are offered" in result.stdout)
    bundle = next((tmp_path / "demo" / "output").glob("draw-*-bundle.zip"))
    assert cli_subprocess("draw", "replay", str(bundle)).returncode == 0
    assert cli_subprocess("verify", "--cycle", str(tmp_path / "demo")).returncode == 0
