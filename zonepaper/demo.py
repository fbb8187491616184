"""`zonepaper demo`: the whole job on the example zone, as far as it is built."""

from __future__ import annotations

import json
import random
import re
import secrets
import time
from datetime import date
from pathlib import Path
from typing import Callable

from zonepaper.cycle import Cycle, backup_cycle, init_cycle
from zonepaper.draw.ceremony import freeze, replay, unfreeze
from zonepaper.draw.ceremony import run as draw_run
from zonepaper.fields import REPLY_FIELDS
from zonepaper.forms.batch import print_forms
from zonepaper.layout import build_layout
from zonepaper.paper.assignments import assignment_rows, to_xlsx
from zonepaper.paper.audit import write_audit_report
from zonepaper.paper.confirmations import write_confirmations_pdf
from zonepaper.paper.results import write_results_pdf
from zonepaper.paper.bins import write_bins_pdf
from zonepaper.paper.letters import offer_and_print, write_letters_pdf
from zonepaper.pdf import whole_file
from zonepaper.scan.ingest import ingest
from zonepaper.scan.report import scan_status
from zonepaper.serial import display_serial
from zonepaper.simulate import simulate, simulate_replies
from zonepaper.store.freeze import active_freeze
from zonepaper.text import say

DEMO_FORMS = 300
DEMO_RETURNS = 260
DEMO_DAYS = (("2009-03-09", 0.4), ("2009-03-13", 0.35), ("2009-03-20", 0.25))
DEMO_REPLIES = 40  # reply slips that come back in the demo
DEMO_SEAT_SHARE = 0.12  # 260 returns against the example's 1,750 seats would fill every first choice


def _scale_seats(cycle: Cycle, share: float) -> None:
    """Fewer seats in the demo's zone.toml, so that the draw has something to decide (the file says so)."""
    text = cycle.zone_path.read_text(encoding="utf-8")
    scaled = re.sub(r"seats = \{ (\d+) = (\d+) \}",
                    lambda m: f"seats = {{ {m[1]} = {max(1, round(int(m[2]) * share))} }}", text)
    note = f"# zonepaper demo: seats scaled to {share:.0%} of the example's, so the draw has something to decide.\n"
    cycle.zone_path.write_text(note + scaled, encoding="utf-8")
    cycle.zone()  # still a valid zone


