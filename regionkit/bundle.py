"""Field bundles: everything a region's rollout needs, in one tar that is checked before anything is extracted.

Layout of a bundle (an uncompressed tar; its contents are compressed already):

    MANIFEST.json      format, kit version, region, apps, and the sha256 and size of every other file
    MANIFEST.sig       ed25519 signature of MANIFEST.json's bytes (when created with a key)
    project/           the region project: region.yaml, units, logos, agreements, ledger, secrets.vault.yml
                       (encrypted as it is; the vault password never travels in a bundle) and build/ rendered
    playbooks/         the kit's playbooks and roles
    artifacts/         an artifact store (index.json) with every artifact the chosen apps need
    debs/              the Debian packages the roles install, as a flat apt repository (Packages)
    wheels/            regionkit and its dependencies, and requirements.txt pinning each by sha256, for
                       `pip install --no-index --find-links wheels --require-hashes -r wheels/requirements.txt`
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import os
import posixpath
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from regionkit import __version__
from regionkit.atomic import sync_dir, write_atomic
from regionkit.catalog import Catalog
from regionkit.clock import utc_now
from regionkit.digests import CHUNK, sha256_bytes, sha256_file, sha256_stream
from regionkit.errors import InputError, Location, OperationFailed, Problem, ValidationFailed
from regionkit.project import Project
from regionkit.resources import kit_path

FORMAT = 1
MANIFEST = "MANIFEST.json"
SIGNATURE = "MANIFEST.sig"
PROJECT = "project"
REQUIREMENTS = "requirements.txt"  # in wheels/: every wheel pinned by sha256
DEBS_ARCHIVE = "debs.tar"  # made at extraction: the debs/ folder as one file, copied to the servers in one go
VAULT_NAME = "secrets.vault.yml"  # kept 0600 in the tar and when extracted
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_SIGNATURE_BYTES = 4096
# Never bundled, besides the rules of `_bundle_rules`: run records and caches, version control, the old build.
PROJECT_SKIP = {".regionkit", ".git", "build"}
MAX_PROJECT_FILE_BYTES = 256 * 1024 * 1024
# A private key in PEM/OpenSSH form, or a PuTTY key file, anywhere in a file.
_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----|PuTTY-User-Key-File-")


@dataclass
class Verified:
    """A bundle whose every member was checked (names, types, hashes, signature)."""

    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    signed: bool
    signature_checked: bool
    files: int
    size: int
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------------
# Creating


def create(project: Project, catalog: Catalog, out: Path, *, sign_key: Path | None = None,
           vault_password_file: Path | None = None, prompt: Callable[[], str] | None = None,
           progress: Callable[[str], None] = lambda step: None, apt_cache: Path | None = None) -> Verified:
    """Build the bundle of `project` at `out` (written whole or not at all) and return it verified.

    Holds the project lock meanwhile: a deploy or render running is an InputError naming it."""
    from regionkit.deploy import project_lock

    out = Path(out).absolute()
    private_key = load_private_key(sign_key) if sign_key is not None else None
    with project_lock(project, "bundle"):  # no deploy, render or edit of the vault while the project is copied
        return _create(project, catalog, out, private_key, vault_password_file, prompt, progress, apt_cache)


def _create(project: Project, catalog: Catalog, out: Path, private_key, vault_password_file: Path | None,
            prompt: Callable[[], str] | None, progress: Callable[[str], None], apt_cache: Path | None) -> Verified:
    from regionkit import debs
    from regionkit.appplan import plan_deployment
    from regionkit.deploy import resolve_artifacts
    from regionkit.project_checks import check_project
    from regionkit.render import Renderer
    from regionkit.secrets import Vault, vault_password

    profile = check_project(project.profile_path, catalog).checked_profile(
        f"{project.profile_path}: fix these before bundling")
    vault = Vault(project.root, vault_password(project.root, vault_password_file, prompt))
    vault.ensure(plan_deployment(profile, catalog).secrets)  # the field gets every secret, generated here
    with tempfile.TemporaryDirectory(prefix=".regionkit-bundle-", dir=out.parent) as scratch:
        stage = Path(scratch) / "stage"
        progress("project")
        _copy_project(project.root, stage / PROJECT, profile)
        progress("render")
        Renderer(stage / PROJECT, profile, catalog).build(stage / PROJECT / "build")
        progress("artifacts")
        _copy_artifacts(resolve_artifacts(project, profile, catalog), catalog, stage / "artifacts")
        if (stage / "artifacts").is_dir():
            Project(stage / PROJECT).write_artifacts_store("../artifacts")
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
    os.replace(partial, out)
    sync_dir(out.parent)
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
    from importlib import metadata

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
    from regionkit.confined import project_files, read_project_file

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
    ignored = _ignore_rules(root / ".gitignore")

    def leave_out(name: str, is_dir: bool) -> bool:
        base = name.rsplit("/", 1)[-1]
        if name in PROJECT_SKIP or base.endswith((".tmp", ".partial")) or name in private \
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

    from regionkit.confined import read_inside

    try:
        text = read_inside(path.parent, path.name, MAX_PROJECT_FILE_BYTES).decode("utf-8", "replace")
    except ValueError:
        return lambda name, is_dir: False
    spec = pathspec.GitIgnoreSpec.from_lines(text.splitlines())
    return lambda name, is_dir: spec.match_file(f"{name}/" if is_dir else name)


def _store_inside(root: Path, profile) -> str | None:
    """The artifact store's folder relative to the project, when it lies inside (it is bundled apart)."""
    if profile.artifacts is None or "://" in profile.artifacts.store:
        return None
    return _inside_project(root, profile.artifacts.store)


