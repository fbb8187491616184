"""The command line: parse, call one library function, print. No logic here."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Annotated, Callable, Optional

import click
import typer

from zonepaper.cycle import backup_cycle, init_cycle, private_umask, resolve_cycle
from zonepaper.errors import ExitCode, ZonepaperError, known_failure
from zonepaper.text import Phrase, say, user_languages


def h(key: str) -> str:
    """Help text in the user's language(s)."""
    return say(f"help.{key}", sep=" / ")


def _translate_help_panels() -> None:
    """The headings typer prints in --help (Arguments, Options, Commands, [required], [default: ...]), translated."""
    try:
        import typer.rich_utils as panels
    except ImportError:  # typer without rich prints plain help, with click's own words
        return
    for name, text in (("ARGUMENTS_PANEL_TITLE", h("panel_arguments")), ("OPTIONS_PANEL_TITLE", h("panel_options")),
                       ("COMMANDS_PANEL_TITLE", h("panel_commands")),
                       ("REQUIRED_LONG_STRING", f"[{h('panel_required')}]"),
                       ("DEFAULT_STRING", f"[{h('panel_default')}: {{}}]")):  # typer fills in the default
        if isinstance(getattr(panels, name, None), str):
            setattr(panels, name, text)


_translate_help_panels()
app = typer.Typer(help=h("app"), no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
forms_app = typer.Typer(help=h("forms"), no_args_is_help=True)
zone_app = typer.Typer(help=h("zone"), no_args_is_help=True)
scan_app = typer.Typer(help=h("scan"), no_args_is_help=True)
applications_app = typer.Typer(help=h("applications"), no_args_is_help=True)
export_app = typer.Typer(help=h("export"), no_args_is_help=True)
app.add_typer(applications_app, name="applications")
app.add_typer(export_app, name="export")
app.add_typer(forms_app, name="forms")
app.add_typer(zone_app, name="zone")
app.add_typer(scan_app, name="scan")
users_app = typer.Typer(help=h("users"), no_args_is_help=True)
review_app = typer.Typer(help=h("review"), no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(review_app, name="review")
draw_app = typer.Typer(help=h("draw"), no_args_is_help=True)
app.add_typer(draw_app, name="draw")
print_app = typer.Typer(help=h("print_group"), no_args_is_help=True)
app.add_typer(print_app, name="print")
waitlist_app = typer.Typer(help=h("waitlist"), no_args_is_help=True)
app.add_typer(waitlist_app, name="waitlist")
models_app = typer.Typer(help=h("models"), no_args_is_help=True)
app.add_typer(models_app, name="models")

CycleOpt = Annotated[Optional[Path], typer.Option("--cycle", help=h("cycle"), show_default=False)]


def echo(text: str) -> None:
    typer.echo(text)


@app.command("init", help=h("init"))
def init_cmd(folder: Annotated[Path, typer.Argument(help=h("init_folder"))],
             example: Annotated[str, typer.Option(help=h("example"))] = "belmont") -> None:
    cycle = init_cycle(folder, example)
    echo(say("init.done", folder=str(folder), cycle_id=cycle.info()["cycle_id"], zone=str(cycle.zone_path)))


@app.command("backup", help=h("backup"))
def backup_cmd(cycle: CycleOpt = None,
               out: Annotated[Optional[Path], typer.Option("--out", help=h("backup_out"))] = None) -> None:
    backup = backup_cycle(resolve_cycle(cycle), out)
    for name in backup.removed:
        echo(say("backup.abandoned", file=name))
    echo(say("backup.done", file=str(backup.path), size=_human_size(backup.path.stat().st_size)))


@zone_app.command("check", help=h("zone_check"))
def zone_check_cmd(cycle: CycleOpt = None) -> None:
    zone = resolve_cycle(cycle).printed_zone()
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
    from zonepaper.serial import display_serial

    with typer.progressbar(length=count, label=say("forms.progress"), file=sys.stderr) as bar:
        result = print_forms(resolve_cycle(cycle), count, batch, paper.lower(), out, lambda n: bar.update(1))
    for old, numbers in result.abandoned:
        echo(say("forms.abandoned", batch=old, count=numbers))
    echo(say("forms.printed", count=len(result.serials), batch=result.id, label=result.label,
             first=display_serial(result.serials[0]), last=display_serial(result.serials[-1]),
             file=str(result.path)))


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


@app.command("simulate", help=h("simulate"))
def simulate_cmd(
    count: Annotated[int, typer.Option("--count", help=h("sim_count"))],
    out: Annotated[Path, typer.Option("--out", help=h("sim_out"))],
    seed: Annotated[int, typer.Option("--seed", help=h("seed"))] = 1,
    dpi: Annotated[int, typer.Option("--dpi", help=h("dpi"))] = 200,
    cycle: CycleOpt = None,
) -> None:
    from zonepaper.simulate import simulate

    c = resolve_cycle(cycle)
    with typer.progressbar(length=count, label=say("simulate.progress"), file=sys.stderr) as bar:
        last = [0]

        def step(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - last[0])
            last[0] = done

        result = simulate(c, count, out, seed, dpi, step)
    echo(say("simulate.done", pages=len(result.pages), files=len(result.files), out=str(out),
             truth=str(result.truth_path)))


NAMES_SHOWN = 10  # file names listed in a summary; the rest are counted


@scan_app.command("ingest", help=h("ingest"))
def scan_ingest_cmd(
    paths: Annotated[list[Path], typer.Argument(help=h("ingest_paths"))],
    received: Annotated[Optional[str], typer.Option("--received", help=h("received"))] = None,
    workers: Annotated[int, typer.Option("--workers", help=h("workers"))] = 1,
    cluster: Annotated[Optional[str], typer.Option("--cluster", help=h("cluster"), envvar="ZONEPAPER_DASK_SCHEDULER",
                                                   show_envvar=False)] = None,
    cycle: CycleOpt = None,
) -> None:
    from zonepaper.errors import InvalidInputError
    from zonepaper.scan.ingest import ingest

    if workers < 1:
        raise InvalidInputError("scan.bad_workers", workers=workers)
    if cluster and workers > 1:
        raise InvalidInputError("scan.cluster_and_workers")
    c = resolve_cycle(cycle)
    with typer.progressbar(length=1, label=say("scan.progress"), file=sys.stderr,
                           show_pos=True, item_show_func=lambda rate: rate) as bar:
        started = time.perf_counter()

        def step(summary, total: int) -> None:
            bar.length = max(total, 1)
            rate = summary.pages / max(time.perf_counter() - started, 1e-6)
            bar.current_item = f"{rate:.1f} p/s"
            bar.update(1)

        summary = ingest(c, paths, received, workers, step, cluster or None)
    echo(say("scan.done", seconds=summary.seconds, rate=summary.pages / max(summary.seconds, 1e-6),
             files=summary.files_seen, skipped=summary.files_skipped, pages=summary.pages,
             fronts=summary.kinds.get("front", 0), backs=summary.kinds.get("back", 0),
             blanks=summary.kinds.get("blank", 0), quarantined=summary.kinds.get("quarantined", 0),
             applications=summary.applications))
    if summary.not_read:
        shown = ", ".join(summary.not_read[:NAMES_SHOWN])
        more = len(summary.not_read) - NAMES_SHOWN
        echo(say("scan.not_read", count=len(summary.not_read), files=shown + (say("scan.and_more", count=more)
                                                                              if more > 0 else "")))
    echo(say("scan.next"))


@scan_app.command("send", help=h("scan_send"))
def scan_send_cmd(
    paths: Annotated[list[Path], typer.Argument(help=h("send_paths"))],
    to: Annotated[str, typer.Option("--to", help=h("send_to"))],
    user: Annotated[str, typer.Option("--user", help=h("send_user"))],
    received: Annotated[Optional[str], typer.Option("--received", help=h("send_received"))] = None,
    ca_cert: Annotated[Optional[Path], typer.Option("--ca-cert", help=h("send_ca_cert"))] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help=h("send_insecure"))] = False,
    log: Annotated[Optional[Path], typer.Option("--log", help=h("send_log"))] = None,
    chunk_kb: Annotated[int, typer.Option("--chunk-kb", help=h("send_chunk"))] = 1024,
) -> None:
    from zonepaper.scan.send import check_url, send

    if check_url(to, insecure):
        echo(say("send.insecure_warning", url=to))
    password = os.environ.get("ZONEPAPER_PASSWORD") or typer.prompt(say("send.password", sep=" / ", name=user),
                                                                   hide_input=True)
    with typer.progressbar(length=1, label=say("send.progress"), file=sys.stderr) as bar:
        def step(sent: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(sent)

        summary = send(paths, to, user, password, received, insecure, ca_cert, log, step, chunk_kb * 1024)
    echo(say("send.done", files=summary.files, sent=summary.sent, skipped=summary.skipped, resumed=summary.resumed,
             mb=summary.bytes_sent / 1e6, url=to, log=str(summary.log)))
    for name, why in summary.refused:
        echo(say("send.refused", file=name, reason=why))
    if summary.not_read:
        echo(say("scan.not_read", count=len(summary.not_read), files=", ".join(summary.not_read[:NAMES_SHOWN])))
    if summary.refused:
        raise typer.Exit(int(ExitCode.invalid_input))


@scan_app.command("status", help=h("scan_status"))
def scan_status_cmd(cycle: CycleOpt = None) -> None:
    from zonepaper.scan.report import scan_status

    db = resolve_cycle(cycle).db()
    st = scan_status(db)
    db.close()
    k, a, f = st.pages_by_kind, st.applications_by_status, st.fields_by_status
    echo(say("scan.status_files", files=st.files, pages=st.pages, fronts=k.get("front", 0), backs=k.get("back", 0),
             blanks=k.get("blank", 0), replies=k.get("reply", 0), quarantined=k.get("quarantined", 0)))
    echo(say("scan.status_apps", applications=st.applications, complete=a.get("complete", 0),
             review=a.get("review", 0), held=a.get("held", 0), all_auto=st.forms_all_auto))
    echo(say("scan.status_fields", auto=f.get("auto", 0), review=f.get("review", 0),
             confirmed=f.get("confirmed", 0), replies=st.replies_in_review))
    for reason, count in sorted(st.quarantined_by_reason.items()):
        echo(say("scan.status_reason", reason=say(f"reason.{reason}"), count=count))
    if k.get("blank"):
        echo(say("scan.status_blanks", count=k["blank"]))


@scan_app.command("quarantine", help=h("scan_quarantine"))
def scan_quarantine_cmd(cycle: CycleOpt = None) -> None:
    from zonepaper.scan.report import quarantined_pages

    db = resolve_cycle(cycle).db()
    pages = quarantined_pages(db)
    db.close()
    if not pages:
        echo(say("scan.quarantine_none"))
    for p in pages:
        echo(say("scan.quarantine_row", page_id=p.page_id, file=p.file, page_number=p.page_number,
                 reason=say(f"reason.{p.reason}"), serial=f" ({p.serial})" if p.serial else ""))


@applications_app.command("import", help=h("import"))
def applications_import_cmd(file: Annotated[Path, typer.Argument(help=h("import_file"))],
                            cycle: CycleOpt = None) -> None:
    from zonepaper.applications import import_csv

    c = resolve_cycle(cycle)
    db = c.db(check=True)
    try:
        n = import_csv(db, c.zone(), file)
    finally:
        db.close()
    echo(say("import.done", count=n, file=str(file)))


ExcelOpt = Annotated[bool, typer.Option("--excel", help=h("excel"))]


@export_app.command("applications", help=h("export_applications"))
def export_applications_cmd(
    fmt: Annotated[str, typer.Option("--format", help=h("format"))] = "csv",
    out: Annotated[Optional[Path], typer.Option("--out", help=h("export_out"))] = None,
    excel: ExcelOpt = False,
    cycle: CycleOpt = None,
) -> None:
    from zonepaper.applications import export_csv, export_json
    from zonepaper.errors import InvalidInputError

    if fmt not in ("csv", "json"):
        raise InvalidInputError("export.bad_format", format=fmt)
    c = resolve_cycle(cycle)
    db = c.db()
    try:
        text = export_csv(db, c.zone(), excel) if fmt == "csv" else export_json(db, c.info()["cycle_id"])
    finally:
        db.close()
    if out is None:
        sys.stdout.write(text)
        return
    with private_umask():
        out.write_text(text, encoding="utf-8")
    echo(say("export.done", file=str(out)))


@users_app.command("add", help=h("users_add"))
def users_add_cmd(
    name: Annotated[str, typer.Argument(help=h("user_name"))],
    role: Annotated[str, typer.Option("--role", help=h("user_role"))] = "reviewer",
    language: Annotated[str, typer.Option("--language", help=h("user_language"))] = "es",
    cycle: CycleOpt = None,
) -> None:
    from zonepaper.errors import InvalidInputError
    from zonepaper.review.accounts import MIN_PASSWORD, add_user, check_new_user

    if language not in ("es", "en"):
        raise InvalidInputError("users.bad_language", language=language)
    c = resolve_cycle(cycle)
    db = c.db()
    try:
        check_new_user(db.conn, name, role)  # a mistyped role is said before anyone types a password twice
        password = typer.prompt(say("users.password", sep=" / ", min=MIN_PASSWORD), hide_input=True,
                                confirmation_prompt=say("users.password_again", sep=" / "))
        user = add_user(db.conn, name, role, password, language)
    finally:
        db.close()
    echo(say("users.added", name=user.name, role=user.role))


@users_app.command("list", help=h("users_list"))
def users_list_cmd(cycle: CycleOpt = None) -> None:
    from zonepaper.review.accounts import accounts

    db = resolve_cycle(cycle).db()
    try:
        users = accounts(db.conn)
    finally:
        db.close()
    if not users:
        echo(say("users.none"))
    for u in users:
        echo(say("users.row", name=u.name, role=u.role, language=u.language,
                 state=Phrase(f"users.state_{u.state}"), last=u.last_login or Phrase("users.never")))


UserName = Annotated[str, typer.Argument(help=h("user_name"))]


def _on_account(cycle: Path | None, change: Callable, *args: object) -> None:
    db = resolve_cycle(cycle).db()
    try:
        change(db.conn, *args)
    finally:
        db.close()


@users_app.command("disable", help=h("users_disable"))
def users_disable_cmd(name: UserName, cycle: CycleOpt = None) -> None:
    from zonepaper.review.accounts import set_enabled

    _on_account(cycle, set_enabled, name, False)
    echo(say("users.disabled", name=name))


@users_app.command("enable", help=h("users_enable"))
def users_enable_cmd(name: UserName, cycle: CycleOpt = None) -> None:
    from zonepaper.review.accounts import set_enabled

    _on_account(cycle, set_enabled, name, True)
    echo(say("users.enabled", name=name))


@users_app.command("passwd", help=h("users_passwd"))
def users_passwd_cmd(name: UserName, cycle: CycleOpt = None) -> None:
    from zonepaper.review.accounts import MIN_PASSWORD, set_password

    db = resolve_cycle(cycle).db()
    try:
        if not db.conn.execute("SELECT 1 FROM users WHERE name = ?", (name.strip(),)).fetchone():
            from zonepaper.errors import InvalidInputError

            raise InvalidInputError("users.unknown", name=name[:60])  # said before anyone types a password
        password = typer.prompt(say("users.password", sep=" / ", min=MIN_PASSWORD), hide_input=True,
                                confirmation_prompt=say("users.password_again", sep=" / "))
        set_password(db.conn, name, password)
    finally:
        db.close()
    echo(say("users.password_changed", name=name))


@review_app.command("serve", help=h("review_serve"))
def review_serve_cmd(
    host: Annotated[str, typer.Option("--host", help=h("host"))] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help=h("port"))] = 8765,
    allowed_host: Annotated[Optional[list[str]], typer.Option("--allowed-host", help=h("allowed_host"))] = None,
    tls_cert: Annotated[Optional[Path], typer.Option("--tls-cert", help=h("tls_cert"))] = None,
    tls_key: Annotated[Optional[Path], typer.Option("--tls-key", help=h("tls_key"))] = None,
    max_upload_mb: Annotated[int, typer.Option("--max-upload-mb", help=h("max_upload_mb"))] = 500,
    cycle: CycleOpt = None,
) -> None:
    from zonepaper.errors import InvalidInputError
    from zonepaper.review.serve import serve

    if (tls_cert is None) != (tls_key is None):
        raise InvalidInputError("review.tls_pair")
    if max_upload_mb < 1:
        raise InvalidInputError("review.bad_max_upload", mb=max_upload_mb)
    tls = (str(tls_cert), str(tls_key)) if tls_cert and tls_key else None
    serve(resolve_cycle(cycle), host, port, echo, tuple(allowed_host or ()), tls, max_upload_mb)


