"""`regionkit deploy` and `regionkit plan`: run the playbooks against the region's servers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from regionkit.catalog.model import load_catalog
from regionkit.cli import deploy_view
from regionkit.cli import preflight as preflight_cli
from regionkit.cli.options import CatalogOption, JsonOption, LimitOption, VaultFileOption
from regionkit.cli.output import labelled, print_result, stderr
from regionkit.errors import InputError
from regionkit.project.files import Project
from regionkit.provision.deploy import DeployOptions
from regionkit.provision.deploy import deploy as run_deploy
from regionkit.provision.deploy import undeploy as run_undeploy
from regionkit.provision.rollout import Rollout


def deploy(
    app_id: Annotated[str | None, typer.Option("--app", metavar="ID", help="Deploy this app only.")] = None,
    limit: LimitOption = None,
    check: Annotated[bool, typer.Option("--check", help="Dry run: report what would change.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the last failed or interrupted deploy, "
                                                          "skipping apps that converged in it.")] = False,
    agreement: Annotated[str | None, typer.Option(
        metavar="NUMBER", help="The MoU/PKS (agreements.yaml) this deploy is done under, for the ledger.")] = None,
    stock_ansible: Annotated[bool, typer.Option(hidden=True, help="Ansible's default settings (benchmarks).")] = False,
    skip_preflight: Annotated[bool, typer.Option(
        "--skip-preflight", help="Do not check the control node and the hosts first (`regionkit preflight`).")] = False,
    bundle: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Deploy from a field bundle alone (`regionkit bundle create`): it is verified, "
                             "extracted into --workdir and deployed from there, packages included.")] = None,
    workdir: Annotated[Path | None, typer.Option(
        metavar="DIR", help="Where --bundle is extracted; reused by later runs (resume, ledger) "
                            "[default: the bundle's name without .tar, next to it].")] = None,
    public_key: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Require --bundle to be signed by this ed25519 key.")] = None,
    vault_password_file: VaultFileOption = None,
    catalog: CatalogOption = None,
    json: JsonOption = False,
) -> None:
    """Render, then install the chosen apps on the region's servers; exit 1 when anything failed."""

    options = DeployOptions(check=check, resume=resume, app=app_id, limit=limit, agreement=agreement,
                            vault_password_file=vault_password_file, tuned=not stock_ansible,
                            preflight=not skip_preflight)
    if bundle is None and (workdir is not None or public_key is not None):

        raise InputError("--workdir and --public-key go with --bundle FILE")
    if bundle is None:
        rollout = Rollout.open(Project.locate(), load_catalog(catalog), "deploying")
    else:
        rollout = Rollout.from_bundle(bundle, load_catalog(catalog), workdir=workdir, public_key=public_key)
        if not json:
            _announce(rollout)
    _run(rollout, options, json, plan=False)


def undeploy(
    app_ids: Annotated[list[str] | None, typer.Argument(
        metavar="[ID]...", help="Apps to remove; none: every app running here that is no longer chosen.",
        show_default=False)] = None,
    limit: LimitOption = None,
    agreement: Annotated[str | None, typer.Option(
        metavar="NUMBER", help="The MoU/PKS (agreements.yaml) the removal is done under, for the ledger.")] = None,
    catalog: CatalogOption = None,
    json: JsonOption = False,
) -> None:
    """Take apps that are no longer chosen (`regionkit apps remove`) off the servers; the ledger records it.

    Their databases and data stay on the database host.
    """

    view = deploy_view.Progress(enabled=not json)
    result = run_undeploy(Project.locate(), load_catalog(catalog), list(app_ids or []),
                          DeployOptions(limit=limit, agreement=agreement), view.on_event)
    _show(result, json, plan=False)


def plan(
    app_id: Annotated[str | None, typer.Option("--app", metavar="ID", help="Plan this app only.")] = None,
    limit: LimitOption = None,
    vault_password_file: VaultFileOption = None,
    catalog: CatalogOption = None,
    json: JsonOption = False,
) -> None:
    """Run the playbook in check mode and list, per host and app, what a deploy would change."""

    _run(Rollout.open(Project.locate(), load_catalog(catalog), "planning"),
         DeployOptions(check=True, app=app_id, limit=limit, vault_password_file=vault_password_file), json,
         plan=True)


def _run(rollout, options, as_json: bool, plan: bool) -> None:

    view = deploy_view.Progress(enabled=not as_json)
    on_event = preflight_cli.showing_preflight(view.on_event, enabled=not as_json)
    with preflight_cli.refusal_as_json(as_json):
        result = run_deploy(rollout, options, on_event, prompt=deploy_view.ask_password)
    _show(result, as_json, plan)


def _announce(rollout) -> None:
    """The bundle's warnings, and where the deploy runs from (stderr)."""

    for warning in rollout.bundle.warnings:
        stderr.print(labelled(warning, "warning:", "yellow"))
    stderr.print(f"bundle verified ({rollout.bundle.files} files); deploying from {rollout.project.root.parent}")


def _show(result, as_json: bool, plan: bool) -> None:

    print_result(as_json, deploy_view.result_record(result),
                 lambda: deploy_view.plan_table(result) if plan else deploy_view.summary_table(result))
    if not result.ok:
        raise typer.Exit(130 if result.status == "interrupted" else 1)
