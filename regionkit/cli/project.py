"""Project-wide commands: `regionkit validate` and `regionkit schema`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from regionkit.catalog.model import catalog_json_schema, load_catalog
from regionkit.catalog.views import problem_record
from regionkit.cli.options import CatalogOption, JsonOption
from regionkit.cli.output import labelled, print_json, print_result, stderr, stdout, styled
from regionkit.project.checks import check_project
from regionkit.project.files import Project
from regionkit.project.region import profile_json_schema


def validate(catalog: CatalogOption = None, json: JsonOption = False) -> None:
    """Check the region project: profile, catalog, chosen apps, units and hosts together (exit 2 on errors)."""

    project = Project.locate()
    report = check_project(project.profile_path, load_catalog(catalog))

    def human() -> None:
        for problem in report.errors:
            stderr.print(labelled(problem))
        for problem in report.warnings:
            stderr.print(labelled(problem, "warning:", "yellow"))
        if report.ok and report.profile is not None:  # no errors: a profile
            profile = report.profile
            stdout.print(styled(("ok", "green"), f" {project.profile_path}: {profile.region.name}, "
                                f"{len(profile.units)} units, {len(profile.apps)} apps, {len(profile.hosts)} hosts"
                                + (f", {len(report.warnings)} warnings" if report.warnings else "")))
        else:
            stderr.print(labelled(f"{project.profile_path}: {len(report.errors)} problems"))

    print_result(json, {"valid": report.ok, "project": str(project.root),
                        "errors": [problem_record(p) for p in report.errors],
                        "warnings": [problem_record(p) for p in report.warnings]}, human)
    if not report.ok:
        raise typer.Exit(2)


class SchemaName(StrEnum):
    catalog = "catalog"
    profile = "profile"


def schema(name: Annotated[SchemaName, typer.Argument(help="catalog (catalog.yaml) or profile (region.yaml).")]
           ) -> None:
    """Print the JSON Schema of catalog.yaml or region.yaml, for editors and CI."""

    if name == SchemaName.catalog:

        print_json(catalog_json_schema())
    else:

        print_json(profile_json_schema())
