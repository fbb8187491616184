#!/usr/bin/env python3
"""Try acceptance rules for digit fields again on kept benchmark runs, without reading the pages again.

Usage: .venv/bin/python scripts/redecide_digits.py KEPT_FOLDER [KEPT_FOLDER ...] [--show RULE ...]
       .venv/bin/python scripts/redecide_digits.py --readings FOLDER [--show VARIANT ...] [--crops DIR]

A kept folder is what `bench_ingest.py --keep DIR` leaves (for --hand real, one folder per
condition). Every digit field stored there keeps both networks' probabilities per box and the
reasons it went to a person; this script applies each rule in RULES to them and prints, per
rule, how many digit fields it accepts alone and how many of those are wrong, so that a bar is
chosen on evidence, and with --show every wrong value a rule accepts. The first rule is what was
stored (the rule ingest used when the run was made); the others only ever send more to a person.

With --readings, the folder holds what `bench_ingest.py --readings` kept: every front page's whole
digit readings (all ten probabilities of both networks per box). They are decided again by
ingest's own decide_page_digits with its knobs (LIFT, SURE_MONTH_DAY) set as each of VARIANTS
says, so that looser rules can be measured too, on real handwriting and on the fonts alike. With
--models A.onnx,B.onnx and/or --turns 8, the characters kept with the readings are first read again
by those networks (instead of zonepaper/models/), each also turned by +-8 degrees and the
probabilities averaged (test-time agreement), before the variants decide.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from zonepaper.cycle import Cycle
from zonepaper.fields import DATE_FIELDS, DIGIT_FIELDS, FAMILY_DIGIT_FIELDS
from zonepaper.scan.digits import MODEL_PATHS, SIZE, DigitGuess, DigitNet, Head
from zonepaper.scan.page import (MONTH_DAY_BOXES, SURE_UNFAMILIAR_HAND, UNFAMILIAR_BELOW, UNFAMILIAR_COUNT,
                                 sure_enough)

def _raw(votes: dict) -> list[float | None]:
    """Per box, the two networks' average probability for the digit they both read (None: an empty box)."""
    return [None if a is None else (a + b) / 2 for a, b in zip(votes["probabilities"], votes["probabilities_b"])]


def rule_ingest(name, zone, raw, reasons, unfamiliar, votes=None):  # noqa: ANN001 - the rule as ingest applies it
    return not reasons


def rule_raw(name, zone, raw, reasons, unfamiliar, date_bar=None, boost=0.0, month_day=None,  # noqa: ANN001
             votes=None, third=False):
    """The bar met by the probability before renormalising; optionally a bar of their own for dates,
    or for a date's month and day digits only; optionally Tesseract, when it read as many digits,
    must not read any of them otherwise.

    A field that went to a person for any reason (an unsure digit included) stays with one."""
    if reasons:
        return False
    if third and votes is not None:
        tess, read = votes.get("tesseract", ""), votes.get("network", "").replace("?", "")
        if len(tess) == len(read) and tess != read:
            return False
    for i, p in enumerate(raw):
        if p is None:
            continue
        needed = sure_enough(name, zone, i, unfamiliar)
        if date_bar is not None and name in DATE_FIELDS:
            needed = max(needed, date_bar)
        if month_day is not None and name in DATE_FIELDS and i < MONTH_DAY_BOXES:
            needed = max(month_day, SURE_UNFAMILIAR_HAND) if unfamiliar else month_day  # instead of SURE_MONTH_DAY
        if p < min(needed + boost, 0.9999):
            return False
    return True


RULES = {
    "ingest today": rule_ingest,
    "raw bar": rule_raw,
    "raw bar, dates 0.995": lambda *a, **k: rule_raw(*a, date_bar=0.995, **k),
    "raw bar, dates 0.998": lambda *a, **k: rule_raw(*a, date_bar=0.998, **k),
    "raw bar, dates 0.999": lambda *a, **k: rule_raw(*a, date_bar=0.999, **k),
    "raw bar +0.005": lambda *a, **k: rule_raw(*a, boost=0.005, **k),
    "raw bar +0.009": lambda *a, **k: rule_raw(*a, boost=0.009, **k),
    "raw bar, no month/day bar": lambda *a, **k: rule_raw(*a, month_day=0.98, **k),
    "raw bar, month/day 0.99": lambda *a, **k: rule_raw(*a, month_day=0.99, **k),
    "raw bar, month/day 0.995": lambda *a, **k: rule_raw(*a, month_day=0.995, **k),
    "raw bar, month/day 0.998": lambda *a, **k: rule_raw(*a, month_day=0.998, **k),
    "raw bar, Tesseract disagrees": lambda *a, **k: rule_raw(*a, third=True, **k),
    "raw bar, month/day 0.999": lambda *a, **k: rule_raw(*a, month_day=0.999, **k),
}


