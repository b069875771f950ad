"""`regionkit audit ...`: query and verify the adoption ledger (which region runs which app, since when)."""

from __future__ import annotations

import csv as csv_module
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from regionkit.atomic import write_atomic
from regionkit.audit import ledger, registry
from regionkit.audit import report as report_mod
from regionkit.catalog.model import load_catalog
from regionkit.cli.options import JsonOption
from regionkit.cli.output import print_result, stderr, stdout, styled
from regionkit.errors import InputError, ValidationFailed
from regionkit.project.files import Project

app = typer.Typer(help="Query and verify the adoption ledger: who runs which app at which version, since when.",
                  no_args_is_help=True)

LedgerOption = Annotated[Path | None, typer.Option(
    "--ledger", metavar="PATH", show_default=False,
    help="Ledger file to read instead of the current project's ledger.jsonl.")]


def _read(ledger_path: Path | None):
    """The ledger, verified: queries answer only from a ledger whose chain holds."""

    ledger_file = _path(ledger_path)
    read = ledger.read(ledger_file)
    read.raise_if_broken()
    return read


def _path(ledger_path: Path | None) -> Path:
    if ledger_path is not None:
        return ledger_path

    return Project.locate().ledger_path


@app.command("list")
def list_entries(
    region: Annotated[str | None, typer.Option(metavar="CODE", help="Only this region (Kemendagri code).")] = None,
    app_id: Annotated[str | None, typer.Option("--app", metavar="ID", help="Only this app.")] = None,
    since: Annotated[str | None, typer.Option(metavar="DATE", help="Only runs that finished at or after DATE "
                                                                      "(ISO date or date-time; UTC).")] = None,
    ledger_path: LedgerOption = None,
    json: JsonOption = False,
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV (with a header row) instead of a table.")] = False,
) -> None:
    """List the ledger's entries: every deploy, upgrade and removal per app and host."""

    if json and csv:
        raise InputError("choose one of --json and --csv")
    moment = ledger.parse_since(since) if since is not None else None
    read = _read(ledger_path)
    entries = ledger.select(read.entries, region=region, app=app_id, since=moment)
    records = [ledger.entry_record(e) for e in entries]

    def human() -> None:
        if csv:

            writer = csv_module.DictWriter(sys.stdout, fieldnames=ledger.FIELDS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(records)
            return

        if not entries:
            stdout.print(f"no entries in {read.path}" + (" match" if (region or app_id or since) else ""))
            return
        table = Table(title=f"{read.path}: {len(entries)} of {len(read.entries)} entries", title_justify="left")
        for column in ("seq", "finished (UTC)", "region", "app", "version", "host", "action", "result", "operator",
                       "agreement", "run"):
            table.add_column(column, justify="right" if column == "seq" else "left")
        for e in entries:
            table.add_row(str(e.seq), e.finished, f"{e.region_code} {e.region_name}", e.app, e.version, e.host,
                          e.action, e.result if e.result == "succeeded" else styled((e.result, "red")), e.operator,
                          e.agreement or "", e.run_id)
        stdout.print(table)

    print_result(json, records, human)


@app.command("region")
def region(
    code: Annotated[str, typer.Argument(metavar="CODE", help="The region's Kemendagri code, e.g. 36.01.")],
    ledger_path: LedgerOption = None,
    json: JsonOption = False,
) -> None:
    """What a region runs now: each app on each host, its version, since when and who installed it."""

    read = _read(ledger_path)
    running = ledger.region_apps(read.entries, code)

    def human() -> None:
        if not running:
            known = any(e.region_code == code for e in read.entries)
            stderr.print(f"region {code} runs no app" + ("" if known else f" (no entry for it in {read.path})"))
            return
        count = len({r.app for r in running})
        table = Table(title=f"{code} {running[0].region_name}: {count} app{'s' if count != 1 else ''} running",
                      title_justify="left")
        for column in ("app", "version", "host", "since (UTC)", "installed by", "run", "agreement"):
            table.add_column(column)
        for r in running:
            table.add_row(r.app, r.version, r.host, r.since, r.operator, r.run_id, r.agreement or "")
        stdout.print(table)

    print_result(json, [r.record() for r in running], human)


@app.command("adopters")
def adopters(
    app_id: Annotated[str, typer.Argument(metavar="APP", help="The app's catalog id, e.g. e-office.")],
    ledger_path: LedgerOption = None,
    json: JsonOption = False,
) -> None:
    """The regions that run an app now, with their versions and hosts."""

    read = _read(ledger_path)
    regions = ledger.adopters(read.entries, app_id)

    def human() -> None:
        if not regions:
            stderr.print(f"no region runs {app_id}")
            return
        table = Table(title=f"{app_id}: run by {len(regions)} region{'s' if len(regions) != 1 else ''}",
                      title_justify="left")
        for column in ("region", "name", "versions", "hosts", "since (UTC)"):
            table.add_column(column)
        for r in regions:
            hosts = ", ".join(h["host"] for h in r["hosts"])
            table.add_row(r["region_code"], r["region_name"], ", ".join(r["versions"]), hosts, r["since"])
        stdout.print(table)

    print_result(json, regions, human)


@app.command("verify")
def verify(
    anchor: Annotated[str | None, typer.Option(
        metavar="HASH", help="A head hash noted earlier: fail unless the ledger still holds that entry "
                             "(shows entries cut from the end).")] = None,
    ledger_path: LedgerOption = None,
    json: JsonOption = False,
) -> None:
    """Recompute the hash chain; name the first bad entry and exit 2 when it does not hold."""

    read = ledger.read(_path(ledger_path))
    if anchor is not None:
        read.check_anchor(anchor)

    head = read.head

    def human() -> None:
        read.raise_if_broken()
        where = f"head seq {head.seq} hash {head.hash}" if head else "empty"
        stdout.print(styled(("ok", "green"), f" {read.path}: {len(read.entries)} entries, chain intact, {where}"))

    print_result(json, {
        "valid": read.ok, "path": str(read.path), "entries": len(read.entries),
        "head": {"seq": head.seq, "hash": head.hash} if head else None,
        "problems": [] if read.problem is None else [{"message": read.problem.message,
                                                      "line": read.problem.location.line,
                                                      "entry": read.problem.location.field, "hint": read.hint}],
        "torn": None if read.torn is None else {"line": read.torn.line, "offset": read.torn.offset,
                                                "bytes": read.torn.size, "whole": read.torn.whole}}, human)
    if not read.ok:  # with --json (else `human` raised)
        raise typer.Exit(ValidationFailed.exit_code)


RegistryOption = Annotated[Path | None, typer.Option(
    "--registry", metavar="FILE", show_default=False,
    help="The central registry (SQLite); default REGIONKIT_REGISTRY, else registry.sqlite here.")]


@app.command("import")
def import_ledgers(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH...", help="Region project folders (their "
                                                "ledger.jsonl) or ledger files.")],
    registry_path: RegistryOption = None,
) -> None:
    """Verify ledgers and merge them into the central registry; a ledger that does not verify is refused."""

    target = registry_path or registry.default_path()
    outcomes = registry.import_ledgers(target, paths)
    for o in outcomes:
        if o.imported:
            stdout.print(styled(("imported", "green"), f" {o.source}: {o.region_code} {o.region_name}, "
                                f"{o.entries} entries ({o.added} new), head {(o.head_hash or '')[:12]}"))
        else:
            stderr.print(styled(("refused", "red"), f" {o.reason}" + (f"\n  hint: {o.hint}" if o.hint else "")))
    refused = [o for o in outcomes if not o.imported]
    if refused:
        raise InputError(f"{len(refused)} of {len(outcomes)} ledger{'s' if len(outcomes) != 1 else ''} refused; "
                         f"nothing of {'them' if len(refused) != 1 else 'it'} was imported into {target}")


