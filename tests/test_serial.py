"""The check digit, the keyed tag and the QR payload."""

from hypothesis import given
from hypothesis import strategies as st

from zonepaper.serial import (
    BACK,
    FRONT,
    MAX_SEQUENCE,
    is_valid_serial,
    make_payload,
    make_serial,
    parse_payload,
    verify_tag,
)

numbers = st.integers(min_value=1, max_value=MAX_SEQUENCE)


@given(numbers, st.data())
def test_every_single_substitution_is_caught(number: int, data: st.DataObject) -> None:
    serial = make_serial(number)
    pos = data.draw(st.integers(0, len(serial) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != serial[pos]]))
    wrong = serial[:pos] + digit + serial[pos + 1:]
    assert is_valid_serial(serial)
    assert not is_valid_serial(wrong)


@given(numbers, st.data())
def test_every_adjacent_transposition_is_caught(number: int, data: st.DataObject) -> None:
    serial = make_serial(number)
    pos = data.draw(st.integers(0, len(serial) - 2))
    swapped = serial[:pos] + serial[pos + 1] + serial[pos] + serial[pos + 2:]
    if swapped != serial:
        assert not is_valid_serial(swapped)


def test_exhaustive_on_a_range_of_serials() -> None:
    # Beyond the random property test: every error of both kinds on 2,000 consecutive serials.
    for number in range(1, 2001):
        serial = make_serial(number)
        for pos in range(len(serial)):
            for d in "0123456789":
                if d != serial[pos]:
                    assert not is_valid_serial(serial[:pos] + d + serial[pos + 1:])
            if pos < len(serial) - 1 and serial[pos] != serial[pos + 1]:
                assert not is_valid_serial(serial[:pos] + serial[pos + 1] + serial[pos] + serial[pos + 2:])


def test_people_may_type_dashes_and_spaces() -> None:
    serial = make_serial(174)
    assert is_valid_serial(f"{serial[:3]} {serial[3:6]}-{serial[6]}")
    assert not is_valid_serial("0000000")


@given(numbers, st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_tag_verifies_only_for_the_issuing_cycle(number: int, secret: bytes, other_secret: bytes) -> None:
    serial = make_serial(number)
    payload = make_payload(secret, "ABCDEFGH", serial, FRONT)
    assert verify_tag(secret, "ABCDEFGH", serial, payload.tag)
    assert not verify_tag(secret, "ZZZZZZZZ", serial, payload.tag)
    if other_secret != secret:
        assert not verify_tag(other_secret, "ABCDEFGH", serial, payload.tag)
    other_serial = make_serial(number % MAX_SEQUENCE + 1)
    assert not verify_tag(secret, "ABCDEFGH", other_serial, payload.tag)


def test_payload_round_trip_and_sides() -> None:
    secret = bytes(range(32))
    front = make_payload(secret, "KQ2M6ABC", make_serial(17), FRONT)
    back = make_payload(secret, "KQ2M6ABC", make_serial(17), BACK)
    assert parse_payload(front.encode()) == front
    assert parse_payload(back.encode()).side == "B"
    assert parse_payload("https://example.org") is None
    assert parse_payload(front.encode().replace("ZP1F", "ZP2F")) is None
