"""One way to run a playbook: what to run (`RunSpec`), the files it reads, and the run itself.

`playbook_run` builds the spec for every run regionkit makes (deploy, plan, undeploy, preflight): the playbook,
the inventory and variables as data, the extra arguments, the environment and the folder the run's files go to.
`RunSpec.write` is the one writer of a run's `inventory.yml`, `vars.yml` and `ansible.cfg`; `RunSpec.run` hands
the spec to `runner.run`, which keeps the playbook from outliving us and passes on the descriptors it is given
(the project lock, the vault password pipe).

Every string regionkit hands Ansible is data: inventory and variables are written under YAML's `!unsafe` tag
(`ansible_yaml`), so Ansible never templates a value, and one holding `{{ ... }}` stays text instead of running
on the control node. The vault password reaches ansible-playbook through an inherited pipe read as /dev/fd/N
(`password_pipe`), never through its argv, its environment or a file.

The event callback (`ansible_plugins/callback/regionkit_events.py`) attributes results to apps and phases from
explicit task variables the playbooks set, never from task names: `regionkit_app` (the app's id) and
`regionkit_phase` (`RECORDED` or `REMOVED` on the task that writes or removes the app's record on the host).
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from regionkit.atomic import write_atomic
from regionkit.errors import InputError, Location
from regionkit.plaintext import CONTROL_CHARACTERS
from regionkit.provision import runner
from regionkit.provision.secrets import VaultPassword
from regionkit.resources import kit_path

RECORDED = "recorded"  # regionkit_phase of the task that records an app as deployed on a host
REMOVED = "removed"  # regionkit_phase of the task that removes that record


@dataclass(frozen=True)
class RunFiles:
    folder: Path
    inventory: Path
    variables: Path
    config: Path


@dataclass(frozen=True)
class RunSpec:
    """One ansible-playbook run: `playbook` (a file in `playbooks`, whose `roles/` Ansible uses), the inventory
    and variables (data, written as `!unsafe` YAML into `folder`), `extra_args` after them, `limit` (Ansible's
    --limit pattern) and `tuned` (False: Ansible's stock settings); `argv` and `env` are its command line and
    environment."""

    playbook: str
    playbooks: Path
    folder: Path
    inventory: dict[str, Any]
    variables: Mapping[str, Any]
    extra_args: tuple[str, ...] = ()
    limit: str | None = None
    tuned: bool = True

    @property
    def files(self) -> RunFiles:
        return RunFiles(self.folder, self.folder / "inventory.yml", self.folder / "vars.yml",
                        self.folder / "ansible.cfg")

    def write(self) -> RunFiles:
        """Write inventory.yml, vars.yml and ansible.cfg into `folder` (created). InputError, before anything is
        written, when `folder` is a path ansible.cfg cannot hold (see `_config_path`)."""
        files = self.files
        config = ansible_config(self.folder, self.tuned, self.playbooks)  # first: it refuses what it cannot hold
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(files.inventory, ansible_yaml(self.inventory))
        write_atomic(files.variables, ansible_yaml(dict(self.variables)))
        write_atomic(files.config, config)
        return files

    def argv(self, password_source: str | None = None) -> list[str]:
        """The command line; with `password_source` (a file or /dev/fd/N), the vault is opened with it."""
        files = self.files
        argv = [runner.ansible_playbook(), str(self.playbooks / self.playbook), "-i", str(files.inventory),
                "-e", f"@{files.variables}", *self.extra_args]
        if password_source is not None:
            argv += ["--vault-password-file", password_source]
        if self.limit:
            argv += ["--limit", self.limit]
        return argv

    def env(self) -> dict[str, str]:
        """Ours, with ansible.cfg of `folder`, no colour, unbuffered output and the venv's bin first on PATH."""
        env = {**os.environ, "ANSIBLE_CONFIG": str(self.files.config), "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_FORCE_COLOR": "0", "PYTHONUNBUFFERED": "1"}
        env["PATH"] = f"{Path(runner.ansible_playbook()).parent}:{env.get('PATH', '')}"
        return env

    def run(self, on_event: Callable[[dict], None], log: Path, *, keep_fds: tuple[int, ...] = (),
            password: VaultPassword | None = None, password_file: Path | None = None,
            on_start: Callable[[list[str]], None] = lambda argv: None) -> runner.Outcome:
        """Run the playbook on the files `write` wrote; each event to `on_event`, stderr to `log`.

        `keep_fds` (the project lock) are inherited by the playbook. With `password_file` the vault is opened
        with that file, else with `password` through a pipe; `on_start` gets the argv
        before the playbook starts (it holds no secret)."""
        with password_pipe(password, password_file) as (source, password_fds):
            argv = self.argv(source)
            on_start(argv)
            return runner.run(argv, self.env(), on_event, log, (*keep_fds, *password_fds))


def playbook_run(folder: Path, inventory: dict[str, Any], playbook: str, variables: Mapping[str, Any], *,
                 playbooks: Path | None = None, tuned: bool = True,
                 limit: str | None = None, vault_file: Path | None = None, check: bool = False) -> RunSpec:
    """The spec of every run regionkit makes: `playbook` of `playbooks` (default: the kit's) with `inventory`
    (inventory.inventory) and `variables`, its files in `folder` (`Project.ansible_dir` or `.preflight_dir`);
    `vault_file` adds the project's vault as variables (open it with `RunSpec.run(password=...)`); `check` runs
    with --check --diff."""
    extra: list[str] = []
    if vault_file is not None:
        extra += ["-e", f"@{vault_file}"]
    if check:
        extra += ["--check", "--diff"]
    return RunSpec(playbook, Path(playbooks or kit_path("playbooks")), folder, inventory, variables,
                   tuple(extra), limit, tuned)


@contextmanager
def password_pipe(password: VaultPassword | None, given: Path | None
                  ) -> Iterator[tuple[str | None, tuple[int, ...]]]:
    """(--vault-password-file argument, fds the playbook must inherit): the file given, else a pipe holding
    `password`, read by ansible-playbook as /dev/fd/N (the password never touches the disk); (None, ()) when
    there is neither (a run that opens no vault)."""
    if given is not None or password is None:
        yield (str(given) if given is not None else None), ()
        return
    data = password.value + b"\n"
    read, write = os.pipe()
    try:
        if len(data) > fcntl.fcntl(write, fcntl.F_GETPIPE_SZ):
            fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, len(data))
        view = memoryview(data)
        while view:
            view = view[os.write(write, view):]
        os.close(write)
        write = -1
        yield f"/dev/fd/{read}", (read,)
    finally:
        os.close(read)
        if write != -1:
            os.close(write)


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


def ansible_config(folder: Path, tuned: bool, playbooks: Path | None = None) -> str:
    """ansible.cfg for a run whose files are in `folder`. Tuned: pipelining, SSH ControlPersist, more forks,
    cached facts.

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