def _copy_artifacts(found: dict[str, Any], catalog: Catalog, dest: Path) -> None:
    from regionkit.artifacts import INDEX_FORMAT, INDEX_NAME

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


# ---------------------------------------------------------------------------------------------------------------
# Verifying and extracting


def verify(path: Path, public_key: Any = None) -> Verified:
    """Check every member's name and type, the manifest's signature and every file's sha256, extracting nothing.

    `public_key` (an Ed25519PublicKey, or a path to a PEM or OpenSSH public key) makes a signature required.
    Any problem is a ValidationFailed naming the member.
    """
    public_key = _public_key(public_key)
    with _opened(Path(path)) as (tar, members):
        return _verify_open(Path(path), tar, members, public_key)


@contextmanager
def _opened(path: Path) -> Iterator[tuple[tarfile.TarFile, dict[str, tarfile.TarInfo]]]:
    """The bundle opened once (everything verified and extracted is read through this one descriptor) and its
    checked members: name -> regular file."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"no such bundle: {path}") from None
    except OSError as exc:
        raise _refused(path, f"cannot read the bundle: {exc.strerror}") from None
    with handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise _refused(path, "not a regular file")
        try:
            tar = tarfile.open(fileobj=handle, mode="r:")
        except (tarfile.TarError, OSError) as exc:
            raise _refused(path, f"not a bundle (an uncompressed tar): {exc}") from None
        with tar:
            try:
                members = tar.getmembers()
            except (tarfile.TarError, OSError) as exc:
                raise _refused(path, f"damaged archive: {exc}") from None
            yield tar, _check_members(path, members)


def _verify_open(path: Path, tar: tarfile.TarFile, names: dict[str, tarfile.TarInfo], public_key) -> Verified:
    if MANIFEST not in names:
        raise _refused(path, f"no {MANIFEST}: not a regionkit bundle")
    manifest_bytes = _read_member(path, tar, names[MANIFEST], MAX_MANIFEST_BYTES)
    signed = SIGNATURE in names
    checked = False
    if public_key is not None:  # over the raw bytes, before anything in them is parsed
        if not signed:
            raise _refused(path, "the bundle is not signed, but a public key was given")
        signature = _read_member(path, tar, names[SIGNATURE], MAX_SIGNATURE_BYTES)
        _check_signature(path, public_key, manifest_bytes, signature)
        checked = True
    manifest = _parse_manifest(path, manifest_bytes)
    listed = manifest["files"]
    present = set(names) - {MANIFEST, SIGNATURE}
    for name in sorted(present - set(listed)):
        raise _refused(path, f"{name}: not in the manifest", name)
    for name in sorted(set(listed) - present):
        raise _refused(path, f"{name}: in the manifest but missing from the archive", name)
    total = 0
    for name in sorted(listed):
        with _member_data(tar, names[name]) as data:
            digest = sha256_stream(data)
        expected = listed[name]
        if digest != expected["sha256"] or names[name].size != expected["size"]:
            raise _refused(path, f"{name}: sha256 {digest} does not match the manifest's {expected['sha256']}", name)
        total += names[name].size
    warnings = [] if checked or not signed else ["signed, but the signature was not checked: give --public-key"]
    if not signed:
        warnings.append("the bundle is not signed")
    return Verified(path, manifest, sha256_bytes(manifest_bytes), signed, checked, len(listed), total, warnings)


def _member_data(tar: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    """A regular file's content (the members were checked to be files or folders before any is read)."""
    data = tar.extractfile(member)
    if data is None:
        raise ValueError(f"{member.name}: not a regular file")
    return data


