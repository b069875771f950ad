"""Creating field bundles (`regionkit bundle create`): the project rendered, its vault, playbooks, artifacts, Debian
packages and wheels, written whole or not at all, as `regionkit.field.bundle` describes and later verifies.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from regionkit import __version__
from regionkit.atomic import swap_in
from regionkit.catalog.model import Catalog
from regionkit.clock import utc_now
from regionkit.confined import project_files, read_inside, read_project_file
from regionkit.digests import sha256_file
from regionkit.errors import OperationFailed
from regionkit.field import debs
from regionkit.field.bundle import (
    FORMAT,
    MANIFEST,
    PROJECT,
    REQUIREMENTS,
    SIGNATURE,
    VAULT_NAME,
    Verified,
    load_private_key,
    verify,
)
from regionkit.project.files import Project
from regionkit.provision.artifacts import INDEX_FORMAT, INDEX_NAME, is_url, store_location
from regionkit.provision.rollout import Rollout
from regionkit.resources import kit_path

MAX_PROJECT_FILE_BYTES = 256 * 1024 * 1024
# A private key in PEM/OpenSSH form, or a PuTTY key file, anywhere in a file.
_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----|PuTTY-User-Key-File-")


def create(project: Project, catalog: Catalog, out: Path, *, sign_key: Path | None = None,
           vault_password_file: Path | None = None, prompt: Callable[[], str] | None = None,
           progress: Callable[[str], None] = lambda step: None, apt_cache: Path | None = None) -> Verified:
    """Build the bundle of `project` at `out` (written whole or not at all) and return it verified.

    Holds the project lock meanwhile: a deploy or render running is an InputError naming it."""
    out = Path(out).absolute()
    private_key = load_private_key(sign_key) if sign_key is not None else None
    with project.lock("bundle"):  # no deploy, render or edit of the vault while the project is copied
        return _create(project, catalog, out, private_key, vault_password_file, prompt, progress, apt_cache)


def _create(project: Project, catalog: Catalog, out: Path, private_key, vault_password_file: Path | None,
            prompt: Callable[[], str] | None, progress: Callable[[str], None], apt_cache: Path | None) -> Verified:

    rollout = Rollout.open(project, catalog, "bundling")
    profile = rollout.profile
    rollout.unlock(vault_password_file, prompt)  # the field gets every secret, generated here
    with tempfile.TemporaryDirectory(prefix=".regionkit-bundle-", dir=out.parent) as scratch:
        stage = Path(scratch) / "stage"
        progress("project")
        _copy_project(project.root, stage / PROJECT, profile)
        progress("render")
        rollout.render(stage / PROJECT)
        progress("artifacts")
        _copy_artifacts(rollout.fetch_artifacts(), catalog, stage / "artifacts")
        if (stage / "artifacts").is_dir():
            staged = Project(stage / PROJECT)
            staged.write_artifacts_store("../artifacts")
            shutil.rmtree(staged.state_dir)  # the edit lock that write took: a project's state never travels
        progress("playbooks")
        shutil.copytree(kit_path("playbooks"), stage / "playbooks",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        progress("debian packages")
        debs.collect(debs.role_packages(), stage / "debs", **({"apt_cache": apt_cache} if apt_cache else {}))
        progress("python wheels")
        collect_wheels(stage / "wheels")
        progress("manifest")
        manifest = {"format": FORMAT, "kit_version": __version__, "created": utc_now(),
                    "region": {"code": profile.region.key, "name": profile.region.name},
                    "apps": list(profile.apps), "files": _hash_tree(stage)}
        manifest_bytes = (json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()
        (stage / MANIFEST).write_bytes(manifest_bytes)
        if private_key is not None:
            (stage / SIGNATURE).write_text(base64.b64encode(private_key.sign(manifest_bytes)).decode() + "\n")
        progress("archive")
        partial = out.with_name(f".{out.name}.partial")
        _write_tar(stage, partial, int(datetime.now(UTC).timestamp()))
    public = private_key.public_key() if private_key is not None else None
    verified = verify(partial, public_key=public)
    swap_in(partial, out)
    verified.path = out
    return verified


def collect_wheels(out: Path) -> list[str]:
    """regionkit's wheel and a wheel of every dependency at the version installed here; checked installable
    with no package index."""
    out.mkdir(parents=True, exist_ok=True)
    pins = _installed_requirements("regionkit")
    source = kit_path()
    if not (source / "pyproject.toml").is_file():
        raise OperationFailed("regionkit was not installed from a source tree: cannot build its wheel",
                              hint="install regionkit with `pip install -e .` from its checkout (scripts/install.sh)")
    steps = [
        ["wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(source)],
        ["download", "--no-deps", "--only-binary=:all:", "--quiet", "--dest", str(out), *pins],
        ["install", "--dry-run", "--ignore-installed", "--no-index", "--quiet", "--find-links", str(out),
         f"regionkit=={__version__}"],
    ]
    for number, step in enumerate(steps):
        if number == len(steps) - 1:
            _write_requirements(out)
            step = [*step[:-1], "--require-hashes", "--requirement", str(out / REQUIREMENTS)]
        done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *step],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise OperationFailed(f"pip {step[0]} failed while collecting wheels",
                                  hint=(done.stderr.strip().splitlines() or ["no message"])[-1])
    return sorted(p.name for p in out.glob("*.whl"))


def _write_requirements(folder: Path) -> None:
    """requirements.txt pinning every wheel of `folder` by version and sha256, for `pip --require-hashes`."""
    lines = []
    for wheel in sorted(folder.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        lines.append(f"{name}=={version} --hash=sha256:{sha256_file(wheel)}")
    (folder / REQUIREMENTS).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _installed_requirements(name: str) -> list[str]:
    """`dist==version` for every installed distribution `name` needs (markers evaluated here), not `name`."""

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    queue: list[tuple[str, frozenset[str]]] = [(name, frozenset())]
    seen: set[tuple[str, frozenset]] = set()
    while queue:
        current, extras = queue.pop()
        if (current, extras) in seen:
            continue
        seen.add((current, extras))
        dist = metadata.distribution(current)
        key = canonicalize_name(dist.metadata["Name"])
        if key != canonicalize_name(name):
            pins[key] = f"{dist.metadata['Name']}=={dist.version}"
        for text in dist.requires or []:
            requirement = Requirement(text)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if requirement.marker and not any(requirement.marker.evaluate(env) for env in environments):
                continue
            queue.append((requirement.name, frozenset(requirement.extras)))
    return sorted(pins.values())


def _copy_project(root: Path, dest: Path, profile) -> None:
    """Copy what the project owns into `dest`, modes kept: every regular file but those `_bundle_rules` leave
    out. A link or special file that would be taken is an InputError naming it (see regionkit.confined)."""

    root = Path(root)
    leave_out = _bundle_rules(root, profile)
    for name, info in project_files(root, skip=leave_out):
        data = read_project_file(root, name, MAX_PROJECT_FILE_BYTES)
        if _PRIVATE_KEY.search(data):
            continue  # a private key never travels, whatever its name
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.chmod(target, stat.S_IMODE(info.st_mode) & 0o755 | 0o600)


def _bundle_rules(root: Path, profile) -> Callable[[str, bool], bool]:
    """Whether a project path (relative, posix) stays out of a bundle: the kit's own rules (run state, version
    control, the old build, bundles, temporary files), every vault password file, every `hosts[].ssh_key`,
    the artifact store (bundled apart), and the project's ignore rules (its top .gitignore)."""
    store = _store_inside(root, profile)
    keys = {_inside_project(root, host.ssh_key) for host in profile.hosts if host.ssh_key}
    private = {name for name in keys | {store} if name is not None}
    ignored = _ignore_rules(Project(root).gitignore_path)
    local_only = Project(root).local_only()  # run state and caches, the old build, version control

    def leave_out(name: str, is_dir: bool) -> bool:
        base = name.rsplit("/", 1)[-1]
        if name in local_only or base.endswith((".tmp", ".partial")) or name in private \
                or fnmatch.fnmatchcase(base, "*vault[-_]pass*") \
                or ("/" not in name and base.startswith(("regionkit-bundle-", ".regionkit-bundle-"))):
            return True
        return ignored(name, is_dir)

    return leave_out


