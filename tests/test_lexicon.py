"""The first guess of a hand-printed name, ranked with the census lists of common names (scan/lexicon.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zonepaper.layout import build_layout
from zonepaper.scan import lexicon
from zonepaper.scan.letters import CLASSES, LetterReading
from zonepaper.scan.lexicon import rank_name
from zonepaper.scan.page import decide_letters
from zonepaper.zone import example_zone_text, parse_zone_text


def boxes(text: str, doubts: dict[int, dict[str, float]] | None = None, sure: float = 0.95) -> tuple:
    """Per box, the probabilities a network might give: `sure` for the written character, the rest spread
    evenly, unless `doubts` gives a box its own probabilities; None for a space (an empty box)."""
    out = []
    for i, c in enumerate(text):
        if c == " ":
            out.append(None)
            continue
        given = (doubts or {}).get(i, {c: sure})
        rest = (1 - sum(given.values())) / (len(CLASSES) - len(given))
        out.append(np.array([given.get(k, rest) for k in CLASSES]))
    return tuple(out)


def test_a_word_the_network_doubts_becomes_the_common_name_its_boxes_allow() -> None:
    # L read first but I almost as likely: GARCIA, a common surname, is the guess.
    assert rank_name("last_name", boxes("GARCLA", {4: {"L": 0.55, "I": 0.35}}), CLASSES) == "GARCIA"
    assert rank_name("first_name", boxes("MICHELIE", {6: {"I": 0.5, "L": 0.3}}), CLASSES) == "MICHELLE"
    # The J of JOHNSON read as S, J the second guess: the name is more likely than SOHNSON.
    assert rank_name("last_name", boxes("SOHNSON", {0: {"S": 0.6, "J": 0.2}}), CLASSES) == "JOHNSON"


def test_a_name_read_clearly_stays_as_read_even_when_no_list_holds_it() -> None:
    assert rank_name("last_name", boxes("XQZWRTK"), CLASSES) == "XQZWRTK"
    assert rank_name("first_name", boxes("XIMENA"), CLASSES) == "XIMENA"  # not on the 1990 lists
    assert rank_name("last_name", boxes("SANTISTEBAN"), CLASSES) == "SANTISTEBAN"  # rare (rank 68,279): kept
    assert rank_name("first_name", boxes("AB"), CLASSES) == "AB"  # too short to tell
    assert rank_name("last_name", (), CLASSES) == ""


def test_accents_are_the_networks_and_each_word_of_a_compound_name_is_ranked() -> None:
    read = boxes("HERNÁNDEZ-VILLASEÑQR", {18: {"Q": 0.5, "O": 0.4}})
    assert rank_name("last_name", read, CLASSES) == "HERNÁNDEZ-VILLASEÑOR"  # Á and Ñ kept, Q -> O
    unsure = boxes("GARCIA", {4: {"I": 0.5, "Í": 0.45}})
    assert rank_name("last_name", unsure, CLASSES) == "GARCIA"  # the likelier of I and Í
    assert rank_name("guardian_name", boxes("MICHELIE KIM", {6: {"I": 0.5, "L": 0.3}}), CLASSES) == "MICHELLE KIM"
    assert rank_name("first_name", boxes("MARÍA DE LOS ÁNGELES"), CLASSES) == "MARÍA DE LOS ÁNGELES"
    assert rank_name("last_name", boxes("FLORES  GONZÁLEZ   "), CLASSES) == "FLORES  GONZÁLEZ"  # boxes between


def test_the_ranked_guess_goes_to_a_person_with_the_networks_own_reading_kept() -> None:
    zone = parse_zone_text(example_zone_text("belmont"), Path("belmont.toml"))
    f = build_layout(zone, "letter").field("last_name")
    reading = LetterReading(boxes("GARCLA", {4: {"L": 0.55, "I": 0.35}}) + (None,) * (len(f.boxes) - 6))
    result = decide_letters("last_name", reading, f)
    assert result.value == "GARCIA" and result.status == "review" and result.votes == {"network": "GARCLA"}
    assert 0 < result.confidence < 0.55
    city = decide_letters("city", LetterReading(boxes("LOS ANGELEZ", {10: {"Z": 0.5, "S": 0.4}})), f)
    assert city.value == "LOS ANGELEZ"  # only names are ranked
    empty = decide_letters("last_name", LetterReading((None,) * len(f.boxes)), f)
    assert empty.value == "" and empty.status == "review" and empty.reasons == ("empty",)


def test_the_name_lists_are_read_once_for_all_three_name_fields() -> None:
    """Each page ranks a last name, a first name and a guardian's name: three lists. A cache of two
    read 94,000 census lines again for every name, 0.7 s of each page's 1.1 s (real-hand colour scans)."""
    lexicon._by_length.cache_clear()
    for _ in range(3):
        for field in ("last_name", "first_name", "guardian_name"):
            rank_name(field, boxes("GARCIA"), CLASSES)
    assert lexicon._by_length.cache_info().misses == 3
