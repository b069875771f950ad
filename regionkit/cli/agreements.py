"""`regionkit agreements ...`: the MoUs and PKSs that ledger entries refer to."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from regionkit.audit import agreements
from regionkit.catalog.model import load_catalog
from regionkit.cli.options import CatalogOption, JsonOption
from regionkit.cli.output import print_result, stderr, stdout, styled
from regionkit.errors import InputError

app = typer.Typer(help="Record and list the agreements (MoU, PKS) apps are deployed under.", no_args_is_help=True)

AgreementsOption = Annotated[Path | None, typer.Option(
    "--agreements", metavar="PATH", show_default=False,
    help="Registry to use instead of the current project's agreements.yaml.")]


class Kind(StrEnum):
    mou = "mou"
    pks = "pks"


@app.command("add")
def add(
    number: Annotated[str, typer.Option(metavar="N", help="The agreement's number as written on it.")],
    kind: Annotated[Kind, typer.Option(help="mou (nota kesepahaman) or pks (perjanjian kerja sama).")],
    date: Annotated[str, typer.Option(metavar="YYYY-MM-DD", help="The date it was signed.")],
    party: Annotated[list[str], typer.Option(
        metavar="P", help="A party: its Kemendagri code, optionally followed by its name, e.g. '36.01' or "
                          "'36.71/polres-metro-tangerang-kota Polres Metro Tangerang Kota'. Repeat for each.")],
    app_ids: Annotated[list[str] | None, typer.Option(
        "--app", metavar="ID", help="A catalog app the agreement names. Repeat for each.")] = None,
    source: Annotated[str | None, typer.Option(
        metavar="TEXT", help="Where it is documented (archive reference, news report).")] = None,
    agreements_path: AgreementsOption = None,
    catalog: CatalogOption = None,
) -> None:
    """Add an agreement to agreements.yaml (created when missing)."""

    agreement = agreements.agreement_from_input(number, kind.value, date, party, app_ids or [], source,
                                                load_catalog(catalog) if app_ids else None)
    path = agreements.locate(agreements_path)
    agreements.add_agreement(path, agreement)
    stdout.print(styled(("added", "green"),
                        f" {agreement.kind.upper()} {agreement.number} ({agreement.date}) to {path}"))


@app.command("list")
def list_agreements(
    agreements_path: AgreementsOption = None,
    example: Annotated[bool, typer.Option(
        "--example", help="List the shipped example: the public history of Kota Tangerang's adopters.")] = False,
    json: JsonOption = False,
) -> None:
    """List the agreements: number, kind, date, parties and the apps they name."""

    if example and agreements_path is not None:
        raise InputError("choose one of --example and --agreements")
    path = agreements.example_path() if example else agreements.locate(agreements_path)
    items = agreements.load_agreements(path)

    def human() -> None:
        if not items:
            stderr.print(f"no agreements in {path}")
            return
        table = Table(title=f"{path}: {len(items)} agreement{'s' if len(items) != 1 else ''}", title_justify="left")
        for column in ("date", "kind", "number", "parties", "apps", "source"):
            table.add_column(column)
        for a in items:
            table.add_row(str(a.date), a.kind.upper(), a.number, "\n".join(str(p) for p in a.parties),
                          ", ".join(a.apps), a.source or "")
        stdout.print(table)

    print_result(json, [a.record() for a in items], human)
