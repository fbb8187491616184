"""The command line: parse, call one library function, print. No logic here."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Annotated, Optional

import click
import typer

from zonepaper.cycle import backup_cycle, init_cycle, resolve_cycle
from zonepaper.errors import ExitCode, ZonepaperError
from zonepaper.text import say, translate, user_languages


def h(key: str) -> str:
    """Help text in the user's language(s)."""
    return " / ".join(translate("messages", f"help.{key}", lang) for lang in user_languages())


app = typer.Typer(help=h("app"), no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
forms_app = typer.Typer(help=h("forms"), no_args_is_help=True)
zone_app = typer.Typer(help=h("zone"), no_args_is_help=True)
app.add_typer(forms_app, name="forms")
app.add_typer(zone_app, name="zone")

CycleOpt = Annotated[Optional[Path], typer.Option("--cycle", help=h("cycle"), show_default=False)]


def echo(text: str) -> None:
    typer.echo(text)


@app.command("init", help=h("init"))
def init_cmd(folder: Annotated[Path, typer.Argument()],
             example: Annotated[str, typer.Option(help=h("example"))] = "belmont") -> None:
    cycle = init_cycle(folder, example)
    echo(say("init.done", folder=str(folder), cycle_id=cycle.info()["cycle_id"], zone=str(cycle.zone_path)))


@app.command("backup", help=h("backup"))
def backup_cmd(cycle: CycleOpt = None,
               out: Annotated[Optional[Path], typer.Option("--out", help=h("backup_out"))] = None) -> None:
    path = backup_cycle(resolve_cycle(cycle), out)
    echo(say("backup.done", file=str(path), size=_human_size(path.stat().st_size)))


@zone_app.command("check", help=h("zone_check"))
def zone_check_cmd(cycle: CycleOpt = None) -> None:
    zone = resolve_cycle(cycle).zone()
    echo(say("zone_check.ok", file=str(zone.path), programs=len(zone.programs), campuses=len(zone.campuses),
             grades=", ".join(map(str, zone.grades)), choices=zone.max_choices, mechanism=zone.mechanism))


@forms_app.command("print", help=h("print"))
def forms_print_cmd(
    count: Annotated[int, typer.Option("--count", help=h("count"))],
    batch: Annotated[Optional[str], typer.Option("--batch", help=h("batch"))] = None,
    paper: Annotated[str, typer.Option("--paper", help=h("paper"))] = "letter",
    out: Annotated[Optional[Path], typer.Option("--out", help=h("out"))] = None,
    cycle: CycleOpt = None,
) -> None:
    from zonepaper.forms.batch import print_forms

    with typer.progressbar(length=count, label=say("forms.progress"), file=sys.stderr) as bar:
        result = print_forms(resolve_cycle(cycle), count, batch, paper.lower(), out, lambda n: bar.update(1))
    echo(say("forms.printed", count=len(result.serials), batch=result.id, label=result.label,
             first=result.serials[0], last=result.serials[-1], file=str(result.path)))


@forms_app.command("layout", help=h("layout"))
def forms_layout_cmd(
    as_json: Annotated[bool, typer.Option("--json", help=h("json"))] = False,
    paper: Annotated[str, typer.Option("--paper", help=h("paper"))] = "letter",
    cycle: CycleOpt = None,
) -> None:
    from zonepaper.layout import build_layout

    layout = build_layout(resolve_cycle(cycle).zone(), paper.lower())
    if as_json:
        echo(json.dumps(layout.to_json(), ensure_ascii=False, indent=1))
        return
    lang = user_languages()[0]
    echo(f"{layout.paper}: {layout.width:.0f} x {layout.height:.0f} pt")
    for f in layout.fields:
        r = f.rect
        extra = f" {len(f.boxes)} x {f.charset}" if f.kind == "boxes" else (
            f" {len(f.bubbles)} bubbles" if f.kind == "bubbles" else "")
        echo(f"  {f.side:5} {f.kind:9} {f.name:18} at ({r.x:6.1f}, {r.y:6.1f}) {r.w:5.1f} x {r.h:5.1f}{extra}"
             f"  {f.label[lang]}")


@app.command("demo", help=h("demo"))
def demo_cmd(folder: Annotated[Path, typer.Argument()] = Path("demo-cycle")) -> None:
    from zonepaper.demo import run_demo

    run_demo(folder, echo)


def _human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _save_crash_report() -> str:
    fd, path = tempfile.mkstemp(prefix="zonepaper-crash-", suffix=".txt")
    with os.fdopen(fd, "w") as fh:
        fh.write(traceback.format_exc())
    return path


def run(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code. Errors become a fix-it message, never a traceback."""
    try:
        result = app(args=argv, prog_name="zonepaper", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except ZonepaperError as exc:
        typer.echo(exc.render(), err=True)
        return int(exc.exit_code)
    except click.exceptions.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        typer.echo("", err=True)
        return int(ExitCode.usage)
    except Exception as exc:  # the last line of defence: a report file instead of a traceback
        path = _save_crash_report()
        typer.echo(ZonepaperError("internal.crash", kind=type(exc).__name__, file=path).render(), err=True)
        return int(ExitCode.internal)


def main() -> None:
    """Console entry point."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
