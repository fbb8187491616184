"""The translation files: every text in Spanish and English, with the same placeholders in both."""

from __future__ import annotations

import re
import string

import pytest

from zonepaper.text import LANGUAGES, load_catalog, text_dir


def _placeholders(text: str) -> set[str]:
    """The {names} a text needs; a zone name given per language ({zone_es} / {zone_en}) counts as one."""
    return {re.sub(r"_(es|en)$", "", name) for _, name, _, _ in string.Formatter().parse(text) if name}


# Texts whose languages rightly need different values: English writes "1st", Spanish "1.ª".
OWN_WORDS = {("form", "choices.rank")}


@pytest.mark.parametrize("catalog", sorted(p.stem for p in text_dir().glob("*.toml")))
def test_every_text_is_in_both_languages_with_the_same_placeholders(catalog: str) -> None:
    texts = load_catalog(catalog)
    assert texts
    for key, entry in texts.items():
        assert all(entry.get(lang, "").strip() for lang in LANGUAGES), f"{catalog}: {key} lacks a language"
        es, en = (_placeholders(entry[lang]) for lang in LANGUAGES)
        assert es == en or (catalog, key) in OWN_WORDS, f"{catalog}: {key}: {sorted(es)} (es), {sorted(en)} (en)"
        if key.endswith("_one"):  # the singular of a text with {count}: the same placeholders but count
            plural = key.removesuffix("_one")
            assert plural in texts, f"{catalog}: {key} has no plural {plural}"
            assert "count" in _placeholders(texts[plural]["en"])
            assert es <= _placeholders(texts[plural]["en"]), f"{catalog}: {key} uses what {plural} does not give"
