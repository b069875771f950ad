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
import json
import os
import posixpath
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from regionkit import __version__
from regionkit.atomic import sync_dir, write_atomic
from regionkit.catalog import Catalog
from regionkit.clock import utc_now
from regionkit.digests import sha256_bytes, sha256_file, sha256_stream
from regionkit.errors import InputError, Location, OperationFailed, ValidationFailed
from regionkit.project import Project
from regionkit.resources import kit_path

FORMAT = 1
MANIFEST = "MANIFEST.json"
SIGNATURE = "MANIFEST.sig"
PROJECT = "project"
REQUIREMENTS = "requirements.txt"  # in wheels/: every wheel pinned by sha256
DEBS_ARCHIVE = "debs.tar"  # made at extraction: the debs/ folder as one file, copied to the servers in one go
# Never bundled: run records and caches, the local vault password, version control, the old build.
PROJECT_SKIP = {".regionkit", ".vault-pass", ".git", "build"}


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
    """Build the bundle of `project` at `out` (written whole or not at all) and return it verified."""
    from regionkit import debs
    from regionkit.deploy import resolve_artifacts
    from regionkit.project_checks import check_project
    from regionkit.render import Renderer
    from regionkit.secrets import Vault, required_secrets, vault_password

    out = Path(out).absolute()
    private_key = load_private_key(sign_key) if sign_key is not None else None
    report = check_project(project.profile_path, catalog)
    if not report.ok:
        raise ValidationFailed(report.errors, f"{project.profile_path}: fix these before bundling")
    profile = report.profile
    vault = Vault(project.root, vault_password(project.root, vault_password_file, prompt))
    vault.ensure(required_secrets(profile, catalog))  # the field gets every secret, generated here
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
        _write_tar(stage, partial, int(datetime.now(timezone.utc).timestamp()))
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
    queue = [(name, frozenset())]
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
    store = _store_inside(root, profile)

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n in PROJECT_SKIP or n.endswith((".tmp", ".partial"))
                   or n.startswith(("regionkit-bundle-", ".regionkit-bundle-"))} \
            if Path(folder) == root else set()
        return skipped | {n for n in names if store is not None and Path(folder, n) == store}

    shutil.copytree(root, dest, ignore=ignore, symlinks=False)


def _store_inside(root: Path, profile) -> Path | None:
    if profile.artifacts is None or "://" in profile.artifacts.store:
        return None
    store = Path(profile.artifacts.store)
    store = store if store.is_absolute() else root / store
    return store if store.resolve().is_relative_to(root.resolve()) else None


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
    """Regular files only, MANIFEST.json first, owner root, modes 0644/0755 (0600 for the vault file)."""
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
                info.mode = 0o600 if name.endswith("secrets.vault.yml") else \
                    0o755 if os.access(path, os.X_OK) else 0o644
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
    path = Path(path)
    if isinstance(public_key, (str, Path)):
        public_key = load_public_key(Path(public_key))
    try:
        tar = tarfile.open(path, mode="r:")
    except FileNotFoundError:
        raise InputError(f"no such bundle: {path}") from None
    except (tarfile.TarError, OSError) as exc:
        raise _refused(path, f"not a bundle (an uncompressed tar): {exc}") from None
    with tar:
        try:
            members = tar.getmembers()
        except tarfile.TarError as exc:
            raise _refused(path, f"damaged archive: {exc}") from None
        names = _check_members(path, members)
        if MANIFEST not in names:
            raise _refused(path, f"no {MANIFEST}: not a regionkit bundle")
        manifest_bytes = tar.extractfile(names[MANIFEST]).read()
        try:
            manifest = json.loads(manifest_bytes)
            listed = manifest["files"]
            assert isinstance(listed, dict) and manifest.get("format") == FORMAT
        except (ValueError, KeyError, TypeError, AssertionError):
            raise _refused(path, f"{MANIFEST} is not a bundle manifest of format {FORMAT}") from None
        signed = SIGNATURE in names
        checked = False
        if signed and public_key is not None:
            signature = tar.extractfile(names[SIGNATURE]).read()
            _check_signature(path, public_key, manifest_bytes, signature)
            checked = True
        elif public_key is not None:
            raise _refused(path, "the bundle is not signed, but a public key was given")
        present = set(names) - {MANIFEST, SIGNATURE}
        for name in sorted(present - set(listed)):
            raise _refused(path, f"{name}: not in the manifest", name)
        for name in sorted(set(listed) - present):
            raise _refused(path, f"{name}: in the manifest but missing from the archive", name)
        total = 0
        for name in sorted(listed):
            with tar.extractfile(names[name]) as data:
                digest = sha256_stream(data)
            expected = listed[name]
            if digest != expected.get("sha256") or names[name].size != expected.get("size"):
                raise _refused(path, f"{name}: sha256 {digest} does not match the manifest's "
                                     f"{expected.get('sha256')}", name)
            total += names[name].size
    warnings = [] if checked or not signed else ["signed, but the signature was not checked: give --public-key"]
    if not signed:
        warnings.append("the bundle is not signed")
    return Verified(path, manifest, sha256_bytes(manifest_bytes), signed, checked, len(listed), total,
                    warnings)


