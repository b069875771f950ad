"""`regionkit render`: the region's configuration for every chosen app, from the templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.syntax import Syntax

from regionkit.catalog.model import load_catalog
from regionkit.cli.options import CatalogOption, JsonOption
from regionkit.cli.output import print_result, stderr, stdout, styled, visible
from regionkit.project.files import Project
from regionkit.render.build import Renderer


def render(
    out: Annotated[Path | None, typer.Option(help="Build folder (default: build/ in the project).")] = None,
    diff: Annotated[bool, typer.Option("--diff", help="Show what would change against the current build; "
                                                      "write nothing.")] = False,
    app_id: Annotated[str | None, typer.Option("--app", metavar="ID", help="Render this app only.")] = None,
    catalog: CatalogOption = None,
    json: JsonOption = False,
) -> None:
    """Render config, branding and unit sites for the chosen apps into a build folder, atomically."""

    project = Project.locate()
    renderer = Renderer(project.root, project.profile(), load_catalog(catalog))
    target = out or project.build_dir
    if diff:
        chunks = renderer.diff(target, app_id)

        def show_diff() -> None:

            stdout.print(Syntax(visible("".join(chunks)), "diff", theme="ansi_dark", background_color="default")
                         if chunks else "no changes")

        print_result(json, {"changed": bool(chunks), "diff": "".join(chunks)}, show_diff)
        return
    with project.lock("render"):  # a deploy reads the build: never rewrite it under one
        result = _build_with_progress(renderer, target, app_id, show=not json)
    manifest = result.manifest

    def human() -> None:
        stdout.print(styled(("rendered", "green"), f" {len(manifest['apps'])} apps, {len(manifest['files'])} files "
                            f"into {result.out}: {len(result.changed)} changed, {len(result.removed)} removed"))
        if manifest["overrides"]:
            stdout.print(f"  project overrides: {', '.join(manifest['overrides'])}")

    print_result(json, {"out": str(result.out), "inputs_digest": manifest["inputs_digest"],
                        "apps": len(manifest["apps"]), "files": len(manifest["files"]), "changed": result.changed,
                        "removed": result.removed, "overrides": manifest["overrides"]}, human)


def _build_with_progress(renderer, target: Path, app_id: str | None, show: bool):
    total = 1 if app_id else len(renderer.contexts)
    with Progress(TextColumn("rendering {task.fields[app]:<24}", markup=False), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=stderr, transient=True,
                  disable=not show or not stderr.is_terminal) as progress:
        task = progress.add_task("render", total=total, app="")

        def advance(app: str) -> None:
            progress.update(task, advance=1, app=app)

        return renderer.build(target, app_id, advance)