@app.command("verify", help=h("verify"))
def verify_cmd(head: Annotated[Optional[str], typer.Option("--head", help=h("verify_head"))] = None,
               cycle: CycleOpt = None) -> None:
    from zonepaper.draw.ceremony import check_cycle
    from zonepaper.errors import ConflictError
    from zonepaper.store.integrity import chain_head, find_head, grouped

    db = resolve_cycle(cycle).db()
    try:
        found = check_cycle(db.conn)
        events, last = chain_head(db.conn)
        at = find_head(db.conn, head) if head else None
    finally:
        db.close()
    for event_id in found.broken_events[:50]:
        echo(say("verify.broken_event", id=event_id))
    for serial, problem in found.applications[:200]:
        echo(say(f"verify.{problem}", serial=serial))
    for table, problem in found.tables:
        echo(say(f"verify.table_{problem}", table=Phrase(f"verify.table.{table}")))
    for key, params in found.log:
        echo(say(f"verify.{key}", **params))
    for key, params in found.other:
        echo(say(key, **params))
    problems = found.count
    if head:
        shown = grouped("".join(head.split()).lower())
        if at is None:
            echo(say("verify.head_missing", head=shown))
            problems += 1
        else:
            echo(say("verify.head_ok", head=shown, id=at[0], after=at[1]))
    if problems:
        raise ConflictError("verify.failed", count=problems)
    echo(say("verify.ok", events=events, head=grouped(last)))


