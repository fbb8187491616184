"""Freeze, seed, draw, replay: the steps an auditor can follow.

1. `freeze` publishes the digest of the canonical inputs (a receipt to post) before any seed
   exists; applications cannot change while frozen.
2. `run` takes the public sources, builds the RFC 3797 key string, computes every lottery
   number and the assignment, stores the result and writes the audit bundle.
3. `replay` recomputes a bundle with the same code the bundle carries (verify_draw.py).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from zonepaper import __version__
from zonepaper.cycle import Cycle
from zonepaper.draw import verify_draw as vd
from zonepaper.draw.inputs import DrawInputs, build_inputs, unfinished
from zonepaper.draw.seed import MIN_BITS, Seed, parse_seed
from zonepaper.errors import ConflictError, InvalidInputError
from zonepaper.pdf import register_fonts, whole_file
from zonepaper.store.database import write_transaction
from zonepaper.store.freeze import Freeze, active_freeze, lift_freeze, record_freeze
from zonepaper.store.integrity import Findings, chain_head, check_store, grouped, record_event, refuse_if_tampered
from zonepaper.store.migrations import now_iso
from zonepaper.text import Listing, Phrase, translate

VERIFIER = Path(vd.__file__)


def _write_atomic(path: Path, data: bytes) -> None:
    with whole_file(path) as part:
        part.write_bytes(data)


# --- freeze -----------------------------------------------------------------------------------
def check_cycle(conn) -> Findings:  # noqa: ANN001 - sqlite3 connection
    """Everything `zonepaper verify` checks: the store's own checks, and that every freeze's stored
    inputs give its digest and every draw's stored results give its result fingerprint."""
    findings = check_store(conn)
    for freeze_id, inputs, digest in conn.execute("SELECT id, inputs, input_digest FROM freezes ORDER BY id"):
        try:
            body = json.loads(inputs)
            again = vd.input_digest(body["settings"], body["programs"], body["applicants"])
        except (ValueError, KeyError, TypeError):
            again = ""
        if again != digest:
            findings.other.append(("verify.freeze_inputs", {"freeze": freeze_id}))
    for (draw_id, digest) in conn.execute("SELECT id, result_digest FROM draws ORDER BY id").fetchall():
        if stored_result_digest(conn, draw_id) != digest:
            findings.other.append(("verify.draw_results", {"draw": draw_id}))
    return findings


def stored_result_digest(conn, draw_id: int) -> str:  # noqa: ANN001 - sqlite3 connection
    """The fingerprint of a draw's results as they are stored now (the bundle's results.csv, rebuilt)."""
    try:
        rows = [{"serial": s, "grade": g, "lottery": lot, "assigned": a or "", "rank": r, "reason": why,
                 "waitlist": json.loads(w)} for s, g, lot, a, r, why, w in conn.execute(
            "SELECT serial, grade, lottery, assigned, rank, reason, waitlist FROM draw_results WHERE draw_id = ? "
            "ORDER BY serial", (draw_id,))]
        return vd.result_digest(vd.write_csv(vd.result_rows(rows), vd.RESULT_COLUMNS))
    except (ValueError, TypeError, AttributeError):
        return ""


def refuse_if_changed_behind_our_back(conn) -> None:  # noqa: ANN001 - sqlite3 connection
    """The draw never runs on data `zonepaper verify` would flag."""
    refuse_if_tampered(conn, check_cycle(conn))


def freeze(cycle: Cycle, mechanism: str | None = None, allow_unreviewed: bool = False, reason: str = "",
           actor: str = "zonepaper") -> tuple[Freeze, DrawInputs, list[Path]]:
    """Freeze the inputs; returns the freeze, its inputs and the receipt files (text and PDF)."""
    zone = cycle.zone()
    mechanism = mechanism or zone.mechanism
    if mechanism not in vd.MECHANISMS:
        raise InvalidInputError("draw.bad_mechanism", mechanism=mechanism, allowed=", ".join(vd.MECHANISMS))
    if allow_unreviewed and not reason.strip():
        raise InvalidInputError("draw.reason_needed", option="--allow-unreviewed")
    db = cycle.db(check=True)
    try:
        conn = db.conn
        with write_transaction(conn):
            refuse_if_changed_behind_our_back(conn)
            current = active_freeze(conn)
            if current:
                raise ConflictError("draw.already_frozen", freeze=current.id)
            left = unfinished(conn)
            if left.any and not allow_unreviewed:
                raise ConflictError("draw.unfinished", review=sum(left.review.values()),
                                    fields=Listing(tuple((f"field.{k}", v) for k, v in sorted(left.review.items()))),
                                    quarantine=left.quarantine, held=len(left.held),
                                    serials=", ".join(left.held[:10]) or "-", uploads=left.uploads)
            inputs = build_inputs(conn, zone, mechanism)
            body = json.dumps({"settings": inputs.settings, "programs": inputs.programs,
                               "applicants": inputs.applicants}, ensure_ascii=False, sort_keys=True)
            at = now_iso()
            freeze_id = record_freeze(conn, inputs.digest, body, mechanism, reason.strip(), at)
            record_event(conn, actor, "draw.frozen", {
                "freeze": freeze_id, "input_digest": inputs.digest, "mechanism": mechanism, "counts": inputs.counts,
                "unreviewed": {"reason": reason.strip(), "review": sum(left.review.values()),
                               "quarantine": left.quarantine, "held": len(left.held),
                               "uploads": left.uploads} if left.any else None},
                f"freeze:{freeze_id}", ("freezes",))
            result = Freeze(freeze_id, inputs.digest, mechanism, json.loads(body), at)
            paths = write_receipt(cycle, result, inputs, reason.strip(), chain_head(conn)[1])
            conn.execute("UPDATE freezes SET receipt = ? WHERE id = ?", (str(paths[0]), freeze_id))
    finally:
        db.close()
    return result, inputs, paths


