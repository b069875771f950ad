"""`regionkit preflight`: check the control node and every host before a deploy changes anything.

Each finding is a blocker (the deploy would fail or break something, so it does not start) or a warning
(worth knowing; the deploy goes on). The hosts are looked at by one read-only probe each
(`playbooks/preflight.yml` runs `playbooks/files/regionkit-probe.py`); `evaluate` judges what it found against
what the chosen apps need (`host_needs`). docs/preflight.md describes every check.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from fnmatch import fnmatch
from pathlib import Path

from regionkit.catalog.model import Catalog, Database
from regionkit.errors import InputError, OperationFailed
from regionkit.project.appplan import Serves, plan_deployment
from regionkit.project.files import Project
from regionkit.project.region import Host, HostRole, Profile
from regionkit.provision import runner, serverpaths
from regionkit.provision.inventory import inventory
from regionkit.provision.rollout import Rollout
from regionkit.provision.runspec import playbook_run
from regionkit.provision.secrets import Vault, vault_password

CONTROL_NODE = "control node"
PROBE_MARKER = "REGIONKIT-PROBE "
ANSIBLE_CORE = ((2, 19), (2, 20))  # supported: at least the first, below the second (pyproject.toml's pin)
MIN_PYTHON = (3, 9)
MIN_FREE_MB = 256  # below this (or below what the apps declare, if less) a deploy cannot finish
MIN_MEMORY_MB = 1024  # a host with less memory in total cannot run the web or database stack
DB_ENGINE_MEMORY_MB = 512  # what one database server needs, on top of the apps
WEB_PORT = 80
DB_PROCESSES = {Database.MARIADB: ("mariadbd", "mysqld"), Database.POSTGRESQL: ("postgres",)}


class Severity(StrEnum):
    BLOCKER = "blocker"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    host: str  # a host name, or "control node"
    check: str
    message: str


@dataclass
class PreflightReport:
    findings: list[Finding]
    hosts: list[str]  # the hosts that were checked
    duration: float = 0.0

    @property
    def blockers(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == Severity.BLOCKER]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.blockers

    def as_dict(self) -> dict:
        return {"ok": self.ok, "blockers": len(self.blockers), "warnings": len(self.warnings), "hosts": self.hosts,
                "duration_s": round(self.duration, 3),
                "findings": [{**asdict(f), "severity": f.severity.value} for f in self.findings]}


class PreflightFailed(OperationFailed):
    """A deploy refused because preflight found blockers; carries the report for display."""

    def __init__(self, report: PreflightReport):
        count = len(report.blockers)
        super().__init__(f"preflight found {count} blocker{'s' if count != 1 else ''}: nothing was changed",
                         hint="fix them and run `regionkit preflight` again (`deploy --skip-preflight` skips it)")
        self.report = report


@dataclass(frozen=True)
class PortUse:
    """Who needs a port on a host, and which listeners are that same user already (a re-deploy)."""

    user: str  # for messages: "nginx", "MariaDB", "app sso"
    processes: tuple[str, ...] = ()
    app: str | None = None

    def owns(self, listener: dict) -> bool:
        if listener.get("process") in self.processes:
            return True
        if self.app is None:
            return False
        root = serverpaths.APP_ROOT.format(id=self.app)
        cwd, cmdline = listener.get("cwd") or "", listener.get("cmdline") or ""
        return cwd == root or cwd.startswith(root + "/") or root + "/" in cmdline


@dataclass
class HostNeeds:
    """What the chosen apps need on one host, from the catalog's declared resources."""

    disk_mb: dict[str, int] = field(default_factory=dict)  # path -> MB
    memory_mb: int = 0
    ports: dict[int, PortUse] = field(default_factory=dict)
    clashes: list[str] = field(default_factory=list)  # two users of one port

    def claim(self, port: int, use: PortUse) -> None:
        if port in self.ports:
            self.clashes.append(f"{self.ports[port].user} and {use.user} both need port {port}")
        else:
            self.ports[port] = use


