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
from typing import Any, NotRequired, TypedDict

import yaml

from regionkit.appplan import DeploymentPlan
from regionkit.atomic import write_atomic
from regionkit.catalog import Database
from regionkit.errors import InputError, Location
from regionkit.plaintext import CONTROL_CHARACTERS
from regionkit.region import HostRole, Profile
from regionkit.resources import kit_path

STATE_DIR = ".regionkit"
ANSIBLE_DIR = f"{STATE_DIR}/ansible"


@dataclass(frozen=True)
class RunFiles:
    folder: Path
    inventory: Path
    variables: Path
    config: Path


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


def playbook_vars(profile: Profile, apps: list[PlaybookApp], build_dir: Path,
                  removing: list[PlaybookRemoval] | None = None, apt_repo: Path | None = None,
                  chosen: list[PlaybookApp] | None = None) -> PlaybookVars:
    """The vars of a run (see `write_run_files` for the arguments)."""
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


def write_run_files(project_root: Path, profile: Profile, apps: list[PlaybookApp], build_dir: Path,
                    tuned: bool = True, removing: list[PlaybookRemoval] | None = None,
                    playbooks: Path | None = None, apt_repo: Path | None = None,
                    chosen: list[PlaybookApp] | None = None) -> RunFiles:
    """Write inventory.yml, vars.yml and ansible.cfg; `tuned=False` gives Ansible's stock settings.

    `apps` are the app entries (app_entries) this run deploys, `chosen` those of every chosen app (default:
    `apps`): state that hosts share between apps, the database servers' clients and accounts, is always
    computed from every chosen app (`regionkit_databases`), so that a run of some apps keeps the others'.

    `removing` (playbooks/remove.yml) are the apps to take off the web hosts, each {id, version}; `playbooks`
    replaces the kit's playbooks folder (roles included); `apt_repo` is a tar of a flat apt repository that the
    hosts install their packages from (a field bundle's)."""
    folder = project_root / ANSIBLE_DIR
    config = ansible_config(folder, tuned, playbooks)  # first: it refuses a project path it cannot hold
    folder.mkdir(parents=True, exist_ok=True)
    files = RunFiles(folder, folder / "inventory.yml", folder / "vars.yml", folder / "ansible.cfg")
    write_atomic(files.inventory, ansible_yaml(inventory(profile)))
    write_atomic(files.variables, ansible_yaml(dict(playbook_vars(profile, apps, build_dir, removing, apt_repo,
                                                                  chosen))))
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
