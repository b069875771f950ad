"""The deployment plan: what each chosen app of a region needs on a server, decided once.

`plan_deployment(profile, catalog)` answers, per chosen app (dependencies first): installable or not, how it
is served, whether it is deployed from an artifact, its database, its vault secrets, its host names, its
upstream port and its paths on the server. Rendering, secrets, the playbook vars, the project checks,
preflight, the artifact store and the bundle read these answers instead of deciding for themselves.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from enum import StrEnum

from regionkit.catalog import App, Catalog, Database, InstallableApp, Kind, UnitSiteApp
from regionkit.region import HostRole, Profile

# Server paths (to be taken from regionkit.serverpaths, the one place of server path literals).
SERVER_APPS_DIR = "/srv/regionkit/apps"  # one folder per app: releases, current, shared, unit sites
SERVER_SECRETS_DIR = "/etc/regionkit/secrets"  # one folder per app: one file per secret, mode 0640

DB_PORTS = {Database.MARIADB: 3306, Database.POSTGRESQL: 5432}
LOCAL_DB_HOST = "127.0.0.1"  # the database host when the profile has no db host (the project checks object)
UPSTREAM_PORT_BASE = 8000  # service apps listen on BASE + crc32(id) % SPAN on 127.0.0.1, behind nginx
UPSTREAM_PORT_SPAN = 1000
DB_USER_MAX = 32  # MariaDB's limit on user names (PostgreSQL's is 63)


class Serves(StrEnum):
    """How a release is served behind nginx."""

    STATIC = "static"  # files only
    PHP_FPM = "php-fpm"  # a php-fpm pool of its own
    SERVICE = "service"  # its own process (bin/start) on the upstream port


@dataclass(frozen=True)
class DatabasePlan:
    """The database an app gets on the database host: one database and one user per app."""

    engine: Database  # mariadb | postgresql, never none
    host: str  # the db host's address
    port: int
    name: str
    user: str
    password_file: str  # on the web hosts; the deploy writes the vault's value there


@dataclass(frozen=True)
class AppPlan:
    """One chosen app's needs. Non-installable apps (android, national) have installable False, and None or
    empty for everything a server would hold."""

    app: App
    installable: bool
    serves: Serves | None
    php_version: str | None  # "8.2" for php-X.Y runtimes
    needs_artifact: bool  # deployed from the artifact store (web and service apps; unit sites come from the build)
    database: DatabasePlan | None
    secrets: tuple[str, ...]  # vault names `<app id>/<kind>`
    fqdn: str | None
    sites: tuple[str, ...]  # unit codes, one site each (unit-site apps)
    names: tuple[tuple[str | None, str], ...]  # (unit code or None, host name) the app answers to
    upstream_port: int | None
    root: str  # where the release is installed on the web hosts
    secrets_dir: str  # where the deploy writes the app's secrets on the web hosts

    @property
    def id(self) -> str:
        return self.app.id


@dataclass(frozen=True)
class DeploymentPlan:
    """The plans of a region's chosen apps, dependencies first (apps not in the catalog are left out)."""

    apps: dict[str, AppPlan]

    @property
    def installable(self) -> list[AppPlan]:
        return [p for p in self.apps.values() if p.installable]

    @property
    def with_database(self) -> list[AppPlan]:
        return [p for p in self.apps.values() if p.database is not None]

    @property
    def with_artifact(self) -> list[AppPlan]:
        return [p for p in self.apps.values() if p.needs_artifact]

    @property
    def secrets(self) -> list[str]:
        """Every vault secret the chosen apps need."""
        return [name for p in self.apps.values() for name in p.secrets]


def needs_artifact(app: App) -> bool:
    """Web and service apps are deployed from an artifact; unit sites come from the build, android and national
    apps are not installed."""
    return app.kind in (Kind.WEB, Kind.SERVICE)


def app_fqdn(app_id: str, profile: Profile) -> str:
    return f"{app_id}.{profile.region.domain}"


def served_names(domain: str, fqdn: str, sites: list[str] | tuple[str, ...]) -> list[tuple[str | None, str]]:
    """The names an app answers to on its web hosts, as (unit code, name): one per unit site, else its fqdn."""
    return [(site, f"{site}.{domain}") for site in sites] or [(None, fqdn)]


def plan_deployment(profile: Profile, catalog: Catalog) -> DeploymentPlan:
    """The plan of every chosen app that the catalog has, dependencies first."""
    known = [a for a in profile.apps if a in catalog.apps]
    chosen = [a for a in catalog.closure(known) if a in profile.apps]
    db_host = next((h.address for h in profile.hosts if HostRole.DB in h.roles), LOCAL_DB_HOST)
    return DeploymentPlan({app_id: _plan(catalog.apps[app_id], profile, db_host) for app_id in chosen})


def _plan(app: App, profile: Profile, db_host: str) -> AppPlan:
    root, secrets_dir = f"{SERVER_APPS_DIR}/{app.id}", f"{SERVER_SECRETS_DIR}/{app.id}"
    if not isinstance(app, InstallableApp):
        return AppPlan(app, False, None, None, False, None, (), None, (), (), None, root, secrets_dir)
    database = None
    if app.database != Database.NONE:  # a unit-site app's is always none (catalog.UnitSiteApp)
        name = app.id.replace("-", "_")
        database = DatabasePlan(engine=app.database, host=db_host, port=DB_PORTS[app.database], name=name,
                                user=name[:DB_USER_MAX], password_file=f"{secrets_dir}/db_password")
    serves = _serves(app)
    sites = tuple(u.code for u in profile.units if isinstance(app, UnitSiteApp) and u.kind in app.unit_kinds)
    fqdn = app_fqdn(app.id, profile)
    return AppPlan(
        app=app, installable=True, serves=serves,
        php_version=app.runtime.split("-")[1] if serves == Serves.PHP_FPM else None,
        needs_artifact=needs_artifact(app), database=database,
        secrets=((f"{app.id}/db_password",) if database else ()) + (f"{app.id}/app_key",),
        fqdn=fqdn, sites=sites, names=tuple(served_names(profile.region.domain, fqdn, sites)),
        upstream_port=UPSTREAM_PORT_BASE + zlib.crc32(app.id.encode()) % UPSTREAM_PORT_SPAN,
        root=root, secrets_dir=secrets_dir,
    )


def _serves(app: InstallableApp) -> Serves:
    if isinstance(app, UnitSiteApp) or app.runtime == "static":
        return Serves.STATIC
    return Serves.PHP_FPM if app.runtime.startswith("php-") else Serves.SERVICE

