#!/usr/bin/env python3
"""Check a zonepaper draw from its audit bundle, with nothing but Python's standard library.

    python3 verify_draw.py bundle.zip      (or a folder holding the bundle's files)
    python3 verify_draw.py bundle.zip --lottery 000123-4     (one family's lottery number)

It reads manifest.json, programs.csv and applicants.csv, recomputes the digest of the inputs
(published before the seed existed), the key string from the public sources (RFC 3797), every
applicant's lottery number, and the whole assignment, then compares with results.csv and with
public-results.csv (the list posted at the office, by form number). It
prints MATCH, or each difference, and exits 0 or 1.

zonepaper itself runs this same file, so the published check and the real draw are one code.

How the draw works, in short
* Key string (RFC 3797): in each source the numbers sorted ascending, each followed by a dot,
  each source followed by a slash, sources in the order given.
* Lottery number of a form: HMAC-SHA256, key = SHA-256(key string + input digest), message =
  the form's serial; written as hex. Lower comes first. One number per form for all programs.
* A program orders applicants by priority group (0 = the first priority in zone.toml;
  no priority = the number of priorities), then lottery number.
* da: student-proposing deferred acceptance. bins: rounds; in round k every unassigned form
  goes into the bin of its k-th choice, each bin takes them in the program's order up to its
  seats left. fcfs: forms in received-time order (ties by lottery number), each takes its
  highest choice with a seat left (the program's order is then time, then lottery).
* Each grade is drawn separately. Waitlist of a program: those who ranked it above what they
  got (or got nothing), in the program's order.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import hmac
import io
import json
import sys
import zipfile
from pathlib import Path

FORMAT = 1
APPLICANT_COLUMNS = ["serial", "grade", "eligible", "reason", "received", "choices", "priorities"]
PROGRAM_COLUMNS = ["program", "grade", "seats"]
RESULT_COLUMNS = ["serial", "grade", "lottery", "assigned", "rank", "reason", "waitlist"]
MECHANISMS = ("da", "bins", "fcfs")


# --- the seed ---------------------------------------------------------------------------------
def key_string(sources: list[list[int]]) -> str:
    """RFC 3797: numbers of each source sorted ascending, each with a dot; each source ends with a slash."""
    return "".join("".join(f"{n}." for n in sorted(source)) + "/" for source in sources)


def lottery_key(key: str, input_digest: str) -> bytes:
    return hashlib.sha256((key + input_digest).encode("utf-8")).digest()


def lottery_number(secret: bytes, serial: str) -> str:
    """HMAC-SHA256 of the serial, hex."""
    return hmac.digest(secret, serial.encode("utf-8"), "sha256").hex()


def rfc3797_select(key: str, pool: int, count: int) -> list[tuple[int, str]]:
    """RFC 3797 section 4: (selected, MD5 hex) for each draw from a pool numbered 1..pool."""
    remaining = list(range(1, pool + 1))
    picks = []
    for i in range(min(count, pool)):
        counter = i.to_bytes(2, "big")
        digest = hashlib.md5(counter + key.encode("ascii") + counter).digest()
        index = int.from_bytes(digest, "big") % len(remaining)
        picks.append((remaining.pop(index), digest.hex().upper()))
    return picks


# --- canonical inputs -------------------------------------------------------------------------
def input_digest(settings: dict, programs: list[dict], applicants: list[dict]) -> str:
    """SHA-256 of the canonical JSON of the inputs (sorted keys and rows, compact, UTF-8)."""
    body = {"format": FORMAT, "settings": settings,
            "programs": sorted(programs, key=lambda p: (p["program"], p["grade"])),
            "applicants": sorted(applicants, key=lambda a: a["serial"])}
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def applicant_row(a: dict) -> dict:
    return {"serial": a["serial"], "grade": str(a["grade"]), "eligible": "1" if a["eligible"] else "0",
            "reason": a["reason"], "received": a["received"], "choices": ";".join(a["choices"]),
            "priorities": ";".join(f"{p}={g}" for p, g in sorted(a["priorities"].items()))}


def applicant_from_row(r: dict) -> dict:
    return {"serial": r["serial"], "grade": int(r["grade"]), "eligible": r["eligible"] == "1",
            "reason": r["reason"], "received": r["received"],
            "choices": [c for c in r["choices"].split(";") if c],
            "priorities": {k: int(v) for k, v in (p.split("=") for p in r["priorities"].split(";") if p)}}


def program_from_row(r: dict) -> dict:
    return {"program": r["program"], "grade": int(r["grade"]), "seats": int(r["seats"])}


# --- the mechanisms ---------------------------------------------------------------------------
def assign(settings: dict, programs: list[dict], applicants: list[dict], key: str, digest: str) -> list[dict]:
    """Every applicant's result, sorted by serial: lottery, assigned program, rank, reason, waitlist."""
    secret = lottery_key(key, digest)
    mechanism = settings["mechanism"]
    if mechanism not in MECHANISMS:
        raise ValueError(f"unknown mechanism {mechanism!r}")
    no_priority = len(settings["priorities"])
    results = {}
    for grade in sorted({a["grade"] for a in applicants}):
        seats = {p["program"]: p["seats"] for p in programs if p["grade"] == grade}
        group = [dict(a, lottery=lottery_number(secret, a["serial"])) for a in applicants if a["grade"] == grade]
        for a in group:  # the programs this form may be placed in, in its order of preference
            a["options"] = [c for c in a["choices"] if c in seats] if a["eligible"] else []
            a["rank_key"] = int(a["lottery"], 16)

        def order(a: dict, program: str):
            """The program's order: (received, lottery) for fcfs; else priority group, then lottery, as one int."""
            if mechanism == "fcfs":
                return (a["received"], a["lottery"])
            return (a["priorities"].get(program, no_priority) << 256) | a["rank_key"]

        placed = {"da": deferred_acceptance, "bins": bins, "fcfs": first_come}[mechanism](group, seats, order)
        for a in group:
            program = placed.get(a["serial"])
            rank = a["choices"].index(program) + 1 if program else 0
            if program:
                reason = ""
            elif not a["eligible"]:
                reason = a["reason"] or "not_eligible"
            elif not a["options"]:
                reason = "no_valid_choice"
            else:
                reason = "no_seat"
            results[a["serial"]] = {"serial": a["serial"], "grade": grade, "lottery": a["lottery"],
                                    "assigned": program or "", "rank": rank, "reason": reason, "waitlist": {}}
        wanting: dict[str, list[dict]] = {p: [] for p in seats}
        for a in group:  # the programs each form ranked above what it got (all of them if it got nothing)
            got = placed.get(a["serial"])
            for program in a["options"][: a["options"].index(got)] if got else a["options"]:
                wanting[program].append(a)
        for program in sorted(wanting):
            for position, a in enumerate(sorted(wanting[program], key=lambda a: order(a, program)), start=1):
                results[a["serial"]]["waitlist"][program] = position
    return [results[s] for s in sorted(results)]