@draw_app.command("freeze", help=h("draw_freeze"))
def draw_freeze_cmd(
    mechanism: Annotated[Optional[str], typer.Option("--mechanism", help=h("mechanism"))] = None,
    allow_unreviewed: Annotated[bool, typer.Option("--allow-unreviewed", help=h("allow_unreviewed"))] = False,
    reason: Annotated[str, typer.Option("--reason", help=h("reason"))] = "",
    cycle: CycleOpt = None,
) -> None:
    from zonepaper.draw.ceremony import freeze

    f, _, (txt, pdf) = freeze(resolve_cycle(cycle), mechanism, allow_unreviewed, reason)
    echo(say("draw.frozen_done", freeze=f.id, digest=f.digest, pdf=str(pdf), txt=str(txt)))


@draw_app.command("unfreeze", help=h("draw_unfreeze"))
def draw_unfreeze_cmd(reason: Annotated[str, typer.Option("--reason", help=h("reason"))] = "",
                      cycle: CycleOpt = None) -> None:
    from zonepaper.draw.ceremony import unfreeze

    echo(say("draw.unfrozen_done", freeze=unfreeze(resolve_cycle(cycle), reason)))


SourceOpt = Annotated[Optional[list[str]], typer.Option("--source", help=h("source"))]
SourcesFileOpt = Annotated[Optional[Path], typer.Option("--sources-file", help=h("sources_file"))]