SHOWN: list[str] = []  # --show: the rule whose wrong values are listed


def evaluate(folder: Path) -> dict[str, list[int]]:
    """Per rule: [accepted alone, wrong among them, digit fields] over one kept run."""
    cycle_dir = folder / "cycle"
    truth = {(t["file"], t["page"]): t for t in json.loads((folder / "scans" / "truth.json").read_text())["pages"]}
    cycle = Cycle(cycle_dir)
    zone = cycle.zone()
    db = cycle.db()
    pages: dict[int, dict[str, tuple]] = {}
    for page_id, fname, page, name, value, status, reasons, votes in db.conn.execute(
            "SELECT p.id, f.original_name, p.page_index, fl.name, fl.value, fl.status, fl.reasons, fl.votes "
            "FROM fields fl JOIN pages p ON p.id = fl.page_id JOIN files f ON f.sha256 = p.file_sha256 "
            "WHERE p.kind = 'front'"):
        if name in DIGIT_FIELDS:
            pages.setdefault(page_id, {})[name] = (fname, page, value or "", status, json.loads(reasons),
                                                    json.loads(votes))
    db.close()
    out = {r: [0, 0, 0] for r in RULES}
    mismatch = 0
    for fields in pages.values():
        raw = {n: _raw(v[5]) if "probabilities" in v[5] else [] for n, v in fields.items()}
        unsure = sum(1 for n in FAMILY_DIGIT_FIELDS for p in raw.get(n, []) if p is not None and p < UNFAMILIAR_BELOW)
        unfamiliar = unsure >= UNFAMILIAR_COUNT
        for name, (fname, page, value, status, reasons, votes) in fields.items():
            t = truth[(fname, page)]
            want = str(t["fields"].get(name, ""))
            if t["copy"] != "original" or not want:
                continue
            for rule, decide in RULES.items():
                auto = decide(name, zone, raw[name], reasons, unfamiliar and name in FAMILY_DIGIT_FIELDS,
                              votes=votes)
                out[rule][0] += auto
                out[rule][1] += auto and value != want
                if auto and value != want and rule in SHOWN:
                    print(f"  {rule}: {folder.name} {fname}#{page + 1} {name}: accepted {value!r}, truth {want!r}; "
                          f"raw {[round(p, 4) if p else p for p in raw[name]]}, tesseract {votes.get('tesseract')!r}")
                out[rule][2] += 1
            mismatch += rule_ingest(name, zone, raw[name], reasons, False) != (status == "auto")
    if mismatch:
        print(f"  warning: {mismatch} fields whose stored status the first rule does not reproduce")
    return out