def _check_members(path: Path, members: list[tarfile.TarInfo]) -> dict[str, tarfile.TarInfo]:
    """Names must be relative, normalised and unique; only regular files, folders and links that stay inside."""
    found: dict[str, tarfile.TarInfo] = {}
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
        if name in found:
            raise _refused(path, f"{name!r}: appears twice", name)
        if member.isfile():
            found[name] = member
    return found


def extract(path: Path, dest: Path, public_key: Any = None) -> Verified:
    """Verify, then extract into `dest` (created whole), or reuse `dest` when it already holds this bundle.

    Reusing keeps what earlier runs left there (run records, ledger entries), so an interrupted field deploy
    resumes from the same folder.
    """
    verified = verify(path, public_key)
    dest = Path(dest).absolute()
    marker = dest / MANIFEST
    if dest.exists():
        if marker.is_file() and sha256_file(marker) == verified.manifest_sha256:
            return verified
        raise InputError(f"{dest} exists and does not hold this bundle",
                         hint="give another --workdir, or remove that folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        with tarfile.open(path, mode="r:") as tar:
            tar.extractall(staging, filter="data")
        for name, expected in verified.manifest["files"].items():  # the file may have changed since verify
            if sha256_file(staging / name) != expected["sha256"]:
                raise _refused(Path(path), f"{name}: changed while it was extracted", name)
        _pack_debs(staging)
        os.chmod(staging, 0o700)
        os.replace(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    sync_dir(dest.parent)
    return verified


def _pack_debs(folder: Path) -> None:
    debs = folder / "debs"
    if not debs.is_dir():
        return
    with tarfile.open(folder / DEBS_ARCHIVE, "w", format=tarfile.PAX_FORMAT) as tar:
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
    """A new ed25519 key pair: `path` (PEM, 0600) and `path`.pub (OpenSSH); refuses to overwrite."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    public_path = path.with_name(path.name + ".pub")
    for existing in (path, public_path):
        if existing.exists():
            raise InputError(f"{existing} exists: not overwriting a key")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    write_atomic(path, private, mode=0o600)
    write_atomic(public_path, public + b" regionkit-bundle\n", mode=0o644)
    return path, public_path


def load_private_key(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = _read_key(path)
    try:
        key = (serialization.load_ssh_private_key(data, None) if b"OPENSSH PRIVATE KEY" in data
               else serialization.load_pem_private_key(data, None))
    except (ValueError, TypeError):
        raise InputError("not an unencrypted ed25519 private key (PEM or OpenSSH)", Location(path),
                         hint="`regionkit bundle keygen FILE` makes one") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"expected an ed25519 key, found {type(key).__name__}", Location(path))
    return key


def load_public_key(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = _read_key(path)
    try:
        key = (serialization.load_pem_public_key(data) if data.startswith(b"-----")
               else serialization.load_ssh_public_key(data.strip()))
    except (ValueError, TypeError, IndexError):
        raise InputError("not an ed25519 public key (PEM or OpenSSH)", Location(path)) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"expected an ed25519 key, found {type(key).__name__}", Location(path))
    return key


def _read_key(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the key {path}: {exc.strerror}", Location(Path(path))) from None


def _check_signature(path: Path, public_key, manifest: bytes, signature: bytes) -> None:
    from cryptography.exceptions import InvalidSignature

    try:
        public_key.verify(base64.b64decode(signature.strip(), validate=True), manifest)
    except (InvalidSignature, ValueError):
        raise _refused(path, f"{SIGNATURE}: the signature does not match the manifest and key") from None


# ---------------------------------------------------------------------------------------------------------------


def _refused(path: Path, message: str, member: str | None = None) -> ValidationFailed:
    from regionkit.errors import Problem

    return ValidationFailed([Problem(message, Location(Path(path), field=member))],
                            f"{path}: bundle refused, nothing was extracted")