def _sources(source: list[str] | None, sources_file: Path | None) -> list[str]:
    from zonepaper.errors import InvalidInputError, file_problem

    texts = list(source or [])
    if sources_file is not None:
        try:
            lines = sources_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError("cli.sources_unreadable", file=str(sources_file),
                                    reason=file_problem(exc)) from None
        texts += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return texts


@draw_app.command("run", help=h("draw_run"))
def draw_run_cmd(
    source: SourceOpt = None,
    sources_file: SourcesFileOpt = None,
    weak_seed_ok: Annotated[bool, typer.Option("--weak-seed-ok", help=h("weak_seed_ok"))] = False,
    supersede: Annotated[bool, typer.Option("--supersede", help=h("supersede"))] = False,
    reason: Annotated[str, typer.Option("--reason", help=h("reason"))] = "",
    cycle: CycleOpt = None,
) -> None:
    from zonepaper.draw.ceremony import run
    from zonepaper.draw.seed import MIN_BITS, parse_seed
    from zonepaper.store.integrity import grouped

    texts = _sources(source, sources_file)
    seed = parse_seed(texts)
    echo(say("draw.entropy", count=len(seed.sources), bits=f"{seed.bits:.1f}", min=int(MIN_BITS), key=seed.key_string))
    out = run(resolve_cycle(cycle), texts, weak_seed_ok, supersede, reason)
    unassigned = out.counts["applicants"] - out.counts["assigned"]
    echo(say("draw.run_done", draw=out.draw_id, assigned=out.counts["assigned"], applicants=out.counts["applicants"],
             unassigned=unassigned, digest=out.result_digest, bundle=str(out.bundle), head=grouped(out.chain_head)))
    for rank, count in out.counts["by_rank"].items():
        echo(say("draw.by_rank", rank=rank, count=count))