def deferred_acceptance(group: list[dict], seats: dict, order) -> dict[str, str]:
    """Student-proposing deferred acceptance (Gale-Shapley); each program holds its best `seats` proposals."""
    held: dict[str, list] = {p: [] for p in seats}  # per program: (negated order, serial), worst on top
    next_choice = {a["serial"]: 0 for a in group}
    by_serial = {a["serial"]: a for a in group}
    free = [a["serial"] for a in sorted(group, key=lambda a: a["serial"])]
    while free:
        serial = free.pop()
        a = by_serial[serial]
        while next_choice[serial] < len(a["options"]):
            program = a["options"][next_choice[serial]]
            next_choice[serial] += 1
            if seats[program] <= 0:
                continue
            k = -order(a, program)  # negated: heapq's smallest is the program's worst held applicant
            heap = held[program]
            if len(heap) < seats[program]:
                heapq.heappush(heap, (k, serial))
                break
            if k > heap[0][0]:  # better than the worst held
                _, bumped = heapq.heapreplace(heap, (k, serial))
                free.append(bumped)
                break
    return {serial: program for program, heap in held.items() for _, serial in heap}


def bins(group: list[dict], seats: dict, order) -> dict[str, str]:
    """Immediate acceptance in rounds: round k puts every unassigned form in the bin of its k-th choice."""
    left = dict(seats)
    placed: dict[str, str] = {}
    rounds = max((len(a["choices"]) for a in group), default=0)
    for k in range(rounds):
        bins_now: dict[str, list[dict]] = {}
        for a in group:
            if a["serial"] not in placed and k < len(a["choices"]) and a["choices"][k] in a["options"]:
                bins_now.setdefault(a["choices"][k], []).append(a)
        for program in sorted(bins_now):
            for a in sorted(bins_now[program], key=lambda a: order(a, program))[: max(left[program], 0)]:
                placed[a["serial"]] = program
                left[program] -= 1
    return placed


