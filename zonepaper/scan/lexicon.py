"""Common given names and surnames, used only to rank the first guess of a hand-printed name.

Names always go to a person; a right first guess costs the reviewer one key instead of a
whole name. Tesseract reads hand-printed capitals poorly, and one wrong letter makes the whole
guess wrong. When a word it read is no known name but a known name is one letter away (one
letter changed, left out or added), the most common such name is the guess instead; a word that
is a known name, or has no known name that near, is left as read.

The lists are the US Census Bureau's 1990 name frequencies (88,799 surnames, 5,494 given
names; public domain), as the PyPI package `names` (MIT) ships them: installed with zonepaper,
never downloaded at run time. They hold no accents: a word is compared without its accents and,
when it is replaced, keeps the accents it was read with where the letters still match.
"""

from __future__ import annotations

import importlib.resources
import re
import unicodedata
from functools import lru_cache

GIVEN_FILES = ("dist.female.first", "dist.male.first")
SURNAME_FILES = ("dist.all.last",)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SHORTEST = 3  # words shorter than this are initials or particles (DE, LA): never replaced
PARTICLES = frozenset({"DE", "DEL", "LA", "LAS", "LOS", "Y", "E", "DA", "DAS", "DO", "DOS", "DI", "DU", "VAN", "VON",
                       "DER", "LE", "ST", "SAN", "SANTA"})  # parts of names that are no name of their own


def plain(word: str) -> str:
    """The word without accents (Á -> A, Ñ -> N), as the census lists write names."""
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


@lru_cache(maxsize=None)  # three lists (last, first, guardian names): a cache of 2 rebuilt one on every name
def _ranks(files: tuple[str, ...]) -> dict[str, int]:
    """Name -> how common it is (0 the most common), over the given census files."""
    ranks: dict[str, int] = {}
    package = importlib.resources.files("names")
    for file in files:
        for i, line in enumerate((package / file).read_text(encoding="ascii").splitlines()):
            word = line.split(" ", 1)[0]
            if word:
                ranks[word] = min(ranks.get(word, i), i)
    return ranks


def _near(word: str) -> set[str]:
    """Every word one letter away: one changed, left out or added."""
    out = set()
    for i in range(len(word) + 1):
        out.update(word[:i] + c + word[i:] for c in ALPHABET)  # one added
        if i < len(word):
            out.add(word[:i] + word[i + 1:])  # one left out
            out.update(word[:i] + c + word[i + 1:] for c in ALPHABET if c != word[i])  # one changed
    return out


def _keep_accents(read: str, name: str) -> str:
    """The known name, with the accents the word was read with where its letters are where they were."""
    if len(read) != len(name):
        return name
    return "".join(r if plain(r) == n else n for r, n in zip(read, name))


def best_word(word: str, ranks: dict[str, int]) -> str:
    """The word as read, or the most common known name one letter away from it (see the module)."""
    bare = plain(word)
    if len(bare) < SHORTEST or not bare.isalpha() or bare in ranks or bare in PARTICLES:
        return word
    candidates = [w for w in _near(bare) if w in ranks]
    if not candidates:
        return word
    return _keep_accents(word, min(candidates, key=lambda w: (ranks[w], w)))


def rank_name(field: str, text: str) -> str:
    """The first guess for a name field: each word as read, or the most common known name one letter away."""
    if field == "last_name":
        ranks = _ranks(SURNAME_FILES)
    elif field == "first_name":
        ranks = _ranks(GIVEN_FILES)
    else:  # a guardian's whole name: given names and surnames alike
        ranks = _ranks(GIVEN_FILES + SURNAME_FILES)
    return "".join(best_word(part, ranks) for part in re.split(r"([ -])", text))  # separators are too short
