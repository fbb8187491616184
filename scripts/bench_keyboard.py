#!/usr/bin/env python3
"""Benchmark: a scripted volunteer who knows the truth reviews a cycle with the keyboard alone.

Usage: python scripts/bench_keyboard.py [--forms 20] [--seed 3] [--look 0.4]

Prints forms, simulates their returns (the simulator's handwriting, seed --seed), ingests them,
starts the review page on 127.0.0.1 and drives the system's Chromium (Playwright, 1366x768) the
way a volunteer does: in field mode, for each item it looks for --look seconds (a person reads
the crop; an item cannot be decided sooner than 0.3 s anyway), then presses Enter when the
machine's guess is right (1 key) or types the true value as written on the form and Enter;
then in batch mode, page after page of one field, Enter moves past a right cell, a wrong one is
typed over, Ctrl+Enter saves the page. Prints keys per field (right guess, wrong guess, all) and
fields per minute for both modes, and checks that every value stored equals the truth.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from zonepaper.cycle import init_cycle
from zonepaper.forms.batch import print_forms
from zonepaper.layout import build_layout
from zonepaper.review import accounts
from zonepaper.review.serve import make_server
from zonepaper.review.values import BadValue, normalize_value
from zonepaper.scan.ingest import ingest
from zonepaper.scan.scoring import truth_value
from zonepaper.simulate import simulate

PASSWORD = "benchmark password"
BATCH_FIELDS = ["zip", "birth_date", "phone", "signature_date", "first_name", "last_name", "address"]
CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)


def typed(name: str, value: str, zone) -> str:  # noqa: ANN001
    """What a volunteer types for a true value: a date as on the form (MMDDYYYY), choices as program numbers."""
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        return value[5:7] + value[8:] + value[:4]
    if name == "choices":
        numbers = {p.id: str(p.number) for p in zone.programs}
        return " ".join(numbers[c] for c in value.split(",") if c)
    return value


class Truth:
    """The true value of each field in review, from the simulator's truth file, by field id."""

    def __init__(self, cycle, truth_path: Path) -> None:  # noqa: ANN001
        pages = {(t["file"], t["page"]): t for t in json.loads(truth_path.read_text(encoding="utf-8"))["pages"]}
        conn = sqlite3.connect(cycle.db_path)
        self.by_item = {}
        for rowid, name, file, index in conn.execute(
                "SELECT f.rowid, f.name, fl.original_name, p.page_index FROM fields f JOIN pages p ON p.id = f.page_id "
                "JOIN files fl ON fl.sha256 = p.file_sha256 WHERE f.status = 'review'"):
            t = pages.get((file, index))
            if t and t.get("kind") == "front":
                self.by_item[rowid] = (name, truth_value(t, name))
        conn.close()


def _same(name: str, shown: str, true: str, zone, layout) -> bool:  # noqa: ANN001
    try:
        return normalize_value(name, shown, zone, layout) == normalize_value(name, true, zone, layout)
    except BadValue:
        return False


def field_mode(page, base: str, truth: Truth, zone, layout, look: float, limit: int) -> dict:  # noqa: ANN001
    page.goto(base + "/field")
    right, wrong, skipped, done, start = [], [], 0, 0, time.perf_counter()
    while done < limit:
        page.wait_for_selector("#card:not([hidden]), #empty:not([hidden])")
        if page.locator("#empty").is_visible():
            break
        src = page.get_attribute("#crop", "src") or ""
        item_id = int(src.rsplit("/", 1)[1]) if src else 0
        page.wait_for_timeout(int(look * 1000))
        name, true = truth.by_item.get(item_id, (None, None))
        if name is None:
            page.keyboard.press("F3")
            skipped += 1
        elif _same(name, page.input_value("#value"), true, zone, layout):
            page.keyboard.press("Enter")
            right.append(1)
        else:
            text = typed(name, true, zone)
            page.keyboard.press("Control+a")
            page.keyboard.type(text)
            page.keyboard.press("Enter")
            wrong.append(len(text) + 2)  # select all, the characters, Enter
        done += 1
        deadline = time.time() + 10
        while time.time() < deadline and not page.locator("#empty").is_visible() and \
                page.get_attribute("#crop", "src") == src:
            page.wait_for_timeout(30)  # the next item (it appears at once; the decision is saved meanwhile)
    seconds = time.perf_counter() - start
    return {"fields": len(right) + len(wrong), "right": right, "wrong": wrong, "skipped": skipped,
            "seconds": seconds}


