"""`regionkit artifacts ...`: the artifact store the deploy reads (build a demo store, list, verify)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from regionkit.catalog.model import InstallableApp, load_catalog
from regionkit.cli.options import CatalogOption, JsonOption
from regionkit.cli.output import labelled, print_result, stderr, stdout, styled
from regionkit.errors import InputError
from regionkit.project.appplan import needs_artifact
from regionkit.project.files import Project
from regionkit.provision.artifacts import (
    INDEX_NAME,
    Store,
    build_demo_store,
    check,
    chosen_needing_artifacts,
    present,
    resolve_chosen,
    store_setting,
)

app = typer.Typer(help="The apps' release archives: the artifact store the deploy reads.", no_args_is_help=True)


@app.command("build-demo")
def build_demo(
    dest: Annotated[Path | None, typer.Argument(
        metavar="[DIR]", help="Store folder (default: artifacts/ in the region project).")] = None,
    set_store: Annotated[bool, typer.Option(
        "--set-store/--no-set-store", help="Name the store in region.yaml (artifacts.store).")] = True,
    catalog: CatalogOption = None,
    json: JsonOption = False,
) -> None:
    """Build the reference workload into a store for the chosen web and service apps (outside a project: all)."""

    loaded = load_catalog(catalog)
    try:
        project = Project.locate()
    except InputError:
        if dest is None:
            raise
        project = None
    if project is not None:
        profile = project.profile()
        apps = chosen_needing_artifacts(loaded, profile)
        if not apps:
            raise InputError("no web or service app is chosen: nothing to build an artifact for",
                             hint="choose apps with `regionkit apps add ID...`")
        dest = dest if dest is not None else project.default_artifact_store
    else:
        apps = [a for a in loaded.apps.values() if isinstance(a, InstallableApp) and needs_artifact(a)]
    assert dest is not None  # outside a project DIR is required (raised above)
    build_demo_store(dest, loaded, [a.id for a in apps])
    store = Store.open(str(dest))
    artifact = store.resolve(apps[0].id, apps[0].version)
    setting = None
    if project is not None and set_store:
        setting = store_setting(dest, project.root)
        current = project.profile().artifacts
        if current is None or current.store != setting:
            project.write_artifacts_store(setting)

    def human() -> None:

        stdout.print(styled(("built", "green"), f" the reference workload into {artifact.path_or_url} "
                            f"({artifact.size} bytes, sha256 {artifact.sha256})"))
        stdout.print(f"  {Path(dest) / INDEX_NAME}: {len(apps)} apps at their catalog versions")
        if setting is not None:
            stdout.print(f"  region.yaml: artifacts.store = {setting}")

    print_result(json, {"store": str(Path(dest).resolve()), "index": str(Path(dest).resolve() / INDEX_NAME),
                    "file": artifact.path_or_url, "sha256": artifact.sha256, "size": artifact.size,
                    "label": artifact.label, "apps": {a.id: a.version for a in apps},
                    "profile_store": setting}, human)


@app.command("list")
def list_artifacts(catalog: CatalogOption = None, json: JsonOption = False) -> None:
    """The chosen web and service apps: version, sha256 and whether the store has the archive."""

    project = Project.locate()
    profile = project.profile()
    store, rows = resolve_chosen(project, load_catalog(catalog), profile)
    records: list[dict[str, Any]] = [{
        "id": entry.id, "version": entry.version, "in_index": artifact is not None,
        "sha256": artifact.sha256 if artifact else None, "size": artifact.size if artifact else None,
        "label": artifact.label if artifact else None, "location": artifact.path_or_url if artifact else None,
        "present": bool(artifact and present(artifact)), "problem": problem,
    } for entry, artifact, problem in rows]

    def human() -> None:
        table = Table(title=f"{len(records)} artifacts from {store.location}", title_justify="left")
        for column in ("id", "version", "sha256", "present"):
            table.add_column(column)
        for record in records:
            table.add_row(record["id"], record["version"],
                          (record["sha256"] or "")[:12] or styled(("not in index", "red")),
                          "yes" if record["present"] else styled(("no", "red")))
        stdout.print(table)

    print_result(json, {"store": store.location, "artifacts": records}, human)


@app.command("verify")
def verify(catalog: CatalogOption = None, json: JsonOption = False) -> None:
    """Check every chosen web and service app's archive: present, with the right sha256 (exit 2 when not)."""

    project = Project.locate()
    profile = project.profile()
    store, rows = resolve_chosen(project, load_catalog(catalog), profile)
    records = []
    for entry, artifact, problem in rows:
        result = check(artifact) if artifact is not None else None
        records.append({"id": entry.id, "version": entry.version, "ok": bool(result and result.ok),
                        "sha256": artifact.sha256 if artifact else None,
                        "actual_sha256": result.actual_sha256 if result else None,
                        "problem": problem if result is None else result.problem})
    failed = [r for r in records if not r["ok"]]

    def human() -> None:
        for record in failed:
            stderr.print(labelled(f"{record['id']} {record['version']}: {record['problem'] or 'unknown problem'}"))
        if failed:
            stderr.print(labelled(f"{store.location}: {len(failed)} of {len(records)} artifacts missing or wrong"))
        else:
            stdout.print(styled(("ok", "green"), f" {store.location}: {len(records)} artifacts present with the "
                                                  "right sha256"))

    print_result(json, {"store": store.location, "ok": not failed, "artifacts": records}, human)
    if failed:
        raise typer.Exit(2)