def first_come(group: list[dict], seats: dict, order) -> dict[str, str]:
    """Forms in received-time order (ties by lottery); each takes its highest choice with a seat left."""
    left = dict(seats)
    placed: dict[str, str] = {}
    for a in sorted(group, key=lambda a: (a["received"], a["lottery"])):
        for program in a["options"]:
            if left[program] > 0:
                placed[a["serial"]] = program
                left[program] -= 1
                break
    return placed


# --- the results file -------------------------------------------------------------------------
def result_rows(results: list[dict]) -> list[dict]:
    return [{"serial": r["serial"], "grade": str(r["grade"]), "lottery": r["lottery"], "assigned": r["assigned"],
             "rank": str(r["rank"]), "reason": r["reason"],
             "waitlist": ";".join(f"{p}={n}" for p, n in sorted(r["waitlist"].items()))} for r in results]


PUBLIC_FILE = "public-results.csv"
PUBLIC_COLUMNS = ["form", "lottery", "rank", "program", "outcome", "position"]


def public_rows(results: list[dict], applicants: list[dict]) -> list[dict]:
    """The list posted at the office, by form number as printed on the form (000123-4): its lottery number,
    and for each program it ranked, in its order, what happened: `seat`, `waitlist` (with the position),
    `not_needed` (it has a seat in a choice it ranked higher) or `not_offered` (the program does not take its
    grade); a form not in the draw is one row with the reason (`no_valid_choice`, `no_grade`, ...).
    No names, birth dates or addresses."""
    ranked = {a["serial"]: a["choices"] for a in applicants}
    rows = []
    for r in sorted(results, key=lambda r: r["serial"]):
        form, lottery = f"{r['serial'][:-1]}-{r['serial'][-1]}", r["lottery"]
        if not r["assigned"] and not r["waitlist"]:
            rows.append({"form": form, "lottery": lottery, "rank": "", "program": "", "outcome": r["reason"],
                         "position": ""})
            continue
        for rank, program in enumerate(ranked.get(r["serial"], []), start=1):
            position = str(r["waitlist"].get(program, ""))
            outcome = ("seat" if program == r["assigned"] else "waitlist" if position
                       else "not_needed" if r["assigned"] else "not_offered")
            rows.append({"form": form, "lottery": lottery, "rank": str(rank), "program": program, "outcome": outcome,
                         "position": position})
    return rows


