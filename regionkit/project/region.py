"""The region profile (`region.yaml`): who the region is, its units, its chosen apps and its servers."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from regionkit.errors import Problem, ValidationFailed
from regionkit.plaintext import value_problems
from regionkit.project.units import UnitKind
from regionkit.schema_errors import SLUG_HINT, pydantic_problem, sort_problems
from regionkit.yamldoc import FieldPath, YamlDocument, load_yaml, read_text

TIMEZONES = ("Asia/Jakarta", "Asia/Pontianak", "Asia/Makassar", "Asia/Jayapura")

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
RegionCode = Annotated[str, StringConstraints(pattern=r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")]
Colour = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
UserName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9._-]{0,31}$")]
# A file for SSH: only characters that neither a shell, Ansible's argument splitting nor ssh's own option parser
# (whitespace-separated lists, quotes, %-tokens, ${VAR}) reads as syntax; never an option (leading -).
SshPath = Annotated[str, StringConstraints(pattern=r"^[\w./~+@][\w./~+@-]*$", max_length=4096)]
SettingName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
SSH_PATH_HINT = ("expected a file path made of letters, digits and . _ / ~ + @ - (no spaces, quotes or other "
                 "characters that SSH would read as syntax), not starting with -")
DOMAIN_PATTERN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
HOSTNAME_PATTERN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
                              r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


_PATTERN_HINTS = {
    "region.code": "expected a Kemendagri code such as 36, 36.01 or 36.01.01",
    "region.parent": "expected a Kemendagri code such as 36.71",
    "units.code": SLUG_HINT,
    "units.wilayah": "expected a Kemendagri code such as 36.01.01",
    "units.acronym": "expected capitals and digits, such as DISKOMINFO",
    "hosts.name": SLUG_HINT,
    "hosts.user": "expected a login name: letters, digits, . _ - (at most 32), not starting with a digit, . or -",
    "hosts.ssh_key": SSH_PATH_HINT,
    "hosts.known_hosts": SSH_PATH_HINT,
    "primary": "expected a colour as #rrggbb",
    "accent": "expected a colour as #rrggbb",
}


class RegionKind(StrEnum):
    PROVINSI = "provinsi"
    KABUPATEN = "kabupaten"
    KOTA = "kota"
    INSTITUTION = "institution"


class HostRole(StrEnum):
    WEB = "web"
    DB = "db"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Colours(_Strict):
    primary: Colour = "#1f4e79"
    accent: Colour = "#f2a900"


class Head(_Strict):
    title: Text = Field(description="Bupati, Wali Kota, Gubernur, Kapolres, ...")
    name: Text | None = None


class RegionInfo(_Strict):
    code: RegionCode | None = Field(None, description="Kemendagri code; empty for an institution.")
    name: Text
    kind: RegionKind
    province: Text
    parent: RegionCode | None = Field(None, description="For an institution: the region it belongs to.")
    capital: Text | None = None
    timezone: str = Field(description="One of Indonesia's four tz database zones.")
    domain: str
    logo: str | None = Field(None, description="Path of a PNG or SVG logo, relative to the project.")
    colours: Colours = Colours()
    head: Head

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in TIMEZONES:
            raise ValueError(f"expected one of {', '.join(TIMEZONES)}")
        return value

    @field_validator("domain")
    @classmethod
    def _domain_syntax(cls, value: str) -> str:
        if not DOMAIN_PATTERN.match(value):
            raise ValueError("expected a lowercase domain name such as pandeglangkab.go.id")
        return value

    @property
    def key(self) -> str:
        """A stable identifier for the ledger: the code, or parent/slug for an institution."""
        return self.code or f"{self.parent}/{slugify(self.name)}"


class Unit(_Strict):
    code: Slug = Field(description="Short unique id, used in paths and URLs (e.g. diskominfo, kec-labuan).")
    name: Text
    acronym: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Za-z0-9 .&-]{0,30}$")] | None = None
    kind: UnitKind
    wilayah: RegionCode | None = Field(None, description="Kemendagri code of a kecamatan/kelurahan unit.")
    head: Head | None = Field(None, description="The unit's head, shown on its website.")
    address: Text | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{5,20}$")] | None = None
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")] | None = None


class AppChoice(_Strict):
    auto: bool = Field(False, description="Added only because another chosen app needs it.")
    settings: dict[SettingName, Any] = Field(default_factory=dict, description="Per-app settings (never secrets).")


class Host(_Strict):
    name: Slug
    address: str
    port: int = Field(22, ge=1, le=65535)
    user: UserName = "root"
    roles: list[HostRole] = Field(min_length=1)
    ssh_key: SshPath | None = Field(None, description="Private key file for SSH (default: the SSH agent).")
    known_hosts: SshPath | None = Field(None, description="known_hosts file pinning this host's key.")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not HOSTNAME_PATTERN.match(value):
                raise ValueError("expected an IP address or a host name") from None
        return value


class Artifacts(_Strict):
    store: str = Field(description="Folder or http(s):// base URL of the artifact store (index.json inside).")


class Profile(_Strict):
    """The whole `region.yaml`."""

    schema_version: int = Field(1, ge=1, le=1)
    region: RegionInfo
    units: list[Unit] = Field(default_factory=list)
    apps: dict[Slug, AppChoice | None] = Field(default_factory=dict)
    hosts: list[Host] = Field(default_factory=list)
    artifacts: Artifacts | None = Field(None, description="Where the apps' release archives come from.")

    def choice(self, app_id: str) -> AppChoice:
        return self.apps.get(app_id) or AppChoice()


def profile_json_schema() -> dict:
    schema = Profile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "regionkit region profile"
    return schema


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def load_profile_document(path: Path) -> tuple[YamlDocument, Profile | None, list[Problem]]:
    """Parse and check `region.yaml` on its own; cross-checks with the catalog live in `project.checks`."""
    doc = load_yaml(path, read_text(path))
    return (doc, *check_profile_document(doc))


def check_profile_document(doc: YamlDocument) -> tuple[Profile | None, list[Problem]]:
    """(the profile or None, its problems) for a parsed `region.yaml`."""
    problems = list(doc.problems)
    if not isinstance(doc.data, dict):
        problems.append(Problem("expected a mapping with region, units, apps and hosts", doc.location(())))
        return None, problems
    problems += _uniqueness(doc) + value_problems(doc, templates_allowed=_is_setting_value)
    try:
        return Profile.model_validate(doc.data), problems
    except ValidationError as exc:
        return None, problems + [pydantic_problem(doc, error, hints=_PATTERN_HINTS) for error in exc.errors()]


def load_profile(path: Path) -> Profile:
    _, profile, problems = load_profile_document(path)
    if problems or profile is None:  # None comes with its problems
        raise ValidationFailed(sort_problems(problems), f"{path}: invalid profile")
    return profile


def _is_setting_value(path: FieldPath) -> bool:
    """App settings are free-form data for the app's own config files and never reach Ansible: template syntax
    (a message template, say) is allowed in their values."""
    return len(path) > 3 and path[0] == "apps" and path[2] == "settings"


def _uniqueness(doc: YamlDocument) -> list[Problem]:
    """Unit codes, host names and host addresses are unique (read from the raw data, so that the check runs
    even when another field has a type error)."""
    problems = []
    for section, key in (("units", "code"), ("hosts", "name"), ("hosts", "address")):
        items = doc.data.get(section)
        first: dict[str, int] = {}
        for index, item in enumerate(items if isinstance(items, list) else []):
            value = item.get(key) if isinstance(item, dict) else None
            if not isinstance(value, str):
                continue
            if value in first:
                line = doc.location((section, first[value])).line
                problems.append(Problem(f"duplicate {key} '{value}' (first at {section}[{first[value]}], line {line})",
                                        doc.location((section, index, key))))
            else:
                first[value] = index
    return problems