def _read_member(path: Path, tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int) -> bytes:
    if member.size > limit:
        raise _refused(path, f"{member.name}: {member.size:,} bytes, more than the {limit:,} it may have",
                       member.name)
    with _member_data(tar, member) as data:
        return data.read(limit)


class _FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0, le=2**62)


class _Region(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    code: str = Field(max_length=64)
    name: str = Field(max_length=1000)


class _Manifest(BaseModel):
    """The shape of MANIFEST.json (format 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    format: Literal[1]
    kit_version: str = Field(max_length=100)
    created: str = Field(max_length=100)
    region: _Region
    apps: list[str]
    files: dict[str, _FileEntry]


def _parse_manifest(path: Path, data: bytes) -> dict[str, Any]:
    """MANIFEST.json's bytes as a dict of the right shape, or a refusal naming the field."""
    from pydantic import ValidationError

    from regionkit.yamldoc import format_field_path

    try:
        raw = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).splitlines()[0][:200]
        raise _refused(path, f"{MANIFEST}: not JSON of a bundle manifest ({reason})", MANIFEST) from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
        raise _refused(path, f"{MANIFEST}: not a bundle manifest of format {FORMAT} (format: {str(found)[:40]})",
                       MANIFEST)
    try:
        _Manifest.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise _refused(path, f"{MANIFEST}: {format_field_path(tuple(error['loc']))[:300]}: {error['msg']}",
                       MANIFEST) from None
    except RecursionError:
        raise _refused(path, f"{MANIFEST}: nested too deeply", MANIFEST) from None
    return raw


def _check_members(path: Path, members: list[tarfile.TarInfo]) -> dict[str, tarfile.TarInfo]:
    """Names must be relative, normalised and unique; only regular files, and the folders holding them; no name
    both a file and a folder."""
    found: dict[str, tarfile.TarInfo] = {}
    folders: set[str] = set()
    for member in members:
        name = member.name
        if name.startswith("/") or "\\" in name or "\0" in name:
            raise _refused(path, f"{name!r}: absolute or malformed path", name)
        if ".." in name.split("/") or posixpath.normpath(name) != name.rstrip("/") or name in ("", "."):
            raise _refused(path, f"{name!r}: path leaves the bundle or is not normalised", name)
        if member.issym() or member.islnk():
            base = posixpath.dirname(name) if member.issym() else ""
            target = posixpath.normpath(posixpath.join(base, member.linkname))
            if member.linkname.startswith("/") or target == ".." or target.startswith("../"):
                raise _refused(path, f"{name!r}: link to {member.linkname!r} points outside the bundle", name)
            raise _refused(path, f"{name!r}: links are not part of a bundle", name)
        if not (member.isfile() or member.isdir()):
            raise _refused(path, f"{name!r}: device, fifo or other special file", name)
        name = name.rstrip("/")
        if name in found or (member.isfile() and name in folders):
            raise _refused(path, f"{name!r}: appears twice (as a file, or as a file and a folder)", name)
        if member.isdir():
            folders.add(name)
        else:
            found[name] = member
        parents = [posixpath.dirname(name)]
        while parents[-1]:
            parents.append(posixpath.dirname(parents[-1]))
        for parent in parents[:-1]:
            if parent in found:
                raise _refused(path, f"{parent!r}: both a file and a folder", parent)
            folders.add(parent)
    return found


