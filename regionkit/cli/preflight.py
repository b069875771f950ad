"""`regionkit preflight`: check the control node and the region's servers before a deploy."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import typer
from rich.table import Table

from regionkit.catalog.model import load_catalog
from regionkit.cli.options import CatalogOption, JsonOption, LimitOption, VaultFileOption
from regionkit.cli.output import print_json, print_result, stderr, stdout, styled
from regionkit.project.files import Project
from regionkit.provision.preflight import PreflightFailed, run_preflight
from regionkit.provision.rollout import Rollout


def preflight(
    limit: LimitOption = None,
    vault_password_file: VaultFileOption = None,
    catalog: CatalogOption = None,
    json: JsonOption = False,
) -> None:
    """Check the control node and every host, changing nothing; exit 1 when anything blocks a deploy."""

    rollout = Rollout.open(Project.locate(), load_catalog(catalog), "checking the hosts")
    report = run_preflight(rollout, limit=limit, vault_password_file=vault_password_file)

    print_result(json, report.as_dict(), lambda: show(report))
    if not report.ok:
        raise typer.Exit(1)


def show(report, to_stderr: bool = False) -> None:
    """One table of the findings (blockers first), then a line with the verdict."""

    console = stderr if to_stderr else stdout
    if report.findings:
        table = Table(title="preflight", title_justify="left")
        for column in ("host", "check", "severity", "detail"):
            table.add_column(column, overflow="fold")
        for finding in sorted(report.findings, key=lambda f: f.severity.value != "blocker"):
            style = "red" if finding.severity.value == "blocker" else "yellow"
            table.add_row(finding.host, finding.check, styled((finding.severity.value, style)), finding.message)
        console.print(table)
    blockers, warnings = len(report.blockers), len(report.warnings)
    verdict = (f"{blockers} blocker{'s' if blockers != 1 else ''}", "red") if blockers else ("no blockers", "green")
    console.print(styled("preflight: ", verdict, f", {warnings} warning{'s' if warnings != 1 else ''} on "
                                                 f"{', '.join(report.hosts) or 'no hosts'} ({report.duration:.1f} s)"))


def showing_preflight(on_event: Callable[[dict], None], enabled: bool) -> Callable[[dict], None]:
    """A deploy's event handler that also shows its preflight report (on stderr, stdout keeps the summary)."""

    def handle(event: dict) -> None:
        if event.get("event") == "preflight":
            if enabled:
                show(event["report"], to_stderr=True)
        else:
            on_event(event)

    return handle


@contextmanager
def refusal_as_json(as_json: bool):
    """With --json, a deploy refused by preflight still prints JSON: {"status": "blocked", "preflight": ...}."""

    try:
        yield
    except PreflightFailed as exc:
        if as_json:

            print_json({"status": "blocked", "preflight": exc.report.as_dict()})
        raise
