"""The inventory and the variables of a run, as data, from region.yaml and the rendered build.

See docs/deploy-contract.md for the shape the playbooks expect; `runspec.RunSpec` writes them (under YAML's
`!unsafe` tag, so that Ansible reads every value as text) and runs the playbook.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from regionkit.catalog.model import Database
from regionkit.errors import InputError
from regionkit.project.appplan import DeploymentPlan
from regionkit.project.region import HostRole, Profile


class PlaybookArtifact(TypedDict):
    path: str  # the checked copy on the control node
    sha256: str


class PlaybookApp(TypedDict):
    """One installable app as the playbooks read it (`regionkit_apps`; docs/deploy-contract.md)."""

    id: str
    name: str
    version: str
    kind: str  # web | service | unit-site
    runtime: str
    serves: str  # php-fpm | static | service
    upstream_port: int
    database: str  # none | mariadb | postgresql
    db_name: str | None
    db_user: str | None
    fqdn: str
    health: str
    artifact: PlaybookArtifact | None
    config_digest: str
    sites: list[str]


class PlaybookDatabase(TypedDict):
    id: str
    database: str  # mariadb | postgresql
    db_name: str
    db_user: str


class PlaybookRegion(TypedDict):
    key: str
    name: str
    domain: str
    timezone: str


class PlaybookRemoval(TypedDict):
    """An app to take off the web hosts (`regionkit_remove`, playbooks/remove.yml)."""

    id: str
    version: str | None  # the version running there
    config_digest: None  # nothing of it stays deployed


class PlaybookVars(TypedDict):
    """vars.yml, the contract with the playbooks (docs/deploy-contract.md)."""

    regionkit_region: PlaybookRegion
    regionkit_build_dir: str
    regionkit_apps: list[PlaybookApp]
    regionkit_db_clients: list[str]
    regionkit_databases: list[PlaybookDatabase]
    regionkit_remove: NotRequired[list[PlaybookRemoval]]
    regionkit_apt_repo: NotRequired[str]


def app_entries(plan: DeploymentPlan, manifest: dict, artifacts: dict[str, Any]) -> list[PlaybookApp]:
    """The installable chosen apps of `plan`, dependencies first, as the playbooks read them; `manifest` is the
    build's (each app's inputs digest), `artifacts` app id -> checked local copy (`path`, `sha256`).
    InputError when an app is not in the build."""
    entries = []
    for i in plan.installed:
        app = i.app
        record = manifest.get("apps", {}).get(i.id)
        if record is None:
            raise InputError(f"{i.id} is not in the build", hint="run `regionkit render` first")
        artifact = artifacts.get(i.id)
        entries.append(PlaybookApp(
            id=i.id, name=app.name, version=app.version, kind=app.kind.value, runtime=app.runtime,
            serves=i.serves.value, upstream_port=i.upstream_port,
            database=i.database.engine.value if i.database else Database.NONE.value,
            db_name=i.database.name if i.database else None, db_user=i.database.user if i.database else None,
            fqdn=i.fqdn, health=app.health,
            artifact=PlaybookArtifact(path=str(artifact.path), sha256=artifact.sha256) if artifact else None,
            config_digest=record["inputs_digest"], sites=list(i.sites),
        ))
    return entries


def playbook_vars(profile: Profile, apps: list[PlaybookApp], build_dir: Path, *,
                  removing: list[PlaybookRemoval] | None = None, apt_repo: Path | None = None,
                  chosen: list[PlaybookApp] | None = None) -> PlaybookVars:
    """The variables of a deploy (site.yml) or an undeploy (remove.yml), as data: docs/deploy-contract.md.

    `apps` are the app entries (app_entries) this run deploys, `chosen` those of every chosen app (default:
    `apps`): state that hosts share between apps, the database servers' clients and accounts, is always
    computed from every chosen app (`regionkit_databases`), so that a run of some apps keeps the others'.

    `removing` (playbooks/remove.yml) are the apps to take off the web hosts, each {id, version}; `apt_repo` is a
    tar of a flat apt repository that the hosts install their packages from (a field bundle's)."""
    web_hosts = [h.address for h in profile.hosts if HostRole.WEB in h.roles]
    variables = PlaybookVars(
        regionkit_region=PlaybookRegion(key=profile.region.key, name=profile.region.name,
                                        domain=profile.region.domain, timezone=profile.region.timezone),
        regionkit_build_dir=str(Path(build_dir).absolute()),
        regionkit_apps=apps,
        regionkit_db_clients=web_hosts,
        regionkit_databases=[PlaybookDatabase(id=a["id"], database=a["database"], db_name=a["db_name"],
                                              db_user=a["db_user"])
                             for a in (apps if chosen is None else chosen)
                             if a["db_name"] is not None and a["db_user"] is not None],
    )
    if removing is not None:
        variables["regionkit_remove"] = removing
    if apt_repo is not None:
        variables["regionkit_apt_repo"] = str(Path(apt_repo).absolute())
    return variables



def inventory(profile: Profile) -> dict:
    """The inventory as data: host -> connection settings, and the web and db groups. Every SSH argument is quoted
    (`ansible_ssh_common_args` is split like a shell command line)."""
    hosts = {}
    for host in profile.hosts:
        entry: dict[str, Any] = {"ansible_host": host.address, "ansible_port": host.port, "ansible_user": host.user,
                                 "ansible_python_interpreter": "/usr/bin/python3"}
        if host.ssh_key:
            entry["ansible_ssh_private_key_file"] = host.ssh_key
        args = ["-o", "IdentitiesOnly=yes"] if host.ssh_key else []
        if host.known_hosts:
            args += ["-o", f"UserKnownHostsFile={host.known_hosts}"]
        if args:
            entry["ansible_ssh_common_args"] = shlex.join(args)
        hosts[host.name] = entry
    groups: dict[str, dict[str, dict[str, dict]]] = {
        role.value: {"hosts": {h.name: {} for h in profile.hosts if role in h.roles}} for role in HostRole}
    return {"all": {"hosts": hosts, "children": groups}}
