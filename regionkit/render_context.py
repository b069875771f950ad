"""The one typed object every template sees: region, units, the app being rendered, hosts and URLs.

Templates read attributes only (`{{ region.name }}`, `{{ app.url }}`); nothing here can reach a secret value:
secrets appear as references (`app.database.password_file`) that the deploy fills in on the server.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from regionkit import serverpaths
from regionkit.catalog import INSTALLABLE_KINDS, Catalog, Database, Kind
from regionkit.region import HostRole, Profile


@dataclass(frozen=True)
class Person:
    title: str
    name: str | None


@dataclass(frozen=True)
class UnitView:
    code: str
    name: str
    acronym: str | None
    kind: str
    wilayah: str | None
    head: Person | None
    address: str | None
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class RegionView:
    key: str
    code: str | None
    name: str
    kind: str
    province: str
    parent: str | None
    capital: str | None
    timezone: str
    domain: str
    primary_colour: str
    accent_colour: str
    head: Person
    logo: str  # URL path of the header logo, served by every app under /branding/


@dataclass(frozen=True)
class HostView:
    name: str
    address: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class DatabaseView:
    engine: str  # mariadb | postgresql
    host: str
    port: int
    name: str
    user: str
    password_file: str  # a reference: the deploy writes the secret there, mode 0600


@dataclass(frozen=True)
class Link:
    id: str
    name: str
    url: str


@dataclass(frozen=True)
class AppView:
    id: str
    name: str
    kind: str
    version: str
    summary_en: str
    summary_id: str
    fqdn: str | None
    url: str | None
    runtime: str | None
    health: str | None
    ports: tuple[int, ...]
    memory_mb: int | None
    upstream_port: int | None  # for runtimes that serve HTTP themselves, behind nginx
    root: str  # where the release is installed on the server
    database: DatabaseView | None
    settings: dict[str, Any]
    secrets_dir: str
    units: tuple[UnitView, ...]  # unit-site apps: the units that get a site
    android_package: str | None
    min_sdk: int | None
    integration: dict[str, Any] | None


@dataclass(frozen=True)
class RenderContext:
    kit_version: str
    region: RegionView
    units: tuple[UnitView, ...]
    app: AppView
    hosts: tuple[HostView, ...]
    links: tuple[Link, ...]  # the region's other web apps, for navigation between services
    unit: UnitView | None = None  # set for per-unit templates

    def as_template_vars(self) -> dict[str, Any]:
        return {"kit_version": self.kit_version, "region": self.region, "units": self.units, "app": self.app,
                "hosts": self.hosts, "links": self.links, "unit": self.unit}


def region_view(profile: Profile) -> RegionView:
    r = profile.region
    return RegionView(
        key=r.key, code=r.code, name=r.name, kind=r.kind.value, province=r.province, parent=r.parent,
        capital=r.capital, timezone=r.timezone, domain=r.domain, primary_colour=r.colours.primary,
        accent_colour=r.colours.accent, head=Person(r.head.title, r.head.name), logo="/branding/logo.png",
    )


def unit_views(profile: Profile) -> tuple[UnitView, ...]:
    return tuple(UnitView(
        code=u.code, name=u.name, acronym=u.acronym, kind=u.kind.value, wilayah=u.wilayah,
        head=Person(u.head.title, u.head.name) if u.head else None, address=u.address, phone=u.phone,
        email=u.email,
    ) for u in profile.units)


def app_fqdn(app_id: str, profile: Profile) -> str:
    return f"{app_id}.{profile.region.domain}"


def served_names(domain: str, fqdn: str, sites: list[str]) -> list[tuple[str | None, str]]:
    """The names an app answers to on its web hosts, as (unit code, name): one per unit site, else its fqdn."""
    return [(site, f"{site}.{domain}") for site in sites] or [(None, fqdn)]


def build_contexts(profile: Profile, catalog: Catalog, kit_version: str) -> list[RenderContext]:
    """One context per chosen app, in install order (dependencies first)."""
    region = region_view(profile)
    units = unit_views(profile)
    hosts = tuple(HostView(h.name, h.address, tuple(r.value for r in h.roles)) for h in profile.hosts)
    db_host = next((h for h in profile.hosts if HostRole.DB in h.roles), None)
    chosen = [a for a in catalog.closure([a for a in profile.apps if a in catalog.apps]) if a in profile.apps]
    links = tuple(Link(a, catalog.apps[a].name, f"https://{app_fqdn(a, profile)}/") for a in chosen
                  if catalog.apps[a].kind == Kind.WEB)
    contexts = []
    for app_id in chosen:
        app = catalog.apps[app_id]
        installable = app.kind in INSTALLABLE_KINDS
        database = None
        if installable and app.database != Database.NONE:
            engine = app.database.value
            database = DatabaseView(
                engine=engine, host=db_host.address if db_host else "127.0.0.1",
                port=3306 if engine == "mariadb" else 5432, name=app_id.replace("-", "_"),
                user=app_id.replace("-", "_")[:32],
                password_file=f"{serverpaths.APP_SECRETS.format(id=app_id)}/db_password",
            )
        fqdn = app_fqdn(app_id, profile) if installable else None
        view = AppView(
            id=app.id, name=app.name, kind=app.kind.value, version=app.version, summary_en=app.summary.en,
            summary_id=app.summary.id, fqdn=fqdn, url=f"https://{fqdn}/" if fqdn else None,
            runtime=getattr(app, "runtime", None), health=getattr(app, "health", None),
            ports=tuple(getattr(app, "ports", ())),
            memory_mb=app.resources.memory_mb if installable else None,
            upstream_port=8000 + zlib.crc32(app_id.encode()) % 1000 if installable else None,
            root=serverpaths.APP_ROOT.format(id=app_id), database=database,
            settings=dict(profile.choice(app_id).settings), secrets_dir=serverpaths.APP_SECRETS.format(id=app_id),
            units=tuple(u for u in units if app.kind == Kind.UNIT_SITE and u.kind in app.unit_kinds),
            android_package=_android_package(profile, app) if app.kind == Kind.ANDROID else None,
            min_sdk=app.android.min_sdk if app.kind == Kind.ANDROID else None,
            integration=app.integration.model_dump(mode="json") if app.kind == Kind.NATIONAL else None,
        )
        contexts.append(RenderContext(kit_version, region, units, view, hosts, links))
    return contexts


def _android_package(profile: Profile, app: Any) -> str:
    """Reverse domain of the region plus the app's suffix: pandeglangkab.go.id + laksa -> id.go.pandeglangkab.laksa."""
    parts = [p.replace("-", "_") for p in reversed(profile.region.domain.split("."))]
    parts = [f"x{p}" if p[0].isdigit() else p for p in parts]
    return ".".join(parts + [app.android.package])
