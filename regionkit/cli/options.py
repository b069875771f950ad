"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

CatalogOption = Annotated[Path | None, typer.Option(
    "--catalog", envvar="REGIONKIT_CATALOG", metavar="PATH", show_default=False,
    help="Catalog to read instead of the kit's own catalog.yaml [env: REGIONKIT_CATALOG].")]

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

VaultFileOption = Annotated[Path | None, typer.Option(
    "--vault-password-file", metavar="FILE", envvar="REGIONKIT_VAULT_PASSWORD_FILE", show_default=False,
    help="File holding the vault password [env: REGIONKIT_VAULT_PASSWORD_FILE].")]

# Ansible's --limit, with Ansible's meaning: deploy, plan and undeploy pass it to ansible-playbook, and preflight
# (also the one deploy runs first) picks the same hosts with `preflight.select_hosts`.
LimitOption = Annotated[str | None, typer.Option(
    "--limit", metavar="PATTERN", show_default=False,
    help="Only these hosts, as Ansible's --limit: names, addresses, web, db, all, shell patterns, !host, &host; "
         "comma-separated.")]