def host_needs(profile: Profile, catalog: Catalog) -> dict[str, HostNeeds]:
    """Per host: web hosts run nginx (port 80) and hold every chosen installable app (disk at serverpaths.ROOT,
    memory, each service app's upstream port); database hosts hold the databases of the apps that have one
    (the same declared disk again at serverpaths.DATA, DB_ENGINE_MEMORY_MB per engine, 3306 and/or 5432)."""
    installed = plan_deployment(profile, catalog).installed
    with_db = [(i.database, i.app) for i in installed if i.database is not None]
    engines = sorted({(database.engine, database.port) for database, _ in with_db}, key=lambda e: e[1])
    needs = {}
    for host in profile.hosts:
        need = needs[host.name] = HostNeeds()
        if HostRole.WEB in host.roles:
            need.disk_mb[serverpaths.ROOT] = sum(i.app.resources.disk_mb for i in installed)
            need.memory_mb += sum(i.app.resources.memory_mb for i in installed)
            need.claim(WEB_PORT, PortUse("nginx", ("nginx",)))
            for i in installed:
                if i.serves == Serves.SERVICE:
                    need.claim(i.upstream_port, PortUse(f"app {i.id}", app=i.id))
        if HostRole.DB in host.roles and with_db:
            need.disk_mb[serverpaths.DATA] = sum(app.resources.disk_mb for _, app in with_db)
            need.memory_mb += DB_ENGINE_MEMORY_MB * len(engines)
            for engine, port in engines:
                name = "MariaDB" if engine == Database.MARIADB else "PostgreSQL"
                need.claim(port, PortUse(name, DB_PROCESSES[engine]))
    return needs


def evaluate(host: str, needs: HostNeeds, facts: dict, timezone: str) -> list[Finding]:
    """Judge one host's probe answer against what it needs."""
    findings: list[Finding] = []

    def add(severity: Severity, check: str, message: str) -> None:
        findings.append(Finding(severity, host, check, message))

    python = facts.get("python")
    if python is None:
        add(Severity.BLOCKER, "python", "no /usr/bin/python3, which Ansible needs (apt-get install python3)")
    elif tuple(python) < MIN_PYTHON:
        add(Severity.BLOCKER, "python", f"/usr/bin/python3 is {'.'.join(map(str, python))}; Ansible needs "
                                        f"{'.'.join(map(str, MIN_PYTHON))} or later")
    system = facts.get("os") or {}
    if (system.get("id"), system.get("version_id")) != ("debian", "12"):
        add(Severity.WARNING, "os", f"{system.get('pretty_name') or system.get('id') or 'unknown system'}: the "
                                    "kit is made and tested for Debian 12 (PHP 8.2 from its archive)")
    if python is None:
        return findings
    user = facts["user"]
    if user["uid"] != 0:
        sudo = "works" if user["passwordless_sudo"] else "does not work either"
        add(Severity.BLOCKER, "root", f"logged in as uid {user['uid']}, not root: the playbooks run as the SSH "
                                      f"user without become (passwordless sudo {sudo}); set user: root")
    findings += _disk(host, needs, facts["disk"])
    memory = facts["memory"]
    if needs.memory_mb and memory["total_mb"] < min(MIN_MEMORY_MB, needs.memory_mb):
        add(Severity.BLOCKER, "memory", f"{memory['total_mb']} MB of memory in all, the deploy needs at least "
                                        f"{min(MIN_MEMORY_MB, needs.memory_mb)} MB (the apps declare "
                                        f"{needs.memory_mb} MB)")
    elif memory["available_mb"] < needs.memory_mb:
        add(Severity.WARNING, "memory", f"{memory['available_mb']} MB of memory available, the apps declare "
                                        f"{needs.memory_mb} MB")
    for clash in needs.clashes:
        add(Severity.BLOCKER, "ports", clash)
    for port, use in sorted(needs.ports.items()):
        taken = [entry for entry in facts["listeners"] if entry["port"] == port and not use.owns(entry)]
        if taken:
            add(Severity.BLOCKER, "ports", f"port {port} is taken by {_holder(taken[0])} on "
                                           f"{taken[0]['address']}; {use.user} needs it")
    if facts.get("timezone") != timezone:
        add(Severity.WARNING, "time zone", f"the time zone is {facts.get('timezone') or 'not set'}; the deploy "
                                           f"sets {timezone} (region.yaml)")
    return findings


def _disk(host: str, needs: HostNeeds, disks: list[dict]) -> list[Finding]:
    """Blocker below what a deploy writes (MIN_FREE_MB, or what the apps declare if less); warning below what
    the apps declare. Paths on one filesystem add up."""
    findings = []
    groups: dict[int, dict] = {}
    for disk in disks:
        need = needs.disk_mb.get(disk["path"])
        if need:
            group = groups.setdefault(disk["device"], {"paths": [], "need": 0, "free": disk["free_mb"]})
            group["paths"].append(disk["path"])
            group["need"] += need
    for group in groups.values():
        where, free, need = " and ".join(group["paths"]), group["free"], group["need"]
        if free < min(MIN_FREE_MB, need):
            findings.append(Finding(Severity.BLOCKER, host, "disk", f"{where}: {free} MB free, the deploy needs "
                                    f"at least {min(MIN_FREE_MB, need)} MB (the apps declare {need} MB)"))
        elif free < need:
            findings.append(Finding(Severity.WARNING, host, "disk", f"{where}: {free} MB free, the apps declare "
                                    f"{need} MB (their data included): add disk before it fills"))
    return findings