def _inside_project(root: Path, path: str) -> str | None:
    """`path` (as region.yaml gives it: relative to the project, absolute, or with ~) relative to the project,
    when it lies inside it."""
    full = Path(os.path.abspath(root / Path(path).expanduser()))
    base = Path(os.path.abspath(root))
    return full.relative_to(base).as_posix() if full.is_relative_to(base) and full != base else None


def _ignore_rules(path: Path) -> Callable[[str, bool], bool]:
    """Whether the project's .gitignore (git's own syntax, read by pathspec) ignores a relative posix path,
    `is_dir` telling a folder from a file. No .gitignore, or an unreadable one, ignores nothing."""
    import pathspec

    try:
        text = read_inside(path.parent, path.name, MAX_PROJECT_FILE_BYTES).decode("utf-8", "replace")
    except ValueError:
        return lambda name, is_dir: False
    spec = pathspec.GitIgnoreSpec.from_lines(text.splitlines())
    return lambda name, is_dir: spec.match_file(f"{name}/" if is_dir else name)


def _store_inside(root: Path, profile) -> str | None:
    """The artifact store's folder relative to the project, when it lies inside (it is bundled apart)."""

    if profile.artifacts is None:
        return None
    location = store_location(profile.artifacts.store, root)  # as the deploy resolves it
    return None if is_url(location) else _inside_project(root, location)


def _copy_artifacts(found: dict[str, Any], catalog: Catalog, dest: Path) -> None:

    if not found:
        return
    dest.mkdir(parents=True)
    index: dict[str, Any] = {"format": INDEX_FORMAT, "artifacts": {}}
    for app_id, artifact in sorted(found.items()):
        name = f"{artifact.sha256[:16]}-{Path(artifact.path).name}"
        if not (dest / name).exists():
            shutil.copyfile(artifact.path, dest / name)
        index["artifacts"][app_id] = {catalog.apps[app_id].version: {
            "file": name, "sha256": artifact.sha256, "size": (dest / name).stat().st_size}}
    (dest / INDEX_NAME).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _hash_tree(folder: Path) -> dict[str, dict[str, Any]]:
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        files[path.relative_to(folder).as_posix()] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    return files


def _write_tar(stage: Path, out: Path, mtime: int) -> None:
    """Regular files only, MANIFEST.json first, owner root, each file's mode without write for others and no
    special bits (0600 for the vault file)."""
    names = [MANIFEST] + ([SIGNATURE] if (stage / SIGNATURE).exists() else [])
    names += sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*")
                    if p.is_file() and p.relative_to(stage).as_posix() not in (MANIFEST, SIGNATURE))
    with open(out, "wb") as handle:
        with tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in names:
                path = stage / name
                info = tarfile.TarInfo(name)
                info.size = path.stat().st_size
                info.mtime = mtime
                info.mode = 0o600 if name.endswith(VAULT_NAME) else stat.S_IMODE(path.stat().st_mode) & 0o755
                with open(path, "rb") as data:
                    tar.addfile(info, data)
        handle.flush()
        os.fsync(handle.fileno())
