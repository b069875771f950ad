"""`regionkit secrets ...`: which secrets exist (never their values), generate, rotate."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from regionkit.catalog.model import load_catalog
from regionkit.cli.deploy_view import ask_password
from regionkit.cli.options import CatalogOption, JsonOption, VaultFileOption
from regionkit.cli.output import print_result, stdout
from regionkit.project.appplan import plan_deployment
from regionkit.project.files import Project
from regionkit.provision.secrets import Vault, vault_password

app = typer.Typer(help="The region's secrets, vault-encrypted; values are never shown.", no_args_is_help=True)


def _vault(vault_password_file):

    project = Project.locate()
    return project, Vault(project.root, vault_password(project.root, vault_password_file, ask_password))


@app.command("list")
def list_secrets(vault_password_file: VaultFileOption = None, json: JsonOption = False) -> None:
    """Names of the secrets in the vault, with when they were made or rotated."""
    _, vault = _vault(vault_password_file)
    names = vault.names()

    def human() -> None:
        table = Table(title=f"{len(names)} secrets in {vault.path.name} (values are never shown)", title_justify="left")
        for column in ("name", "created", "rotated"):
            table.add_column(column)
        for entry in names:
            table.add_row(entry["name"], entry.get("created") or "", entry.get("rotated") or "")
        stdout.print(table)

    print_result(json, names, human)


@app.command("generate")
def generate(vault_password_file: VaultFileOption = None, catalog: CatalogOption = None) -> None:
    """Create every secret the chosen apps need that does not exist yet (deploy does this too)."""

    project, vault = _vault(vault_password_file)
    created = vault.ensure(plan_deployment(project.profile(), load_catalog(catalog)).secrets)
    stdout.print(f"created {len(created)} secrets" + (f": {', '.join(created)}" if created else ""))


@app.command("rotate")
def rotate(name: Annotated[str, typer.Argument(metavar="NAME", help="e.g. e-office/db_password")],
           vault_password_file: VaultFileOption = None) -> None:
    """Replace one secret with a new random value; the next deploy puts it in place."""

    _, vault = _vault(vault_password_file)
    vault.rotate(name)
    stdout.print(f"rotated {name}; run `regionkit deploy` to apply it")
