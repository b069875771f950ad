"""The one typed object every template sees: region, units, the app being rendered, hosts and URLs.

Templates read attributes only (`{{ region.name }}`, `{{ app.url }}`); nothing here can reach a secret value:
secrets appear as references (`app.database.password_file`) that the deploy fills in on the server. What an app
needs on a server (how it is served, its database, names, ports and paths) comes from its plan
(regionkit.project.appplan).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from regionkit.catalog.model import AndroidApp, Catalog, Kind, NationalApp
from regionkit.project.appplan import DatabasePlan, plan_deployment
from regionkit.project.region import Profile


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
    serves: str | None  # static | php-fpm | service (installable apps)
    php_version: str | None  # "8.2" for apps served by php-fpm
    health: str | None
    ports: tuple[int, ...]
    memory_mb: int | None
    upstream_port: int | None  # for runtimes that serve HTTP themselves, behind nginx
    root: str  # where the release is installed on the server
    database: DatabasePlan | None  # its password_file is a reference: the deploy writes the secret there
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


def build_contexts(profile: Profile, catalog: Catalog, kit_version: str) -> list[RenderContext]:
    """One context per chosen app, in install order (dependencies first)."""
    region = region_view(profile)
    units = unit_views(profile)
    hosts = tuple(HostView(h.name, h.address, tuple(r.value for r in h.roles)) for h in profile.hosts)
    plan = plan_deployment(profile, catalog)
    links = tuple(Link(i.id, i.app.name, f"https://{i.fqdn}/") for i in plan.installed if i.app.kind == Kind.WEB)
    contexts = []
    for p in plan.apps.values():
        app, installed = p.app, p.installation
        view = AppView(
            id=app.id, name=app.name, kind=app.kind.value, version=app.version, summary_en=app.summary.en,
            summary_id=app.summary.id, fqdn=installed.fqdn if installed else None,
            url=f"https://{installed.fqdn}/" if installed else None,
            runtime=installed.app.runtime if installed else None,
            serves=installed.serves.value if installed else None,
            php_version=installed.php_version if installed else None,
            health=installed.app.health if installed else None,
            ports=tuple(installed.app.ports) if installed else (),
            memory_mb=installed.app.resources.memory_mb if installed else None,
            upstream_port=installed.upstream_port if installed else None, root=p.root,
            database=installed.database if installed else None,
            settings=dict(profile.choice(app.id).settings), secrets_dir=p.secrets_dir,
            units=tuple(u for u in units if installed and u.code in installed.sites),
            android_package=_android_package(profile, app) if isinstance(app, AndroidApp) else None,
            min_sdk=app.android.min_sdk if isinstance(app, AndroidApp) else None,
            integration=app.integration.model_dump(mode="json") if isinstance(app, NationalApp) else None,
        )
        contexts.append(RenderContext(kit_version, region, units, view, hosts, links))
    return contexts


def _android_package(profile: Profile, app: AndroidApp) -> str:
    """Reverse domain of the region plus the app's suffix: pandeglangkab.go.id + laksa -> id.go.pandeglangkab.laksa."""
    parts = [p.replace("-", "_") for p in reversed(profile.region.domain.split("."))]
    parts = [f"x{p}" if p[0].isdigit() else p for p in parts]
    return ".".join(parts + [app.android.package])
