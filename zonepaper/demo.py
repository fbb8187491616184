"""`zonepaper demo`: the whole job on the example zone, as far as it is built."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from zonepaper.cycle import Cycle, backup_cycle, init_cycle
from zonepaper.forms.batch import print_forms
from zonepaper.layout import build_layout
from zonepaper.text import say

DEMO_FORMS = 300


def run_demo(folder: Path, echo: Callable[[str], None]) -> None:
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
    batch = print_forms(cycle, DEMO_FORMS, say("demo.batch_label"), "letter",
                        cycle.output / f"demo-forms-{len(list(cycle.output.glob('demo-forms-*.pdf'))) + 1:02d}.pdf")
    echo(say("demo.printed", count=len(batch.serials), file=str(batch.path), first=batch.serials[0],
             last=batch.serials[-1]))
    echo(say("demo.layout", file=str(layout_path)))
    backup = backup_cycle(cycle)
    echo(say("demo.backup", file=str(backup)))
    echo(say("demo.next", folder=str(folder)))
