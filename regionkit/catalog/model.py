"""The catalog of shareable apps: pydantic models, loading with positions, and every consistency rule."""

from __future__ import annotations

import difflib
import hashlib
import os
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, field_validator

from regionkit.catalog import depgraph
from regionkit.errors import InputError, Location, Problem, ValidationFailed
from regionkit.plaintext import value_problems
from regionkit.project.units import UnitKind
from regionkit.resources import kit_path
from regionkit.schema_errors import SLUG_HINT, pydantic_problem, sort_problems
from regionkit.yamldoc import FieldPath, YamlDocument, format_field_path, load_yaml, read_text

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

CATALOG_ENV = "REGIONKIT_CATALOG"
SCHEMA_VERSION = 1

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Version = Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")]
Runtime = Annotated[str, StringConstraints(pattern=r"^(static|(php|python|go)-\d+\.\d+|(node|java)-\d+)$")]
HttpPath = Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._~!$&'()*+,;=:@/%-]*$")]
Url = Annotated[str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.-]+(:\d+)?(/\S*)?$")]
Port = Annotated[int, Field(ge=1, le=65535)]


class Kind(StrEnum):
    WEB = "web"
    UNIT_SITE = "unit-site"
    ANDROID = "android"
    SERVICE = "service"
    NATIONAL = "national"


class Audience(StrEnum):
    PUBLIC = "public"
    GOVERNMENT = "government"


class Status(StrEnum):
    """publiccode.yml developmentStatus."""

    CONCEPT = "concept"
    DEVELOPMENT = "development"
    BETA = "beta"
    STABLE = "stable"
    OBSOLETE = "obsolete"


class Database(StrEnum):
    NONE = "none"
    MARIADB = "mariadb"
    POSTGRESQL = "postgresql"


class Spbe(StrEnum):
    """Service areas of Perpres 95/2018 (SPBE)."""

    PERENCANAAN = "admin.perencanaan"
    PENGANGGARAN = "admin.penganggaran"
    KEUANGAN = "admin.keuangan"
    PENGADAAN = "admin.pengadaan"
    KEPEGAWAIAN = "admin.kepegawaian"
    KEARSIPAN = "admin.kearsipan"
    BARANG_MILIK_DAERAH = "admin.barang-milik-daerah"
    PENGAWASAN_INTERNAL = "admin.pengawasan-internal"
    AKUNTABILITAS_KINERJA = "admin.akuntabilitas-kinerja"
    ADMIN_LAINNYA = "admin.lainnya"
    PENGADUAN = "publik.pengaduan"
    JDIH = "publik.jdih"
    WHISTLEBLOWING = "publik.whistleblowing"
    DATA_TERBUKA = "publik.data-terbuka"
    SEKTORAL = "publik.sektoral"
    PUSAT_DATA = "infra.pusat-data"
    JARINGAN_INTRA = "infra.jaringan-intra"
    SISTEM_PENGHUBUNG = "infra.sistem-penghubung"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Summary(_Strict):
    en: Text = Field(description="One sentence in English.")
    id: Text = Field(description="One sentence in Indonesian.")


class Resources(_Strict):
    cpu: float = Field(gt=0, le=64, description="CPU cores the app needs.")
    memory_mb: int = Field(gt=0, le=262144, description="Memory in MB.")
    disk_mb: int = Field(gt=0, le=10_485_760, description="Disk in MB.")


class AndroidSpec(_Strict):
    package: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")] = Field(
        description="Package name suffix; the region's prefix is derived at render time.")
    min_sdk: int = Field(ge=16, le=40)