def _holder(listener: dict) -> str:
    if not listener.get("process"):
        return "a process the probe cannot see"
    command = f": {listener['cmdline']}" if listener.get("cmdline") else ""
    return f"{listener['process']} (pid {listener['pid']}{command})"


def run_preflight(rollout: Rollout, *, limit: str | None = None, vault_password_file: Path | None = None,
                  interactive: bool | None = None, tuned: bool = True) -> PreflightReport:
    """Check the control node, then probe the hosts of `rollout` (`limit`: host names, roles or patterns) and
    judge them against what its apps need.

    `interactive`: whether a missing vault password could be asked for (default: stdin is a terminal)."""
    started = time.monotonic()
    project, catalog, profile = rollout.project, rollout.catalog, rollout.profile
    hosts = select_hosts(profile, limit)
    if interactive is None:
        interactive = sys.stdin.isatty()
    findings = control_node(project, hosts, vault_password_file, interactive)
    if not profile.hosts:
        findings.append(Finding(Severity.BLOCKER, CONTROL_NODE, "hosts", "no hosts in region.yaml (add servers, "
                                                                          "or `regionkit sandbox up 2`)"))
    elif not any(f.check == "ansible" and f.severity == Severity.BLOCKER for f in findings):
        needs = host_needs(profile, catalog)
        answers = probe(project, profile, [h.name for h in hosts], tuned)
        for host in hosts:
            answer = answers[host.name]
            if isinstance(answer, str):
                findings.append(Finding(Severity.BLOCKER, host.name, "reachable", answer))
            else:
                found = evaluate(host.name, needs[host.name], answer, profile.region.timezone)
                findings += sorted(found, key=lambda f: f.severity != Severity.BLOCKER)
    return PreflightReport(findings, [h.name for h in hosts], time.monotonic() - started)


def select_hosts(profile: Profile, limit: str | None) -> list[Host]:
    """The hosts an Ansible-style `--limit` picks: names, addresses, `web`, `db`, `all`, shell patterns,
    separated by `,` or `:`; `!pattern` leaves out, `&pattern` keeps only."""
    if not limit:
        return list(profile.hosts)
    items = [i for i in re.split(r"[,:]", limit) if i]
    chosen = {h.name for h in profile.hosts} if items and items[0][0] in "!&" else set()
    for item in items:
        pattern = item.lstrip("!&")
        matched = {h.name for h in profile.hosts if pattern == "all" or fnmatch(h.name, pattern)
                   or fnmatch(h.address, pattern) or any(r.value == pattern for r in h.roles)}
        if not matched:
            raise InputError(f"--limit {limit}: '{pattern}' matches no host of region.yaml",
                             hint=f"hosts: {', '.join(h.name for h in profile.hosts) or 'none'}; roles: web, db")
        chosen = chosen - matched if item[0] == "!" else chosen & matched if item[0] == "&" else chosen | matched
    return [h for h in profile.hosts if h.name in chosen]