# --readings: whole readings kept by bench_ingest.py --readings, decided again by ingest's own code
# with its knobs (constants of zonepaper.scan.page) set otherwise. "ingest today" changes none.
VARIANTS: dict[str, dict[str, float]] = {
    "ingest today": {},
    "renormalised share only (2026-10)": {"LIFT": 1.0, "SURE_MONTH_DAY": 0.98, "SURE_DRAW_INPUT": 0.98,
                                          "SURE_PHONE": 0.99},
    "raw bar (lift 0)": {"LIFT": 0.0},
    "lift 0.02": {"LIFT": 0.02},
    "lift 0.1": {"LIFT": 0.1},
    "lift 0.2": {"LIFT": 0.2},
    "no lift limit": {"LIFT": 1.0},
    "lift 0.1, month/day 0.995, phone 0.995": {"LIFT": 0.1, "SURE_MONTH_DAY": 0.995, "SURE_PHONE": 0.995},
    "month/day 0.995": {"SURE_MONTH_DAY": 0.995},
    "month/day 0.99": {"SURE_MONTH_DAY": 0.99},
    "phone 0.999": {"SURE_PHONE": 0.999},
    "strong rules 0.998": {"SURE_STRONG_RULES": 0.998},
    "phone 0.9999, strong rules 0.998": {"SURE_PHONE": 0.9999, "SURE_STRONG_RULES": 0.998},
    "until 2026-12-07 (strong rules 0.98, phone 0.998, unfamiliar 0.995)": {
        "SURE_STRONG_RULES": 0.98, "SURE_PHONE": 0.998, "SURE_UNFAMILIAR_HAND": 0.995},
    "phone 0.9995, strong rules 0.98": {"SURE_PHONE": 0.9995, "SURE_STRONG_RULES": 0.98},
    "phone 0.9995, strong 0.98, unfamiliar 3": {"SURE_PHONE": 0.9995, "SURE_STRONG_RULES": 0.98,
                                                "UNFAMILIAR_COUNT": 3},
    "no unfamiliar hand": {"UNFAMILIAR_COUNT": 999},
    "phone 0.995": {"SURE_PHONE": 0.995},
    "phone 0.99": {"SURE_PHONE": 0.99},
    "draw 0.995": {"SURE_DRAW_INPUT": 0.995},
    "draw 0.998": {"SURE_DRAW_INPUT": 0.998},
    "strong rules 0.99": {"SURE_STRONG_RULES": 0.99},
    "weak rules 0.998": {"SURE_WEAK_RULES": 0.998},
    "month/day 0.995, phone 0.995": {"SURE_MONTH_DAY": 0.995, "SURE_PHONE": 0.995},
    "unfamiliar: 8 digits below 0.9": {"UNFAMILIAR_COUNT": 8},
    "unfamiliar: 3 digits below 0.9": {"UNFAMILIAR_COUNT": 3},
}


class TurnedNet:
    """A digit network that reads each character as it is and turned by each of `turns` degrees, and
    gives the mean of those readings' probabilities."""

    def __init__(self, net: DigitNet, turns: tuple[float, ...]) -> None:
        self.net, self.turns = net, turns

    def read(self, digits: list[np.ndarray], head: Head | None = None) -> list[DigitGuess]:
        centre = ((SIZE - 1) / 2, (SIZE - 1) / 2)
        turned = [d if t == 0 else cv2.warpAffine(d, cv2.getRotationMatrix2D(centre, t, 1.0), (SIZE, SIZE),
                                                  flags=cv2.INTER_LINEAR, borderValue=0)
                  for t in self.turns for d in digits]
        guesses = self.net.read(turned, head)
        n = len(digits)
        return [DigitGuess.average(guesses[i::n]) for i in range(n)]


def read_again(pages: list[dict], models: list[Path] | None, turns: tuple[float, ...]) -> None:
    """Each page's readings replaced by the kept characters read by `models` (or the committed ones), turned."""
    import zonepaper.scan.boxes as boxes

    nets = tuple(TurnedNet(DigitNet(m), turns) for m in (models or MODEL_PATHS))
    saved, boxes.digit_nets = boxes.digit_nets, lambda: nets
    try:
        for p in pages:
            if p.get("crops") is None:
                raise SystemExit("these readings keep no characters (made before bench_ingest.py kept them): "
                                 "run the benchmark again with --readings")
            p["readings"] = boxes.read_fields_crops(p["crops"])
    finally:
        boxes.digit_nets = saved


def save_characters(crops, path: Path) -> None:  # noqa: ANN001 - a boxes.DigitCrops
    """A field's normalised characters as the networks saw them, side by side, three times their size."""
    tiles = []
    for n in crops.normalised:  # normalize_digit's 28x28 floats, 0-1
        tile = np.zeros((SIZE, SIZE), np.uint8) if n is None else (n * 255).astype(np.uint8)
        tiles.append(np.pad(cv2.resize(tile, (3 * SIZE, 3 * SIZE), interpolation=cv2.INTER_NEAREST), 2,
                            constant_values=128))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.hstack(tiles))


