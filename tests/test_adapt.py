"""Adapting the digit reader to the cycle's confirmed handwriting, and reading review again with it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from conftest import cli

from zonepaper.cycle import Cycle, init_cycle
from zonepaper.errors import ConflictError, InvalidInputError, StoreError
from zonepaper.fields import DIGIT_FIELDS, validate_digits, written_digits
from zonepaper.forms.batch import print_forms
from zonepaper.layout import build_layout
from zonepaper.review import accounts, queue
from zonepaper.scan import adapt as ad
from zonepaper.scan.digits import Head, Reader, digit_nets, heads_bytes
from zonepaper.scan.ingest import ingest
from zonepaper.scan.page import read_context
from zonepaper.simulate import simulate
from zonepaper.store.database import write_transaction
from zonepaper.store.events import find_broken_events
from zonepaper.store.readers import COMMITTED, StoredReader, current_reader, switch_reader
from zonepaper.store.state import changed_applications


@pytest.mark.parametrize("name, boxes, value", [
    ("birth_date", "03141995", "1995-03-14"), ("signature_date", "12012009", "2009-12-01"),
    ("zip", "90057", "90057"), ("phone", "3235920366", "3235920366"), ("sibling_program", "07", "7"),
    ("sibling_program", "7 ", "7"), ("sibling_program", "12", "12")])
def test_written_digits_is_what_validate_digits_reads_back(cycle: Cycle, name: str, boxes: str, value: str) -> None:
    zone = cycle.zone()
    assert validate_digits(name, boxes.replace(" ", ""), zone, "yes")[0] == value
    assert written_digits(name, value, [c != " " for c in boxes]) == boxes


def test_written_digits_refuses_a_value_the_boxes_cannot_hold() -> None:
    assert written_digits("zip", "9005", [True] * 5) is None  # a digit outside the boxes: not a label
    assert written_digits("birth_date", "1995-03-14", [True] * 7 + [False]) is None
    assert written_digits("phone", "", [False] * 10) is None


def test_the_committed_last_layer_read_by_numpy_is_the_network_and_its_bytes_round_trip() -> None:
    rng = np.random.default_rng(4)
    digits = [rng.random((28, 28)).astype(np.float32) for _ in range(6)]
    nets = digit_nets()
    heads = tuple(n.head for n in nets)
    stored = Reader.stored(StoredReader("adapted-x", heads_bytes(heads), {}, ""))
    for net, head in zip(nets, stored.heads):
        own = [g.probabilities for g in net.read(digits)]
        again = [g.probabilities for g in net.read(digits, head)]
        assert np.allclose(own, again, atol=1e-6)
        net.net.setInput(np.stack(digits)[:, None])  # the whole network, run by OpenCV to its end
        logits = net.net.forward().reshape(len(digits), 10)
        assert (np.argmax(logits, axis=1) == np.argmax(own, axis=1)).all()
    assert heads_bytes(heads) == heads_bytes(stored.heads)  # the same layers are the same bytes (and name)


def test_last_layers_fitted_to_other_networks_are_not_read_with(monkeypatch) -> None:
    """After an update that changes the committed networks, a cycle's adapted layers (fitted to the old
    networks' features) would read the new ones' features as if they were the old: the committed read."""
    import json

    import zonepaper.scan.digits as digits

    heads = tuple(n.head for n in digit_nets())
    fitted = heads_bytes(heads)
    assert Reader.stored(StoredReader("adapted-x", fitted, {}, "")).heads is not None
    monkeypatch.setattr(digits, "networks_id", lambda: "0" * 64)  # other networks committed since
    assert Reader.stored(StoredReader("adapted-x", fitted, {}, "")) == Reader()
    monkeypatch.undo()
    old = json.dumps([list(h.weights.shape) for h in heads]).encode()  # layers stored before the check
    values = fitted[4 + int.from_bytes(fitted[:4], "big"):]
    assert Reader.stored(StoredReader("adapted-x", len(old).to_bytes(4, "big") + old + values, {}, "")) == Reader()


def test_fitting_a_last_layer_learns_what_the_labels_say_and_stays_near_the_start() -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 3, (10, 16))
    labels = rng.integers(0, 10, 600)
    features = np.maximum(centres[labels] + rng.normal(0, 1, (600, 16)), 0)
    start = Head(rng.normal(0, 0.01, (10, 16)).astype(np.float32), np.zeros(10, np.float32))
    fitted = ad.fit_head(features, labels, start)
    assert (fitted.probabilities(features).argmax(axis=1) == labels).mean() > 0.95
    assert (start.probabilities(features).argmax(axis=1) == labels).mean() < 0.3
    # a layer that already reads every label right, surely, is where fitting starts and stays
    sure = Head(fitted.weights * 10, fitted.bias * 10)
    right = sure.probabilities(features).argmax(axis=1) == labels
    kept = ad.fit_head(features[right], labels[right], sure)
    assert (kept.probabilities(features[right]).argmax(axis=1) == labels[right]).all()
    assert np.abs(kept.weights - sure.weights).max() < 0.1 * np.abs(sure.weights).max()


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cycle, dict]:
    """A read cycle of 36 simulated forms whose digits fields in review a reviewer confirmed on the first 18."""
    root = tmp_path_factory.mktemp("adapt")
    c = init_cycle(root / "cycle", "belmont")
    print_forms(c, 40, "t")
    sim = simulate(c, 36, root / "scans", seed=5)
    ingest(c, [root / "scans"], "2009-03-14")
    truth = {t["serial"]: t["fields"] for t in json.loads(sim.truth_path.read_text())["pages"]
             if t["kind"] == "front" and t["copy"] == "original"}
    first = sorted(truth)[:18]
    zone = c.zone()
    db = c.db()
    user = accounts.add_user(db.conn, "ana", "coordinator", "a good password")
    for rowid, serial, name, version in db.conn.execute(
            f"SELECT rowid, serial, name, version FROM fields WHERE status = 'review' AND name IN "
            f"({','.join('?' * len(DIGIT_FIELDS))})", DIGIT_FIELDS).fetchall():
        if serial in first and truth[serial].get(name):
            queue.decide(db.conn, user, queue.Decision(rowid, version, "accept", str(truth[serial][name])), zone,
                         build_layout(zone, "letter"))
    db.close()
    return c, truth


@pytest.fixture
def fresh(reviewed, tmp_path: Path) -> Cycle:
    c, _ = reviewed
    shutil.copytree(c.root, tmp_path / "cycle")
    return Cycle(tmp_path / "cycle")


def _rows(c: Cycle, sql: str, *params) -> list:
    conn = sqlite3.connect(c.db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _verify(c: Cycle) -> None:
    db = c.db()
    assert not find_broken_events(db.conn) and not changed_applications(db.conn)
    db.close()


@pytest.mark.slow
def test_too_few_confirmed_digits_is_said_with_the_numbers(fresh: Cycle, capsys) -> None:
    with pytest.raises(InvalidInputError) as err:
        ad.adapt(fresh, "ana")
    assert err.value.key == "models.too_few" and err.value.params["need"] == 2000
    assert 0 < err.value.params["have"] < 2000
    assert cli("models", "adapt", "--cycle", str(fresh.root)) == 2
    assert "adapting the reader needs at least 2000" in capsys.readouterr().err
    assert _rows(fresh, "SELECT count(*) FROM digit_readers") == [(0,)]


def _swapped(heads: tuple[Head, ...]) -> tuple[Head, ...]:
    """Last layers that read every 1 as a 7 and every 7 as a 1, surely."""
    order = [0, 7, 2, 3, 4, 5, 6, 1, 8, 9]
    return tuple(Head(h.weights[order] * 3, h.bias[order] * 3) for h in heads)


@pytest.mark.slow
def test_layers_that_read_wrong_on_held_out_forms_are_not_switched_to(fresh: Cycle, monkeypatch) -> None:
    committed = tuple(n.head for n in digit_nets())
    monkeypatch.setattr(ad, "fit_heads", lambda forms: _swapped(committed))
    report = ad.adapt(fresh, "ana", min_digits=100)
    assert not report.switched and report.reader == COMMITTED
    # the few held-out fields it accepted happened to hold no 1 or 7; the confirmed digits show it
    assert report.adapted.sure_wrong > report.committed.sure_wrong
    assert report.committed.fields == report.adapted.fields > 20
    assert _rows(fresh, "SELECT count(*) FROM digit_readers") == [(0,)]
    assert _rows(fresh, "SELECT count(*) FROM events WHERE kind = 'models.switched'") == [(0,)]


def _sharper(heads: tuple[Head, ...]) -> tuple[Head, ...]:
    """The committed layers, three times as sure of what they read."""
    return tuple(Head(h.weights * 3, h.bias * 3) for h in heads)


@pytest.mark.slow
def test_a_switch_is_an_event_and_rescan_review_reads_again_with_it(fresh: Cycle, reviewed, monkeypatch) -> None:
    _, truth = reviewed
    committed = tuple(n.head for n in digit_nets())
    monkeypatch.setattr(ad, "fit_heads", lambda forms: _sharper(committed))
    real_judge = ad.judge

    def judged(forms, reader, layout, zone):  # noqa: ANN001, ANN202 - let the switch happen, to test what follows
        out = real_judge(forms, reader, layout, zone)
        if reader.id != COMMITTED:
            out.wrong = out.changed = out.sure_wrong = 0
            out.accepted += 1
        return out

    monkeypatch.setattr(ad, "judge", judged)
    report = ad.adapt(fresh, "ana", min_digits=100)
    assert report.switched and report.reader.startswith("adapted-")
    events = _rows(fresh, "SELECT actor, payload FROM events WHERE kind = 'models.switched'")
    assert len(events) == 1 and events[0][0] == "ana" and json.loads(events[0][1])["reader"] == report.reader
    assert read_context(fresh).reader.id == report.reader

    in_review = _rows(fresh, "SELECT rowid, serial, name, value, version FROM fields WHERE status = 'review' "
                             f"AND name IN ({','.join('?' * len(DIGIT_FIELDS))})", *DIGIT_FIELDS)
    held = in_review[0]
    db = fresh.db()
    user = accounts.add_user(db.conn, "bob", "reviewer", "a good password")
    held_item = queue.claim_items(db.conn, user, held[2], size=50)
    db.close()
    held_ids = {i.id for i in held_item}
    rescan = ad.rescan_review(fresh, "ana")
    assert rescan.reader == report.reader and rescan.accepted > 0
    after = {r[0]: r for r in _rows(fresh, "SELECT rowid, serial, name, value, status, version, votes FROM fields")}
    for rowid, serial, name, value, version in in_review:
        now = after[rowid]
        if rowid in held_ids:
            assert now[4] == "review" and now[5] == version  # a reviewer is looking at it: untouched
        elif now[4] == "auto":
            assert now[5] == version + 1 and json.loads(now[6])["reader"] == report.reader
        else:
            assert (now[3], now[5]) == (value, version)  # still in review, exactly as it was
    for (serial,) in _rows(fresh, "SELECT serial FROM applications WHERE status = 'complete'"):
        assert not _rows(fresh, "SELECT 1 FROM fields WHERE serial = ? AND status = 'review'", serial)
    assert _rows(fresh, "SELECT count(*) FROM events WHERE kind = 'scan.reread'")[0][0] > 0
    _verify(fresh)
    again = ad.rescan_review(fresh, "ana")  # the same reader again: nothing more to read
    assert again.fields == 0 and again.accepted == 0

    assert cli("models", "reset", "--cycle", str(fresh.root)) == 0
    assert read_context(fresh).reader.id == COMMITTED
    assert [r[0] for r in _rows(fresh, "SELECT reader FROM digit_readers ORDER BY id")] == [report.reader, COMMITTED]


@pytest.mark.slow
def test_rescan_review_is_refused_while_frozen_and_layers_changed_behind_the_tools_back_are_refused(
        fresh: Cycle) -> None:
    db = fresh.db()
    heads = heads_bytes(_sharper(tuple(n.head for n in digit_nets())))
    with write_transaction(db.conn):
        name = switch_reader(db.conn, "ana", heads, {})
        db.conn.execute("INSERT INTO freezes (status, input_digest, inputs, mechanism, created_at) "
                        "VALUES ('frozen', 'x', '{}', 'deferred_acceptance', 'now')")
    db.close()
    before = _rows(fresh, "SELECT rowid, status, version FROM fields ORDER BY rowid")
    with pytest.raises(ConflictError):
        ad.rescan_review(fresh, "ana")
    assert _rows(fresh, "SELECT rowid, status, version FROM fields ORDER BY rowid") == before

    conn = sqlite3.connect(fresh.db_path)
    conn.execute("DROP TRIGGER digit_readers_append_only_update")
    tampered = bytearray(heads)
    tampered[-4:] = np.float32(9.0).tobytes()
    conn.execute("UPDATE digit_readers SET heads = ?", (bytes(tampered),))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as err:
        read_context(fresh)
    assert err.value.key == "models.tampered" and err.value.params["reader"] == name
    db = fresh.db()
    with pytest.raises(StoreError):
        current_reader(db.conn)
    db.close()


@pytest.mark.slow
def test_readings_name_the_reader_they_were_made_with(reviewed) -> None:
    c, _ = reviewed
    readers = {json.loads(v).get("reader") for (v,) in _rows(
        c, f"SELECT votes FROM fields WHERE name IN ({','.join('?' * len(DIGIT_FIELDS))}) AND page_id IS NOT NULL",
        *DIGIT_FIELDS)}
    assert readers == {COMMITTED}


def test_the_features_are_found_by_either_opencv_engine(monkeypatch) -> None:
    """OpenCV 5.1 dropped the classic engine, whose layer names the features were read by; the newer engine
    names tensors as the ONNX file does, so the file's own graph says which tensor the last layer reads."""
    import cv2

    from zonepaper.scan.digits import MODEL_PATHS, DigitNet, onnx_inputs

    inputs = [onnx_inputs(p.read_bytes()) for p in MODEL_PATHS]
    assert all(len(i) >= 5 for i in inputs)  # every node of each graph, not only the first
    rng = np.random.default_rng(9)
    digits = [rng.random((28, 28)).astype(np.float32) for _ in range(5)]
    monkeypatch.delattr(cv2.dnn, "ENGINE_CLASSIC", raising=False)  # as OpenCV 5.1 ships
    for path, net, graph in zip(MODEL_PATHS, digit_nets(), inputs):
        newer = DigitNet(path)
        assert newer.feature_layer in graph.values()  # a tensor the graph feeds a node with
        assert newer.width == net.width
        own = np.array([g.probabilities for g in net.read(digits)])
        assert np.allclose(own, [g.probabilities for g in newer.read(digits)], atol=1e-4)
