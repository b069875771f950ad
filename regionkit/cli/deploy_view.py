"""Progress and summaries of deploys and plans, with rich."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from regionkit.cli.output import labelled, stderr, stdout, styled
from regionkit.provision.deploy import PLATFORM


def ask_password() -> str:
    if not sys.stdin.isatty():
        return ""

    return typer.prompt("Vault password", hide_input=True)


class Progress:
    """One line per app as the run reaches it, failures as they happen, a live bar on terminals."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.current_app: str | None = "-"

    def on_event(self, event: dict) -> None:
        if not self.enabled:
            return
        kind = event.get("event")
        if kind == "play":
            stderr.print(styled((event["name"], "bold")))
        elif kind == "task":
            app = event.get("app")
            if app != self.current_app:
                self.current_app = app
                stderr.print(f"  {'app ' + app if app else 'platform'}")
        elif kind == "result" and event["status"] in ("failed", "unreachable"):
            where = f"{event['host']}" + (f", {event['app']}" if event.get("app") else "")
            first = event.get("msg", "").splitlines()[0] if event.get("msg") else ""
            stderr.print(styled("  ", (event["status"], "red"), f" ({where}) {event['task']}: {first}"))


def summary_table(result) -> None:
    table = Table(title=f"{result.mode} {result.run_id}: {result.status} in {result.duration:.1f} s",
                  title_justify="left")
    for column in ("app", "hosts", "ok", "changed", "failed", "unreachable"):
        table.add_column(column, justify="right" if column not in ("app", "hosts") else "left")
    for app, counts in sorted(result.apps.items(), key=lambda item: (item[0] != PLATFORM, item[0])):
        failed = counts["failed"] + counts["unreachable"]
        style = "red" if failed else "yellow" if counts["changed"] else ""
        table.add_row(styled((app, style)), ", ".join(counts["hosts"]), str(counts["ok"]),
                      str(counts["changed"]), str(counts["failed"]), str(counts["unreachable"]))
    stdout.print(table)
    hosts = Table(title="per host", title_justify="left")
    for column in ("host", "ok", "changed", "failed", "unreachable"):
        hosts.add_column(column)
    for host, counts in sorted(result.hosts.items()):
        hosts.add_row(host, *(str(counts[k]) for k in ("ok", "changed", "failed", "unreachable")))
    stdout.print(hosts)
    if result.skipped_converged:
        stdout.print(f"resumed: skipped {len(result.skipped_converged)} apps that converged before: "
                     f"{', '.join(result.skipped_converged)}")
    for failure in result.failures:
        where = failure["host"] + (f", app {failure['app']}" if failure["app"] else "")
        stderr.print(labelled(f"{where}: {failure['task']}: {failure['msg']}"))
    again = "`regionkit undeploy` again" if result.mode == "removal" else "`regionkit deploy --resume`"
    if result.status == "interrupted":
        stderr.print(f"interrupted: run {again} to continue")
    elif not result.ok:
        stderr.print(f"record: {result.folder}; after fixing, {again} continues")
    else:
        stdout.print(f"record: {result.folder}")
        if result.mode == "deploy" and result.urls:
            _print_urls(result.urls)


def _print_urls(urls: list[dict]) -> None:
    """The addresses to open; names resolve once DNS points at the web servers, curl works today."""
    shown = [u for u in urls if u["servers"]]
    sites = [u for u in shown if u["unit"]]
    stdout.print("open (until DNS points at the servers, use the curl form):")
    for entry in [u for u in shown if not u["unit"]] + sites[:3]:
        stdout.print(f"  {entry['url']:<50} curl -H 'Host: {entry['host_header']}' http://{entry['servers'][0]}/")
    if len(sites) > 3:
        stdout.print(f"  ... and {len(sites) - 3} more unit sites")


def plan_table(result) -> None:
    """Apps that would change; shared steps (base system, databases, web server) are listed apart."""
    changing = {app: c for app, c in result.apps.items() if c["changed"] and app != PLATFORM}
    shared = result.apps.get(PLATFORM, {}).get("changed_tasks", [])
    if not changing and result.ok:
        stdout.print("no app would change: the servers match the region project"
                     + (f" (shared steps would run: {'; '.join(shared)})" if shared else ""))
        return
    table = Table(title=f"plan: {len(changing)} apps would change", title_justify="left")
    for column in ("app", "hosts", "changes"):
        table.add_column(column)
    for app, counts in sorted(changing.items()):
        table.add_row(app, ", ".join(counts["hosts"]), "; ".join(counts["changed_tasks"]))
    stdout.print(table)
    if shared:
        stdout.print(f"shared steps that would run: {'; '.join(shared)}")
    for failure in result.failures:
        stderr.print(labelled(f"{failure['host']}: {failure['task']}: {failure['msg']}"))


def result_record(result) -> dict:
    return {"run_id": result.run_id, "status": result.status, "mode": result.mode, "record": str(result.folder),
            "duration_s": result.duration, "apps": result.apps, "hosts": result.hosts,
            "skipped_converged": result.skipped_converged, "failures": result.failures,
            "changing": sorted(app for app, c in result.apps.items() if c["changed"] and app != PLATFORM),
            "urls": result.urls}
