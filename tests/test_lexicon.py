"""The first guess of a hand-printed name, ranked with the census lists of common names (scan/lexicon.py)."""

from __future__ import annotations

from zonepaper.layout import build_layout
from zonepaper.scan.boxes import BoxesReading
from zonepaper.scan.lexicon import _ranks, rank_name
from zonepaper.scan.page import decide_letters
from zonepaper.zone import example_zone_text, parse_zone_text


def test_a_word_one_letter_from_a_common_name_becomes_that_name() -> None:
    assert rank_name("last_name", "GARCLA") == "GARCIA"  # one letter changed
    assert rank_name("first_name", "MICHELIE") == "MICHELLE"
    assert rank_name("last_name", "NGUVEN") == "NGUYEN"
    assert rank_name("first_name", "CHRISTOPHR") == "CHRISTOPHER"  # one left out
    assert rank_name("last_name", "SMITHH") == "SMITH"  # one added


def test_known_names_particles_and_words_far_from_any_name_stay_as_read() -> None:
    assert rank_name("last_name", "GARCÍA") == "GARCÍA"  # a known name (its accent is no difference)
    assert rank_name("first_name", "MARÍA DE LOS ÁNGELES") == "MARÍA DE LOS ÁNGELES"  # LOS is not LOIS
    assert rank_name("last_name", "XQZWRTK") == "XQZWRTK"  # no known name near: as read
    assert rank_name("first_name", "AB") == "AB"  # too short to tell
    assert rank_name("last_name", "") == ""


def test_accents_read_are_kept_and_each_word_of_a_compound_name_is_ranked() -> None:
    assert rank_name("last_name", "HERNÁNDEZ-VILLASEÑQR") == "HERNÁNDEZ-VILLASEÑOR"  # Ñ kept, Q -> O
    assert rank_name("guardian_name", "MICHELIE KLM") == "MICHELLE KIM"  # given names and surnames alike
    assert rank_name("last_name", "FLORES  GONZÁLEZ") == "FLORES  GONZÁLEZ"  # an empty box between words


def test_the_ranked_guess_goes_to_a_person_with_tesseracts_own_reading_kept() -> None:
    zone = parse_zone_text(example_zone_text("belmont"), __import__("pathlib").Path("belmont.toml"))
    f = build_layout(zone, "letter").field("last_name")
    reading = BoxesReading("GARCLA", (), "GARCLA", 0.61, (False,) * 6 + (True,) * (len(f.boxes) - 6))
    result = decide_letters("last_name", reading, f)
    assert result.value == "GARCIA" and result.status == "review" and result.votes == {"tesseract": "GARCLA"}
    city = decide_letters("city", BoxesReading("LOS ANGELEZ", (), "LOS ANGELEZ", 0.6, (False,) * 11), f)
    assert city.value == "LOS ANGELEZ"  # only names are ranked


def test_the_name_lists_are_read_once_for_all_three_name_fields() -> None:
    """Each page ranks a last name, a first name and a guardian's name: three lists. A cache of two
    read 94,000 census lines again for every name, 0.7 s of each page's 1.1 s (real-hand colour scans)."""
    _ranks.cache_clear()
    for _ in range(3):
        for field in ("last_name", "first_name", "guardian_name"):
            rank_name(field, "GARCIA")
    assert _ranks.cache_info().misses == 3