@draw_app.command("replay", help=h("draw_replay"))
def draw_replay_cmd(bundle: Annotated[Path, typer.Argument(help=h("bundle"))]) -> int:
    from zonepaper.draw.ceremony import replay

    problems = replay(bundle)
    if not problems:
        echo(say("draw.replay_match"))
        return 0
    echo(say("draw.replay_diff", count=len(problems)))
    for p in problems[:200]:
        echo("  " + p)
    return 1


@draw_app.command("rfc3797", help=h("draw_rfc3797"))
def draw_rfc3797_cmd(
    pool: Annotated[int, typer.Option("--pool", help=h("pool"))],
    count: Annotated[int, typer.Option("--count", help=h("pick_count"))],
    source: SourceOpt = None,
    sources_file: SourcesFileOpt = None,
) -> None:
    from zonepaper.draw.seed import MIN_BITS, parse_seed
    from zonepaper.draw.verify_draw import rfc3797_select
    from zonepaper.errors import InvalidInputError

    if pool < 1 or count < 1 or count > pool:  # picks are without replacement: never more than the pool
        raise InvalidInputError("draw.bad_pool", pool=pool, count=count)
    seed = parse_seed(_sources(source, sources_file))
    echo(say("draw.entropy", count=len(seed.sources), bits=f"{seed.bits:.1f}", min=int(MIN_BITS), key=seed.key_string))
    for n, (pick, md5) in enumerate(rfc3797_select(seed.key_string, pool, count), start=1):
        echo(say("draw.rfc_pick", n=n, pick=pick, md5=md5))