def run_demo(folder: Path, echo: Callable[[str], None], workers: int = 2) -> None:
    """Create a demo cycle in folder and run every stage that exists, saying what each did."""
    folder = folder.expanduser()
    if (folder / "zonepaper.db").exists():
        cycle = Cycle(folder)
        echo(say("demo.reuse", folder=str(folder)))
        _lift_freeze(cycle)
    else:
        cycle = init_cycle(folder, "belmont")
        echo(say("demo.init", folder=str(folder), cycle_id=cycle.info()["cycle_id"]))
        _scale_seats(cycle, DEMO_SEAT_SHARE)
        echo(say("demo.seats", seats=sum(sum(p.seats.values()) for p in cycle.zone().programs), forms=DEMO_RETURNS,
                 file=str(cycle.zone_path)))
    zone = cycle.zone()
    layout = build_layout(zone, "letter")
    layout_path = cycle.output / "form-layout.json"
    layout_path.write_text(json.dumps(layout.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
    run = len(list(cycle.output.glob("demo-forms-*.pdf"))) + 1
    batch = print_forms(cycle, DEMO_FORMS, say("demo.batch_label"), "letter",
                        cycle.output / f"demo-forms-{run:02d}.pdf")
    echo(say("demo.printed", count=len(batch.serials), file=str(batch.path), first=display_serial(batch.serials[0]),
             last=display_serial(batch.serials[-1])))
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

    # A person clears the review queue in the web page; here the simulator's truth stands in.
    started = time.perf_counter()
    decided, resolved = review_with_truth(cycle, [sim.truth_path])
    echo(say("demo.reviewed", fields=decided, pages=resolved, seconds=time.perf_counter() - started,
             reviewer=REVIEWER, folder=str(folder)))
    db = cycle.db()
    try:  # before the freeze, each family reads back what the office read (corrections are typed in review)
        confirmations, count = write_confirmations_pdf(cycle, db.conn, date(2009, 3, 23))
    finally:
        db.close()
    echo(say("demo.confirmations", count=count, file=str(confirmations)))

    # Freeze, post the receipt, roll the dice in public, draw, and check the draw from its bundle.
    frozen, inputs, (_, receipt) = freeze(cycle, actor=REVIEWER)
    echo(say("demo.frozen", digest=frozen.digest, applicants=inputs.counts["applicants"], receipt=str(receipt)))
    rng = random.Random(frozen.digest)  # stands in for dice rolled by observers
    dice = [f"dice: {' '.join(str(rng.randint(1, 6)) for _ in range(5))}" for _ in range(10)]
    echo(say("demo.dice", sources=" | ".join(dice)))
    outcome = draw_run(cycle, dice, actor=REVIEWER)
    echo(say("demo.drawn", mechanism=frozen.mechanism, assigned=outcome.counts["assigned"],
             applicants=outcome.counts["applicants"], first=outcome.counts["by_rank"].get("1", 0),
             bundle=str(outcome.bundle)))
    problems = replay(outcome.bundle)
    echo(say("demo.replayed", result="MATCH" if not problems else f"{len(problems)} differences"))
    db = cycle.db()
    try:
        bins, _ = write_bins_pdf(cycle, db.conn, outcome.draw_id)
    finally:
        db.close()
    echo(say("demo.bins", file=str(bins)))

    # Letters go out; some families send their reply slips back, which are scanned with the rest.
    db = cycle.db()
    try:
        pages: dict = {}
        letters, count = write_letters_pdf(cycle, db.conn, outcome.draw_id, date(2009, 4, 1), pages=pages)
        placed = [r[0] for r in db.conn.execute("SELECT serial FROM draw_results WHERE draw_id = ? AND assigned "
                                                "IS NOT NULL ORDER BY serial", (outcome.draw_id,))]
    finally:
        db.close()
    echo(say("demo.letters", count=count, file=str(letters)))
    started = time.perf_counter()
    returning = random.Random(outcome.result_digest).sample(placed, min(DEMO_REPLIES, len(placed)))
    answers = simulate_replies(letters, {s: p[0] for s, p in pages.items()}, sorted(returning), scans / "replies.pdf",
                               seed=2009 + run)
    summary = ingest(cycle, [scans / "replies.pdf"], "2009-04-10")
    declined = sum(a == "decline" for a in answers.values())
    db = cycle.db()
    marks = ", ".join("?" * len(REPLY_FIELDS))
    unsure = db.conn.execute(f"SELECT count(DISTINCT serial) FROM fields WHERE name IN ({marks}) AND status = 'review'",
                             REPLY_FIELDS).fetchone()[0]
    db.close()
    echo(say("demo.replies", slips=summary.kinds.get("reply", 0), accepted=len(answers) - declined,
             declined=declined, unsure=unsure, seconds=time.perf_counter() - started))
    offered, _, offer_pdf = offer_and_print(cycle, actor=REVIEWER, today=date(2009, 4, 20))
    echo(say("demo.offers", count=len(offered), file=str(offer_pdf or "-")))
    db = cycle.db()
    try:
        report = write_audit_report(cycle, db.conn, outcome.draw_id)
        posted, _ = write_results_pdf(cycle, db.conn, outcome.draw_id)
        _, rows = assignment_rows(db.conn, cycle.zone(), outcome.draw_id)
    finally:
        db.close()
    office = cycle.output / f"assignments-draw-{outcome.draw_id}.xlsx"
    with whole_file(office) as part:  # children's names: readable by this user only, like every output
        part.write_bytes(to_xlsx(rows))
    echo(say("demo.report", report=str(report), office=str(office), posted=str(posted)))
    backup = backup_cycle(cycle)
    echo(say("demo.backup", file=str(backup.path)))
    echo(say("demo.next", folder=str(folder), bundle=str(outcome.bundle)))


REVIEWER = "simulated-reviewer"


def _lift_freeze(cycle: Cycle) -> None:
    """A demo run again on the same folder adds forms, so an earlier demo's freeze is lifted (recorded)."""
    db = cycle.db()
    frozen = active_freeze(db.conn)
    db.close()
    if frozen:
        unfreeze(cycle, "the demo runs again on this folder", actor=REVIEWER)


def review_with_truth(cycle: Cycle, truth_paths: list[Path]) -> tuple[int, int]:
    """What a person does in `zonepaper review serve`, done here from the simulator's ground truth:
    resolve each quarantined page, then type the true value of every field in review.
    Returns (fields decided, pages resolved)."""
    from zonepaper.review import accounts, queue
    from zonepaper.review import quarantine as qu
    from zonepaper.scan.page import read_context
    from zonepaper.scan.scoring import truth_value

    truth = {}
    for path in truth_paths:
        for t in json.loads(path.read_text(encoding="utf-8"))["pages"]:
            truth[(t["file"], t["page"])] = t
    zone = cycle.zone()
    layout = build_layout(zone, "letter")
    ctx = read_context(cycle)
    db = cycle.db()
    conn = db.conn
    try:
        user = next((u for u in accounts.list_users(conn) if u.name == REVIEWER), None) or \
            accounts.add_user(conn, REVIEWER, "coordinator", secrets.token_urlsafe(24))
        where = {page_id: (name, index) for page_id, name, index in conn.execute(
            "SELECT p.id, f.original_name, p.page_index FROM pages p JOIN files f ON f.sha256 = p.file_sha256")}
        resolved = 0
        for page in qu.quarantined_pages(conn):
            t = truth.get(where[page.id], {})
            if page.reason == "duplicate":
                r = qu.Resolution(page.id, "keep_first")
            elif page.reason in ("other_cycle", "bad_tag") and page.aligned:
                r = qu.Resolution(page.id, "accept", reason="a family used another cycle's form; accepted")
            elif page.reason in ("serial_unreadable", "bad_check_digit") and page.aligned and t.get("serial"):
                r = qu.Resolution(page.id, "serial", serial=t["serial"])
            elif page.reason == "markers_not_found":
                r = qu.Resolution(page.id, "rescan")
            else:
                r = qu.Resolution(page.id, "not_a_form")
            qu.resolve(conn, user, r, qu.reading_for(cycle.root, page, r.action, ctx))
            resolved += 1
        decided, skipped = 0, set()
        while items := queue.claim_items(conn, user, size=queue.BATCH_SIZE):
            if all(item.id in skipped for item in items):
                break  # only what was skipped is left: it comes back to a person after the rest
            decisions = []
            for item in items:
                t = truth.get(where.get(item.page_id, ("", -1)))
                value = truth_value(t, item.name) if t else None
                decisions.append(queue.Decision(item.id, item.version, "accept" if t else "skip", value))
            try:
                queue.decide_many(conn, user, decisions, zone, layout)
            except queue.QueueError:  # one value cannot be stored: decide them one by one, skip that one
                for d in decisions:
                    try:
                        queue.decide(conn, user, d, zone, layout)
                    except queue.QueueError:
                        queue.decide(conn, user, queue.Decision(d.item_id, d.version, "skip"), zone, layout)
                        skipped.add(d.item_id)
            skipped |= {d.item_id for d in decisions if d.action == "skip"}
            decided += sum(d.action == "accept" for d in decisions)
    finally:
        db.close()
    return decided, resolved
