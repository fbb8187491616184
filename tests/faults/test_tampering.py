"""Edits made to the database and to the audit bundle behind zonepaper's back: each one is found by
`zonepaper verify`, and nothing is drawn, printed or offered on the edited data."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import attacks
import pytest
from attacks import TAMPERINGS, rechain, unguarded
from conftest import cli
from test_paper import DICE, drawn_cycle

from zonepaper.draw.ceremony import freeze, run
from zonepaper.errors import ConflictError
from zonepaper.store.state import application_state


def verify_output(c, capsys, *extra: str) -> tuple[int, str]:  # noqa: ANN001
    capsys.readouterr()
    code = cli("verify", *extra, "--cycle", str(c.root))
    return code, capsys.readouterr().out


def printed_head(out: str) -> str:
    """The chain head as a command printed it: the last value of 8 groups of 8 hex digits."""
    return re.findall(r"(?:[0-9a-f]{8} ){7}[0-9a-f]{8}", out)[-1]


@pytest.fixture
def drawn(tmp_path: Path):
    return drawn_cycle(tmp_path, "da")


def test_an_untouched_drawn_cycle_verifies_and_prints_its_chain_head(drawn, capsys) -> None:
    code, out = verify_output(drawn, capsys)
    assert code == 0 and "All in order" in out
    head = printed_head(out)
    code, out = verify_output(drawn, capsys, "--head", head)
    assert code == 0 and "0 event(s) came after it" in out
    receipt = (drawn.root / "output" / "freeze-1-receipt.txt").read_text(encoding="utf-8")
    assert "Event chain head at the freeze" in receipt and "Cabeza de la cadena" in receipt
    code, out = verify_output(drawn, capsys, "--head", printed_head(receipt))
    assert code == 0 and "1 event(s) came after it" in out  # the draw came after the freeze


EXPECTED = {  # what verify says for each tampering of attacks.TAMPERINGS
    "last event deleted": "The last 1 event(s) of the log were deleted",
    "secret changed": "The cycle's secret and id were changed",
    "draw result edited": "The draws and their results were changed",
    "freeze inputs edited, digest kept": "The draw's freezes were changed",
    "extra serial": "The issued form numbers (printed batches) were changed",
    "offer deleted": "The waitlist offers and withdrawals were changed",
    "withdrawal deleted": "The waitlist offers and withdrawals were changed",
    "application edited": "was changed behind zonepaper's back (it does not match the log)",
    "event payload edited": "was edited, or the chain is broken there",
    "batch marked printed": "The issued form numbers (printed batches) were changed",
    "printed grid edited": "The issued form numbers (printed batches) were changed",
    "append-only guard dropped": "The guard that keeps the event log from being edited",
}


@pytest.fixture(scope="module")
def offered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drawn cycle where a family withdrew and its seat was offered."""
    return attacks.tamper_world(tmp_path_factory.mktemp("tamper"))


@pytest.mark.parametrize("edit", sorted(TAMPERINGS))
def test_verify_finds_every_edit_made_behind_the_tools_back(offered, tmp_path, capsys, edit: str) -> None:
    c = attacks.copy_cycle(offered, tmp_path / "c")
    assert verify_output(c, capsys)[0] == 0
    attacks.behind(c.root, TAMPERINGS[edit], keep_guards=edit != "append-only guard dropped")
    code, out = verify_output(c, capsys)
    assert code == 5, out
    assert EXPECTED[edit] in out and "All in order" not in out
    # nothing is drawn, printed or offered on that data
    for command in (["print", "bins"], ["print", "letters"], ["print", "audit-report"], ["waitlist", "offer"],
                    ["export", "assignments"]):
        capsys.readouterr()
        assert cli(*command, "--cycle", str(c.root)) == 5, command
        assert "changed behind zonepaper's back" in capsys.readouterr().err, command
    with pytest.raises(ConflictError) as err:
        run(c, DICE, supersede=True, reason="again")
    assert err.value.key == "store.tampered"


def test_the_edited_freeze_is_named_and_a_superseding_draw_refuses_it(drawn, capsys) -> None:
    attacks.behind(drawn.root, TAMPERINGS["freeze inputs edited, digest kept"])
    code, out = verify_output(drawn, capsys)
    assert "Freeze 1: its stored inputs do not give the digest published on its receipt" in out


