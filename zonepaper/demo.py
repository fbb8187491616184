"""`zonepaper demo`: the whole job on the example zone, as far as it is built."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from zonepaper.cycle import Cycle, backup_cycle, init_cycle
from zonepaper.forms.batch import print_forms
from zonepaper.layout import build_layout
from zonepaper.scan.ingest import ingest
from zonepaper.scan.report import scan_status
from zonepaper.simulate import simulate
from zonepaper.text import say

DEMO_FORMS = 300
DEMO_RETURNS = 260
DEMO_DAYS = (("2009-03-09", 0.4), ("2009-03-13", 0.35), ("2009-03-20", 0.25))


def run_demo(folder: Path, echo: Callable[[str], None], workers: int = 2) -> None:
    """Create a demo cycle in folder and run every stage that exists, saying what each did."""
    folder = folder.expanduser()
    if (folder / "zonepaper.db").exists():
        cycle = Cycle(folder)
        echo(say("demo.reuse", folder=str(folder)))
    else:
        cycle = init_cycle(folder, "belmont")
        echo(say("demo.init", folder=str(folder), cycle_id=cycle.info()["cycle_id"]))
    zone = cycle.zone()
    layout = build_layout(zone, "letter")
    layout_path = cycle.output / "form-layout.json"
    layout_path.write_text(json.dumps(layout.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
    run = len(list(cycle.output.glob("demo-forms-*.pdf"))) + 1
    batch = print_forms(cycle, DEMO_FORMS, say("demo.batch_label"), "letter",
                        cycle.output / f"demo-forms-{run:02d}.pdf")
    echo(say("demo.printed", count=len(batch.serials), file=str(batch.path), first=batch.serials[0],
             last=batch.serials[-1]))
    echo(say("demo.layout", file=str(layout_path)))

    # Families return most forms over several days; each day's stack is scanned and ingested.
    scans = folder / "scans" / f"demo-{run:02d}"
    started = time.perf_counter()
    sim = simulate(cycle, DEMO_RETURNS, scans, seed=2009 + run, dpi=200)
    echo(say("demo.simulated", pages=len(sim.pages), forms=DEMO_RETURNS, folder=str(scans),
             seconds=time.perf_counter() - started))
    files = sorted(sim.files)
    start = 0
    for i, (day, share) in enumerate(DEMO_DAYS):
        last_day = i == len(DEMO_DAYS) - 1
        end = len(files) if last_day else min(len(files), start + max(1, round(share * len(files))))
        todays, start = files[start:end], end
        if not todays:
            continue
        summary = ingest(cycle, todays, day, workers=workers)
        echo(say("demo.ingested", day=day, files=len(todays), pages=summary.pages,
                 rate=summary.pages / max(summary.seconds, 1e-6), quarantined=summary.kinds.get("quarantined", 0)))
    db = cycle.db()
    st = scan_status(db)
    db.close()
    echo(say("demo.status", applications=st.applications, auto=st.fields_by_status.get("auto", 0),
             review=st.fields_by_status.get("review", 0), quarantined=st.pages_by_kind.get("quarantined", 0)))
    backup = backup_cycle(cycle)
    echo(say("demo.backup", file=str(backup)))
    echo(say("demo.next", folder=str(folder)))
