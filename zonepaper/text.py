"""Translated text: every user-facing string comes from the TOML files under forms/."""

from __future__ import annotations

import os
import tomllib
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


def translate(catalog: str, key: str, lang: str, /, **params: object) -> str:
    """Return the text for key in lang, with {placeholders} filled in."""
    entry = load_catalog(catalog)[key]
    return entry[lang].format(**params)


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
