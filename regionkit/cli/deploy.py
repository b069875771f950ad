"""`regionkit deploy` and `regionkit plan`: run the playbooks against the region's servers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from regionkit.cli.options import CatalogOption, JsonOption

VaultFileOption = Annotated[Optional[Path], typer.Option(
    "--vault-password-file", metavar="FILE", envvar="REGIONKIT_VAULT_PASSWORD_FILE", show_default=False,
    help="File holding the vault password [env: REGIONKIT_VAULT_PASSWORD_FILE].")]


def deploy(
    app_id: Annotated[Optional[str], typer.Option("--app", metavar="ID", help="Deploy this app only.")] = None,
    limit: Annotated[Optional[str], typer.Option(metavar="HOST", help="Only these hosts (Ansible --limit).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Dry run: report what would change.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the last failed or interrupted deploy, "
                                                          "skipping apps that converged in it.")] = False,
    agreement: Annotated[Optional[str], typer.Option(
        metavar="NUMBER", help="The MoU/PKS (agreements.yaml) this deploy is done under, for the ledger.")] = None,
    stock_ansible: Annotated[bool, typer.Option(hidden=True, help="Ansible's default settings (benchmarks).")] = False,
    vault_password_file: VaultFileOption = None,
    catalog: CatalogOption = None,
    json: JsonOption = False,
) -> None:
    """Render, then install the chosen apps on the region's servers; exit 1 when anything failed."""
    from regionkit.deploy import DeployOptions

    options = DeployOptions(check=check, resume=resume, app=app_id, limit=limit, agreement=agreement,
                            vault_password_file=vault_password_file, tuned=not stock_ansible)
    _run(options, catalog, json, plan=False)


def plan(
    app_id: Annotated[Optional[str], typer.Option("--app", metavar="ID", help="Plan this app only.")] = None,
    limit: Annotated[Optional[str], typer.Option(metavar="HOST", help="Only these hosts.")] = None,
    vault_password_file: VaultFileOption = None,
    catalog: CatalogOption = None,
    json: JsonOption = False,
) -> None:
    """Run the playbook in check mode and list, per host and app, what a deploy would change."""
    from regionkit.deploy import DeployOptions

    _run(DeployOptions(check=True, app=app_id, limit=limit, vault_password_file=vault_password_file),
         catalog, json, plan=True)


def _run(options, catalog_path, as_json: bool, plan: bool) -> None:
    from regionkit.catalog import load_catalog
    from regionkit.cli import deploy_view
    from regionkit.deploy import deploy as run_deploy
    from regionkit.project import Project

    project = Project.locate()
    view = deploy_view.Progress(enabled=not as_json)
    result = run_deploy(project, load_catalog(catalog_path), options, view.on_event, prompt=deploy_view.ask_password)
    if as_json:
        from regionkit.cli.output import print_json

        print_json(deploy_view.result_record(result))
    elif plan:
        deploy_view.plan_table(result)
    else:
        deploy_view.summary_table(result)
    if not result.ok:
        raise typer.Exit(130 if result.status == "interrupted" else 1)
