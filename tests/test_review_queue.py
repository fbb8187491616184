"""The review queue without the web: claims, leases, versioned decisions, events, quarantine, users."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from conftest import cli

from zonepaper.cycle import Cycle, init_cycle
from zonepaper.errors import ConflictError, InvalidInputError
from zonepaper.layout import build_layout
from zonepaper.serial import display_serial
from zonepaper.review import accounts, queue
from zonepaper.review import quarantine as qu
from zonepaper.review.queue import Decision, QueueError
from zonepaper.review.values import BadValue, normalize_value
from zonepaper.scan.page import FieldResult
from zonepaper.store.database import write_transaction
from zonepaper.store.events import find_broken_events
from zonepaper.store.state import changed_applications
from zonepaper.zone import example_zone_text, parse_zone_text

BOX = (10, 10, 100, 30)


def belmont():
    return parse_zone_text(example_zone_text("belmont"), Path("belmont.toml"))


def fr(name: str, value: str, status: str = "review", reasons: tuple[str, ...] = ("unsure_digit",)) -> FieldResult:
    return FieldResult(name, value, status, 0.5, {}, reasons if status == "review" else (), BOX)


def test_two_reviewers_never_hold_the_same_item(desk) -> None:
    _, conn, users, *_ = desk
    seen_bob = {i.id for i in queue.claim_items(conn, users["bob"], size=4, now=1000)}
    seen_cat = {i.id for i in queue.claim_items(conn, users["cat"], size=4, now=1000)}
    assert len(seen_bob) == 4 and len(seen_cat) == 2 and not seen_bob & seen_cat
    assert queue.claim_items(conn, users["ana"], size=4, now=1000) == []  # everything is claimed
    # asking again gives a reviewer what they already hold, not more
    assert {i.id for i in queue.claim_items(conn, users["bob"], size=4, now=1001)} == seen_bob


def test_an_expired_lease_frees_the_item_and_the_late_decision_is_refused(desk) -> None:
    _, conn, users, zone, layout, _ = desk
    item = queue.next_item(conn, users["bob"], now=1000)
    later = 1000 + queue.LEASE_SECONDS + 1
    again = queue.next_item(conn, users["cat"], now=later)
    assert again.id == item.id
    queue.decide(conn, users["cat"], Decision(item.id, item.version, "accept", "03141995"), zone, layout, now=later)
    with pytest.raises(QueueError) as err:  # bob comes back from lunch: his version is stale
        queue.decide(conn, users["bob"], Decision(item.id, item.version, "accept", "01011995"), zone, layout,
                     now=later + 1)
    assert err.value.key in ("conflict", "not_yours")
    assert conn.execute("SELECT value, version FROM fields WHERE rowid = ?", (item.id,)).fetchone() == \
        ("1995-03-14", 2)


def test_a_decision_is_an_event_with_old_and_new_value_and_verify_sees_tampering(desk) -> None:
    c, conn, users, zone, layout, _ = desk
    item = queue.next_item(conn, users["bob"])
    assert item.name == "birth_date"
    after = queue.decide(conn, users["bob"], Decision(item.id, item.version, "accept", "03/15/1995"), zone, layout)
    assert (after.value, after.status, after.version) == ("1995-03-15", "confirmed", 2)
    event = json.loads(conn.execute("SELECT payload FROM events WHERE kind = 'review.decided'").fetchone()[0])
    assert (event["old"], event["new"], event["field"], event["serial"]) == ("1995-03-14", "1995-03-15",
                                                                             "birth_date", item.serial)
    assert conn.execute("SELECT actor FROM events WHERE kind = 'review.decided'").fetchone()[0] == "bob"
    assert find_broken_events(conn) == [] and changed_applications(conn) == []
    assert cli("verify", "--cycle", str(c.root)) == 0
    conn.execute("UPDATE fields SET value = '1990-01-01' WHERE rowid = ?", (item.id,))  # behind the tool's back
    assert changed_applications(conn) == [(item.serial, "changed")]
    assert cli("verify", "--cycle", str(c.root)) == 5


def test_the_same_decision_is_not_applied_twice(desk) -> None:
    _, conn, users, zone, layout, _ = desk
    item = queue.next_item(conn, users["bob"])
    d = Decision(item.id, item.version, "accept", None)
    queue.decide(conn, users["bob"], d, zone, layout)
    with pytest.raises(QueueError):
        queue.decide(conn, users["bob"], d, zone, layout)
    assert conn.execute("SELECT count(*) FROM events WHERE kind = 'review.decided'").fetchone()[0] == 1


def test_illegible_goes_to_a_coordinator_and_a_skipped_item_comes_back_to_that_reviewer_last(desk) -> None:
    _, conn, users, zone, layout, _ = desk
    first = queue.next_item(conn, users["bob"])
    queue.decide(conn, users["bob"], Decision(first.id, first.version, "illegible"), zone, layout)
    second = queue.next_item(conn, users["bob"])
    queue.decide(conn, users["bob"], Decision(second.id, second.version, "skip"), zone, layout)
    bob_sees = [i.id for i in queue.claim_items(conn, users["bob"], size=10)]
    assert first.id not in bob_sees and bob_sees[-1] == second.id and len(bob_sees) == 5  # after the rest
    waiting = {(why, who, item.id) for why, who, item in queue.waiting_on_people(conn)}
    assert waiting == {("skipped", "bob", second.id), ("illegible", "bob", first.id)}  # the dashboard's list
    queue.release_claims(conn, users["bob"])
    cat_sees = {i.id for i in queue.claim_items(conn, users["cat"], size=10)}
    assert second.id in cat_sees and first.id not in cat_sees
    queue.release_claims(conn, users["cat"])
    coordinator_first = queue.next_item(conn, users["ana"])
    assert coordinator_first.id == first.id and coordinator_first.illegible


def test_any_recent_decision_can_be_opened_again_and_a_coordinator_reopens_an_accepted_field(desk) -> None:
    c, conn, users, zone, layout, serials = desk
    bob, ana = users["bob"], users["ana"]
    decided = []
    for _ in range(3):
        item = queue.next_item(conn, bob)
        queue.decide(conn, bob, Decision(item.id, item.version, "accept"), zone, layout)
        decided.append(item.id)
    assert [item.id for _, item in queue.recent_decisions(conn, bob)] == decided[::-1]
    again = queue.reopen(conn, bob, decided[0])  # not only the last one
    assert again.id == decided[0] and again.status == "confirmed"
    with pytest.raises(QueueError) as err:  # a reviewer cannot open someone else's or the machine's field
        queue.reopen(conn, users["cat"], decided[1])
    assert err.value.key == "forbidden"
    auto = conn.execute("SELECT rowid FROM fields WHERE status = 'auto' LIMIT 1").fetchone()[0]
    reopened = queue.reopen(conn, ana, auto)  # a family called: the name the machine accepted is wrong
    assert reopened.status == "review" and reopened.reasons == ("reopened",)
    assert conn.execute("SELECT count(*) FROM events WHERE kind = 'review.reopened'").fetchone()[0] == 1
    assert changed_applications(conn) == []
    done = queue.decide(conn, ana, Decision(reopened.id, reopened.version, "accept"), zone, layout)
    assert done.status == "confirmed" and done.value == "9"


def test_a_lease_is_renewed_while_the_page_is_in_use_and_a_lost_one_is_named(desk) -> None:
    _, conn, users, zone, layout, _ = desk
    bob, cat = users["bob"], users["cat"]
    held = queue.claim_items(conn, bob, size=2, now=1000.0)
    assert queue.renew_claims(conn, bob, [i.id for i in held], now=1000.0 + queue.LEASE_SECONDS - 5) == []
    later = 1000.0 + queue.LEASE_SECONDS + 60  # without the renewal both leases would have run out by now
    assert not {i.id for i in queue.claim_items(conn, cat, size=10, now=later)} & {i.id for i in held}
    queue.release_claims(conn, cat)
    far = later + 2 * queue.LEASE_SECONDS  # the page was left alone: the leases ran out, cat took one
    taken = queue.claim_items(conn, cat, size=1, now=far)[0]
    assert taken.id in {i.id for i in held}
    assert queue.renew_claims(conn, bob, [i.id for i in held], now=far) == [taken.id]


def test_back_reopens_the_last_decision_to_change_it(desk) -> None:
    _, conn, users, zone, layout, _ = desk
    item = queue.next_item(conn, users["bob"])
    queue.decide(conn, users["bob"], Decision(item.id, item.version, "accept", None), zone, layout)
    again = queue.reopen_last(conn, users["bob"])
    assert again.id == item.id and again.status == "confirmed"
    assert queue.claim_items(conn, users["cat"], size=10)  # others get other items, not this one
    assert item.id not in {i.id for i in queue.claim_items(conn, users["cat"], size=10)}
    changed = queue.decide(conn, users["bob"], Decision(again.id, again.version, "accept", "04141995"), zone, layout)
    assert changed.value == "1995-04-14" and changed.version == 3


def test_a_batch_is_all_or_nothing_and_completes_applications(desk) -> None:
    _, conn, users, zone, layout, serials = desk
    items = queue.claim_items(conn, users["bob"], "zip", size=20)
    assert len(items) == 3
    bad = [Decision(i.id, i.version, "accept", "9001" if n == 1 else None) for n, i in enumerate(items)]
    with pytest.raises(QueueError) as err:
        queue.decide_many(conn, users["bob"], bad, zone, layout)
    assert err.value.key == "bad_value" and err.value.item == items[1].id
    assert conn.execute("SELECT count(*) FROM fields WHERE name = 'zip' AND status = 'confirmed'").fetchone()[0] == 0
    queue.decide_many(conn, users["bob"], [Decision(i.id, i.version, "accept") for i in items], zone, layout)
    births = queue.claim_items(conn, users["bob"], "birth_date", size=20)
    queue.decide_many(conn, users["bob"], [Decision(i.id, i.version, "accept") for i in births], zone, layout)
    statuses = {r[0] for r in conn.execute("SELECT status FROM applications")}
    assert statuses == {"complete"}
    assert changed_applications(conn) == []


def test_an_auditor_cannot_claim_or_decide(desk) -> None:
    _, conn, users, zone, layout, _ = desk
    with pytest.raises(QueueError):
        queue.next_item(conn, users["aud"])
    item_id = conn.execute("SELECT rowid, version FROM fields WHERE status = 'review' LIMIT 1").fetchone()
    with pytest.raises(QueueError):
        queue.decide(conn, users["aud"], Decision(item_id[0], item_id[1], "accept"), zone, layout)


@pytest.mark.parametrize(("name", "typed", "stored"), [
    ("birth_date", "03141995", "1995-03-14"), ("birth_date", "3/14/1995", "1995-03-14"),
    ("birth_date", "1995-03-14", "1995-03-14"), ("phone", "(213) 555-0147", "2135550147"),
    ("zip", " 90012 ", "90012"), ("choices", "3 1  12", "health,latpa,computing"),
    ("choices", "", ""), ("last_name", "pérez  garcía", "PÉREZ GARCÍA"), ("grade", "9", "9"),
    ("sibling_program", "07", "7"),
    # answers in the volunteer's words, Spanish or English, with or without accents
    ("signature", "sí", "present"), ("signature", "Firmado", "present"), ("signature", "sin firma", "missing"),
    ("sibling", "Sí", "yes"), ("letter_language", "inglés", "en"), ("letter_language", "Spanish", "es"),
    ("reply", "no acepta", "decline"),
])
def test_what_a_reviewer_types_is_stored_like_the_reader_stores_it(name: str, typed: str, stored: str) -> None:
    zone = belmont()
    assert normalize_value(name, typed, zone, build_layout(zone, "letter")) == stored


@pytest.mark.parametrize(("name", "typed", "key"), [
    ("birth_date", "02301995", "date"), ("zip", "9001", "zip"), ("phone", "555-0147", "phone"),
    ("choices", "3 3", "twice"), ("choices", "40", "no_program"), ("grade", "7", "option"),
    # well formed but outside the field's rules (the reader's and the CSV import's): seen stored by Ctrl+Enter
    ("birth_date", "03231795", "impossible_date"), ("birth_date", "12317935", "impossible_date"),
    ("birth_date", "7995-01-02", "impossible_date"), ("phone", "1135550147", "not_a_phone"),
    ("signature_date", "01012031", "impossible_date"),
    # characters a person never means to store (they made the .xlsx export invalid)
    ("last_name", "PÉ\u202eREZ", "control"), ("address", "12 MAIN\x00ST", "control"),
])
def test_a_value_that_cannot_be_stored_says_why(name: str, typed: str, key: str) -> None:
    zone = belmont()
    with pytest.raises(BadValue) as err:
        normalize_value(name, typed, zone, build_layout(zone, "letter"))
    assert err.value.key == key


def test_accepting_an_impossible_reading_is_refused_and_only_a_coordinator_may_store_it_as_written(desk) -> None:
    c, conn, users, zone, layout, serials = desk
    row = conn.execute("SELECT rowid, version FROM fields WHERE serial = ? AND name = 'birth_date'",
                       (serials[0],)).fetchone()
    with write_transaction(conn):  # the machine read a year 7935 (a 1 with a flag taken for a 7, and more)
        conn.execute("UPDATE fields SET value = '7935-03-14' WHERE rowid = ?", (row[0],))
    bob, ana = users["bob"], users["ana"]
    queue.claim_items(conn, bob, "birth_date", 3)
    with pytest.raises(QueueError) as err:  # Enter (or Ctrl+Enter) on what the machine read
        queue.decide(conn, bob, Decision(row[0], row[1], "accept"), zone, layout)
    assert err.value.key == "bad_value" and err.value.bad.key == "impossible_date"
    with pytest.raises(QueueError) as err:
        queue.decide(conn, bob, Decision(row[0], row[1], "as_written", "03141795"), zone, layout)
    assert err.value.key == "forbidden"
    queue.release_claims(conn, bob)
    queue.claim_items(conn, ana, "birth_date", 3)
    done = queue.decide(conn, ana, Decision(row[0], row[1], "as_written", "03141795"), zone, layout)
    assert (done.value, done.status) == ("1795-03-14", "confirmed")
    event = json.loads(conn.execute("SELECT payload FROM events WHERE kind = 'review.decided' ORDER BY id DESC "
                                    "LIMIT 1").fetchone()[0])
    assert event["as_written"] is True and event["new"] == "1795-03-14" and event["old"] == "7935-03-14"


def _quarantine(conn: sqlite3.Connection, serial: str | None, reason: str) -> int:
    with write_transaction(conn):
        conn.execute("INSERT OR IGNORE INTO files (sha256, original_name, stored_as, size, status, started_at, "
                     "received_batch) VALUES ('f', 'scan.pdf', 'x', 1, 'done', 'now', '2009-03-03')")
        n = conn.execute("SELECT count(*) FROM pages").fetchone()[0]
        return conn.execute("INSERT INTO pages (file_sha256, page_index, kind, serial, reason, image, created_at) "
                            "VALUES ('f', ?, 'quarantined', ?, ?, 'pages/x.jpg', 'now')", (n, serial, reason)).lastrowid


def test_quarantine_duplicate_kept_as_two_applicants_gets_a_new_serial(desk) -> None:
    _, conn, users, _, _, serials = desk
    with write_transaction(conn):
        conn.execute("UPDATE applications SET status = 'held', flags = '[\"duplicate\"]' WHERE serial = ?",
                     (serials[0],))
    page = _quarantine(conn, serials[0], "duplicate")
    with pytest.raises(QueueError) as err:
        qu.resolve(conn, users["bob"], qu.Resolution(page, "keep_first"))
    assert err.value.key == "forbidden"
    with pytest.raises(QueueError) as err:
        qu.resolve(conn, users["ana"], qu.Resolution(page, "both"), fields=(fr("zip", "90033"),))
    assert err.value.key == "reason_needed"
    out = qu.resolve(conn, users["ana"], qu.Resolution(page, "both", reason="twins, checked by phone"),
                     fields=(fr("zip", "90033"),))
    new = out["serial"]
    assert new not in serials and conn.execute("SELECT 1 FROM serials WHERE serial = ?", (new,)).fetchone()
    assert json.loads(conn.execute("SELECT flags FROM applications WHERE serial = ?", (new,)).fetchone()[0]) == \
        [f"copy_of:{serials[0]}"]
    assert conn.execute("SELECT status FROM applications WHERE serial = ?", (serials[0],)).fetchone()[0] == "review"
    with pytest.raises(QueueError):  # resolved once only
        qu.resolve(conn, users["ana"], qu.Resolution(page, "keep_first"))
    assert changed_applications(conn) == []


def test_quarantine_typed_serial_must_be_real_issued_and_free(desk) -> None:
    _, conn, users, _, _, serials = desk
    page = _quarantine(conn, None, "serial_unreadable")
    fields = (fr("zip", "90012"),)
    with pytest.raises(QueueError) as err:
        qu.resolve(conn, users["ana"], qu.Resolution(page, "serial", serial="1234567"), fields=fields)
    assert err.value.key == "bad_serial"
    # a number already received: the sheet is a second copy of that form, set beside the first to compare
    taken = _quarantine(conn, None, "bad_check_digit")
    out = qu.resolve(conn, users["ana"], qu.Resolution(taken, "serial", serial=display_serial(serials[0])),
                     fields=(fr("zip", "90031"),))
    assert out["action"] == "now_duplicate" and out["serial"] == serials[0]
    now = qu.get_page(conn, taken)
    assert (now.reason, now.serial, now.resolution) == ("duplicate", serials[0], None)
    assert now.actions == qu.ACTIONS["duplicate"]
    assert conn.execute("SELECT status FROM applications WHERE serial = ?", (serials[0],)).fetchone()[0] == "held"
    assert conn.execute("SELECT value FROM fields WHERE serial = ? AND name = 'zip'", (serials[0],)).fetchone()[0] \
        != "90031"  # the first sheet's reading stands until the coordinator says which counts
    qu.resolve(conn, users["ana"], qu.Resolution(taken, "keep_first"))
    assert conn.execute("SELECT status FROM applications WHERE serial = ?", (serials[0],)).fetchone()[0] != "held"
    qu.resolve(conn, users["ana"], qu.Resolution(page, "serial", serial=serials[4]), fields=fields)
    assert conn.execute("SELECT received_batch FROM applications WHERE serial = ?", (serials[4],)).fetchone()[0] == \
        "2009-03-03"
    not_a_form = _quarantine(conn, None, "not_a_form")
    qu.resolve(conn, users["ana"], qu.Resolution(not_a_form, "not_a_form"))
    assert [p.id for p in qu.quarantined_pages(conn)] == []


def login(conn, name: str, password: str):
    """As the login page does it: check on a reader, record on the writer."""
    user, user_id, _state = accounts.check_login(conn, name, password)
    accounts.record_login(conn, user_id, user is not None)
    return user


def test_passwords_sessions_and_failed_logins(desk) -> None:
    _, conn, users, *_ = desk
    stored = conn.execute("SELECT password FROM users WHERE name = 'bob'").fetchone()[0]
    assert stored.startswith("scrypt$") and "a good password" not in stored
    assert login(conn, "bob", "wrong password") is None
    assert accounts.failed_logins(conn, "bob") == 1
    user = login(conn, "bob", "a good password")
    assert user.name == "bob" and accounts.failed_logins(conn, "bob") == 0
    token, csrf = accounts.start_session(conn, user)
    assert accounts.session_user(conn, token)[:2] == (user, csrf)
    assert conn.execute("SELECT count(*) FROM sessions WHERE token_hash = ?", (token,)).fetchone()[0] == 0
    accounts.end_session(conn, token)
    assert accounts.session_user(conn, token) is None
    with pytest.raises(ConflictError):
        accounts.add_user(conn, "bob", "reviewer", "another password")


def test_an_account_locks_after_repeated_failures_and_only_a_coordinator_unlocks_it(desk) -> None:
    _, conn, users, *_ = desk
    for _ in range(accounts.LOCK_AFTER):
        assert login(conn, "cat", "guess") is None
    assert accounts.check_login(conn, "cat", "a good password")[2] == "locked"  # even with the right password
    assert accounts.check_login(conn, "cat", "guess")[2] == "bad"  # a guesser learns nothing
    assert conn.execute("SELECT count(*) FROM events WHERE kind = 'user.locked'").fetchone()[0] == 1
    accounts.set_enabled(conn, "cat", True)
    assert login(conn, "cat", "a good password").name == "cat"
    token, _ = accounts.start_session(conn, users["cat"])
    accounts.set_enabled(conn, "cat", False)  # disabled: the open session ends at once
    assert accounts.session_user(conn, token) is None
    assert accounts.check_login(conn, "cat", "a good password")[2] == "disabled"
    accounts.set_enabled(conn, "cat", True)
    accounts.set_password(conn, "cat", "a brand new password")
    assert login(conn, "cat", "a good password") is None and login(conn, "cat", "a brand new password")
    assert [a.state for a in accounts.accounts(conn) if a.name == "cat"] == ["active"]


def test_a_session_ends_when_left_alone_and_after_twelve_hours(desk) -> None:
    _, conn, users, *_ = desk
    token, _ = accounts.start_session(conn, users["bob"])
    now = time.time()
    assert accounts.session_user(conn, token, 30, now=now + 29 * 60) is not None
    assert accounts.session_user(conn, token, 30, now=now + 31 * 60) is None  # left alone 31 minutes
    accounts.touch_session(conn, token, now=now + 25 * 60)  # used at 25 minutes
    assert accounts.session_user(conn, token, 30, now=now + 50 * 60) is not None
    assert accounts.session_user(conn, token, 24 * 60, now=now + 12 * 3600 + 5) is None  # the absolute end


def test_unknown_and_known_names_take_the_same_time_and_many_failures_from_one_address_are_refused(desk) -> None:
    _, conn, *_ = desk
    accounts.check_login(conn, "nobody", "x")  # the first call makes the stand-in hash

    def seconds(name: str) -> float:
        start = time.perf_counter()
        for _ in range(5):
            accounts.check_login(conn, name, "not the password")
        return time.perf_counter() - start

    known, unknown = seconds("bob"), seconds("nobody at all")
    assert abs(known - unknown) / known < 0.35, (known, unknown)
    throttle = accounts.Throttle()
    waits = [throttle.failed(f"name{i}", "10.0.0.7", now=1000.0 + i) for i in range(accounts.Throttle.PER_ADDRESS)]
    assert max(waits) == 0.5  # each name tried once: no name's wait grew...
    assert throttle.refused("10.0.0.7", now=1040.0)  # ...but the address's did
    assert not throttle.refused("10.0.0.8", now=1040.0)
    assert not throttle.refused("10.0.0.7", now=1000.0 + accounts.Throttle.WINDOW + 60)  # for a while
    with pytest.raises(InvalidInputError):
        accounts.add_user(conn, "dee", "boss", "another password")
    with pytest.raises(InvalidInputError):
        accounts.add_user(conn, "dee", "reviewer", "short")


def test_users_add_asks_twice_and_serve_refuses_the_network_without_users(tmp_path: Path, capsys) -> None:
    from typer.testing import CliRunner

    from zonepaper.cli import app

    c: Cycle = init_cycle(tmp_path / "c", "belmont")
    assert cli("review", "serve", "--host", "0.0.0.0", "--cycle", str(c.root)) == 2
    assert "no users" in capsys.readouterr().err
    result = CliRunner().invoke(app, ["users", "add", "eva", "--role", "coordinator", "--cycle", str(c.root)],
                                input="one password\nanother one\none password\none password\n")
    assert result.exit_code == 0, result.output
    assert [u.name for u in accounts.list_users(c.db().conn)] == ["eva"]
    result = CliRunner().invoke(app, ["users", "passwd", "eva", "--cycle", str(c.root)],
                                input="a new password\na new password\n")
    assert result.exit_code == 0 and "changed" in result.output, result.output
    assert accounts.check_login(c.db().conn, "eva", "a new password")[2] == "ok"
    assert cli("users", "disable", "eva", "--cycle", str(c.root)) == 0
    assert cli("users", "list", "--cycle", str(c.root)) == 0
    assert "eva\tcoordinator\tes\tdisabled\tlast login: never" in capsys.readouterr().out
    assert cli("users", "enable", "nobody", "--cycle", str(c.root)) == 2
    assert "There is no user 'nobody'" in capsys.readouterr().err
    assert cli("users", "enable", "eva", "--cycle", str(c.root)) == 0


@pytest.mark.parametrize("args,said", [(["eva", "--role", "boss"], "boss"), (["e va!"], "e va!")])
def test_users_add_names_a_wrong_role_or_name_before_asking_for_a_password(tmp_path: Path, args, said) -> None:
    """Nobody types a password twice only to hear that the role was mistyped."""
    from typer.testing import CliRunner

    from zonepaper.cli import app

    c: Cycle = init_cycle(tmp_path / "c", "belmont")
    result = CliRunner().invoke(app, ["users", "add", *args, "--cycle", str(c.root)], input="")
    assert "assword" not in result.output and said in str(result.exception or result.output)
    assert accounts.list_users(c.db().conn) == []


def test_a_batch_says_every_refused_value_at_once_and_stores_none(desk) -> None:
    _, conn, users, zone, layout, _ = desk
    ana = users["ana"]
    items = queue.claim_items(conn, ana, "zip", 3)
    assert len(items) == 3
    decisions = [Decision(items[0].id, items[0].version, "accept", "9"), Decision(items[1].id, items[1].version,
                                                                                  "accept", "90026"),
                 Decision(items[2].id, items[2].version, "accept", "1")]
    with pytest.raises(QueueError) as err:
        queue.decide_many(conn, ana, decisions, zone, layout)
    assert [(item, bad.key) for item, bad in err.value.others] == [(items[0].id, "zip"), (items[2].id, "zip")]
    assert conn.execute("SELECT count(*) FROM fields WHERE name = 'zip' AND status = 'confirmed'").fetchone()[0] == 0