def extract(path: Path, dest: Path, public_key: Any = None) -> Verified:
    """Verify, then extract into `dest` (created whole), or reuse `dest` when it already holds this bundle.

    Verifying and extracting read the same open file, and only the files the verified manifest lists are
    extracted, each hashed again as it is written. Reusing keeps what earlier runs left there (run records
    in project/.regionkit/, the ledger's new entries), so an interrupted field deploy resumes from the same
    folder; every other file of `dest` must still be the bundle's (a ValidationFailed names an edited, missing
    or added file).
    """
    path = Path(path)
    public_key = _public_key(public_key)
    dest = Path(dest).absolute()
    with _opened(path) as (tar, members):
        verified = _verify_open(path, tar, members, public_key)
        marker = dest / MANIFEST
        if dest.exists() or dest.is_symlink():
            if dest.is_dir() and not dest.is_symlink() and marker.is_file() \
                    and sha256_file(marker) == verified.manifest_sha256:
                _check_reused(dest, verified)
                return verified
            raise InputError(f"{dest} exists and does not hold this bundle",
                             hint="give another --workdir, or remove that folder")
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        try:
            for name in [MANIFEST, SIGNATURE] + sorted(verified.manifest["files"]):
                if name in members:
                    _extract_member(path, tar, members[name], staging, verified.manifest["files"].get(name))
            if (staging / "debs").is_dir():
                with open(staging / DEBS_ARCHIVE, "wb") as out:
                    _pack_debs(staging, out)
            os.chmod(staging, 0o700)
            os.replace(staging, dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    sync_dir(dest.parent)
    return verified


def _extract_member(path: Path, tar: tarfile.TarFile, member: tarfile.TarInfo, staging: Path,
                    expected: dict[str, Any] | None) -> None:
    """Write one verified member under `staging`, hashing it again (the bundle may change under us)."""
    target = staging / member.name
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = 0o600 if member.name.endswith(VAULT_NAME) else (member.mode & 0o755) | 0o600
    digest = hashlib.sha256()
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as out, _member_data(tar, member) as data:
        for chunk in iter(lambda: data.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    os.chmod(target, mode)
    if expected is not None and (digest.hexdigest() != expected["sha256"] or size != expected["size"]):
        raise _refused(path, f"{member.name}: changed while it was extracted", member.name)


# What a reused workdir may hold besides the bundle's files: run state, and the ledger the deploys extend
# (its own hash chain guards it).
REUSED_STATE = (f"{PROJECT}/.regionkit/",)
REUSED_CHANGING = {f"{PROJECT}/ledger.jsonl"}


def _check_reused(dest: Path, verified: Verified) -> None:
    """Every file of a reused workdir is the bundle's, unchanged, except run state and the ledger."""
    from regionkit.confined import project_files

    def refused(name: str, what: str) -> ValidationFailed:
        return ValidationFailed([Problem(f"{name}: {what}", Location(dest / name, field=name))],
                                f"{dest}: this folder no longer holds the bundle as it was extracted; "
                                "remove it (keep project/ledger.jsonl) and extract again")

    listed = verified.manifest["files"]
    debs = any(name.startswith("debs/") for name in listed)
    expected = set(listed) | {MANIFEST} | ({DEBS_ARCHIVE} if debs else set()) \
        | ({SIGNATURE} if verified.signed else set())
    try:
        present = dict(project_files(
            dest, skip=lambda name, is_dir: (name + "/").startswith(REUSED_STATE) or name in REUSED_CHANGING))
    except InputError as exc:
        raise refused(Path(exc.location.file or dest).relative_to(dest).as_posix(), exc.message) from None
    for name in sorted(set(present) - expected):
        raise refused(name, "not in the bundle (added after extraction)")
    for name in sorted(expected - set(present) - REUSED_CHANGING):
        raise refused(name, "missing (removed after extraction)")
    for name in sorted(listed):
        if name not in REUSED_CHANGING and sha256_file(dest / name) != listed[name]["sha256"]:
            raise refused(name, "edited after extraction (its sha256 is not the manifest's)")
    hasher = _HashingWriter()
    _pack_debs(dest, hasher)  # type: ignore[arg-type]  # a tar stream in mode "w" only writes and tells
    if debs and sha256_file(dest / DEBS_ARCHIVE) != hasher.hexdigest():
        raise refused(DEBS_ARCHIVE, "edited after extraction (it is not the bundle's debs/ packed)")


class _HashingWriter:
    """A write-only file that only hashes what is written to it."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


def _pack_debs(folder: Path, out: IO[bytes]) -> None:
    """The debs/ folder of `folder` as one tar written to `out`: the same bytes for the same packages."""
    debs = folder / "debs"
    if not debs.is_dir():
        return
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in sorted(debs.iterdir()):
            info = tar.gettarinfo(item, arcname=item.name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            with open(item, "rb") as data:
                tar.addfile(info, data)


# ---------------------------------------------------------------------------------------------------------------
# Keys and signatures


def generate_key(path: Path) -> tuple[Path, Path]:
    """A new ed25519 key pair: `path` (PEM, 0600), `path`.pub (OpenSSH) and `path`.pub.pem (the same public key
    as PEM, which `openssl pkeyutl -verify` reads: see docs/field-guide.md); refuses to overwrite. Returns the
    private key's path and the OpenSSH public key's."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    public_path = path.with_name(path.name + ".pub")
    pem_path = path.with_name(path.name + ".pub.pem")
    for existing in (path, public_path, pem_path):
        if existing.exists():
            raise InputError(f"{existing} exists: not overwriting a key")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    write_atomic(path, private, mode=0o600)
    write_atomic(public_path, public + b" regionkit-bundle\n", mode=0o644)
    write_atomic(pem_path, pem, mode=0o644)
    return path, public_path


# Whatever a damaged or hostile key file makes `cryptography` raise while parsing it.
_KEY_ERRORS = (ValueError, TypeError, IndexError, UnicodeError)


def load_private_key(path: Path):
    """The ed25519 private key in `path` (PEM or OpenSSH, unencrypted); InputError naming the file."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = _read_key(path)
    try:
        key = (serialization.load_ssh_private_key(data, None) if b"OPENSSH PRIVATE KEY" in data
               else serialization.load_pem_private_key(data, None))
    except (*_KEY_ERRORS, UnsupportedAlgorithm):
        raise InputError("not an unencrypted ed25519 private key (PEM or OpenSSH)", Location(path),
                         hint="`regionkit bundle keygen FILE` makes one") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"expected an ed25519 key, found {type(key).__name__}", Location(path))
    return key


def load_public_key(path: Path):
    """The ed25519 public key in `path` (PEM or OpenSSH); InputError naming the file."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = _read_key(path)
    try:
        key = (serialization.load_pem_public_key(data) if data.startswith(b"-----")
               else serialization.load_ssh_public_key(data.strip()))
    except (*_KEY_ERRORS, UnsupportedAlgorithm):
        raise InputError("not an ed25519 public key (PEM or OpenSSH)", Location(path)) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"expected an ed25519 key, found {type(key).__name__}", Location(path))
    return key


def _public_key(public_key: Any):
    """An Ed25519PublicKey, None, or a path to load one from."""
    return load_public_key(Path(public_key)) if isinstance(public_key, (str, Path)) else public_key


MAX_KEY_BYTES = 64 * 1024


def _read_key(path: Path) -> bytes:
    from regionkit.confined import read_named_file

    try:
        return read_named_file(Path(path), MAX_KEY_BYTES)
    except ValueError as exc:
        raise InputError(f"cannot read the key {path}: {exc}", Location(Path(path))) from None


def _check_signature(path: Path, public_key, manifest: bytes, signature: bytes) -> None:
    from cryptography.exceptions import InvalidSignature

    try:
        public_key.verify(base64.b64decode(signature.strip(), validate=True), manifest)
    except (InvalidSignature, ValueError, TypeError):
        raise _refused(path, f"{SIGNATURE}: the signature does not match the manifest and key") from None


# ---------------------------------------------------------------------------------------------------------------


def _refused(path: Path, message: str, member: str | None = None) -> ValidationFailed:
    return ValidationFailed([Problem(message, Location(Path(path), field=member))],
                            f"{path}: bundle refused, nothing was extracted")
