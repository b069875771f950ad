"""`regionkit init`: propose a region profile from the Kemendagri table and scaffold the project folder."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2.ext import Extension
from pydantic import ValidationError

from regionkit import __version__
from regionkit.atomic import swap_in
from regionkit.errors import InputError, Location, OperationFailed, ValidationFailed
from regionkit.plaintext import text_problem
from regionkit.project.files import Project
from regionkit.project.logo import LogoError, inspect_logo
from regionkit.project.region import Profile, load_profile_document, slugify
from regionkit.project.units import UnitKind, standard_opd
from regionkit.project.wilayah import Province, code_table
from regionkit.provision.secrets import create_password_file
from regionkit.render.filters import FILTERS
from regionkit.resources import kit_path
from regionkit.schema_errors import shown

HEAD_TITLES = {"provinsi": "Gubernur", "kabupaten": "Bupati", "kota": "Wali Kota", "institution": "Kepala"}
DOMAIN_SUFFIX = {"provinsi": "prov.go.id", "kabupaten": "kab.go.id", "kota": "kota.go.id"}


@dataclass
class InitOptions:
    """What the user asked for; anything left empty is proposed from the code table."""

    region: str | None = None
    institution: str | None = None
    parent: str | None = None
    domain: str | None = None
    head_name: str | None = None
    head_title: str | None = None
    logo: Path | None = None


def propose_profile(options: InitOptions) -> dict[str, Any]:
    """A complete profile (as plain data) for a region or an institution, validated by the Profile model.

    InputError (exit 2) names the option whose value cannot be a value of region.yaml."""
    for option, value in (("--region", options.region), ("--institution", options.institution),
                          ("--parent", options.parent), ("--domain", options.domain),
                          ("--head-name", options.head_name), ("--head-title", options.head_title)):
        reason = text_problem(value) if value else None
        if reason is not None:
            raise InputError(f"{option}: {reason} (got {shown(value)})")
    table = code_table()
    if options.institution:
        if options.region:
            raise InputError("give either --region or --institution, not both")
        if not options.parent:
            raise InputError("an institution needs --parent CODE: the region it belongs to (e.g. 36.71)")
        parent = table.lookup(options.parent)
        base = _region_info(parent)
        name = options.institution.strip()
        region = {**base, "code": None, "name": name, "kind": "institution", "parent": parent.code,
                  "domain": f"{slugify(name).replace('-', '')}.{base['domain']}"}
        units: list[dict] = []
    elif options.region:
        place = table.lookup(options.region.strip())
        region = _region_info(place)
        units = _proposed_units(place)
    else:
        raise InputError("say which region: --region CODE (e.g. 36.01) or --institution NAME --parent CODE")
    region["domain"] = options.domain or region["domain"]
    region["head"] = {"title": options.head_title or HEAD_TITLES[region["kind"]], "name": options.head_name or None}
    data = {"schema_version": 1, "region": region, "units": units, "apps": {}, "hosts": []}
    try:
        Profile.model_validate(data)
    except ValidationError as exc:  # only what the user typed can be wrong here: domain, head
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        detail = error["ctx"]["error"] if error["type"] == "value_error" else error["msg"]
        raise InputError(f"{field}: {detail} (got {error['input']!r})") from None
    return data


def _region_info(place: Any) -> dict[str, Any]:
    table = code_table()
    if isinstance(place, Province):
        kind, province, bare = "provinsi", place.name, place.name
    else:
        kind, province = place.kind, table.provinces[place.province_code].name
        bare = place.name.removeprefix("Kabupaten ").removeprefix("Kota ")
    return {
        "code": place.code, "name": place.name if kind != "provinsi" else f"Provinsi {place.name}", "kind": kind,
        "province": province, "parent": None, "capital": place.capital or None, "timezone": place.timezone,
        "domain": slugify(bare).replace("-", "") + DOMAIN_SUFFIX[kind], "logo": None,
        "colours": {"primary": "#1f4e79", "accent": "#f2a900"},
    }


def _proposed_units(place: Any) -> list[dict]:
    level = "provinsi" if isinstance(place, Province) else place.kind
    units = [{"code": acronym.lower(), "name": name, "acronym": acronym, "kind": UnitKind.OPD.value, "wilayah": None}
             for acronym, name in standard_opd(level)]
    if level != "provinsi":
        taken = {u["code"] for u in units}
        for district in sorted(code_table().districts_of(place.code), key=lambda d: d.code):
            code = f"kec-{slugify(district.name)}"
            if code in taken:
                code = f"{code}-{district.code[-2:]}"
            taken.add(code)
            units.append({"code": code, "name": f"Kecamatan {district.name}", "acronym": None,
                          "kind": UnitKind.KECAMATAN.value, "wilayah": district.code})
    return units


def create_project(target: Path, profile: dict[str, Any], logo: Path | None = None) -> Path:
    """Render the project template into `target`, all or nothing. Never overwrites an existing project, never
    writes one whose region.yaml does not validate (ValidationFailed, exit 2)."""
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.main import cookiecutter

    target = Path(target).absolute()
    profile_path = Project(target).profile_path
    if profile_path.exists():
        raise InputError("already a region project; init never overwrites one", Location(profile_path))
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError("exists and is not an empty folder; init never overwrites files", Location(target))
    logo_file = None
    if logo is not None:
        try:
            logo_file = inspect_logo(logo)
        except LogoError as exc:
            raise InputError(f"logo: {exc}", Location(logo)) from None
        profile = {**profile, "region": {**profile["region"], "logo": f"assets/logo.{logo_file.format}"}}
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".regionkit-init-", dir=target.parent))
    try:
        try:
            rendered = Path(cookiecutter(
                str(kit_path("templates", "project")), no_input=True, output_dir=str(staging),
                extra_context={"project_dir": "project", "_profile": profile, "_kit_version": __version__},
            ))
        except CookiecutterException as exc:
            raise OperationFailed(f"the project template failed to render: {exc}",
                                  Location(kit_path("templates", "project"))) from None
        if logo is not None and logo_file is not None:
            shutil.copyfile(logo, rendered / "assets" / f"logo.{logo_file.format}")
        _, _, problems = load_profile_document(Project(rendered).profile_path)
        if problems:  # what `validate` would refuse is never written
            raise ValidationFailed(problems, f"{profile_path} would not validate; nothing was written")
        create_password_file(rendered)
        swap_in(rendered, target)  # target is absent or an empty folder, checked above
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


class TemplateFilters(Extension):
    """Jinja2 extension the project template loads through cookiecutter's `_extensions`."""

    def __init__(self, environment):
        super().__init__(environment)
        environment.filters.update(FILTERS)
