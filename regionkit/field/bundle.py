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
import hashlib
import json
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from regionkit.atomic import swap_in, write_atomic
from regionkit.confined import project_files, read_named_file
from regionkit.digests import CHUNK, sha256_bytes, sha256_file, sha256_stream
from regionkit.errors import InputError, Location, Problem, ValidationFailed
from regionkit.project.files import Project
from regionkit.yamldoc import format_field_path

FORMAT = 1
MANIFEST = "MANIFEST.json"
SIGNATURE = "MANIFEST.sig"
PROJECT = "project"
REQUIREMENTS = "requirements.txt"  # in wheels/: every wheel pinned by sha256
DEBS_ARCHIVE = "debs.tar"  # made at extraction: the debs/ folder as one file, copied to the servers in one go
_IN_BUNDLE = Project(Path(PROJECT))  # the project as it sits in a bundle (relative paths)
VAULT_NAME = _IN_BUNDLE.vault_path.name  # kept 0600 in the tar and when extracted
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_SIGNATURE_BYTES = 4096


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


def default_workdir(file: Path) -> Path:
    """Where a bundle is extracted unless told: next to it, its name without `.tar`."""
    file = Path(file)
    return file.with_suffix("") if file.suffix == ".tar" else file.with_name(file.name + ".d")


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
            swap_in(staging, dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
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
REUSED_STATE = (f"{_IN_BUNDLE.state_dir.as_posix()}/",)
REUSED_CHANGING = {_IN_BUNDLE.ledger_path.as_posix()}


def _check_reused(dest: Path, verified: Verified) -> None:
    """Every file of a reused workdir is the bundle's, unchanged, except run state and the ledger."""

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