def test_edited_draw_results_are_named_even_with_their_table_digest_forged(drawn, capsys) -> None:
    """The draw_results fingerprint is checked from the rows themselves, not only by the log's digest."""
    attacks.behind(drawn.root, ["UPDATE draw_results SET lottery = 'f' || substr(lottery, 2) "
                                "WHERE serial = (SELECT MIN(serial) FROM draw_results)"])
    code, out = verify_output(drawn, capsys)
    assert code == 5 and "Draw 1: its stored results do not give its result fingerprint" in out


def rewrite_chain(c, serial: str) -> None:  # noqa: ANN001
    """What a careful forger does after editing an application: record its new state in its last event
    and recompute every hash of the log, so that the chain is whole again."""
    with unguarded(c.root) as conn:
        last = conn.execute("SELECT id, payload FROM events WHERE subject = ? AND payload LIKE '%\"state\"%' "
                            "ORDER BY id DESC LIMIT 1", (f"application:{serial}",)).fetchone()
        payload = json.loads(last[1])
        payload["state"] = application_state(conn, serial)
        conn.execute("UPDATE events SET payload = ? WHERE id = ?",
                     (json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")), last[0]))
        rechain(conn)


def test_a_value_edited_with_the_whole_chain_recomputed_is_found_by_the_printed_head(tmp_path, capsys) -> None:
    c = drawn_cycle(tmp_path, "da")
    receipt = (c.root / "output" / "freeze-1-receipt.txt").read_text(encoding="utf-8")
    head = printed_head(receipt)
    conn = sqlite3.connect(c.db_path)
    serial = conn.execute("SELECT MIN(serial) FROM applications").fetchone()[0]
    conn.close()
    attacks.behind(c.root, ["UPDATE fields SET value = '90099' WHERE name = 'zip' AND serial = ?"],
                   params=(serial,))
    rewrite_chain(c, serial)
    code, out = verify_output(c, capsys)
    assert code == 0  # without the printed head the forgery is whole: this is why the head is printed
    code, out = verify_output(c, capsys, "--head", head)
    assert code == 5 and "is not in this log: the log was recomputed" in out


def test_a_cut_tail_with_its_counter_forged_is_found_by_the_head_the_draw_printed(drawn, capsys) -> None:
    code, out = verify_output(drawn, capsys)
    head = printed_head(out)
    attacks.behind(drawn.root, ["DELETE FROM events WHERE id = (SELECT MAX(id) FROM events)",
                                "UPDATE sqlite_sequence SET seq = seq - 1 WHERE name = 'events'"])
    code, out = verify_output(drawn, capsys, "--head", head)
    assert code == 5 and "is not in this log" in out


def test_print_letters_refuses_results_that_are_not_those_of_the_published_bundle(drawn, capsys) -> None:
    bundle = drawn.root / "output" / "draw-1-bundle.zip"
    with zipfile.ZipFile(bundle) as z:
        files = {n: z.read(n) for n in z.namelist()}
    lines = files["results.csv"].decode("utf-8").splitlines(keepends=True)
    cells = lines[1].split(",")
    cells[2] = "0" * len(cells[2])  # one family's lottery number, changed in the published file
    lines[1] = ",".join(cells)
    files["results.csv"] = "".join(lines).encode("utf-8")
    with zipfile.ZipFile(bundle, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    capsys.readouterr()
    assert cli("print", "letters", "--cycle", str(drawn.root)) == 5
    err = capsys.readouterr().err
    assert "are not those of its audit bundle" in err and "1 form(s) differ" in err
    assert not (drawn.root / "output" / "letters-draw-1.pdf").exists()
    bundle.unlink()
    assert cli("print", "letters", "--cycle", str(drawn.root)) == 5
    assert "is not there" in capsys.readouterr().err


# --- the audit bundle -------------------------------------------------------------------------
def _bundle_files(c) -> dict[str, bytes]:  # noqa: ANN001
    with zipfile.ZipFile(c.root / "output" / "draw-1-bundle.zip") as z:
        return {n: z.read(n) for n in z.namelist()}


def _manifest_with(files: dict[str, bytes], change) -> bytes:  # noqa: ANN001
    manifest = json.loads(files["manifest.json"])
    change(manifest)
    return json.dumps(manifest).encode("utf-8")


def _without_column(data: bytes, column: str) -> bytes:
    lines = data.decode("utf-8").splitlines()
    k = lines[0].split(",").index(column)
    return ("\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != k) for line in lines) + "\n").encode()


MALFORMED = {  # the eight bundles that gave tracebacks, and what the one line must say
    "bad JSON": (lambda f: {**f, "manifest.json": b"{not json"}, "manifest.json is not valid JSON"),
    "grade x": (lambda f: {**f, "applicants.csv": f["applicants.csv"].replace(b",9,", b",x,", 1)},
                "applicants.csv, line 2"),
    "string in a source": (lambda f: {**f, "manifest.json": _manifest_with(
        f, lambda m: m["sources"][0].__setitem__(0, "six"))}, "'sources' is not what a bundle holds"),
    "results.csv missing": (lambda f: {k: v for k, v in f.items() if k != "results.csv"},
                            "the bundle has no results.csv"),
    "column removed": (lambda f: {**f, "applicants.csv": _without_column(f["applicants.csv"], "choices")},
                       "applicants.csv has no column 'choices'"),
    "settings missing": (lambda f: {**f, "manifest.json": _manifest_with(f, lambda m: m.pop("settings"))},
                         "manifest.json has no 'settings'"),
    "manifest a list": (lambda f: {**f, "manifest.json": b"[1, 2]"}, "manifest.json is not a JSON object"),
    "results not UTF-8": (lambda f: {**f, "results.csv": f["results.csv"] + "é".encode("latin-1")},
                          "results.csv is not UTF-8 text"),
}


def _write_bundle(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_bundle_is_reported_in_one_plain_line(drawn, tmp_path, capsys, case: str) -> None:
    change, expected = MALFORMED[case]
    bundle = _write_bundle(tmp_path / "bad.zip", change(_bundle_files(drawn)))
    capsys.readouterr()
    assert cli("draw", "replay", str(bundle)) == 2
    captured = capsys.readouterr()
    assert expected in captured.err and "Traceback" not in captured.err + captured.out
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    folder = tmp_path / "extracted"
    with zipfile.ZipFile(drawn.root / "output" / "draw-1-bundle.zip") as z:
        z.extract("verify_draw.py", folder)
    done = subprocess.run([sys.executable, str(folder / "verify_draw.py"), str(bundle)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and done.stdout.strip() == f"CANNOT CHECK: {done.stdout.strip()[14:]}"
    assert expected in done.stdout and not done.stderr


@pytest.mark.parametrize("what", ["counts", "source_texts"])
def test_the_manifests_counts_and_written_sources_are_checked(drawn, tmp_path, capsys, what: str) -> None:
    def change(m: dict) -> None:
        if what == "counts":
            m["counts"]["assigned"] += 1
        else:
            m["source_texts"][0] = "dice: 6 6 6 6 6"

    files = _bundle_files(drawn)
    bundle = _write_bundle(tmp_path / "edited.zip", {**files, "manifest.json": _manifest_with(files, change)})
    capsys.readouterr()
    assert cli("draw", "replay", str(bundle)) == 1
    out = capsys.readouterr().out
    assert ("counts" in out) if what == "counts" else ("the sources as written" in out)


def test_an_older_cycle_brought_up_to_date_records_its_tables_and_then_finds_edits(drawn, capsys) -> None:
    """A cycle made before the tables were covered: the upgrade records them once, as they are."""
    with unguarded(drawn.root) as conn:
        conn.execute("DELETE FROM _migrations WHERE id = 11")
        for id_, payload in conn.execute("SELECT id, payload FROM events WHERE payload LIKE '%covers%'").fetchall():
            body = json.loads(payload)
            body.pop("covers")
            conn.execute("UPDATE events SET payload = ? WHERE id = ?",
                         (json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")), id_))
        rechain(conn)
    code, out = verify_output(drawn, capsys)  # opened: migration 11 records the tables
    assert code == 0, out
    conn = sqlite3.connect(drawn.db_path)
    assert conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'store.tables_recorded'").fetchone()[0] == 1
    conn.close()
    attacks.behind(drawn.root, ["UPDATE draw_results SET rank = rank + 1 "
                                "WHERE serial = (SELECT MIN(serial) FROM draw_results)"])
    assert verify_output(drawn, capsys)[0] == 5


def test_draw_freeze_and_unfreeze_refuse_an_edited_freeze(drawn) -> None:
    from zonepaper.draw.ceremony import unfreeze

    attacks.behind(drawn.root, ["UPDATE freezes SET mechanism = 'fcfs'"])
    for attempt in (lambda: freeze(drawn, "da"), lambda: unfreeze(drawn, "a mistake")):
        with pytest.raises(ConflictError) as err:
            attempt()
        assert err.value.key == "store.tampered"
