"""The arrows that must never exist between the parts of zonepaper (docs/ARCHITECTURE.md).

Every import inside zonepaper/ is read with `ast` (top-level and inside functions alike); a
forbidden one fails with the file, the line and the rule it breaks.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import subprocess
from pathlib import Path

import zonepaper

ROOT = Path(zonepaper.__file__).parent
STAGES = ("forms", "scan", "review", "draw", "paper")
TOOLS = ("applications", "simulate", "demo", "cli")  # built on the stages

# (who, what it must not import, why): who and what are module prefixes inside zonepaper.
RULES: list[tuple[str, tuple[str, ...], str]] = [
    ("store", STAGES + TOOLS + ("layout", "fields", "zone", "cycle", "pdf"),
     "the store knows no stage: it keeps rows, events and the state of the cycle"),
    ("", ("cli",), "no part knows the command line: cli.py calls them, never the other way"),
    ("zone", STAGES + TOOLS, "the zone, the layout and the schema are libraries every stage reads"),
    ("layout", STAGES + TOOLS, "the zone, the layout and the schema are libraries every stage reads"),
    ("fields", STAGES + TOOLS, "the zone, the layout and the schema are libraries every stage reads"),
    ("pdf", STAGES + TOOLS, "drawing PDFs is shared by forms, paper and draw and depends on none"),
    ("cycle", STAGES + TOOLS, "the cycle folder is opened by every stage and knows none"),
    ("draw", ("forms", "scan", "review", "paper", "applications", "simulate", "demo", "layout"),
     "the draw sees only its frozen inputs, read from the store"),
    ("draw.verify_draw", ("",), "the auditors' verifier runs with the standard library alone"),
    ("forms", ("scan", "review", "draw", "paper"), "printing forms comes before everything else"),
    ("scan", ("forms", "review", "draw", "paper", "applications"), "reading comes before review and the draw"),
    ("review", ("forms", "draw", "paper", "applications", "scan.ingest", "scan.raster"),
     "review reads the store (and a sheet again through the pure reader, scan.page), never a later stage"),
    ("applications", ("forms", "scan", "review", "draw", "paper"), "import/export reads and writes the store only"),
    ("paper", ("forms", "scan", "review", "draw"),
     "printed outputs read the draw's results from the store, not the draw's code or the form's printer"),
]


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, module inside zonepaper) for every import in the file, as a path without 'zonepaper.'."""
    here = module.split(".") if module else []
    package = here if path.name == "__init__.py" else here[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "zonepaper"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(["zonepaper", *package[: len(package) - node.level + 1]])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.split(".")[0] != "zonepaper":
                continue
            if target == "zonepaper" or not node.module:  # from zonepaper import x: x may be a module
                out += [(node.lineno, f"{target}.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, target))
    return [(line, name.removeprefix("zonepaper").lstrip(".")) for line, name in out]


def _under(name: str, prefix: str) -> bool:
    return prefix == "" or name == prefix or name.startswith(prefix + ".")


def forbidden_imports(files: list[tuple[str, Path]] | None = None) -> list[str]:
    """Every import that breaks a rule, as 'file:line imports X: why'; files are (module, path), default all."""
    problems = []
    for who, path in files or [(_module(p), p) for p in sorted(ROOT.rglob("*.py"))]:
        if who == "__main__":  # `python -m zonepaper`: the command line's own entry point, like the console script
            continue
        for line, target in _imports(path, who):
            if target == "__version__":
                continue
            for owner, banned, why in RULES:
                if _under(who, owner) and not _under(target, owner or "\0") and any(_under(target, b) for b in banned):
                    problems.append(f"{path.name}:{line} ({who}) imports {target}: {why}")
    return problems


def test_no_forbidden_import() -> None:
    assert forbidden_imports() == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The rule can fail: a scanner module that asks the draw whether the cycle is frozen is caught."""
    bad = tmp_path / "_forbidden_probe.py"
    bad.write_text("def f():\n    from zonepaper.draw.ceremony import freeze\n    from ..paper import bins\n"
                   "    from . import page\n    from zonepaper.store import freeze\n")
    problems = forbidden_imports([("scan._forbidden_probe", bad)])
    assert len(problems) == 2, problems
    assert problems[0].startswith("_forbidden_probe.py:2 (scan._forbidden_probe) imports draw.ceremony: reading")
    assert problems[1].startswith("_forbidden_probe.py:3 (scan._forbidden_probe) imports paper: reading")


def test_every_module_imports() -> None:
    """Each package imports on its own (no circle that only works in one order)."""
    for info in pkgutil.walk_packages([str(ROOT)], prefix="zonepaper."):
        code = f"import {info.name}"
        result = subprocess.run([_python(), "-c", code], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{code}: {result.stderr[-500:]}"


def _python() -> str:
    import sys

    return sys.executable


def test_no_module_restates_a_list_of_field_names() -> None:
    """What a field is lives in zonepaper/fields.py; elsewhere a tuple of three or more field names is a restatement."""
    fields = importlib.import_module("zonepaper.fields")
    names = set(fields.BY_NAME)
    problems = []
    for path in sorted(ROOT.rglob("*.py")):
        if path.name == "fields.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                strings = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                if len([s for s in strings if s in names]) >= 3:
                    problems.append(f"zonepaper/{path.relative_to(ROOT)}:{node.lineno}: {strings}")
    assert problems == []
    # and the old homes of the lists are gone
    text = "\n".join(p.read_text(encoding="utf-8") for p in ROOT.rglob("*.py") if p.name != "fields.py")
    assert not re.search(r"^(DIGIT_FIELDS|DATE_FIELDS|LETTER_FIELDS|SINGLE_FIELDS|MAY_BE_EMPTY|FIELD_NAMES|"
                         r"REPLY_FIELDS|FIELD_ORDER)\s*=", text, re.M)