def write_csv(rows: list[dict], columns: list[str]) -> bytes:
    """CSV with \\n line ends and a fixed column order: the same bytes on every machine."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def read_csv(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def result_digest(results_csv: bytes) -> str:
    return hashlib.sha256(results_csv).hexdigest()


def summarize(results: list[dict]) -> dict:
    """The counts the manifest publishes: applicants, placed, placed by choice, unplaced by reason."""
    ranks: dict[int, int] = {}
    reasons: dict[str, int] = {}
    for r in results:
        if r["assigned"]:
            ranks[r["rank"]] = ranks.get(r["rank"], 0) + 1
        else:
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    return {"applicants": len(results), "assigned": sum(ranks.values()),
            "by_rank": {str(k): ranks[k] for k in sorted(ranks)}, "unassigned": dict(sorted(reasons.items()))}


def source_numbers(text: str) -> list[int] | None:
    """The numbers a source as written holds (after its `KIND:` label), or None if it holds something else."""
    label, sep, rest = text.partition(":")
    tokens = (rest if sep else label).replace(",", " ").split()
    return [int(t) for t in tokens] if tokens and all(t.isdigit() for t in tokens) else None


# --- reading a bundle -------------------------------------------------------------------------
BUNDLE_FILES = ("manifest.json", "programs.csv", "applicants.csv", "results.csv", PUBLIC_FILE)  # (the last: from
# zonepaper 0.9 on; checked when it is there)
MANIFEST_KEYS = ("settings", "sources", "source_texts", "key_string", "input_digest", "result_digest", "counts")
WHY = {  # one plain line for each way a bundle cannot be checked (zonepaper translates the same codes)
    "not_a_bundle": "{name} is not a bundle (.zip file or folder of its files)",
    "no_file": "the bundle has no {name}",
    "not_utf8": "{name} is not UTF-8 text",
    "bad_json": "{name} is not valid JSON ({detail})",
    "not_object": "{name} is not a JSON object",
    "no_key": "{name} has no '{key}'",
    "bad_value": "{name}: '{key}' is not what a bundle holds ({detail})",
    "no_column": "{name} has no column '{key}'",
    "bad_row": "{name}, line {line}: {detail}",
}


class BundleError(ValueError):
    """The bundle cannot be checked at all; `str()` is one plain line saying why."""

    def __init__(self, code: str, **params: object) -> None:
        self.code, self.params = code, params
        super().__init__(WHY[code].format(**params))


def read_bundle(path: Path) -> dict[str, bytes]:
    try:
        if path.is_dir():
            return {n: (path / n).read_bytes() for n in BUNDLE_FILES if (path / n).is_file()}
        with zipfile.ZipFile(path) as z:
            present = set(z.namelist())
            return {n: z.read(n) for n in BUNDLE_FILES if n in present}
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise BundleError("not_a_bundle", name=path.name, detail=str(exc)) from None


def _text(files: dict[str, bytes], name: str) -> str:
    if name not in files:
        raise BundleError("no_file", name=name)
    try:
        return files[name].decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError("not_utf8", name=name) from None


def _rows(files: dict[str, bytes], name: str, columns: list[str], convert=None) -> list[dict]:  # noqa: ANN001
    reader = csv.DictReader(io.StringIO(_text(files, name), newline=""))
    for column in columns:
        if column not in (reader.fieldnames or []):
            raise BundleError("no_column", name=name, key=column)
    rows = []
    for row in reader:
        try:
            rows.append(convert(row) if convert else row)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BundleError("bad_row", name=name, line=reader.line_num,
                              detail=f"{type(exc).__name__}: {exc}") from None
    return rows


def _manifest(files: dict[str, bytes]) -> dict:
    name = "manifest.json"
    try:
        manifest = json.loads(_text(files, name))
    except json.JSONDecodeError as exc:
        raise BundleError("bad_json", name=name, detail=f"line {exc.lineno}: {exc.msg}") from None
    if not isinstance(manifest, dict):
        raise BundleError("not_object", name=name)
    for key in MANIFEST_KEYS:
        if key not in manifest:
            raise BundleError("no_key", name=name, key=key)
    settings, sources = manifest["settings"], manifest["sources"]
    if not isinstance(settings, dict) or not isinstance(settings.get("priorities"), list) \
            or settings.get("mechanism") not in MECHANISMS:
        raise BundleError("bad_value", name=name, key="settings", detail="a mechanism and a list of priorities")
    if not isinstance(sources, list) or not all(
            isinstance(s, list) and s and all(type(n) is int for n in s) for s in sources):
        raise BundleError("bad_value", name=name, key="sources", detail="lists of whole numbers")
    texts = manifest["source_texts"]
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise BundleError("bad_value", name=name, key="source_texts", detail="a list of texts")
    for key in ("key_string", "input_digest", "result_digest"):
        if not isinstance(manifest[key], str):
            raise BundleError("bad_value", name=name, key=key, detail="a text")
    return manifest


# --- checking a bundle ------------------------------------------------------------------------
def check(files: dict[str, bytes]) -> list[str]:
    """Every difference between what the bundle claims and what its inputs give (empty: it matches).
    Raises BundleError when the bundle cannot be checked at all."""
    manifest = _manifest(files)
    settings = manifest["settings"]
    programs = _rows(files, "programs.csv", PROGRAM_COLUMNS, program_from_row)
    applicants = _rows(files, "applicants.csv", APPLICANT_COLUMNS, applicant_from_row)
    _rows(files, "results.csv", RESULT_COLUMNS)
    problems = []
    written = [source_numbers(t) for t in manifest["source_texts"]]
    if written != manifest["sources"]:
        problems.append(f"the sources as written {manifest['source_texts']!r} do not hold the numbers "
                        f"{manifest['sources']!r}")
    digest = input_digest(settings, programs, applicants)
    if digest != manifest["input_digest"]:
        problems.append(f"the inputs do not give the published input digest: {digest} != {manifest['input_digest']}")
    key = key_string(manifest["sources"])
    if key != manifest["key_string"]:
        problems.append(f"the sources do not give the key string: {key!r} != {manifest['key_string']!r}")
    results = assign(settings, programs, applicants, key, manifest["input_digest"])
    expected = write_csv(result_rows(results), RESULT_COLUMNS)
    counts = summarize(results)
    if counts != manifest["counts"]:
        problems.append(f"the manifest's counts {manifest['counts']!r} are not those of the draw {counts!r}")
    if result_digest(files["results.csv"]) != manifest["result_digest"]:
        problems.append("results.csv is not the file the manifest's result digest describes")
    if expected != files["results.csv"]:
        got = {r["serial"]: r for r in read_csv(files["results.csv"])}
        for row in read_csv(expected):
            if got.get(row["serial"]) != row:
                problems.append(f"form {row['serial']}: the draw gives {row}, the bundle says {got.get(row['serial'])}")
        for serial in sorted(set(got) - {r["serial"] for r in read_csv(expected)}):
            problems.append(f"form {serial} is in results.csv but not among the applicants")
    if PUBLIC_FILE in files:  # the list posted at the office says what the draw gives, row for row
        want = write_csv(public_rows(results, applicants), PUBLIC_COLUMNS)
        if files[PUBLIC_FILE] != want:
            posted, rows = read_csv(files[PUBLIC_FILE]), read_csv(want)
            n = next((i for i, (a, b) in enumerate(zip(posted, rows)) if a != b), min(len(posted), len(rows)))
            problems.append(f"{PUBLIC_FILE}, line {n + 2}: the draw gives {rows[n] if n < len(rows) else 'nothing'}, "
                            f"the list says {posted[n] if n < len(posted) else 'nothing'}")
    return problems


def family_lottery(files: dict[str, bytes], form_number: str) -> str:
    """The lottery number of a form, from the form number as printed on it (000123-4: the dash and spaces
    are left out) and the bundle's key string and input digest, as the letter explains it."""
    manifest = _manifest(files)
    serial = "".join(ch for ch in form_number if ch.isdigit())
    return lottery_number(lottery_key(manifest["key_string"], manifest["input_digest"]), serial)


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "--lottery":
        try:
            number = family_lottery(read_bundle(Path(argv[0])), argv[2])
        except BundleError as exc:
            print(f"CANNOT CHECK: {exc}")
            return 2
        print(f"{argv[2]}: {number[:4]} {number[4:8]}  ({number})")
        return 0
    if len(argv) != 1:
        print(__doc__)
        return 2
    try:
        problems = check(read_bundle(Path(argv[0])))
    except BundleError as exc:
        print(f"CANNOT CHECK: {exc}")
        return 2
    for p in problems[:200]:
        print(p)
    print("MATCH" if not problems else f"DIFFERENT: {len(problems)} problem(s)")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