DrawOpt = Annotated[Optional[int], typer.Option("--draw", help=h("draw_id"))]
LetterDateOpt = Annotated[Optional[str], typer.Option("--date", help=h("letter_date"))]


def letter_date(text: str | None):
    """The date printed on letters (YYYY-MM-DD; today when not given)."""
    from datetime import date

    from zonepaper.errors import InvalidInputError

    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError("paper.bad_date", value=text) from None


def _printed(cycle: Optional[Path], write, *args):
    """What a print command's writer returns, given the cycle and its database (closed afterwards)."""
    c = resolve_cycle(cycle)
    db = c.db()
    try:
        return write(c, db.conn, *args)
    finally:
        db.close()


@print_app.command("bins", help=h("print_bins"))
def print_bins_cmd(draw: DrawOpt = None, cycle: CycleOpt = None) -> None:
    from zonepaper.paper.bins import write_bins_pdf

    path, d = _printed(cycle, write_bins_pdf, draw)
    echo(say("paper.bins_done", file=str(path), draw=d.id))


@print_app.command("letters", help=h("print_letters"))
def print_letters_cmd(draw: DrawOpt = None, day: LetterDateOpt = None, cycle: CycleOpt = None) -> None:
    from zonepaper.paper.letters import write_letters_pdf

    today = letter_date(day)
    path, count = _printed(cycle, write_letters_pdf, draw, today)
    echo(say("paper.letters_done", file=str(path), count=count))


@print_app.command("confirmations", help=h("print_confirmations"))
def print_confirmations_cmd(day: LetterDateOpt = None, cycle: CycleOpt = None) -> None:
    from zonepaper.paper.confirmations import write_confirmations_pdf

    today = letter_date(day)
    path, count = _printed(cycle, write_confirmations_pdf, today)
    echo(say("paper.confirmations_done", file=str(path), count=count))


@print_app.command("results", help=h("print_results"))
def print_results_cmd(draw: DrawOpt = None, cycle: CycleOpt = None) -> None:
    from zonepaper.paper.results import write_results_pdf

    path, count = _printed(cycle, write_results_pdf, draw)
    echo(say("paper.results_done", file=str(path), count=count))


@print_app.command("audit-report", help=h("print_audit"))
def print_audit_cmd(draw: DrawOpt = None, cycle: CycleOpt = None) -> None:
    from zonepaper.paper.audit import write_audit_report

    echo(say("paper.audit_done", file=str(_printed(cycle, write_audit_report, draw))))


@export_app.command("assignments", help=h("export_assignments"))
def export_assignments_cmd(
    fmt: Annotated[str, typer.Option("--format", help=h("format_assignments"))] = "csv",
    out: Annotated[Optional[Path], typer.Option("--out", help=h("export_out"))] = None,
    draw: Annotated[Optional[int], typer.Option("--draw", help=h("draw_id"))] = None,
    excel: ExcelOpt = False,
    cycle: CycleOpt = None,
) -> None:
    from zonepaper.errors import InvalidInputError
    from zonepaper.paper.assignments import assignment_rows, to_csv, to_xlsx
    from zonepaper.pdf import whole_file

    if fmt not in ("csv", "xlsx"):
        raise InvalidInputError("export.bad_format", format=fmt)
    c = resolve_cycle(cycle)
    db = c.db()
    try:
        draw_id, rows = assignment_rows(db.conn, c.zone(), draw)
    finally:
        db.close()
    if fmt == "csv" and out is None:
        sys.stdout.write(to_csv(rows, excel))
        return
    out = out or c.root / "output" / f"assignments-draw-{draw_id}.xlsx"
    data = to_csv(rows, excel).encode("utf-8") if fmt == "csv" else to_xlsx(rows)
    with whole_file(out) as part:
        part.write_bytes(data)
    echo(say("export.done", file=str(out)))


@waitlist_app.command("offer", help=h("waitlist_offer"))
def waitlist_offer_cmd(program: Annotated[Optional[str], typer.Option("--program", help=h("program_id"))] = None,
                       day: LetterDateOpt = None, cycle: CycleOpt = None) -> None:
    from zonepaper.paper.letters import offer_and_print

    today = letter_date(day)
    made, earlier, path = offer_and_print(resolve_cycle(cycle), program, today=today)
    if path is None:
        echo(say("waitlist.none"))
        return
    if earlier:
        echo(say("waitlist.earlier", count=len(earlier)))
    for o in made:
        echo(say("waitlist.offered", serial=o.serial, program=o.program, position=o.position))
    echo(say("waitlist.letters", count=len(made) + len(earlier), file=str(path)))


