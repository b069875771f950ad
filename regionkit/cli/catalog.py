"""`regionkit catalog ...`: list, show, validate and summarise the catalog of shareable apps."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from regionkit.catalog import views as catalog_views
from regionkit.catalog.model import load_catalog
from regionkit.catalog.views import problem_record
from regionkit.cli.options import CatalogOption, JsonOption
from regionkit.cli.output import print_json, print_result, stdout, styled
from regionkit.cli.render_catalog import app_panel, apps_table, stats_tables
from regionkit.errors import ValidationFailed

app = typer.Typer(help="Browse and check the catalog of shareable apps.", no_args_is_help=True)


@app.command("list")
def list_apps(
    group: Annotated[str | None, typer.Option(help="Only apps of this group (id).")] = None,
    kind: Annotated[str | None, typer.Option(help="Only apps of this kind (web, unit-site, android, "
                                                      "service, national).")] = None,
    search: Annotated[str | None, typer.Option(help="Only apps whose id, name, summary or owner "
                                                        "contains TEXT.", metavar="TEXT")] = None,
    catalog: CatalogOption = None,
    json: JsonOption = False,
) -> None:
    """List the apps of the catalog."""

    loaded = load_catalog(catalog)
    apps = catalog_views.filter_apps(loaded, group=group, kind=kind, search=search)

    print_result(json, [catalog_views.app_record(a) for a in apps], lambda: apps_table(loaded, apps))


@app.command("show")
def show(
    app_id: Annotated[str, typer.Argument(metavar="ID", help="The app's id.")],
    catalog: CatalogOption = None,
    json: JsonOption = False,
) -> None:
    """Show one app with its dependency tree and the apps that depend on it."""

    loaded = load_catalog(catalog)
    details = catalog_views.app_details(loaded, loaded.get(app_id))

    print_result(json, details, lambda: app_panel(details))


@app.command("validate")
def validate(
    path: Annotated[Path | None, typer.Argument(help="Catalog file (default: the kit's or --catalog).")] = None,
    catalog: CatalogOption = None,
    json: JsonOption = False,
) -> None:
    """Check a catalog against every rule and report all problems at once (exit 2 when any)."""

    target = path or catalog
    try:
        loaded = load_catalog(target)
    except ValidationFailed as exc:
        if not json:
            raise

        print_json({"valid": False, "problems": [problem_record(p) for p in exc.problems]})
        raise typer.Exit(exc.exit_code) from None

    print_result(json, {"valid": True, "path": str(loaded.path), "apps": len(loaded), "digest": loaded.digest},
         lambda: stdout.print(styled(("ok", "green"), f" {loaded.path}: {len(loaded)} apps in "
                                                      f"{len(loaded.groups)} groups, no problems")))


@app.command("stats")
def stats(catalog: CatalogOption = None, json: JsonOption = False) -> None:
    """Counts by group, kind, audience and status, and the websites a region gets per unit-site app."""

    figures = catalog_views.catalog_stats(load_catalog(catalog))

    print_result(json, figures, lambda: stats_tables(figures))
