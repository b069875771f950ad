"""`regionkit apps ...`: choose the region's apps (with what they need) and list the choice."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.table import Table

from regionkit.catalog.model import Kind, load_catalog
from regionkit.cli.options import CatalogOption, JsonOption
from regionkit.cli.output import print_result, stdout, styled
from regionkit.project import selection
from regionkit.project.files import Project, chosen_apps, set_choice

app = typer.Typer(help="Choose the region's apps.", no_args_is_help=True)

CHANGE_LINES = (
    ("added", "added"),
    ("added_as_dependency", "added because chosen apps need them"),
    ("now_explicit", "now chosen explicitly (were dependencies)"),
    ("already_chosen", "already chosen"),
    ("removed", "removed"),
    ("removed_with_cascade", "removed with --cascade (they need a removed app)"),
    ("no_longer_needed", "removed, no longer needed by any chosen app"),
)


@contextmanager
def _editing(catalog_path):
    """(region.yaml's document, the catalog, the chosen apps) with the project's edit lock held for the whole
    command, so that concurrent `apps add`/`apps remove` never lose one another's changes."""

    project = Project.locate()
    with project.editing() as document:
        yield document, project.profile_path, load_catalog(catalog_path), chosen_apps(project.profile())


def _report(change, as_json: bool) -> None:

    def human() -> None:

        for field, label in CHANGE_LINES:
            ids = getattr(change, field)
            if ids:
                stdout.print(f"{label}: {', '.join(ids)}")
        if not change.changed:
            stdout.print("nothing changed")

    print_result(as_json, asdict(change), human)


@app.command("add")
def add(
    app_ids: Annotated[list[str] | None, typer.Argument(metavar="ID...", help="Apps to choose.")] = None,
    preset: Annotated[list[str] | None, typer.Option(
        metavar="PRESET", help="Choose a package of apps (see `regionkit apps presets`); repeatable.")] = None,
    catalog: CatalogOption = None,
    json: JsonOption = False,
) -> None:
    """Choose apps; everything they depend on is added too, and said."""

    with _editing(catalog) as (document, path, loaded, chosen):
        new, change = selection.add(loaded, chosen, selection.wanted(loaded, app_ids or [], preset or []))
        if change.changed:
            set_choice(document, path, new)
    _report(change, json)


@app.command("remove")
def remove(
    app_ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Apps to remove.")],
    cascade: Annotated[bool, typer.Option(help="Also remove the chosen apps that need them.")] = False,
    catalog: CatalogOption = None,
    json: JsonOption = False,
) -> None:
    """Remove apps; refused while another chosen app needs one (unless --cascade)."""

    with _editing(catalog) as (document, path, loaded, chosen):
        new, change = selection.remove(loaded, chosen, app_ids, cascade=cascade)
        set_choice(document, path, new)
    _report(change, json)


@app.command("list")
def list_chosen(catalog: CatalogOption = None, json: JsonOption = False) -> None:
    """The chosen apps, in install order; national platforms are marked as integrations."""

    loaded, chosen = load_catalog(catalog), chosen_apps(Project.locate().profile())
    order = [a for a in loaded.closure([a for a in chosen if a in loaded.apps]) if a in chosen]
    order += [a for a in chosen if a not in loaded.apps]
    rows: list[dict[str, Any]] = []
    for app_id in order:
        entry = loaded.apps.get(app_id)
        rows.append({
            "id": app_id, "name": entry.name if entry else None, "kind": entry.kind.value if entry else None,
            "integration": bool(entry and entry.kind == Kind.NATIONAL), "version": entry.version if entry else None,
            "auto": chosen[app_id], "known": entry is not None,
        })

    def human() -> None:
        table = Table(title=f"{len(rows)} apps chosen ({sum(r['auto'] for r in rows)} as dependencies)",
                      title_justify="left")
        for column in ("id", "name", "kind", "version", "chosen"):
            table.add_column(column)
        for row in rows:
            kind = "integration" if row["integration"] else (row["kind"] or styled(("not in catalog", "red")))
            table.add_row(row["id"], row["name"] or "", kind, row["version"] or "",
                          "as dependency" if row["auto"] else "yes")
        stdout.print(table)

    print_result(json, rows, human)


@app.command("presets")
def presets(catalog: CatalogOption = None, json: JsonOption = False) -> None:
    """Packages of apps seen in practice."""

    loaded = load_catalog(catalog)
    records = [{**p.model_dump(mode="json"), "with_dependencies": len(loaded.closure(p.apps))}
               for p in loaded.presets.values()]

    def human() -> None:

        for record in records:
            stdout.print(styled((record["id"], "bold"), f": {record['name']}: {len(record['apps'])} apps, "
                                f"{record['with_dependencies']} with what they need"))
            stdout.print(f"  {record['description']}")
            stdout.print(styled(("  " + ", ".join(record["apps"]), "dim")))

    print_result(json, records, human)
