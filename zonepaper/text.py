"""Translated text: every user-facing string comes from the TOML files under forms/."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

LANGUAGES = ("es", "en")


def text_dir() -> Path:
    """Return the folder holding the translation files (installed copy first, then the source tree)."""
    installed = Path(__file__).parent / "_text"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "forms"


@lru_cache(maxsize=None)
def load_catalog(name: str) -> dict[str, dict[str, str]]:
    """Load one translation file (e.g. 'form', 'messages') as a flat {key: {lang: text}} mapping."""
    path = text_dir() / f"{name}.toml"
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    flat: dict[str, dict[str, str]] = {}

    def walk(prefix: str, node: dict) -> None:
        if all(isinstance(v, str) for v in node.values()) and set(node) >= set(LANGUAGES):
            flat[prefix] = node
            return
        for key, value in node.items():
            if isinstance(value, dict):
                walk(f"{prefix}.{key}" if prefix else key, value)

    walk("", raw)
    return flat


@dataclass(frozen=True)
class Phrase:
    """A piece of a message that is itself translated: filled in, in the language of the message around it."""

    key: str
    params: dict[str, object] = field(default_factory=dict)
    catalog: str = "messages"

    def render(self, lang: str) -> str:
        return translate(self.catalog, self.key, lang, **self.params)


@dataclass(frozen=True)
class Listing:
    """Translated names, each with a number ("Fecha de nacimiento 3, Código postal 1"), in the message's language."""

    items: tuple[tuple[str, object], ...]  # (key in the catalog, what follows it)
    catalog: str = "form"

    def render(self, lang: str) -> str:
        return ", ".join(f"{translate(self.catalog, key, lang)} {n}" for key, n in self.items) or "-"


def translate(catalog: str, key: str, lang: str, /, **params: object) -> str:
    """Return the text for key in lang, with {placeholders} filled in.

    A parameter that is a Phrase or a Listing is translated into the same language. When `count` is 1 and the
    catalog has a `<key>_one` text, that one is used ("1 form", not "1 forms").
    """
    texts = load_catalog(catalog)
    entry = texts.get(f"{key}_one") if params.get("count") == 1 else None
    entry = entry or texts[key]
    filled = {k: v.render(lang) if isinstance(v, (Phrase, Listing)) else v for k, v in params.items()}
    return entry[lang].format(**filled)


def both_languages(catalog: str, key: str, /, sep: str = " / ", **params: object) -> str:
    """One text in Spanish, then English (printed matter that families and staff both read)."""
    return sep.join(translate(catalog, key, lang, **params) for lang in LANGUAGES)


def user_languages() -> tuple[str, ...]:
    """Languages the command line speaks: ZONEPAPER_LANG=es|en|both, else the system locale."""
    chosen = os.environ.get("ZONEPAPER_LANG", "").strip().lower()
    if chosen in LANGUAGES:
        return (chosen,)
    if chosen == "both":
        return LANGUAGES
    locale = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
    return ("es",) if locale.lower().startswith("es") else ("en",)


def say(key: str, /, sep: str = "\n", **params: object) -> str:
    """Render a command-line message in the user's language(s), one language per line (or per sep)."""
    return sep.join(translate("messages", key, lang, **params) for lang in user_languages())
