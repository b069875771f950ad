"""Inventory, variables and ansible.cfg for a run, generated from region.yaml and the rendered build.

See docs/deploy-contract.md for the shape the playbooks expect. Everything lands in `.regionkit/ansible/`.
Every string regionkit hands Ansible is data: each file is written under YAML's `!unsafe` tag (`ansible_yaml`),
so Ansible never templates a value, and one holding `{{ ... }}` stays text instead of running on the control node.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from regionkit.atomic import write_atomic
from regionkit.catalog import Catalog, Kind
from regionkit.errors import InputError, Location
from regionkit.plaintext import CONTROL_CHARACTERS
from regionkit.project import Project
from regionkit.region import HostRole, Profile
from regionkit.resources import kit_path


@dataclass(frozen=True)
class RunFiles:
    folder: Path
    inventory: Path
    variables: Path
    config: Path


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


def write_run_files(project_root: Path, profile: Profile, apps: list[dict], build_dir: Path,
                    tuned: bool = True, removing: list[dict] | None = None, playbooks: Path | None = None,
                    apt_repo: Path | None = None, chosen: list[dict] | None = None) -> RunFiles:
    """Write inventory.yml, vars.yml and ansible.cfg; `tuned=False` gives Ansible's stock settings.

    `apps` are the app entries (app_entries) this run deploys, `chosen` those of every chosen app (default:
    `apps`): state that hosts share between apps, the database servers' clients and accounts, is always
    computed from every chosen app (`regionkit_databases`), so that a run of some apps keeps the others'.

    `removing` (playbooks/remove.yml) are the apps to take off the web hosts, each {id, version}; `playbooks`
    replaces the kit's playbooks folder (roles included); `apt_repo` is a tar of a flat apt repository that the
    hosts install their packages from (a field bundle's)."""
    folder = Project(project_root).ansible_dir
    config = ansible_config(folder, tuned, playbooks)  # first: it refuses a project path it cannot hold
    folder.mkdir(parents=True, exist_ok=True)
    files = RunFiles(folder, folder / "inventory.yml", folder / "vars.yml", folder / "ansible.cfg")
    write_atomic(files.inventory, ansible_yaml(inventory(profile)))
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
    write_atomic(files.variables, ansible_yaml(variables))
    write_atomic(files.config, config)
    return files


class _Unsafe(dict):
    """A mapping to be written with the `!unsafe` tag."""


class _AnsibleDumper(yaml.SafeDumper):
    pass


_AnsibleDumper.add_representer(_Unsafe, lambda dumper, value: dumper.represent_mapping("!unsafe", dict(value)))


def ansible_yaml(data: dict[str, Any]) -> str:
    """`data` as YAML for Ansible (an inventory, or a vars file for `-e @FILE`) whose every string Ansible reads
    as plain text, never as a template: the whole document is tagged `!unsafe`, which Ansible's loader applies to
    everything inside it. (Tagging each string instead would not do: Ansible re-reads an `!unsafe` scalar as if
    it were unquoted, so `!unsafe '36.01'` would become a number.)"""
    return yaml.dump(_Unsafe(data), Dumper=_AnsibleDumper, sort_keys=False, allow_unicode=True, width=10**9)


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


def ansible_config(folder: Path, tuned: bool, playbooks: Path | None = None) -> str:
    """ansible.cfg for the run. Tuned: pipelining, SSH ControlPersist, more forks, cached facts.

    InputError when a path cannot be written into it (see `_config_path`)."""
    callback_dir = Path(__file__).resolve().parent / "ansible_plugins" / "callback"
    lines = [
        "[defaults]",
        f"inventory = {_config_path(folder / 'inventory.yml')}",
        f"roles_path = {_config_path((playbooks or kit_path('playbooks')) / 'roles')}",
        f"callback_plugins = {_config_path(callback_dir)}",
        "stdout_callback = regionkit_events",
        "retry_files_enabled = False",
        "interpreter_python = /usr/bin/python3",
        "deprecation_warnings = False",
    ]
    if tuned:
        lines += [
            f"forks = {max(10, (os.cpu_count() or 2) * 5)}",
            "gathering = smart",
            "fact_caching = jsonfile",
            f"fact_caching_connection = {_config_path(folder / 'facts')}",
            "fact_caching_timeout = 3600",
            "",
            "[ssh_connection]",
            "pipelining = True",
            "ssh_args = -o ControlMaster=auto -o ControlPersist=300s -o ServerAliveInterval=15",
            "control_path = %(directory)s/%%C",
        ]
    return "\n".join(lines) + "\n"


def _config_path(path: Path) -> str:
    """A path as a value of ansible.cfg, which Ansible reads with configparser's %-interpolation and `;` inline
    comments: `%` doubled; a control character (which would start a new setting) or a `;` after a space (which
    would cut the path) refused."""
    text = str(path)
    if CONTROL_CHARACTERS.search(text) or re.search(r"\s;", text):
        raise InputError("Ansible's configuration cannot hold this path (it has a control character, or ' ;')",
                         Location(text), hint="move the project to a folder whose path has neither")
    return text.replace("%", "%%")
