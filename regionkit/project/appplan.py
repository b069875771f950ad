"""The deployment plan: what each chosen app of a region needs on a server, decided once.

`plan_deployment(profile, catalog)` answers, per chosen app (dependencies first): installed or not (an
`Installation`, or None), how it is served, whether it is deployed from an artifact, its database, its vault
secrets, its host names, its upstream port, its health path and its paths on the server. Rendering, secrets, the
playbook vars, the project checks, preflight, status, the artifact store and the bundle read these answers instead
of deciding.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from regionkit.catalog.model import App, Catalog, Database, InstallableApp, Kind, UnitSiteApp
from regionkit.project.region import HostRole, Profile
from regionkit.provision import serverpaths

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
class Installation:
    """How an installed app (web, service or unit-site) is put on the web hosts."""

    app: InstallableApp
    serves: Serves
    php_version: str | None  # "8.2" for apps served by php-fpm
    needs_artifact: bool  # deployed from the artifact store (web and service apps; unit sites come from the build)
    database: DatabasePlan | None
    fqdn: str
    sites: tuple[str, ...]  # unit codes, one site each (unit-site apps)
    names: tuple[tuple[str | None, str], ...]  # (unit code or None, host name) the app answers to
    upstream_port: int  # 127.0.0.1 port of an app served by its own process
    health: str | None  # path of the app's health document on each of its names; None for unit sites (a page each)

    @property
    def id(self) -> str:
        return self.app.id


@dataclass(frozen=True)
class AppPlan:
    """One chosen app's needs: its installation (None for android and national apps, which no server holds),
    its vault secrets and its folders on the web hosts."""

    app: App
    installation: Installation | None
    secrets: tuple[str, ...]  # vault names `<app id>/<kind>`: app_key for a web or service app, db_password with
    # a database; none for a unit site (static files) or an app no server holds
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
    def installed(self) -> list[Installation]:
        return [p.installation for p in self.apps.values() if p.installation is not None]

    @property
    def with_database(self) -> list[Installation]:
        return [i for i in self.installed if i.database is not None]

    @property
    def with_artifact(self) -> list[Installation]:
        return [i for i in self.installed if i.needs_artifact]

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


def served_names(domain: str, fqdn: str, sites: Sequence[str]) -> list[tuple[str | None, str]]:
    """The names an app answers to on its web hosts, as (unit code, name): one per unit site, else its fqdn."""
    return [(site, f"{site}.{domain}") for site in sites] or [(None, fqdn)]


def plan_deployment(profile: Profile, catalog: Catalog) -> DeploymentPlan:
    """The plan of every chosen app that the catalog has, dependencies first."""
    known = [a for a in profile.apps if a in catalog.apps]
    chosen = [a for a in catalog.closure(known) if a in profile.apps]
    db_host = next((h.address for h in profile.hosts if HostRole.DB in h.roles), LOCAL_DB_HOST)
    return DeploymentPlan({app_id: _plan(catalog.apps[app_id], profile, db_host) for app_id in chosen})


def _plan(app: App, profile: Profile, db_host: str) -> AppPlan:
    root, secrets_dir = serverpaths.APP_ROOT.format(id=app.id), serverpaths.APP_SECRETS.format(id=app.id)
    if not isinstance(app, InstallableApp):
        return AppPlan(app, None, (), root, secrets_dir)
    database = None
    if app.database != Database.NONE:  # a unit-site app's is always none (catalog.UnitSiteApp)
        name = app.id.replace("-", "_")
        database = DatabasePlan(engine=app.database, host=db_host, port=DB_PORTS[app.database], name=name,
                                user=name[:DB_USER_MAX], password_file=f"{secrets_dir}/db_password")
    serves = _serves(app)
    sites = tuple(u.code for u in profile.units if isinstance(app, UnitSiteApp) and u.kind in app.unit_kinds)
    fqdn = app_fqdn(app.id, profile)
    installation = Installation(
        app=app, serves=serves, php_version=app.runtime.split("-")[1] if serves == Serves.PHP_FPM else None,
        needs_artifact=needs_artifact(app), database=database, fqdn=fqdn, sites=sites,
        names=tuple(served_names(profile.region.domain, fqdn, sites)),
        upstream_port=UPSTREAM_PORT_BASE + zlib.crc32(app.id.encode()) % UPSTREAM_PORT_SPAN,
        health=None if isinstance(app, UnitSiteApp) else app.health,
    )
    # the app role writes an app's secrets on the web hosts; a unit site is static files of the build (the
    # unit_sites role), which reads none
    secrets = () if isinstance(app, UnitSiteApp) else \
        ((f"{app.id}/db_password",) if database else ()) + (f"{app.id}/app_key",)
    return AppPlan(app, installation, secrets, root, secrets_dir)


def _serves(app: InstallableApp) -> Serves:
    if isinstance(app, UnitSiteApp) or app.runtime == "static":
        return Serves.STATIC
    return Serves.PHP_FPM if app.runtime.startswith("php-") else Serves.SERVICE