def control_node(project: Project, hosts: list[Host], vault_password_file: Path | None,
                 interactive: bool) -> list[Finding]:
    """Ansible's version, every host's SSH key, the vault password."""
    findings = []

    def add(severity: Severity, check: str, message: str) -> None:
        findings.append(Finding(severity, CONTROL_NODE, check, message))

    version = ansible_core_version()
    low, high = ANSIBLE_CORE
    supported = f"ansible-core {low[0]}.{low[1]} up to {high[0]}.{high[1]} (excluded)"
    if isinstance(version, str):
        add(Severity.BLOCKER, "ansible", version)
    elif version[:2] < low:
        add(Severity.BLOCKER, "ansible", f"ansible-core {'.'.join(map(str, version))} is too old; the playbooks "
                                         f"need {supported}")
    elif version[:2] >= high:
        add(Severity.WARNING, "ansible", f"ansible-core {'.'.join(map(str, version))} is newer than this kit is "
                                         f"tested with ({supported})")
    for key in sorted({h.ssh_key for h in hosts if h.ssh_key}):
        users = ", ".join(h.name for h in hosts if h.ssh_key == key)
        path = Path(key).expanduser()
        try:
            mode = path.stat().st_mode
            readable = os.access(path, os.R_OK)
        except OSError as exc:
            add(Severity.BLOCKER, "ssh key", f"{key} (hosts {users}): {exc.strerror}")
            continue
        if not readable:
            add(Severity.BLOCKER, "ssh key", f"{key} (hosts {users}) cannot be read")
        elif mode & 0o077:
            add(Severity.BLOCKER, "ssh key", f"{key} (hosts {users}) is mode {mode & 0o777:04o}: ssh refuses a "
                                             f"private key others can read; chmod 600 {key}")
    if any(not h.ssh_key for h in hosts) and not os.environ.get("SSH_AUTH_SOCK") \
            and not any(Path.home().joinpath(".ssh", n).exists() for n in ("id_ed25519", "id_ecdsa", "id_rsa")):
        users = ", ".join(h.name for h in hosts if not h.ssh_key)
        add(Severity.WARNING, "ssh key", f"hosts {users} name no ssh_key, and there is no SSH agent and no "
                                         "~/.ssh/id_* key to log in with")
    findings += _vault_password(project, vault_password_file, interactive)
    return findings


def ansible_core_version() -> tuple[int, ...] | str:
    """The version of the ansible-playbook regionkit runs, or why it is not known."""
    try:
        playbook = runner.ansible_playbook()
    except OperationFailed as exc:
        return f"{exc.message}: {exc.hint}"
    try:
        proc = subprocess.run([playbook, "--version"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{playbook} --version failed: {exc}"
    match = re.search(r"\[core (\d+)\.(\d+)\.(\d+)", proc.stdout)
    if not match:
        return f"{playbook} --version did not name its ansible-core version"
    return tuple(int(part) for part in match.groups())


def _vault_password(project: Project, explicit: Path | None, interactive: bool) -> list[Finding]:
    """Obtainable without a prompt, and able to open the project's vault; asked for on a terminal: a warning."""

    try:
        password = vault_password(project.root, explicit)
        Vault(project.root, password).read()
    except InputError as exc:
        missing = exc.location.file is None  # the file errors name their file
        if missing and interactive:
            return [Finding(Severity.WARNING, CONTROL_NODE, "vault password",
                            "none found: the deploy will ask for it")]
        message = f"{exc}" + (f" ({exc.hint})" if exc.hint else "")
        if missing:
            message += "; without a terminal nobody can be asked"
        return [Finding(Severity.BLOCKER, CONTROL_NODE, "vault password", message)]
    return []


def probe(project: Project, profile: Profile, host_names: list[str], tuned: bool = True) -> dict[str, dict | str]:
    """Run playbooks/preflight.yml on the hosts: host name -> the probe's facts, or why there are none."""
    folder = project.preflight_dir
    answers = folder / "answers"
    spec = playbook_run(folder, inventory(profile), "preflight.yml",
                        {"regionkit_preflight_dir": str(answers)}, tuned=tuned,
                        limit=",".join(host_names))
    spec.write()  # first: it refuses a project path it cannot hold
    shutil.rmtree(answers, ignore_errors=True)
    answers.mkdir(parents=True)
    outcome = spec.run(lambda event: None, folder / "ansible.log")
    if outcome.interrupted:
        raise KeyboardInterrupt
    problems: dict[str, str] = {}
    for event in outcome.events:
        if event.get("event") == "result" and event["status"] in ("failed", "unreachable"):
            first = (event.get("msg") or "").strip().splitlines()
            reason = first[0] if first else "no message"
            prefix = "unreachable" if event["status"] == "unreachable" else "the probe failed"
            problems.setdefault(event["host"], f"{prefix}: {reason}")
    found: dict[str, dict | str] = {}
    for name in host_names:
        path = answers / f"{name}.out"
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines() if path.exists() else []
        answer = next((line.strip()[len(PROBE_MARKER):] for line in lines if line.strip().startswith(PROBE_MARKER)),
                      None)
        if answer is None:
            found[name] = problems.get(name) or f"no answer from the probe (see {folder / 'ansible.log'})"
            continue
        try:
            found[name] = json.loads(answer)
        except (ValueError, RecursionError):  # not JSON, 5000-digit numbers, nested thousands deep
            found[name] = f"the probe's answer is not JSON (see {path})"
    return found