class IntegrationSetting(_Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
    description: Text
    secret: bool = False


class Integration(_Strict):
    provider: Text = Field(description="The central agency that runs the platform.")
    url: Url
    settings: list[IntegrationSetting] = Field(min_length=1)


class _AppBase(_Strict):
    id: Slug
    name: Text
    group: Slug
    subgroup: Slug
    audience: Audience
    summary: Summary
    version: Version
    status: Status
    owner: Text = Field(description="The unit that maintains the app.")
    spbe: Spbe
    depends_on: list[Slug] = Field(default_factory=list)
    if TYPE_CHECKING:  # each kind of app declares its own Literal kind (a field here would come first)
        kind: Kind


class InstallableApp(_AppBase):
    """An app installed on the region's servers (web, service and unit-site apps)."""

    runtime: Runtime
    database: Database
    resources: Resources
    health: HttpPath
    ports: list[Port] = Field(min_length=1)


class WebApp(InstallableApp):
    kind: Literal[Kind.WEB]


class ServiceApp(InstallableApp):
    kind: Literal[Kind.SERVICE]


class UnitSiteApp(InstallableApp):
    kind: Literal[Kind.UNIT_SITE]
    unit_kinds: list[UnitKind] = Field(min_length=1, description="Unit kinds that get one site each.")
    database: Literal[Database.NONE] = Field(
        Database.NONE, description="Unit sites are static files: no playbook creates a database for them.")

    @field_validator("database", mode="before")
    @classmethod
    def _no_database(cls, value: object) -> object:
        if value != Database.NONE.value:
            raise ValueError("a unit site is served as static files and no playbook creates a database for it; "
                             "write database: none or leave it out")
        return value


class AndroidApp(_AppBase):
    kind: Literal[Kind.ANDROID]
    android: AndroidSpec


class NationalApp(_AppBase):
    kind: Literal[Kind.NATIONAL]
    integration: Integration


App = Annotated[WebApp | UnitSiteApp | AndroidApp | ServiceApp | NationalApp, Field(discriminator="kind")]
_APP = TypeAdapter(App)


class Subgroup(_Strict):
    id: Slug
    name: Text


class Group(_Strict):
    id: Slug
    name: Text
    subgroups: list[Subgroup] = Field(min_length=1)


class Preset(_Strict):
    """A package of apps seen in practice, chosen in one go with `regionkit apps add --preset ID`."""

    id: Slug
    name: Text
    description: Text
    source: Text | None = Field(None, description="Where the package is documented.")
    apps: list[Slug] = Field(min_length=1)


class CatalogFile(_Strict):
    """The whole `catalog.yaml` (used for the published JSON Schema and the document's outer shape)."""

    schema_version: Literal[1]
    groups: list[Group] = Field(min_length=1)
    presets: list[Preset] = Field(default_factory=list)
    apps: list[App]


class _Envelope(_Strict):
    """The outer shape, checked before each app is checked on its own."""

    schema_version: Literal[1]
    groups: list[Group] = Field(min_length=1)
    presets: list[Preset] = Field(default_factory=list)
    apps: list[Any]


def catalog_json_schema() -> dict:
    schema = CatalogFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "regionkit catalog"
    return schema


@dataclass
class Catalog:
    """A validated catalog: apps in file order, groups, and the dependency graph."""

    path: Path
    groups: list[Group]
    apps: dict[str, App]
    presets: dict[str, Preset] = field(default_factory=dict)
    digest: str = ""
    _graph: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._graph = {app_id: list(app.depends_on) for app_id, app in self.apps.items()}

    def __len__(self) -> int:
        return len(self.apps)

    def get(self, app_id: str) -> App:
        """The app with this id, or an InputError that suggests the closest ids."""
        try:
            return self.apps[app_id]
        except KeyError:
            raise InputError(f"unknown app '{app_id}'", hint=self.suggest(app_id)) from None

    def suggest(self, text: str) -> str | None:
        by_name = {app.name.lower(): app.id for app in self.apps.values()}
        close = difflib.get_close_matches(text.lower(), list(self.apps) + list(by_name), n=5, cutoff=0.6)
        ids = list(dict.fromkeys(by_name.get(match, match) for match in close))
        return f"did you mean: {', '.join(ids)}?" if ids else "see `regionkit catalog list`"

    def dependencies(self, app_id: str) -> list[str]:
        return self._graph[app_id]

    @cached_property
    def dependents(self) -> dict[str, list[str]]:
        return depgraph.reverse(self._graph)

    def closure(self, app_ids: list[str]) -> list[str]:
        """The apps and everything they need, dependencies first."""
        return depgraph.closure(self._graph, app_ids)

    def preset(self, preset_id: str) -> Preset:
        try:
            return self.presets[preset_id]
        except KeyError:
            close = difflib.get_close_matches(preset_id, list(self.presets), n=3, cutoff=0.5)
            raise InputError(f"unknown preset '{preset_id}'", hint=f"did you mean: {', '.join(close)}?" if close
                             else f"presets: {', '.join(self.presets) or 'none'}") from None

    def group_name(self, group_id: str) -> str:
        return next((g.name for g in self.groups if g.id == group_id), group_id)


def default_catalog_path() -> Path:
    return Path(os.environ.get(CATALOG_ENV) or kit_path("catalog.yaml"))


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Load and fully validate a catalog; every problem is collected into one ValidationFailed."""
    path = Path(path) if path is not None else default_catalog_path()
    text = read_text(path)
    catalog, problems = _check(load_yaml(path, text))
    if problems or catalog is None:  # None comes with its problems
        raise ValidationFailed(problems, f"{path}: invalid catalog")
    catalog.digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return catalog


def _check(doc: YamlDocument) -> tuple[Catalog | None, list[Problem]]:
    problems = list(doc.problems)
    if not isinstance(doc.data, dict):
        problems.append(Problem("expected a mapping with schema_version, groups and apps", doc.location(())))
        return None, problems
    problems += value_problems(doc, label=lambda path: _app_label(doc, path))
    try:
        envelope = _Envelope.model_validate(doc.data)
    except ValidationError as exc:
        problems += [_problem(doc, (), error) for error in exc.errors()]
        envelope = None
        if not isinstance(doc.data.get("apps"), list):
            return None, sort_problems(problems)
    groups = envelope.groups if envelope else []
    apps: dict[str, App] = {}
    seen: dict[str, int] = {}
    items = doc.data["apps"]
    for index, item in enumerate(items):
        base: FieldPath = ("apps", index)
        app_id = item.get("id") if isinstance(item, dict) else None
        label = f"apps[{app_id}]" if isinstance(app_id, str) else None
        if isinstance(app_id, str) and app_id in seen:
            problems.append(Problem(f"duplicate app id '{app_id}' (first at apps[{seen[app_id]}], line "
                                    f"{doc.location(('apps', seen[app_id])).line})",
                                    doc.location(base + ("id",), f"{label}.id")))
            continue
        if isinstance(app_id, str):
            seen[app_id] = index
        try:
            app = _APP.validate_python(item)
            apps[app.id] = app
        except ValidationError as exc:
            problems += [_problem(doc, base, error, label) for error in exc.errors()]
    problems += _cross_checks(doc, groups, seen, envelope is not None)
    presets = envelope.presets if envelope else []
    problems += _preset_checks(doc, presets, seen)
    return Catalog(doc.path, groups, apps, {p.id: p for p in presets}), sort_problems(problems)


def _app_label(doc: YamlDocument, path: FieldPath) -> str | None:
    """`apps[sso].name` for a path inside the app with id `sso` (None elsewhere, or for an app without an id)."""
    if len(path) < 2 or path[0] != "apps" or not isinstance(path[1], int):
        return None
    app_id = doc.data["apps"][path[1]].get("id") if isinstance(doc.data["apps"][path[1]], dict) else None
    return format_field_path((f"apps[{app_id}]", *path[2:])) if isinstance(app_id, str) else None


def _preset_checks(doc: YamlDocument, presets: list[Preset], index_of: dict[str, int]) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for pi, preset in enumerate(presets):
        if preset.id in seen:
            problems.append(Problem(f"duplicate preset id '{preset.id}'", doc.location(("presets", pi, "id"))))
        seen.add(preset.id)
        for ai, app_id in enumerate(preset.apps):
            if app_id not in index_of:
                close = difflib.get_close_matches(app_id, list(index_of), n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                problems.append(Problem(f"unknown app '{app_id}'{hint}", doc.location(("presets", pi, "apps", ai))))
    return problems


def _cross_checks(doc: YamlDocument, groups: list[Group], index_of: dict[str, int],
                  groups_valid: bool) -> list[Problem]:
    """Rules across entries: groups, dependencies (dangling, self, android targets) and cycles.

    They read the raw entries, so an entry with a type error elsewhere is still checked here.
    """
    problems: list[Problem] = []
    items = {app_id: doc.data["apps"][index] for app_id, index in index_of.items()}
    all_ids = list(index_of)

    def at(app_id: str, *rest: str | int) -> Location:
        return doc.location(("apps", index_of[app_id], *rest), format_field_path((f"apps[{app_id}]", *rest)))

    group_ids: dict[str, set[str]] = {}
    for gi, group in enumerate(groups):
        if group.id in group_ids:
            problems.append(Problem(f"duplicate group id '{group.id}'", doc.location(("groups", gi, "id"))))
        subgroup_ids = [s.id for s in group.subgroups]
        for si, sid in enumerate(subgroup_ids):
            if sid in subgroup_ids[:si]:
                problems.append(Problem(f"duplicate subgroup id '{sid}'",
                                        doc.location(("groups", gi, "subgroups", si, "id"))))
        group_ids[group.id] = set(subgroup_ids)
    graph: dict[str, list[str]] = {}
    for app_id, item in items.items():
        group, subgroup = item.get("group"), item.get("subgroup")
        if groups_valid and isinstance(group, str) and group not in group_ids:
            problems.append(Problem(f"unknown group '{group}'; expected one of: {', '.join(group_ids)}",
                                    at(app_id, "group")))
        elif groups_valid and isinstance(group, str) and isinstance(subgroup, str) \
                and subgroup not in group_ids[group]:
            problems.append(Problem(f"unknown subgroup '{subgroup}' of group '{group}'; expected one of: "
                                    f"{', '.join(sorted(group_ids[group]))}", at(app_id, "subgroup")))
        depends_on = item.get("depends_on")
        graph[app_id] = []
        for di, dep in enumerate(depends_on if isinstance(depends_on, list) else []):
            if not isinstance(dep, str):
                continue
            if dep == app_id:
                problems.append(Problem("an app cannot depend on itself", at(app_id, "depends_on", di)))
            elif dep not in index_of:
                close = difflib.get_close_matches(dep, all_ids, n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                problems.append(Problem(f"depends on unknown app '{dep}'{hint}", at(app_id, "depends_on", di)))
            else:
                graph[app_id].append(dep)
                if items[dep].get("kind") == Kind.ANDROID.value:
                    problems.append(Problem(f"cannot depend on the android app '{dep}': android apps are built "
                                            "elsewhere and serve nothing", at(app_id, "depends_on", di)))
    for cycle in depgraph.find_cycles(graph):
        problems.append(Problem(f"dependency cycle: {' -> '.join(cycle)}", at(cycle[0], "depends_on")))
    return problems


_PATTERN_HINTS = {
    "id": SLUG_HINT,
    "group": SLUG_HINT,
    "subgroup": SLUG_HINT,
    "version": "expected a version MAJOR.MINOR.PATCH, e.g. \"1.4.0\"",
    "runtime": "expected static, php-X.Y, python-X.Y, go-X.Y, node-N or java-N",
    "health": "expected an HTTP path starting with /",
    "url": "expected an http:// or https:// URL",
    "package": "expected a lowercase Java package segment, e.g. laksa",
    "name": "expected a lowercase setting name, e.g. api_key",
}


def _problem(doc: YamlDocument, base: FieldPath, error: ErrorDetails, label: str | None = None) -> Problem:
    return pydantic_problem(doc, error, base, label, tags=[k.value for k in Kind], hints=_PATTERN_HINTS,
                            noun="app")


