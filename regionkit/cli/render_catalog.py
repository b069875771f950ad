"""Rich presentation of catalog listings, details and statistics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.tree import Tree

from regionkit.cli.output import stdout, styled

if TYPE_CHECKING:
    from regionkit.catalog.model import App, Catalog


def apps_table(catalog: Catalog, apps: list[App]) -> None:
    table = Table(title=f"{len(apps)} of {len(catalog)} apps", title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("name", overflow="fold", ratio=1)
    for column in ("kind", "group", "audience", "version", "status"):
        table.add_column(column, no_wrap=True)
    for app in apps:
        table.add_row(app.id, app.name, app.kind.value, app.group, app.audience.value, app.version,
                      app.status.value)
    stdout.print(table)


def _tree(parent: Tree, nodes: list[dict]) -> None:
    for node in nodes:
        branch = parent.add(styled(f"{node['id']} ", (f"({node['kind']})", "dim")))
        _tree(branch, node["depends_on"])


def app_panel(details: dict) -> None:
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold")
    fields.add_column()
    rows = [
        ("name", details["name"]), ("kind", details["kind"]),
        ("group", f"{details['group_name']} / {details['subgroup']}"), ("audience", details["audience"]),
        ("version", f"{details['version']} ({details['status']})"), ("owner", details["owner"]),
        ("spbe", details["spbe"]), ("summary", details["summary"]["en"]), ("ringkasan", details["summary"]["id"]),
    ]
    if "runtime" in details:
        res = details["resources"]
        rows += [("runtime", details["runtime"]), ("database", details["database"]),
                 ("resources", f"{res['cpu']:g} cpu, {res['memory_mb']} MB memory, {res['disk_mb']} MB disk"),
                 ("health", details["health"]), ("ports", ", ".join(map(str, details["ports"])))]
    if "unit_kinds" in details:
        rows.append(("one site per", ", ".join(details["unit_kinds"])))
    if "android" in details:
        rows.append(("android", f"package *.{details['android']['package']}, min SDK {details['android']['min_sdk']}"))
    if "integration" in details:
        integ = details["integration"]
        settings = ", ".join(s["name"] + (" (secret)" if s["secret"] else "") for s in integ["settings"])
        rows += [("integrates with", f"{integ['provider']} {integ['url']}"), ("settings", settings)]
    for label, value in rows:
        fields.add_row(label, str(value))
    stdout.print(styled((details["id"], "bold")))
    stdout.print(fields)
    tree = Tree(styled((details["id"], "bold"), " needs"))
    _tree(tree, details["dependency_tree"])
    stdout.print(tree if details["dependency_tree"] else "needs no other app")
    direct = details["required_by"]
    indirect = [a for a in details["required_by_all"] if a not in direct]
    stdout.print(f"required by: {', '.join(direct) or 'no app'}"
                 + (f"; indirectly by {len(indirect)} more: {', '.join(indirect)}" if indirect else ""))


def stats_tables(figures: dict) -> None:
    groups = Table(title=f"{figures['apps']} apps by group", title_justify="left")
    groups.add_column("group / subgroup")
    groups.add_column("apps", justify="right")
    for group in figures["by_group"]:
        groups.add_row(styled((group["name"], "bold")), styled((str(group["apps"]), "bold")))
        for sub in group["subgroups"]:
            groups.add_row(f"  {sub['name']}", str(sub["apps"]))
    stdout.print(groups)
    for title, key in (("by kind", "by_kind"), ("by audience", "by_audience"), ("by status", "by_status")):
        table = Table(title=title, title_justify="left")
        table.add_column(key.removeprefix("by_"))
        table.add_column("apps", justify="right")
        for name, count in figures[key].items():
            table.add_row(name, str(count))
        stdout.print(table)
    sites = Table(title="websites per region (unit-site apps)", title_justify="left")
    for column in ("app", "one site per", "min", "median", "max", "basis"):
        sites.add_column(column)
    for row in figures["unit_sites"]:
        spread = row["sites_per_region"]
        numbers = ([str(spread["min"]), f"{spread['median']:g}", str(spread["max"])] if spread else ["-", "-", "-"])
        sites.add_row(row["app"], ", ".join(row["unit_kinds"]), *numbers, row["basis"])
    stdout.print(sites)