def unfreeze(cycle: Cycle, reason: str, actor: str = "zonepaper") -> int:
    """Lift the freeze in force, with the reason (recorded); returns its id."""
    if not reason.strip():
        raise InvalidInputError("draw.reason_needed", option="--reason")
    db = cycle.db()
    try:
        with write_transaction(db.conn) as conn:
            refuse_if_changed_behind_our_back(conn)
            current = active_freeze(conn)
            if current is None:
                raise ConflictError("draw.not_frozen")
            lift_freeze(conn, current.id, reason.strip())
            record_event(conn, actor, "draw.unfrozen", {"freeze": current.id, "reason": reason.strip()},
                         f"freeze:{current.id}", ("freezes",))
    finally:
        db.close()
    return current.id


def receipt_lines(cycle: Cycle, f: Freeze, inputs: DrawInputs, reason: str, head: str, lang: str) -> list[str]:
    zone = cycle.zone()
    lines = [translate("messages", "draw.receipt_title", lang, zone=zone.name[lang], cycle=zone.cycle),
             translate("messages", "draw.receipt_when", lang, at=zone.local_time(f.created_at), freeze=f.id),
             translate("messages", "draw.receipt_counts", lang, **inputs.counts),
             translate("messages", f"draw.mechanism_{f.mechanism}", lang),
             translate("messages", "draw.receipt_digest", lang), grouped(f.digest),
             translate("messages", "draw.receipt_next", lang),
             translate("messages", "draw.receipt_head", lang, head=grouped(head))]
    if reason:
        lines.insert(4, translate("messages", "draw.receipt_unreviewed", lang, reason=reason))
    return lines


