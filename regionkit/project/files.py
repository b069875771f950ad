"""A region project on disk: where each of its files lives, its profile, its locks, and edits of its YAML files
that keep their comments.

Every path of a region project is a property of `Project`; no other module spells one out (a test scans for
that). The layout:

    region.yaml          the profile                     ledger.jsonl       the adoption ledger (committed)
    agreements.yaml      MoUs and PKSs (committed)       secrets.vault.yml  the encrypted secrets (committed)
    .vault-pass          the vault password (git-ignored, 0600, never bundled)
    build/               the rendered config (git-ignored, never bundled: a bundle renders its own)
    artifacts/           the artifact store `regionkit artifacts build-demo` makes when given no folder
    .regionkit/          this checkout's state (git-ignored, never bundled): runs/, ansible/, preflight/,
                         cache/artifacts/, lock (deploy, render, bundle), edit.lock (edits of the YAML files)
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionkit.clock import utc_now
from regionkit.errors import InputError, Location, Problem
from regionkit.project.region import Profile, check_profile_document, load_profile
from regionkit.project.selection import Choice
from regionkit.yamldoc import YamlDocument
from regionkit.yamledit import editing

PROFILE_NAME = "region.yaml"
_STATE = ".regionkit"
_VCS = ".git"


@dataclass(frozen=True)
class Project:
    """The region project rooted at `root` (which need not exist yet: `init` names the files it creates)."""

    root: Path

    @classmethod
    def locate(cls, start: Path | None = None) -> Project:
        """The project holding `start` (default: the working directory) or its nearest parent, like git finds a
        repository; InputError when there is none."""
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / PROFILE_NAME).is_file():
                return cls(folder)
        raise InputError(f"no {PROFILE_NAME} in {here} or any parent folder",
                         hint="run `regionkit init DIR` to create a region project, or pass -C DIR")

    # committed files
    @property
    def profile_path(self) -> Path:
        return self.root / PROFILE_NAME

    @property
    def ledger_path(self) -> Path:
        return self.root / "ledger.jsonl"

    @property
    def agreements_path(self) -> Path:
        return self.root / "agreements.yaml"

    @property
    def vault_path(self) -> Path:
        """The encrypted secrets (committed; 0600 in a bundle)."""
        return self.root / "secrets.vault.yml"

    @property
    def gitignore_path(self) -> Path:
        return self.root / ".gitignore"

    # local files: never committed, never bundled
    @property
    def password_path(self) -> Path:
        """The vault password file (0600, git-ignored)."""
        return self.root / ".vault-pass"

    @property
    def build_dir(self) -> Path:
        """The rendered config of the chosen apps (`regionkit render`)."""
        return self.root / "build"

    @property
    def default_artifact_store(self) -> Path:
        """The artifact store `regionkit artifacts build-demo` makes when given no folder."""
        return self.root / "artifacts"

    @property
    def state_dir(self) -> Path:
        """This checkout's state: run records, Ansible's files, caches, locks."""
        return self.root / _STATE

    @property
    def runs_dir(self) -> Path:
        """One folder per deploy or undeploy run, named by its run id."""
        return self.state_dir / "runs"

    @property
    def ansible_dir(self) -> Path:
        """Inventory, vars and ansible.cfg of the current run."""
        return self.state_dir / "ansible"

    @property
    def preflight_dir(self) -> Path:
        return self.state_dir / "preflight"

    @property
    def artifact_cache(self) -> Path:
        """Checked copies of the artifacts a deploy sends."""
        return self.state_dir / "cache" / "artifacts"

    @property
    def lock_path(self) -> Path:
        return self.state_dir / "lock"

    @property
    def edit_lock_path(self) -> Path:
        return self.state_dir / "edit.lock"

    def local_only(self) -> set[str]:
        """Paths (relative to the root, posix) that belong to this checkout alone and never travel in a bundle:
        its state, the rendered build, the vault password, version control."""
        return {p.relative_to(self.root).as_posix() for p in (self.state_dir, self.build_dir, self.password_path)} \
            | {_VCS}

    def profile(self) -> Profile:
        """The validated profile; any problem in region.yaml is a ValidationFailed naming its line."""
        return load_profile(self.profile_path)

    @contextmanager
    def lock(self, purpose: str = "deploy") -> Iterator[int]:
        """Hold the project's lock for a deploy, a render or a bundle (`purpose`); yields the locked file descriptor.

        A second holder is refused (InputError naming who holds it). A child process given the descriptor keeps
        the lock held until it exits too."""
        with _flock(self.lock_path, purpose, wait=False) as fd:
            yield fd

    @contextmanager
    def editing(self, path: Path | None = None, check: Callable[[YamlDocument], list[Problem]] | None = None,
                new_file: str | None = None) -> Iterator[Any]:
        """Edit one of the project's YAML files (default region.yaml) as one step: hold the project's edit lock
        (waiting while another edit holds it), yield the file's document freshly read (ruamel.yaml, comments
        kept), and when the block ends without an error, write the edited document back atomically.

        Hold it across a whole read-compute-write (read the profile inside the block, then change the document),
        so that concurrent edits never lose one another. `check` validates the edited file (default: the
        profile's rules); `new_file` is the text to start from when the file does not exist. Raises as
        `yamledit.editing` does (InputError, ValidationFailed); any error leaves the file as it was."""

        with _flock(self.edit_lock_path, "edit", wait=True), \
                editing(path or self.profile_path, check or (lambda doc: check_profile_document(doc)[1]),
                        new_file) as document:
            yield document

    def write_hosts(self, hosts: list[dict[str, Any]], replaces: Callable[[Any], bool]) -> None:
        """Rewrite the `hosts` section of region.yaml: drop the entries `replaces` picks, append `hosts` (one line
        each), keep the other hosts, every comment and the rest of the file as is. A host name already taken is
        an InputError (nothing written)."""
        with self.editing() as document:
            from ruamel.yaml.comments import CommentedMap, CommentedSeq

            if _section(document, self.profile_path, None, dict, "a mapping").get("hosts") is None:
                document["hosts"] = CommentedSeq()
            entries = _section(document, self.profile_path, "hosts", list, "a list")
            for index in reversed([i for i, entry in enumerate(entries) if replaces(entry)]):
                del entries[index]
            taken = {e.get("name") for e in entries if isinstance(e, dict)}
            clashes = sorted(taken & {h["name"] for h in hosts}, key=str)
            if clashes:
                raise InputError(f"region.yaml already has a host named {', '.join(map(str, clashes))}",
                                 Location(self.profile_path, field="hosts"), hint="rename that host")
            for host in hosts:
                entry = CommentedMap(host)
                entry.fa.set_flow_style()
                entries.append(entry)
            entries.fa.set_block_style() if entries else entries.fa.set_flow_style()

    def write_artifacts_store(self, store: str) -> None:
        """Set `artifacts: {store: STORE}` in region.yaml, keeping every comment and the rest of the file as is."""
        with self.editing() as document:
            from ruamel.yaml.comments import CommentedMap

            section = _section(document, self.profile_path, None, dict, "a mapping").get("artifacts")
            if isinstance(section, dict):
                section["store"] = store
                return
            section = CommentedMap(store=store)
            section.fa.set_flow_style()
            known = "artifacts" in document
            document["artifacts"] = section
            if not known:
                document.yaml_set_comment_before_after_key(
                    "artifacts", before="\nRelease archives of the apps: a folder (relative to this file) or an "
                                        "http(s):// base URL with index.json.\nSee `regionkit artifacts list`.")


def set_choice(document: Any, path: Path, choice: Choice) -> None:
    """Make the `apps` section of region.yaml's `document` (from `Project.editing`) hold `choice`, keeping the
    entries' comments; `path` names the file in errors (InputError when `apps:` is not a mapping)."""
    from ruamel.yaml.comments import CommentedMap

    apps = _section(document, path, "apps", dict, "a mapping")
    for app_id in [a for a in apps if a not in choice]:
        del apps[app_id]
    for app_id, auto in choice.items():
        entry = apps.get(app_id)
        if not isinstance(entry, dict):
            entry = CommentedMap()
            entry.fa.set_flow_style()
            apps[app_id] = entry
        if auto:
            entry["auto"] = True
        else:
            entry.pop("auto", None)
    apps.fa.set_block_style() if choice else apps.fa.set_flow_style()


def chosen_apps(profile: Profile) -> Choice:
    return {app_id: profile.choice(app_id).auto for app_id in profile.apps}


@contextmanager
def _flock(path: Path, purpose: str, wait: bool) -> Iterator[int]:
    """Hold an exclusive flock on `path` (its folder made when missing), writing `purpose`, pid and time into it;
    yields the descriptor. `wait`: block until it is free, else an InputError naming the holder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            what = holder.split(",", 1)[0] if "," in holder else "deploy"
            raise InputError(f"another {what} is running in this project ({holder})", Location(path)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{purpose}, pid {os.getpid()} since {utc_now()}\n")
        handle.flush()
        yield handle.fileno()
    finally:
        handle.close()


def _section(document: Any, path: Path, key: str | None, kind: type, expected: str) -> Any:
    """`document[key]` (or the document itself) when it is of `kind`, else an InputError naming the field."""
    value = document if key is None else (document.get(key) if isinstance(document, dict) else None)
    if not isinstance(value, kind):
        where = f"`{key}:`" if key else path.name
        raise InputError(f"expected {where} to be {expected}", Location(path, field=key))
    return value
