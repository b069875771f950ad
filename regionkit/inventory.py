"""The inventory and the variables of a run, as data, from region.yaml and the rendered build.

See docs/deploy-contract.md for the shape the playbooks expect; `runspec.RunSpec` writes them (under YAML's
`!unsafe` tag, so that Ansible reads every value as text) and runs the playbook.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from regionkit.catalog import Catalog, Kind
from regionkit.errors import InputError
from regionkit.region import HostRole, Profile


def serves(app: Any) -> str:
    """How a release is served: through php-fpm, as static files, or by its own process behind nginx."""
    if app.kind == Kind.UNIT_SITE or app.runtime == "static":
        return "static"
    return "php-fpm" if app.runtime.startswith("php-") else "service"


def app_entries(profile: Profile, catalog: Catalog, manifest: dict, artifacts: dict[str, Any]) -> list[dict]:
    """The installable chosen apps, dependencies first, as the playbooks read them."""
    from regionkit.render_context import build_contexts

    entries = []
    for context in build_contexts(profile, catalog, manifest.get("kit_version", "")):
        view = context.app
        app = catalog.apps[view.id]
        if not app.installable:
            continue
        record = manifest.get("apps", {}).get(view.id)
        if record is None:
            raise InputError(f"{view.id} is not in the build", hint="run `regionkit render` first")
        artifact = artifacts.get(view.id)
        entries.append({
            "id": view.id, "name": view.name, "version": view.version, "kind": view.kind,
            "runtime": view.runtime, "serves": serves(app), "upstream_port": view.upstream_port,
            "database": app.database.value,
            "db_name": view.database.name if view.database else None,
            "db_user": view.database.user if view.database else None,
            "fqdn": view.fqdn, "health": view.health,
            "artifact": {"path": str(artifact.path), "sha256": artifact.sha256} if artifact else None,
            "config_digest": record["inputs_digest"],
            "sites": [u.code for u in view.units],
        })
    return entries


def deploy_variables(profile: Profile, apps: list[dict], build_dir: Path, *, removing: list[dict] | None = None,
                     apt_repo: Path | None = None, chosen: list[dict] | None = None) -> dict[str, Any]:
    """The variables of a deploy (site.yml) or an undeploy (remove.yml), as data: docs/deploy-contract.md.

    `apps` are the app entries (app_entries) this run deploys, `chosen` those of every chosen app (default:
    `apps`): state that hosts share between apps, the database servers' clients and accounts, is always
    computed from every chosen app (`regionkit_databases`), so that a run of some apps keeps the others'.

    `removing` (playbooks/remove.yml) are the apps to take off the web hosts, each {id, version}; `apt_repo` is a
    tar of a flat apt repository that the hosts install their packages from (a field bundle's)."""
    web_hosts = [h.address for h in profile.hosts if HostRole.WEB in h.roles]
    variables = {
        "regionkit_region": {"key": profile.region.key, "name": profile.region.name,
                             "domain": profile.region.domain, "timezone": profile.region.timezone},
        "regionkit_build_dir": str(Path(build_dir).absolute()),
        "regionkit_apps": apps,
        "regionkit_db_clients": web_hosts,
        "regionkit_databases": [{key: a[key] for key in ("id", "database", "db_name", "db_user")}
                                for a in (apps if chosen is None else chosen)
                                if a["kind"] != "unit-site" and a["database"] != "none"],
    }
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
