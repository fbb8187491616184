"""The public seed: sources from a ceremony (dice, lottery numbers), their entropy, the RFC 3797 key string.

A source is written `KIND: numbers`:

* `dice: 4 1 6 2 ...`         six-sided dice (1-6)
* `d10: 0 7 3 ...`, `d20: ...` dice with that many faces (d10: 0-9, others 1-N)
* `lottery 49: 9 18 26 34 41 45`   numbers drawn without replacement from 1-49
* `digits: 9319`              a number whose every decimal digit is random (e.g. a published figure)
* or just numbers, as in RFC 3797's example: counted as `digits`.

RFC 3797 sorts the numbers inside each source, so the order of rolls does not matter, and the
entropy counted here is that of the sorted values (a multiset for dice, a set for a lottery).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from zonepaper.draw.verify_draw import key_string
from zonepaper.errors import InvalidInputError
from zonepaper.text import Phrase

MIN_BITS = 64.0


@dataclass(frozen=True)
class Source:
    text: str
    kind: str
    faces: int
    numbers: tuple[int, ...]

    @property
    def bits(self) -> float:
        k = len(self.numbers)
        if self.kind == "dice":
            return math.log2(math.comb(self.faces + k - 1, k))
        if self.kind == "lottery":
            return math.log2(math.comb(self.faces, k))
        digits = sum(len(str(n)) for n in self.numbers)
        return max(0.0, digits * math.log2(10) - math.log2(math.factorial(k)))


def parse_source(text: str) -> Source:
    """One `KIND: numbers` source; a clear error names what is wrong."""
    label, sep, rest = text.partition(":")
    kind_text, numbers_text = (label.strip().lower(), rest) if sep else ("", label)
    tokens = numbers_text.replace(",", " ").split()
    if not tokens or not all(t.isdigit() for t in tokens):
        raise InvalidInputError("draw.bad_source", source=text, problem=Phrase("draw.source_problem.numbers"))
    numbers = tuple(int(t) for t in tokens)
    m = re.fullmatch(r"d(\d+)|dice|lottery\s+(\d+)|digits|", kind_text)
    if m is None:
        raise InvalidInputError("draw.bad_source", source=text, problem=Phrase("draw.source_problem.kind"))
    if kind_text == "dice" or m.group(1):
        faces = int(m.group(1) or 6)
        low, high = (0, 9) if faces == 10 else (1, faces)
        if faces < 2 or any(not low <= n <= high for n in numbers):
            raise InvalidInputError("draw.bad_source", source=text, problem=Phrase("draw.source_problem.range"))
        return Source(text, "dice", faces, numbers)
    if m.group(2):
        faces = int(m.group(2))
        if any(not 1 <= n <= faces for n in numbers) or len(set(numbers)) != len(numbers):
            raise InvalidInputError("draw.bad_source", source=text, problem=Phrase("draw.source_problem.lottery"))
        return Source(text, "lottery", faces, numbers)
    return Source(text, "digits", 10, numbers)


@dataclass(frozen=True)
class Seed:
    sources: tuple[Source, ...]

    @property
    def key_string(self) -> str:
        return key_string([list(s.numbers) for s in self.sources])

    @property
    def bits(self) -> float:
        return sum(s.bits for s in self.sources)


def parse_seed(texts: list[str]) -> Seed:
    if not texts:
        raise InvalidInputError("draw.no_sources")
    return Seed(tuple(parse_source(t) for t in texts))