def write_receipt(cycle: Cycle, f: Freeze, inputs: DrawInputs, reason: str, head: str) -> list[Path]:
    """The freeze receipt to post publicly: a text file and a one-page PDF, Spanish then English."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen.canvas import Canvas

    text = "\n\n".join("\n".join(receipt_lines(cycle, f, inputs, reason, head, lang)) for lang in ("es", "en")) + "\n"
    txt = cycle.root / "output" / f"freeze-{f.id}-receipt.txt"
    _write_atomic(txt, text.encode("utf-8"))
    register_fonts()
    pdf = cycle.root / "output" / f"freeze-{f.id}-receipt.pdf"
    width = letter[0] - 2 * 54
    with whole_file(pdf) as part:
        c = Canvas(str(part), pagesize=letter)
        y = 740
        for lang in ("es", "en"):
            for i, line in enumerate(receipt_lines(cycle, f, inputs, reason, head, lang)):
                if line.replace(" ", "") == f.digest:  # the fingerprint, large, in two rows of four groups
                    font, size, chunks = "Mono-Bold", 16, [line[:35], line[36:]]
                else:
                    font, size = ("Sans-Bold", 14) if i == 0 else ("Sans", 10.5)
                    chunks = _wrap(line, lambda s, font=font, size=size: stringWidth(s, font, size) <= width)
                c.setFont(font, size)
                for chunk in chunks:
                    c.drawString(54, y, chunk)
                    y -= size * 1.45
            y -= 22
        c.showPage()
        c.save()
    return [txt, pdf]


def _wrap(line: str, fits) -> list[str]:
    words, out, current = line.split(" "), [], ""
    for w in words:
        candidate = f"{current} {w}".strip()
        if current and not fits(candidate):
            out.append(current)
            current = w
        else:
            current = candidate
    return out + [current]


# --- the draw ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DrawOutcome:
    draw_id: int
    freeze_id: int
    seed: Seed
    result_digest: str
    bundle: Path
    counts: dict
    chain_head: str  # the event log's head after the draw was recorded: printed for people to keep


def run(cycle: Cycle, source_texts: list[str], weak_ok: bool = False, supersede: bool = False, reason: str = "",
        actor: str = "zonepaper") -> DrawOutcome:
    """Draw on the active freeze from the public sources; writes the audit bundle and stores the result."""
    seed = parse_seed(source_texts)
    if seed.bits < MIN_BITS and not weak_ok:
        raise InvalidInputError("draw.weak_seed", bits=f"{seed.bits:.1f}", min=int(MIN_BITS))
    if supersede and not reason.strip():
        raise InvalidInputError("draw.reason_needed", option="--supersede")
    db = cycle.db(check=True)
    try:
        conn = db.conn
        refuse_if_changed_behind_our_back(conn)
        f = active_freeze(conn)
        if f is None:
            raise ConflictError("draw.not_frozen")
        now_inputs = build_inputs(conn, cycle.zone(), f.mechanism)
        if now_inputs.digest != f.digest:
            raise ConflictError("draw.inputs_changed", freeze=f.id)
        earlier = conn.execute("SELECT id FROM draws WHERE freeze_id = ? AND status = 'current'", (f.id,)).fetchone()
        if earlier and not supersede:
            raise ConflictError("draw.already_drawn", draw=earlier[0])
        settings, programs, applicants = f.inputs["settings"], f.inputs["programs"], f.inputs["applicants"]
        results = vd.assign(settings, programs, applicants, seed.key_string, f.digest)
        results_csv = vd.write_csv(vd.result_rows(results), vd.RESULT_COLUMNS)
        digest = vd.result_digest(results_csv)
        counts = vd.summarize(results)
        next_id = (conn.execute("SELECT COALESCE(MAX(id), 0) FROM draws").fetchone()[0]) + 1
        manifest = {"format": vd.FORMAT, "zonepaper_version": __version__, "cycle_id": cycle.info()["cycle_id"],
                    "draw": next_id, "freeze": f.id, "frozen_at": f.created_at, "mechanism": f.mechanism,
                    "settings": settings, "sources": [list(s.numbers) for s in seed.sources],
                    "source_texts": [s.text for s in seed.sources], "entropy_bits": round(seed.bits, 1),
                    "key_string": seed.key_string, "input_digest": f.digest, "result_digest": digest,
                    "counts": counts}
        bundle = cycle.root / "output" / f"draw-{next_id}-bundle.zip"
        _write_atomic(bundle, _bundle_bytes(manifest, programs, applicants, results_csv,
                                            vd.write_csv(vd.public_rows(results, applicants), vd.PUBLIC_COLUMNS)))
        with write_transaction(conn):
            if earlier:
                conn.execute("UPDATE draws SET status = 'superseded' WHERE id = ?", (earlier[0],))
            draw_id = conn.execute(
                "INSERT INTO draws (id, freeze_id, status, sources, key_string, entropy_bits, result_digest, bundle, "
                "supersede_reason, created_at) VALUES (?, ?, 'current', ?, ?, ?, ?, ?, ?, ?)",
                (next_id, f.id, json.dumps(manifest["source_texts"], ensure_ascii=False), seed.key_string,
                 seed.bits, digest, str(bundle), reason.strip() or None, now_iso())).lastrowid
            conn.executemany(
                "INSERT INTO draw_results (draw_id, serial, grade, lottery, assigned, rank, reason, waitlist) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(draw_id, r["serial"], r["grade"], r["lottery"], r["assigned"] or None, r["rank"], r["reason"],
                  json.dumps(r["waitlist"], sort_keys=True)) for r in results])
            record_event(conn, actor, "draw.run", {
                "draw": draw_id, "freeze": f.id, "sources": manifest["source_texts"], "key_string": seed.key_string,
                "entropy_bits": round(seed.bits, 1), "input_digest": f.digest, "result_digest": digest,
                "supersedes": earlier[0] if earlier else None, "reason": reason.strip() or None},
                f"draw:{draw_id}", ("draws",))
            head = chain_head(conn)[1]
    finally:
        db.close()
    return DrawOutcome(int(draw_id), f.id, seed, digest, bundle, counts, head)


def _bundle_bytes(manifest: dict, programs: list[dict], applicants: list[dict], results_csv: bytes,
                  public_csv: bytes) -> bytes:
    import io

    out = io.BytesIO()
    files = {
        "manifest.json": (json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8"),
        "programs.csv": vd.write_csv([{k: str(v) for k, v in p.items()} for p in
                                      sorted(programs, key=lambda p: (p["program"], p["grade"]))], vd.PROGRAM_COLUMNS),
        "applicants.csv": vd.write_csv([vd.applicant_row(a) for a in sorted(applicants, key=lambda a: a["serial"])],
                                       vd.APPLICANT_COLUMNS),
        "results.csv": results_csv,
        vd.PUBLIC_FILE: public_csv,
        "verify_draw.py": VERIFIER.read_bytes(),
    }
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))  # the same bytes for the same draw
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return out.getvalue()


def replay(bundle: Path) -> list[str]:
    """The differences between a bundle and a fresh computation from its inputs (empty: it matches);
    a bundle that cannot be checked at all is refused with one line saying why."""
    try:
        return vd.check(vd.read_bundle(bundle))
    except vd.BundleError as exc:
        raise InvalidInputError("draw.bad_bundle", file=str(bundle),
                                reason=Phrase(f"draw.bundle.{exc.code}", exc.params)) from None
