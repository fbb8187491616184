"""Print the command reference of docs/reference.md from the command line's own definitions.

The same objects that `zonepaper ... --help` prints (every command, argument and option with
its help text, in Spanish and English) are written as Markdown, so the reference cannot drift
from --help. docs/reference.md runs this through cog; after changing a command:

    .venv/bin/cog -r docs/reference.md        # rewrite the section
    .venv/bin/cog --check docs/reference.md   # what the test suite checks
"""

from __future__ import annotations

import os
import sys


def _walk(command, path: list[str]):
    if hasattr(command, "list_commands"):  # a group: its commands, in the order --help lists them
        for name in command.list_commands(None):
            yield from _walk(command.get_command(None, name), [*path, name])
    else:
        yield path, command


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ").strip() or "—"


def _usage(path: list[str], command) -> str:
    words = ["zonepaper", *path, "[OPTIONS]"]
    for p in command.params:
        if p.param_type_name == "argument":
            name = p.name.upper() + ("..." if p.nargs == -1 else "")
            words.append(name if p.required else f"[{name}]")
    return " ".join(words)


def _option(p) -> tuple[str, str]:
    names = " / ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
    if p.param_type_name == "argument":
        names = f"`{p.name.upper()}`"
    notes = []
    if getattr(p, "required", False):
        notes.append("required / obligatoria")
    elif p.default not in (None, False, (), []) and not getattr(p, "is_flag", False):
        notes.append(f"default / por defecto: `{p.default}`")
    if getattr(p, "multiple", False):
        notes.append("may be repeated / se puede repetir")
    help_text = _cell(getattr(p, "help", None))
    return names, help_text + (f" ({'; '.join(notes)})" if notes else "")


def command_reference() -> str:
    """Every command as a Markdown section: usage, what it does, and a table of its arguments and options."""
    os.environ["ZONEPAPER_LANG"] = "both"  # help texts are made when the command line is imported
    import typer.main

    from zonepaper.cli import app

    out = []
    for path, command in _walk(typer.main.get_command(app), []):
        out.append(f"### `zonepaper {' '.join(path)}`\n")
        out.append(f"```\n{_usage(path, command)}\n```\n")
        out.append(_cell(command.help) + "\n")
        rows = [_option(p) for p in command.params]
        if rows:
            out.append("| argument or option / argumento u opción | what it is / qué es |\n|---|---|")
            out += [f"| {a} | {b} |" for a, b in rows]
            out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(command_reference())
