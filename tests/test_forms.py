"""Printed forms, read back as a scanner would: markers, QR serials, box positions, text."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from conftest import cli
from pdf2image import convert_from_path

from zonepaper.cycle import Cycle
from zonepaper.layout import MM, build_layout
from zonepaper.scan.register import register_page
from zonepaper.serial import is_valid_serial, parse_payload, verify_tag

DPI = 200


def rasterize(pdf: Path, first: int | None = None, last: int | None = None) -> list[np.ndarray]:
    pages = convert_from_path(str(pdf), dpi=DPI, grayscale=True, first_page=first, last_page=last)
    return [np.array(p) for p in pages]


def scan_like(gray: np.ndarray, angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """Rotate, scale and shift a page as a crooked scanner would."""
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += shift
    return cv2.warpAffine(gray, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)


def read_qr(gray: np.ndarray) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(gray) if r.format == zxingcpp.BarcodeFormat.QRCode]


def edge_offset(gray: np.ndarray, p0: np.ndarray, p1: np.ndarray, normal: np.ndarray, search: float) -> float:
    """Distance (px, along normal) from the expected line p0-p1 to the darkest line near it in the raster.

    Darkness is the median along the middle of the edge, so a continuous box line wins over
    nearby letters of a label, which darken only some of the samples.
    """
    offsets = np.arange(-search, search + 0.01, 0.25)
    ts = np.linspace(0.2, 0.8, 15)
    pts = p0[None, None, :] + ts[None, :, None] * (p1 - p0)[None, None, :] + offsets[:, None, None] * normal
    map_x, map_y = pts[..., 0].astype(np.float32), pts[..., 1].astype(np.float32)
    values = cv2.remap(gray, map_x, map_y, cv2.INTER_LINEAR, borderValue=255).astype(np.float64)
    darkness = 255 - np.median(values, axis=1)
    return float(offsets[int(np.argmax(darkness))])


def test_twenty_forms_register_and_their_serials_decode(printed) -> None:
    cycle, batch = printed
    info = cycle.info()
    secret = bytes.fromhex(info["secret"])
    db = cycle.db()
    issued = {r["serial"]: r for r in db.query(
        "SELECT s.serial, b.label FROM serials s JOIN batches b ON b.id = s.batch_id")}
    layout = build_layout(cycle.zone(), "letter")
    pages = rasterize(batch.path)
    assert len(pages) == 40  # front and back of each form
    seen = []
    rng = np.random.default_rng(7)
    for index, page in enumerate(pages[0::2]):
        angle, scale = rng.uniform(-2, 2), rng.uniform(0.97, 1.03)
        scanned = scan_like(page, angle, scale, tuple(rng.uniform(-15, 15, 2)))
        reg = register_page(scanned, layout)
        assert reg is not None and reg.markers_found == 4, f"form {index}: markers not all found"
        assert reg.reprojection_error_px < 1.5
        # Read the QR code only where the layout says it is.
        code = layout.field("serial_code").rect
        corners = reg.to_pixels(np.array([(code.x, code.y), (code.right, code.bottom)]))
        x0, y0 = np.floor(corners.min(axis=0)).astype(int) - 10
        x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 10
        texts = read_qr(scanned[y0:y1, x0:x1])
        assert len(texts) == 1
        payload = parse_payload(texts[0])
        assert payload is not None and payload.side == "F"
        assert payload.cycle_id == info["cycle_id"]
        assert payload.serial in issued and is_valid_serial(payload.serial)
        assert issued[payload.serial]["label"] == "Choice fair, Leadership Academy, March 14"
        assert verify_tag(secret, payload.cycle_id, payload.serial, payload.tag)
        seen.append(payload.serial)
    assert seen == list(batch.serials)  # each form its own serial, in order


def test_every_box_lands_within_half_a_millimetre(printed) -> None:
    cycle, batch = printed
    layout_json = json.loads(_layout_json(cycle))
    layout = build_layout(cycle.zone(), "letter")
    page = rasterize(batch.path, 1, 1)[0]
    scanned = scan_like(page, 1.7, 0.975, (12.0, -9.0))
    reg = register_page(scanned, layout)
    assert reg is not None
    px_per_mm = DPI / 25.4 * 0.975
    tolerance_px = 0.5 * px_per_mm
    boxes = [(f["name"], b) for f in layout_json["fields"] if f["kind"] == "boxes" for b in f["boxes"]]
    assert len(boxes) > 130
    worst = 0.0
    for name, (x, y, w, h) in boxes:
        tl, tr, br, bl = reg.to_pixels(np.array([(x, y), (x + w, y), (x + w, y + h), (x, y + h)]))
        for p0, p1, inward in ((tl, tr, bl - tl), (tr, br, tl - tr), (bl, br, tl - bl), (tl, bl, tr - tl)):
            normal = inward / np.linalg.norm(inward)
            offset = abs(edge_offset(scanned, p0, p1, normal, search=1.0 * MM * DPI / 72))
            worst = max(worst, offset)
            assert offset <= tolerance_px, f"{name} {(x, y)}: an edge is {offset / px_per_mm:.2f} mm from the layout"
    assert worst <= tolerance_px


def _layout_json(cycle: Cycle) -> str:
    out = subprocess.run([str(Path(__import__("sys").executable).parent / "zonepaper"), "forms", "layout",
                          "--json", "--cycle", str(cycle.root)], capture_output=True, text=True, check=True)
    return out.stdout


def test_back_pages_carry_their_own_code(printed) -> None:
    cycle, batch = printed
    backs = rasterize(batch.path, 2, 6)[0::2]
    for serial, page in zip(batch.serials, backs):
        payloads = [parse_payload(t) for t in read_qr(page)]
        assert [(p.side, p.serial) for p in payloads if p] == [("B", serial)]


def test_pdf_text_has_both_languages_and_accents(printed) -> None:
    cycle, batch = printed
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "2", str(batch.path), "-"], capture_output=True,
                          text=True, check=True).stdout
    layout = build_layout(cycle.zone(), "letter")
    for f in layout.fields:
        if f.kind in ("boxes", "signature"):
            assert f.label.es in text, f.label.es
            assert f.label.en in text, f.label.en
    for phrase in ("Solicitud de inscripción", "Application for enrollment", "Instrucciones", "Instructions",
                   "¿El estudiante tiene un hermano", "Español", "SOLO PARA LA OFICINA", "OFFICE USE ONLY",
                   "Civitas School of Leadership", "Programas de la zona", "Programs of the zone",
                   # what the last readers missed: the signature's bar with the deadline (zone.toml [forms]),
                   # the area code, the office's date, a filled-in ranking, whom to call and when results come
                   "4. Firma", "Entréguela antes del 27 de febrero de 2009", "Return it by February 27, 2009",
                   "código de área", "Fecha de recepción", "Ejemplo: el programa 2 es la 1.ª opción",
                   "Apto.", "Ciudad"):
        assert phrase in text, phrase
    flat = " ".join(text.split())
    assert "Las cartas con los resultados se envían el 3 de abril de 2009." in flat
    assert "Hand in this form by February 27, 2009 at any school of the zone" in flat
    assert "¿Preguntas? Llame al (213) 555-0100." in flat
    for program in cycle.zone().programs:
        assert program.description.es in text.replace("\n", " ") or program.description.es[:30] in text


def test_serials_are_never_issued_twice_across_runs(cycle: Cycle, capsys) -> None:
    assert cli("forms", "print", "--count", "3", "--batch", "Mañana", "--cycle", str(cycle.root)) == 0
    assert cli("forms", "print", "--count", "4", "--paper", "a4", "--cycle", str(cycle.root)) == 0
    db = cycle.db()
    rows = list(db.query("SELECT serial, number, batch_id FROM serials ORDER BY number"))
    assert len(rows) == 7 and len({r["serial"] for r in rows}) == 7
    assert [r["number"] for r in rows] == list(range(1, 8))
    batches = list(db.query("SELECT label, paper, count, status, output FROM batches ORDER BY id"))
    assert [(b["label"], b["paper"], b["count"], b["status"]) for b in batches] == [
        ("Mañana", "letter", 3, "printed"), (batches[1]["label"], "a4", 4, "printed")]
    assert all(Path(b["output"]).is_file() for b in batches)
    a4_page = rasterize(Path(batches[1]["output"]), 1, 1)[0]
    assert abs(a4_page.shape[0] / a4_page.shape[1] - 841.89 / 595.28) < 0.01
    kinds = [r["kind"] for r in db.query("SELECT kind FROM events ORDER BY id")]
    assert kinds == ["cycle.created", "forms.issued", "forms.printed", "forms.issued", "forms.printed"]


def test_a_failed_print_leaves_no_pdf_and_burns_its_serials(cycle: Cycle, monkeypatch) -> None:
    from zonepaper.forms import batch as batch_module

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(batch_module, "write_forms_pdf", broken)
    out = cycle.root / "out.pdf"
    with pytest.raises(OSError):
        batch_module.print_forms(cycle, 5, "x", out=out)
    assert not out.exists() and not list(cycle.root.glob(".out.pdf*"))
    monkeypatch.undo()
    batch_module.print_forms(cycle, 2, "y")
    rows = list(cycle.db().query("SELECT b.status, count(*) n FROM serials s JOIN batches b ON b.id = s.batch_id "
                                 "GROUP BY b.id ORDER BY b.id"))
    assert [(r["status"], r["n"]) for r in rows] == [("failed", 5), ("printed", 2)]


def test_zone_too_big_for_one_page_says_so(cycle: Cycle, capsys) -> None:
    text = cycle.zone_path.read_text(encoding="utf-8")
    extra = "".join(
        f'\n[[programs]]\nid = "extra{i}"\nname = "Extra Academy {i}"\ncampus = "belmont"\n'
        f'description = {{ es = "Inventado.", en = "Made up." }}\nseats = {{ 9 = 80 }}\n' for i in range(60))
    cycle.zone_path.write_text(text + extra, encoding="utf-8")
    assert cli("forms", "print", "--count", "1", "--cycle", str(cycle.root)) == 4
    err = capsys.readouterr().err
    assert "cannot be printed legibly on one sheet" in err and "79 programs" in err
    assert cycle.db()["serials"].count == 0


def test_one_form_is_singular_in_both_languages(cycle: Cycle, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ZONEPAPER_LANG", "both")
    assert cli("forms", "print", "--count", "1", "--cycle", str(cycle.root)) == 0
    out = capsys.readouterr().out
    assert "Done: 1 form (" in out and "Listo: 1 formulario (" in out
    assert "1 forms" not in out and "1 formularios" not in out


@pytest.mark.parametrize("mechanism", ["da", "bins", "fcfs"])
def test_the_back_says_how_seats_are_given_as_the_draw_gives_them(cycle: Cycle, mechanism: str) -> None:
    """The back's 'how it is decided' comes from the zone's method and priorities: a sibling's priority in
    the sibling's own program only (as the draw applies it), and what ranking a program first costs under
    this method. Every font of the PDF is embedded (no Helvetica)."""
    from zonepaper.forms.batch import print_forms

    text = cycle.zone_path.read_text(encoding="utf-8").replace('mechanism = "da"', f'mechanism = "{mechanism}"')
    cycle.zone_path.write_text(text, encoding="utf-8")
    batch = print_forms(cycle, 1, "t")
    back = " ".join(subprocess.run(["pdftotext", "-f", "2", "-l", "2", str(batch.path), "-"], capture_output=True,
                                   text=True, check=True).stdout.split())
    assert ("in the program where a sibling is already enrolled, that sibling's brother or sister (in that "
            "program only); students who live in the zone") in back  # the zone's priorities, in their order
    said = {"da": "Ranking a program first costs you nothing at the others",
            "bins": "Putting a much-wanted program first can cost you your 2nd choice",
            "fcfs": "the order in which applications arrived decides"}
    assert said[mechanism] in back and all(s not in back for m, s in said.items() if m != mechanism)
    assert "Poner un programa en 1.ª opción no le quita nada" in back or mechanism != "da"
    fonts = subprocess.run(["pdffonts", str(batch.path)], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(" yes " in r for r in rows) and "Helvetica" not in fonts
