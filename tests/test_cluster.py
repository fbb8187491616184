"""Reading on a Dask cluster: the same stored result as one process, byte for byte; the cycle's secret
kept off the workers; a client killed midway and run again stores every page once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zonepaper.applications import export_csv
from zonepaper.cycle import Cycle, init_cycle
from zonepaper.errors import MissingDependencyError
from zonepaper.forms.batch import print_forms
from zonepaper.scan.ingest import ingest
from zonepaper.scan.page import read_context, read_page, settle_tag
from zonepaper.scan.raster import count_pages, read_pages
from zonepaper.simulate import simulate


def _cycle_with_scans(root: Path, forms: int, seed: int) -> tuple[Cycle, Path]:
    c = init_cycle(root / "cycle", "belmont")
    print_forms(c, forms + 2, "t")
    scans = root / "scans"
    simulate(c, forms, scans, seed=seed)
    (scans / "truth.json").unlink()
    return c, scans


def _stored(c: Cycle) -> tuple[str, list]:
    db = c.db()
    try:
        pages = db.conn.execute("SELECT file_sha256, page_index, kind, serial, reason, detail, image FROM pages "
                                "ORDER BY file_sha256, page_index").fetchall()
        fields = db.conn.execute("SELECT serial, name, value, status, confidence, votes, reasons FROM fields "
                                 "ORDER BY serial, name").fetchall()
        return export_csv(db, c.zone()), pages + fields
    finally:
        db.close()


@pytest.mark.slow
def test_a_local_cluster_stores_what_one_process_stores_byte_for_byte(tmp_path: Path) -> None:
    from zonepaper.scan.cluster import local_cluster

    c, scans = _cycle_with_scans(tmp_path / "one", 12, seed=1)  # with a second sheet of one form
    twin = Cycle(tmp_path / "twin")
    shutil.copytree(c.root, twin.root)
    alone = ingest(c, [scans], "2009-03-14")
    with local_cluster(2) as cluster:
        spread = ingest(twin, [scans], "2009-03-14", cluster=cluster.scheduler_address)
        again = ingest(twin, [scans], "2009-03-14", cluster=cluster.scheduler_address)
    assert alone.quarantined.get("duplicate") == 1  # which sheet is the first must not depend on the workers
    assert spread.pages == alone.pages >= 16 and spread.kinds == alone.kinds
    assert again.files_skipped == alone.files_seen and again.pages == 0
    export, rows = _stored(c)
    assert export.count("\n") >= 12
    assert _stored(twin) == (export, rows)
    for stored in {r[6] for r in rows[:alone.pages] if r[6]}:  # the page images kept are the same files
        assert (c.root / stored).read_bytes() == (twin.root / stored).read_bytes()


def test_workers_read_without_the_secret_and_a_forged_code_is_still_caught(tmp_path: Path) -> None:
    c, scans = _cycle_with_scans(tmp_path, 2, seed=4)
    ctx = read_context(c)
    gray = next(p.image for f in sorted(scans.iterdir()) for p in read_pages(f)
                if read_page(0, p.image, ctx).kind == "front")
    with_secret = read_page(0, gray, ctx)
    without = read_page(0, gray, ctx.__class__(**{**ctx.__dict__, "secret": None}))
    assert with_secret.kind == "front" and with_secret.unchecked_tag is None
    assert without.unchecked_tag is not None and without.unchecked_tag[0] == with_secret.serial
    assert settle_tag(without, ctx.secret, ctx.cycle_id) == with_secret
    forged = settle_tag(without, b"another cycle's secret", ctx.cycle_id)  # a code printed by someone else
    other = read_page(0, gray, ctx.__class__(**{**ctx.__dict__, "secret": b"another cycle's secret"}))
    assert forged.kind == other.kind == "quarantined" and forged.reason == other.reason == "bad_tag"
    assert (forged.serial, forged.detail, forged.image) == (other.serial, other.detail, other.image)


def test_without_dask_the_cluster_option_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from zonepaper.scan import cluster

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    with pytest.raises(MissingDependencyError) as missing:
        cluster.connect("tcp://127.0.0.1:8786")
    assert "zonepaper[cluster]" in missing.value.message("en")


@pytest.mark.slow
def test_a_client_killed_midway_and_run_again_stores_every_page_once(tmp_path: Path) -> None:
    c, scans = _cycle_with_scans(tmp_path, 24, seed=6)
    pages = sum(count_pages(p) for p in scans.iterdir())
    command = [sys.executable, "-m", "zonepaper", "scan", "ingest", str(scans), "--received", "2009-03-14",
               "--cluster", "local:2", "--cycle", str(c.root)]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    db = c.db()
    try:
        deadline = time.time() + 180
        while time.time() < deadline and run.poll() is None:
            if db.conn.execute("SELECT count(*) FROM pages").fetchone()[0] >= 5:
                break
            time.sleep(0.05)
        os.killpg(run.pid, signal.SIGKILL)  # the client and its local cluster, at once
        run.wait()
        first = db.conn.execute("SELECT count(*) FROM pages").fetchone()[0]
        assert 5 <= first < pages, (first, pages)
        again = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr[-2000:]
        rows = db.conn.execute("SELECT file_sha256, page_index FROM pages").fetchall()
        assert len(rows) == len(set(rows)) == pages
        assert db.conn.execute("SELECT count(*) FROM files WHERE status != 'done'").fetchone()[0] == 0
    finally:
        db.close()
    verify = subprocess.run([sys.executable, "-m", "zonepaper", "verify", "--cycle", str(c.root)],
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _break_reader() -> None:  # on a worker: as if zonepaper were missing there
    sys.modules["zonepaper.scan.ingest"] = None


@pytest.mark.slow
def test_a_worker_that_cannot_read_stops_the_run_saying_what_to_install(tmp_path: Path) -> None:
    from dask.distributed import Client

    from zonepaper.scan.cluster import local_cluster

    c, scans = _cycle_with_scans(tmp_path, 3, seed=2)
    with local_cluster(1) as cluster:
        with Client(cluster.scheduler_address) as client:
            client.run(_break_reader)
        with pytest.raises(MissingDependencyError) as broken:
            ingest(c, [scans], "2009-03-14", cluster=cluster.scheduler_address)
    assert broken.value.key == "scan.cluster_worker_broken" and "zonepaper" in broken.value.message("en")
    assert "ImportError" in broken.value.message("en") or "ModuleNotFoundError" in broken.value.message("en")
    db = c.db()
    assert db.conn.execute("SELECT count(*) FROM pages").fetchone()[0] == 0
    db.close()
    again = ingest(c, [scans], "2009-03-14", cluster="local:1")  # the same command, once the workers are mended
    assert again.pages == sum(count_pages(p) for p in scans.iterdir())


def _reading_settings() -> dict:  # on a worker: what reading's speed depends on
    import dask

    return {"profile": dask.config.get("distributed.worker.profile.enabled"),
            "monitor": dask.config.get("distributed.admin.system-monitor.interval"),
            "tick": dask.config.get("distributed.admin.tick.interval"),
            "memory": dask.config.get("distributed.worker.memory.monitor-interval"),
            "trim": os.environ.get("MALLOC_TRIM_THRESHOLD_")}


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_a_local_cluster_reads_without_what_only_a_dashboard_shows_and_the_guides_say_the_same() -> None:
    import yaml
    from dask.distributed import Client

    from zonepaper.scan.cluster import READING_CONFIG, local_cluster

    with local_cluster(1) as cluster:
        with Client(cluster.scheduler_address) as client:
            settings = list(client.run(_reading_settings).values())
    assert settings == [{"profile": False, "monitor": "5s", "tick": "1s", "memory": "1s", "trim": None}]
    for guide in ("guide.md", "guia.md"):  # what they tell people to save for workers started by hand
        text = (Path(__file__).parent.parent / "docs" / guide).read_text(encoding="utf-8")
        block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
        assert _flatten(yaml.safe_load(block)) == READING_CONFIG, guide
