"""`regionkit status`: every deployed app and unit site per host: version, health check, response time."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from regionkit.catalog.model import load_catalog
from regionkit.cli.options import CatalogOption, JsonOption
from regionkit.cli.output import print_result, stdout, styled
from regionkit.project.files import Project
from regionkit.provision.status import status as run_status


def status(
    app_id: Annotated[str | None, typer.Option("--app", metavar="ID", help="Check this app only.")] = None,
    host: Annotated[list[str] | None, typer.Option(
        "--host", metavar="NAME", help="Only this host (its name in region.yaml); repeat it, or give "
                                       "NAME,NAME.")] = None,
    timeout: Annotated[float, typer.Option(metavar="S", help="Seconds to wait for each answer.")] = 5.0,
    catalog: CatalogOption = None,
    json: JsonOption = False,
) -> None:
    """Check every app and unit site the ledger records as deployed, on each of its hosts; exit 1 when any is down."""

    hosts = [h.strip() for given in host for h in given.split(",") if h.strip()] if host else None
    result = run_status(Project.locate(), load_catalog(catalog), app=app_id, hosts=hosts, timeout=timeout)

    print_result(json, result.record(), lambda: _tables(result))
    if not result.ok:
        raise typer.Exit(1)


def _tables(result) -> None:
    colours = {"up": "green", "down": "red", "unknown": "yellow"}
    hosts: dict[str, list] = {}
    for c in result.checks:
        hosts.setdefault(c.target.host, []).append(c)
    for host, checks in hosts.items():
        address = checks[0].target.address or "not in region.yaml"
        up = sum(1 for c in checks if c.result == "up")
        table = Table(title=f"{host} ({address}): {up} of {len(checks)} up", title_justify="left")
        for column in ("app / site", "version", "since (UTC)", "result", "ms", "detail"):
            table.add_column(column, justify="right" if column == "ms" else "left")
        for c in checks:
            t = c.target
            name = f"{t.app}: {t.unit}" if t.unit else t.app
            table.add_row(name, t.version, t.since, styled((c.result, colours[c.result])),
                          "" if c.ms is None else f"{c.ms:.0f}", c.detail)
        stdout.print(table)
    summary = f"{result.count('up')} up, {result.count('down')} down"
    if result.count("unknown"):
        summary += f", {result.count('unknown')} unknown"
    stdout.print(styled((summary, "green" if result.ok else "red")))