def sweep(folder: Path, shown: list[str], models: list[Path] | None = None,
          turns: tuple[float, ...] = (0.0,), crops: Path | None = None) -> None:
    """Every variant on every kept readings file: digit fields accepted alone and wrong, per file and in all
    (with `crops`, each wrong value a shown variant accepts saved as the characters read)."""
    import pickle

    import zonepaper.scan.page as page
    from zonepaper.layout import build_layout
    from zonepaper.zone import example_zone_text, parse_zone_text

    zone = parse_zone_text(example_zone_text("belmont"), Path("belmont.toml"))
    layout = build_layout(zone, "letter")
    totals: dict[str, dict[str, list[int]]] = {}
    for dump in sorted(folder.glob("*.pickle")):
        kind = dump.name.split("-")[0]  # fonts, real (the benchmark half) or calibration
        truth = {t["serial"]: t["fields"] for t in json.loads(dump.with_suffix(".truth.json").read_text())["pages"]
                 if t.get("kind") == "front" and t.get("copy") == "original"}
        pages = {}
        for p in pickle.loads(dump.read_bytes()):
            pages.setdefault(p["serial"], p)  # a copy of a sheet is quarantined: the first one counts
        if models or turns != (0.0,):
            read_again(list(pages.values()), models, turns)
        line = []
        for variant, knobs in VARIANTS.items():
            saved = {k: getattr(page, k) for k in knobs}
            for k, v in knobs.items():
                setattr(page, k, v)
            accepted = wrong = total = 0
            for serial, p in pages.items():
                results = page.decide_page_digits(p["readings"], layout, zone, p["sibling"], p.get("chosen"))
                for name, result in results.items():
                    want = str(truth.get(serial, {}).get(name, ""))
                    if not want:
                        continue
                    auto = result.status == "auto"
                    total += 1
                    accepted += auto
                    wrong += auto and result.value != want
                    if auto and result.value != want and variant in shown:
                        print(f"  {variant}: {dump.stem} {serial} {name}: accepted {result.value!r}, truth {want!r}")
                        if crops is not None and p.get("crops"):
                            save_characters(p["crops"][name], crops / f"{dump.stem}-{serial}-{name}.png")
            for k, v in saved.items():
                setattr(page, k, v)
            totals.setdefault(kind, {}).setdefault(variant, [0, 0, 0])
            for i, v in enumerate((accepted, wrong, total)):
                totals[kind][variant][i] += v
            line.append(f"{variant} {accepted}/{total} ({wrong})")
        print(f"{dump.stem}: " + "; ".join(line))
    for kind, rows in totals.items():
        print(f"\n{kind} handwriting, all files:")
        for variant, (a, w, n) in rows.items():
            print(f"  {variant:40} accepted alone {100 * a / max(n, 1):5.1f} % of {n}, wrong {w}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="*")
    parser.add_argument("--show", action="append", default=[], help="list the wrong values this rule accepts")
    parser.add_argument("--readings", type=Path, help="a folder of bench_ingest.py --readings files: decide them "
                                                      "again with ingest's own code and each variant's knobs")
    parser.add_argument("--models", help="with --readings: two .onnx digit networks, comma-separated, that read the "
                                         "kept characters again")
    parser.add_argument("--turns", type=float, help="with --readings: also read each character turned by +- this "
                                                    "many degrees, and average")
    parser.add_argument("--crops", type=Path, help="with --readings: save each wrong value a --show variant "
                                                   "accepts, as the characters the networks read, in this folder")
    args = parser.parse_args()
    SHOWN.extend(args.show)
    if args.readings:
        models = [Path(m) for m in args.models.split(",")] if args.models else None
        turns = (0.0, args.turns, -args.turns) if args.turns else (0.0,)
        sweep(args.readings, args.show, models, turns, args.crops)
        return
    runs = []
    for top in args.folders:
        runs += [p for p in sorted(top.rglob("truth.json")) if (p.parent.parent / "cycle").is_dir()]
    total = {r: [0, 0, 0] for r in RULES}
    for truth in runs:
        folder = truth.parent.parent
        res = evaluate(folder)
        label = str(folder.relative_to(folder.parent.parent))
        print(label + ": " + "; ".join(f"{r} {a}/{n} ({w} wrong)" for r, (a, w, n) in res.items()))
        for r, v in res.items():
            total[r] = [x + y for x, y in zip(total[r], v)]
    print()
    for r, (a, w, n) in total.items():
        print(f"{r:24} accepted alone {100 * a / max(n, 1):5.1f} % of {n}, wrong {w}")


if __name__ == "__main__":
    main()