@waitlist_app.command("answer", help=h("waitlist_answer"))
def waitlist_answer_cmd(
    serial: Annotated[str, typer.Argument(help=h("serial"))],
    accept: Annotated[bool, typer.Option("--accept/--decline", help=h("offer_answer"))],
    cycle: CycleOpt = None,
) -> None:
    from zonepaper.paper.waitlist import answer_offer
    from zonepaper.serial import normalize_serial

    db = resolve_cycle(cycle).db()
    try:
        o = answer_offer(db.conn, normalize_serial(serial), accept)
    finally:
        db.close()
    echo(say(f"waitlist.{o.status}", serial=o.serial, program=o.program))


@waitlist_app.command("withdraw", help=h("waitlist_withdraw"))
def waitlist_withdraw_cmd(serial: Annotated[str, typer.Argument(help=h("serial"))],
                          reason: Annotated[str, typer.Option("--reason", help=h("reason"))] = "",
                          cycle: CycleOpt = None) -> None:
    from zonepaper.paper.waitlist import withdraw
    from zonepaper.serial import normalize_serial

    db = resolve_cycle(cycle).db()
    try:
        freed = withdraw(db.conn, normalize_serial(serial), reason)
    finally:
        db.close()
    echo(say("waitlist.withdrawn", serial=normalize_serial(serial), program=freed or "-"))


@waitlist_app.command("status", help=h("waitlist_status"))
def waitlist_status_cmd(cycle: CycleOpt = None) -> None:
    from zonepaper.paper.waitlist import program_states

    c = resolve_cycle(cycle)
    db = c.db()
    try:
        states = program_states(db.conn, c.zone())
    finally:
        db.close()
    echo(say("waitlist.header"))
    for st in states:
        nxt = st.next_in_line or "-"
        echo(f"{st.program:16s} {st.seats:5d} {st.holding:6d} {st.offered:6d} {st.declined:6d}  {nxt}")


def _counting_bar(label: str):  # noqa: ANN202 - a progress bar and the step that moves it
    bar = typer.progressbar(length=1, label=label, file=sys.stderr, show_pos=True)

    def step(done: int, total: int) -> None:
        bar.length = max(total, 1)
        bar.update(done - bar.pos)

    return bar, step


@models_app.command("adapt", help=h("models_adapt"))
def models_adapt_cmd(cycle: CycleOpt = None) -> None:
    from zonepaper.scan.adapt import adapt

    bar, step = _counting_bar(say("models.progress"))
    with bar:
        report = adapt(resolve_cycle(cycle), "zonepaper", progress=step)
    c, a = report.committed, report.adapted
    echo(say("models.learnt", digits=report.digits, forms=report.forms))
    echo(say("models.held_out", fields=c.fields, digits=c.digits, committed=c.accepted, committed_wrong=c.wrong,
             committed_sure=c.sure_wrong, adapted=a.accepted, adapted_wrong=a.wrong, changed=a.changed,
             adapted_sure=a.sure_wrong))
    echo(say("models.switched" if report.switched else "models.kept", reader=report.reader))


@models_app.command("reset", help=h("models_reset"))
def models_reset_cmd(cycle: CycleOpt = None) -> None:
    from zonepaper.scan.adapt import reset

    echo(say("models.reset_done", reader=reset(resolve_cycle(cycle), "zonepaper")))


@scan_app.command("rescan-review", help=h("rescan_review"))
def scan_rescan_review_cmd(cycle: CycleOpt = None) -> None:
    from zonepaper.scan.adapt import rescan_review

    bar, step = _counting_bar(say("scan.rescan_progress"))
    with bar:
        report = rescan_review(resolve_cycle(cycle), "zonepaper", progress=step)
    echo(say("scan.rescan_done", forms=report.forms, fields=report.fields, accepted=report.accepted,
             reader=report.reader))


@app.command("demo", help=h("demo"))
def demo_cmd(folder: Annotated[Path, typer.Argument(help=h("demo_folder"))] = Path("demo-cycle")) -> None:
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


# typer runs on click or, from 0.22, on its own copy of it: catch either one's exceptions.
_TYPER_CLICK = getattr(typer, "_click", None)
COMMAND_LINE_ERRORS = tuple({click.exceptions.ClickException, getattr(typer, "TyperException", click.ClickException)})
USAGE_ERRORS = tuple({click.exceptions.UsageError,
                      getattr(getattr(_TYPER_CLICK, "exceptions", None), "UsageError", click.exceptions.UsageError)})
