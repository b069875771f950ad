"""`regionkit init DIR`: scaffold a region project from the Kemendagri code table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from regionkit.cli.output import report_error, stdout, styled
from regionkit.errors import InputError
from regionkit.project.files import Project
from regionkit.project.logo import LogoError, inspect_logo
from regionkit.project.scaffold import InitOptions, create_project, propose_profile


def _interactive(no_input: bool) -> bool:
    return not no_input and sys.stdin.isatty()


def init(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Folder to create (must not exist or be empty).")],
    region: Annotated[str | None, typer.Option(
        "--region", metavar="CODE", help="Kemendagri code: 36 (province) or 36.01 (kabupaten/kota).")] = None,
    institution: Annotated[str | None, typer.Option(
        help="An adopter with no territorial code, e.g. \"Polres Metro Tangerang Kota\".")] = None,
    parent: Annotated[str | None, typer.Option(
        metavar="CODE", help="With --institution: the region it belongs to, e.g. 36.71.")] = None,
    domain: Annotated[str | None, typer.Option(
        help="Main domain (default: derived, e.g. pandeglangkab.go.id).")] = None,
    head_name: Annotated[str | None, typer.Option(help="Name of the head of region.")] = None,
    head_title: Annotated[str | None, typer.Option(help="Title of the head (default: Bupati, Wali Kota, ...).")] = None,
    logo: Annotated[Path | None, typer.Option(help="PNG or SVG logo to copy into assets/.")] = None,
    no_input: Annotated[bool, typer.Option("--no-input", help="Never prompt; fail on what is missing.")] = False,
) -> None:
    """Create a region project: profile, units from the code table, inventory section, assets, .gitignore."""

    options = InitOptions(region, institution, parent, domain, head_name, head_title, logo)
    if _interactive(no_input):
        profile = _ask(options)
    else:
        profile = propose_profile(options)
    target = create_project(directory, profile, options.logo)
    info = profile["region"]
    kinds = [u["kind"] for u in profile["units"]]
    stdout.print(styled(("created", "green"), f" {target}: {info['name']} ({info['kind']}, {info['province']}), "
                                              f"{info['timezone']}, {info['domain']}"))
    stdout.print(f"  units: {kinds.count('opd')} OPD, {kinds.count('kecamatan')} kecamatan; edit region.yaml to "
                 "match the region")
    stdout.print(f"  vault password: {Project(target).password_path.name} (mode 0600, git-ignored); keep a copy in the "
                 "team's password manager")
    stdout.print(f"  next: regionkit -C {target} apps add --preset pandeglang-2021 (or apps add ID...), "
                 "add hosts to region.yaml, then regionkit validate")


def _ask(options) -> dict:
    """Prompt for what the options leave open, re-asking until the answer is valid."""

    while True:
        if not options.region and not options.institution:
            answer = typer.prompt("Region code (e.g. 36.01), or the name of an institution").strip()
            if answer[:2].isdigit():
                options.region = answer
            else:
                options.institution = answer
        if options.institution and not options.parent:
            options.parent = typer.prompt("Code of the region the institution belongs to (e.g. 36.71)").strip()
        try:
            proposal = propose_profile(options)
            break
        except InputError as exc:
            report_error(exc)
            options.region = options.institution = options.parent = None
    info = proposal["region"]
    stdout.print(f"{info['name']} ({info['kind']}, {info['province']}), {info['timezone']}, "
                 f"{len(proposal['units'])} units proposed")
    while True:  # a wrong answer asks again, with the earlier answers as defaults
        options.domain = typer.prompt("Domain", default=options.domain or info["domain"]).strip().lower()
        options.head_name = typer.prompt(f"Name of the {info['head']['title']}", default=options.head_name or "",
                                         show_default=bool(options.head_name)).strip() or None
        logo = typer.prompt("Logo file (PNG or SVG, empty for none)", default="", show_default=False).strip()
        options.logo = Path(logo) if logo else None
        try:
            return _validated(options)
        except InputError as exc:
            report_error(exc)


def _validated(options) -> dict:

    proposal = propose_profile(options)
    if options.logo is not None:
        try:
            inspect_logo(options.logo)
        except LogoError as exc:
            raise InputError(f"logo: {exc}") from None
    return proposal