@app.command("report")
def report(
    html: Annotated[Path | None, typer.Option("--html", metavar="OUT", show_default=False,
                                                 help="Write a printable, self-contained HTML report.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", metavar="csv|json", show_default=False,
                                               help="Print the matrix as CSV, or all the data as JSON.")] = None,
    out: Annotated[Path | None, typer.Option("--out", metavar="FILE", show_default=False,
                                                help="Write the CSV or JSON to FILE instead of stdout.")] = None,
    registry_path: RegistryOption = None,
) -> None:
    """Adoption report from the registry: matrix, counts by group, timeline, ledger verification status."""

    if (html is None) == (fmt is None):
        raise InputError("choose one of --html OUT and --format csv|json")
    if fmt is not None and fmt not in ("csv", "json"):
        raise InputError(f"--format {fmt}: expected csv or json")
    if html is not None and out is not None:
        raise InputError("--out goes with --format; --html names its own file")

    source = registry_path or registry.default_path()
    conn = registry.connect(source)
    try:
        data = report_mod.build(conn, load_catalog())
    finally:
        conn.close()
    target: Path | None
    if html is not None:
        target = html
        text = report_mod.render_html(data, str(source))
    else:
        text = report_mod.render_csv(data) if fmt == "csv" else report_mod.render_json(data)
        target = out
        if target is None:

            sys.stdout.write(text)
            return
    try:
        write_atomic(target, text)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror}") from None

    stderr.print(f"wrote {target}")