ABORTS = tuple({click.exceptions.Abort, typer.Abort})
EXITS = tuple({click.exceptions.Exit, typer.Exit})


def _usage_detail(exc: Exception) -> Phrase | str:
    """What is wrong with the command as typed, translated for the mistakes people make most."""
    kind, param = type(exc).__name__, getattr(exc, "param", None)
    name = (param.opts[0] if param.param_type_name == "option" else param.name.upper()) if param else ""
    if kind == "MissingParameter" and name:
        return Phrase("cli.missing_option" if name.startswith("-") else "cli.missing_argument", {"name": name})
    if kind == "NoSuchOption":
        near = getattr(exc, "possibilities", None) or ()
        return Phrase("cli.no_such_option", {"name": exc.option_name,
                                             "near": Phrase("cli.did_you_mean", {"names": ", ".join(sorted(near))})
                                             if near else ""})
    if kind == "BadParameter" and name:
        return Phrase("cli.bad_value", {"name": name})
    unknown = re.match(r"No such command '(.+?)'", exc.format_message())
    if unknown:
        return Phrase("cli.no_such_command", {"name": unknown[1]})
    detail = exc.format_message().strip()
    return detail if detail.endswith((".", "!", "?")) else detail + "."


class _TranslatedHelp:
    """A command whose --help option says what it does in the user's languages (click's text is English)."""

    def get_help_option(self, ctx):  # noqa: ANN001, ANN201 - click's signature
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = h("help_option")
        return option


class _Command(_TranslatedHelp, typer.core.TyperCommand):
    pass


class _Group(_TranslatedHelp, typer.core.TyperGroup):
    pass


def _translate_help_option(typer_app: typer.Typer) -> None:
    """Every command and group of the app (and of its sub-apps) uses the classes above."""
    def mine(cls: type | None, default: type, ours: type) -> type:
        return ours if not cls or cls is default else cls  # typer marks "not given" with a falsy placeholder

    typer_app.info.cls = mine(typer_app.info.cls, typer.core.TyperGroup, _Group)
    for command in typer_app.registered_commands:
        command.cls = mine(command.cls, typer.core.TyperCommand, _Command)
    for group in typer_app.registered_groups:
        group.cls = mine(group.cls, typer.core.TyperGroup, _Group)
        if group.typer_instance is not None:
            _translate_help_option(group.typer_instance)


_translate_help_option(app)


def _cycle_named(argv: list[str] | None) -> str:
    """The --cycle folder on the command line, to name it in a message about the machine's disk or database."""
    args = list(sys.argv[1:] if argv is None else argv)
    for i, arg in enumerate(args):
        if arg == "--cycle" and i + 1 < len(args):
            return os.path.abspath(args[i + 1])
        if arg.startswith("--cycle="):
            return os.path.abspath(arg.split("=", 1)[1])
    return ""


def run(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code. Errors become a fix-it message, never a traceback."""
    try:
        result = app(args=argv, prog_name="zonepaper", standalone_mode=False)
        code = int(result) if isinstance(result, int) else 0
        if code == ExitCode.interrupted:  # typer turns Ctrl-C into exit code 130
            typer.echo(say("cli.interrupted"), err=True)
        return code
    except ZonepaperError as exc:
        typer.echo(exc.render(), err=True)
        return int(exc.exit_code)
    except (*ABORTS, KeyboardInterrupt):
        typer.echo(say("cli.interrupted"), err=True)
        return int(ExitCode.interrupted)
    except COMMAND_LINE_ERRORS as exc:  # an unknown option, a missing argument: say so, and where to look
        if getattr(exc, "ctx", None) is None and not isinstance(exc, USAGE_ERRORS):
            exc.show()
            return exc.exit_code
        if exc.format_message().strip():  # empty when the help was shown because no command was given
            command = exc.ctx.command_path if getattr(exc, "ctx", None) else "zonepaper"
            typer.echo(ZonepaperError("cli.usage", detail=_usage_detail(exc), command=command).render(), err=True)
        return int(ExitCode.usage)
    except EXITS as exc:
        return exc.exit_code
    except Exception as exc:  # the last line of defence: a report file instead of a traceback
        where = _cycle_named(argv) or os.environ.get("ZONEPAPER_CYCLE", "")
        known = known_failure(exc, where)
        if known is not None:
            typer.echo(known.render(), err=True)
            return int(known.exit_code)
        path = _save_crash_report()
        typer.echo(ZonepaperError("internal.crash", kind=type(exc).__name__, file=path).render(), err=True)
        return int(ExitCode.internal)


def main() -> None:
    """Console entry point."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