def batch_mode(page, base: str, truth: Truth, zone, layout, name: str, pages: int) -> dict:  # noqa: ANN001
    from playwright.sync_api import expect

    right, wrong, keys, start, sizes = 0, 0, 0, time.perf_counter(), []
    for _ in range(pages):
        page.goto(base + f"/batch?field={name}")
        page.wait_for_selector(".cell input, #empty:not([hidden])")
        cells = page.query_selector_all(".cell")
        if not cells:
            break
        sizes.append(len(cells))
        page.wait_for_timeout(400 * len(cells) // 4)  # a look along the page
        for cell in cells:
            item_id = int(cell.get_attribute("data-id"))
            _, true = truth.by_item.get(item_id, (name, ""))
            box = cell.query_selector("input")
            if _same(name, box.input_value(), true, zone, layout):
                page.keyboard.press("Enter")  # to the next cell
                keys += 1
                right += 1
            else:
                text = typed(name, true, zone)
                box.focus()
                page.keyboard.press("Control+a")
                page.keyboard.type(text)
                page.keyboard.press("Enter")
                keys += len(text) + 2
                wrong += 1
        first = cells[0].get_attribute("data-id")
        page.keyboard.press("Control+Enter")
        keys += 1
        expect(page.locator(f'.cell[data-id="{first}"]')).to_have_count(0, timeout=15000)  # saved: the next page
    return {"fields": right + wrong, "right": right, "wrong": wrong, "keys": keys,
            "seconds": time.perf_counter() - start, "sizes": sizes}


def stored_wrong(cycle, truth: Truth, zone, layout) -> list[str]:  # noqa: ANN001
    conn = sqlite3.connect(cycle.db_path)
    out = []
    for item_id, (name, true) in truth.by_item.items():
        row = conn.execute("SELECT value, status FROM fields WHERE rowid = ?", (item_id,)).fetchone()
        if row and row[1] == "confirmed" and not _same(name, row[0] or "", true, zone, layout):
            out.append(f"field {item_id} {name}: stored {row[0]!r}, true {true!r}")
    conn.close()
    return out


def main() -> int:
    import playwright.sync_api as playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forms", type=int, default=20)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--look", type=float, default=0.4, help="seconds a volunteer looks at each crop")
    args = parser.parse_args()
    if CHROMIUM is None:
        print("Chromium is missing: run 'bash scripts/setup.sh'")
        return 2
    with tempfile.TemporaryDirectory(prefix="zonepaper-keys-") as tmp:
        root = Path(tmp)
        cycle = init_cycle(root / "cycle", "belmont")
        print_forms(cycle, args.forms + 6, "bench")
        sim = simulate(cycle, args.forms, root / "scans", seed=args.seed)
        ingest(cycle, [root / "scans"], "2009-03-02")
        db = cycle.db()
        accounts.add_user(db.conn, "vol", "coordinator", PASSWORD, "es")
        db.close()
        truth = Truth(cycle, sim.truth_path)
        zone = cycle.zone()
        layout = build_layout(zone, "letter")
        counts: dict[str, int] = {}
        for name, _ in truth.by_item.values():
            counts[name] = counts.get(name, 0) + 1
        # batch pages of every size: a page holds as many cells as fit two rows at a readable size, so a
        # wide field (an address, a name) gets 2-4 cells a page and a ZIP code 8-10
        batch_fields = sorted((n for n in counts if n in BATCH_FIELDS), key=BATCH_FIELDS.index)
        server, _ = make_server(cycle, "127.0.0.1", 0, log=lambda line: None)
        server.start()
        base = f"http://127.0.0.1:{server.port}"
        try:
            with playwright.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
                page.goto(base + "/login")
                page.fill("input[name=name]", "vol")
                page.fill("input[name=password]", PASSWORD)
                with page.expect_navigation():
                    page.click("button[type=submit]")
                batches = {n: batch_mode(page, base, truth, zone, layout, n, 3) for n in batch_fields}
                field = field_mode(page, base, truth, zone, layout, args.look, 10_000)
                browser.close()
        finally:
            server.stop()
        mistakes = stored_wrong(cycle, truth, zone, layout)
    right, wrong = field["right"], field["wrong"]
    keys = sum(right) + sum(wrong)
    print(f"{args.forms} forms (simulator, seed {args.seed}); {len(truth.by_item)} fields in review; "
          f"a look of {args.look} s per crop")
    print(f"field mode: {field['fields']} fields in {field['seconds']:.0f} s = "
          f"{field['fields'] / field['seconds'] * 60:.0f} fields a minute; keys per field "
          f"{keys / max(field['fields'], 1):.2f} (guess right: 1 key, {len(right)} fields; guess wrong: "
          f"{sum(wrong) / max(len(wrong), 1):.1f} keys, {len(wrong)} fields); skipped (no truth) {field['skipped']}")
    for name, batch in batches.items():
        if not batch["fields"]:
            continue
        print(f"batch mode ({name}, {'/'.join(map(str, batch['sizes']))} cells a page): {batch['fields']} fields in "
              f"{batch['seconds']:.0f} s = {batch['fields'] / max(batch['seconds'], 1e-6) * 60:.0f} fields a minute; "
              f"keys per field {batch['keys'] / max(batch['fields'], 1):.2f} ({batch['right']} right, "
              f"{batch['wrong']} wrong); {batch['seconds'] / len(batch['sizes']):.1f} s a page")
    print(f"values stored that are not the truth: {len(mistakes)}")
    for m in mistakes[:20]:
        print("  " + m)
    return 1 if mistakes else 0


if __name__ == "__main__":
    sys.exit(main())
