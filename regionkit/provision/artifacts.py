"""The artifact store: release archives of the apps, addressed by app id, version and sha256.

A store is a folder, or an http(s):// base URL, holding `index.json`:

    {"format": 1,
     "artifacts": {"<app id>": {"<version>": {"file": "<path relative to the store>", "sha256": "<hex>",
                                              "size": <bytes>, "label": "..."}}}}

The deploy resolves each installable app at its catalog version, fetches the archive next to the project and
checks its sha256 before anything reaches a server. `build_demo_store` fills a store with the kit's reference
workload (`regionkit/provision/workload/`) packed into one reproducible archive.
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO

from regionkit.atomic import sync_dir, write_atomic
from regionkit.confined import read_named_file
from regionkit.digests import CHUNK, sha256_bytes, sha256_file
from regionkit.errors import InputError, Location, OperationFailed
from regionkit.project.appplan import needs_artifact, plan_deployment

if TYPE_CHECKING:
    from regionkit.catalog.model import Catalog, InstallableApp
    from regionkit.project.files import Project
    from regionkit.project.region import Profile

INDEX_NAME = "index.json"
MAX_INDEX_BYTES = 64 * 1024 * 1024  # a store's index.json, read whole
INDEX_FORMAT = 1
WORKLOAD_LABEL = "regionkit reference workload"
WORKLOAD_PREFIX = "regionkit-workload-"
ARCHIVE_MTIME = 1704067200  # 2024-01-01T00:00:00Z: every member of a workload archive carries this time
HTTP_TIMEOUT = 30
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SKIP_NAMES = {"__pycache__", ".DS_Store"}


@dataclass(frozen=True)
class Artifact:
    """One release archive: where it is (a file path or a URL), its sha256 and size."""

    app_id: str
    version: str
    sha256: str
    path_or_url: str
    size: int
    label: str = field(default="", compare=False)

    @property
    def is_url(self) -> bool:
        return is_url(self.path_or_url)

    @property
    def file_name(self) -> str:
        """The name the deploy gives it: `<id>-<version>.tar.gz`."""
        return f"{self.app_id}-{self.version}.tar.gz"


@dataclass(frozen=True)
class Check:
    """What `check` found: ok, or the problem (missing, unreadable, wrong size or sha256)."""

    artifact: Artifact
    ok: bool
    actual_sha256: str | None = None
    problem: str | None = None


def is_url(store: str) -> bool:
    return store.startswith(("http://", "https://"))


def store_location(store: str, base: Path) -> str:
    """The store as `resolve` takes it: a URL as it is, a relative folder made absolute against `base` (the
    folder of region.yaml)."""
    if is_url(store):
        return store
    if "://" in store:
        raise InputError(f"artifact store {store}: expected a folder or an http(s):// URL")
    path = Path(store).expanduser()
    return str(path if path.is_absolute() else Path(os.path.abspath(base / path)))


def project_store(project: Project, profile: Profile) -> str:
    """The store `profile` (the project's region.yaml) names, as `resolve` takes it. InputError naming the field
    when it names none."""
    if profile.artifacts is None:
        raise InputError("no artifact store is named", Location(project.profile_path, field="artifacts"),
                         hint="run `regionkit artifacts build-demo` for the reference workload, or set "
                              "`artifacts: {store: DIR-or-URL}`")
    return store_location(profile.artifacts.store, project.root)


def store_setting(dest: Path, root: Path) -> str:
    """How region.yaml names the store folder `dest`: relative to the project `root` when inside it, else
    absolute."""
    absolute = Path(os.path.abspath(dest))
    try:
        return absolute.relative_to(root.resolve()).as_posix() or "."
    except ValueError:
        return str(absolute)


def chosen_needing_artifacts(catalog: Catalog, profile: Profile) -> list[InstallableApp]:
    """The catalog entries of the chosen apps the deployment plan deploys from an artifact, dependencies first.
    An app not in the catalog is an InputError, not a silent skip."""

    for app_id in profile.apps:
        catalog.get(app_id)
    return [installed.app for installed in plan_deployment(profile, catalog).with_artifact]


def resolve_chosen(project: Project, catalog: Catalog, profile: Profile
                   ) -> tuple[Store, list[tuple[InstallableApp, Artifact | None, str | None]]]:
    """(the project's store, one (catalog entry, artifact or None, why not or None) per chosen app that needs an
    artifact). An app the store cannot resolve gets its problem as text; a missing or unreadable store raises."""
    store = Store.open(project_store(project, profile))
    rows: list[tuple[InstallableApp, Artifact | None, str | None]] = []
    for entry in chosen_needing_artifacts(catalog, profile):
        try:
            rows.append((entry, store.resolve(entry.id, entry.version), None))
        except InputError as exc:
            rows.append((entry, None, exc.message + (f" ({exc.hint})" if exc.hint else "")))
    return store, rows


# ---------------------------------------------------------------------------------------------------------------
# The reference workload and its reproducible archive


def workload_source() -> Path:
    """The reference workload's source folder, shipped inside the package."""
    return Path(__file__).resolve().parent / "workload"


def _workload_files(source: Path) -> list[tuple[str, Path]]:
    """(archive name, file) for every file of the workload, sorted; hidden files and caches are left out."""
    if not (source / "public").is_dir():
        raise InputError(f"{source}: not a workload folder (no public/)")
    found = []
    for folder, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_NAMES and not d.startswith("."))
        for name in files:
            if name.startswith(".") or name in _SKIP_NAMES or name.endswith((".pyc", ".pyo", "~")):
                continue
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                raise InputError(f"{path}: the workload may hold regular files only (no links or devices)")
            found.append((path.relative_to(source).as_posix(), path))
    return sorted(found)


def _member(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = ARCHIVE_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _file_mode(name: str, path: Path) -> int:
    """0755 for what is run (bin/*, or executable in the source), 0644 for the rest."""
    executable = name.startswith("bin/") or bool(path.stat().st_mode & 0o111)
    return 0o755 if executable else 0o644


def workload_archive(source: Path | None = None) -> bytes:
    """The reference workload as a `.tar.gz`, byte for byte the same for the same source: members sorted,
    directories included, mtime fixed, owner root (0:0), modes 0644/0755, gzip header without name or time."""
    source = Path(source) if source is not None else workload_source()
    files = _workload_files(source)
    folders = sorted({str(parent) for name, _ in files for parent in PurePosixPath(name).parents
                      if str(parent) != "."})
    entries = sorted([(f"{folder}/", None) for folder in folders] + [(name, path) for name, path in files],
                     key=lambda entry: entry[0].rstrip("/"))
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for name, path in entries:
                if path is None:
                    tar.addfile(_member(name.rstrip("/"), tarfile.DIRTYPE, 0o755))
                    continue
                data = path.read_bytes()
                tar.addfile(_member(name, tarfile.REGTYPE, _file_mode(name, path), len(data)), io.BytesIO(data))
    return raw.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# Building a demo store


def build_demo_store(dest: Path, catalog: Catalog, app_ids: list[str]) -> Path:
    """Pack the reference workload into `dest` and map each app of `app_ids` (at its catalog version) to it in
    `dest/index.json`. Apps without an artifact (android, national, unit-site) are skipped; unknown ids are an
    InputError before anything is written. Entries of other apps and versions already in the index are kept.

    The archive is written under a name derived from its sha256 and the index is replaced atomically, so a reader
    sees the old store or the new one. Returns `dest`.
    """

    apps = [catalog.get(app_id) for app_id in app_ids]
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise InputError(f"artifact store {dest}: not a folder")
    index_path = dest / INDEX_NAME
    index: dict[str, Any] = (_read_local_index(dest) if index_path.exists()
                             else {"format": INDEX_FORMAT, "artifacts": {}})
    data = workload_archive()
    digest = sha256_bytes(data)
    file_name = f"{WORKLOAD_PREFIX}{digest[:16]}.tar.gz"
    artifacts = index["artifacts"]
    for app in apps:
        if needs_artifact(app):
            artifacts.setdefault(app.id, {})[app.version] = {
                "file": file_name, "sha256": digest, "size": len(data), "label": WORKLOAD_LABEL}
    index = {"format": INDEX_FORMAT, "artifacts": artifacts}
    try:
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / file_name
        if not (target.is_file() and sha256_file(target) == digest):
            write_atomic(target, data, mode=0o644)
        write_atomic(index_path, json.dumps(index, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        _remove_unreferenced_workloads(dest, index)
    except OSError as exc:
        raise OperationFailed(f"cannot write the artifact store {dest}: {exc.strerror or exc}") from None
    return dest


def _remove_unreferenced_workloads(dest: Path, index: dict) -> None:
    """Older workload archives that no entry names any more."""
    used = {entry.get("file") for versions in index["artifacts"].values() for entry in versions.values()
            if isinstance(entry, dict)}
    removed = False
    for path in dest.glob(f"{WORKLOAD_PREFIX}*.tar.gz"):
        if path.name not in used:
            path.unlink(missing_ok=True)
            removed = True
    if removed:
        sync_dir(dest)


# ---------------------------------------------------------------------------------------------------------------
# Reading a store


class Store:
    """An artifact store, its index read once: `Store.open(location).resolve(app_id, version)`."""

    def __init__(self, location: str, index: dict):
        self.location = location
        self.index = index

    @classmethod
    def open(cls, location: str | Path) -> Store:
        location = str(location)
        if is_url(location):
            return cls(location, _read_remote_index(location))
        if "://" in location:
            raise InputError(f"artifact store {location}: expected a folder or an http(s):// URL")
        return cls(location, _read_local_index(Path(location)))

    @property
    def artifacts(self) -> dict[str, dict[str, Any]]:
        return self.index["artifacts"]

    def versions(self, app_id: str) -> list[str]:
        return list(self.artifacts.get(app_id, {}))

    def resolve(self, app_id: str, version: str) -> Artifact:
        """The artifact of `app_id` at `version`; an InputError naming the store, app and version (with the
        closest versions the store has) when there is none."""
        versions = self.artifacts.get(app_id)
        if not versions:
            close = difflib.get_close_matches(app_id, list(self.artifacts), n=3, cutoff=0.6)
            hint = (f"did you mean: {', '.join(close)}?" if close else
                    f"the store has artifacts for {len(self.artifacts)} apps; "
                    "`regionkit artifacts build-demo` fills a store with the reference workload")
            raise InputError(f"artifact store {self.location}: no artifact for app '{app_id}' (version {version})",
                             Location(self._index_location(), field=f"artifacts.{app_id}"), hint=hint)
        entry = versions.get(version)
        if entry is None:
            close = closest_versions(version, list(versions))
            raise InputError(f"artifact store {self.location}: no version {version} of app '{app_id}'",
                             Location(self._index_location(), field=f"artifacts.{app_id}"),
                             hint=f"closest versions in the store: {', '.join(close)}")
        entry_field = f"artifacts.{app_id}.{version}"
        problem = _entry_problem(entry)
        if problem:
            raise InputError(f"artifact store {self.location}: {problem}",
                             Location(self._index_location(), field=entry_field))
        return Artifact(app_id, version, entry["sha256"], self._where(entry["file"]), entry["size"],
                        entry.get("label", ""))

    def _index_location(self) -> str:
        return _join_url(self.location, INDEX_NAME) if is_url(self.location) else str(Path(self.location) / INDEX_NAME)

    def _where(self, file: str) -> str:
        if is_url(self.location):
            return _join_url(self.location, urllib.parse.quote(file))
        return os.path.abspath(Path(self.location) / file)


def resolve(store: str, app_id: str, version: str) -> Artifact:
    """The artifact of `app_id` at `version` in the store at `store` (a folder or an http(s) base URL)."""
    return Store.open(store).resolve(app_id, version)


def closest_versions(version: str, versions: list[str], n: int = 3) -> list[str]:
    """The versions nearest to `version`: same major.minor first, then by numeric distance."""
    def key(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", text)[:3]) + (0, 0, 0)

    wanted = key(version)[:3]

    def distance(candidate: str) -> tuple:
        parts = key(candidate)[:3]
        return tuple(abs(a - b) for a, b in zip(wanted, parts, strict=True)), candidate

    return [v for v in sorted(versions, key=distance)[:n]]


def _entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return "expected a mapping with file, sha256 and size"
    file = entry.get("file")
    if not isinstance(file, str) or not file or file.startswith("/") or "\\" in file \
            or any(part in ("", ".", "..") for part in file.split("/")):
        return "file: expected a path inside the store, such as e-office-3.4.1.tar.gz"
    if not isinstance(entry.get("sha256"), str) or not _SHA256.match(entry["sha256"]):
        return "sha256: expected 64 lowercase hex digits"
    size = entry.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return "size: expected the archive's size in bytes"
    if "label" in entry and not isinstance(entry["label"], str):
        return "label: expected a string"
    return None


def _check_index(data: Any, where: str) -> dict:
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object with format and artifacts")
    if data.get("format") != INDEX_FORMAT:
        raise InputError(f"{where}: unsupported index format {data.get('format')!r} (expected {INDEX_FORMAT})",
                         Location(where, field="format"))
    artifacts = data.get("artifacts")
    if not isinstance(artifacts, dict):
        raise InputError(f"{where}: artifacts: expected a mapping of app ids", Location(where, field="artifacts"))
    for app_id, versions in artifacts.items():
        if not isinstance(versions, dict):
            raise InputError(f"{where}: artifacts.{app_id}: expected a mapping of versions",
                             Location(where, field=f"artifacts.{app_id}"))
    return data


def _parse_index(text: str | bytes, where: str) -> dict:
    try:
        return _check_index(json.loads(text), where)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text") from None
    except RecursionError:
        raise InputError(f"{where}: invalid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise InputError(f"{where}: invalid JSON: {str(exc)[:200]}") from None


def _read_local_index(folder: Path) -> dict:
    """The index of the store folder `folder`. InputError when the folder cannot be looked at (e.g. a name too
    long), is missing, has no index, or its index is not a regular file of at most MAX_INDEX_BYTES."""

    path = folder / INDEX_NAME
    try:
        found = folder.is_dir(), path.exists()
    except OSError as exc:
        raise InputError(f"artifact store {folder}: {exc.strerror}") from None
    if not found[0]:
        raise InputError(f"artifact store {folder} does not exist",
                         hint="`regionkit artifacts build-demo` creates one with the reference workload")
    if not found[1]:
        raise InputError(f"artifact store {folder}: no {INDEX_NAME}",
                         hint="`regionkit artifacts build-demo` creates one with the reference workload")
    try:
        text = read_named_file(path, MAX_INDEX_BYTES)
    except ValueError as exc:
        raise InputError(f"artifact store {folder}: {INDEX_NAME}: {exc}") from None
    return _parse_index(text, str(path))


def _read_remote_index(base: str) -> dict:
    url = _join_url(base, INDEX_NAME)
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
            return _parse_index(response.read(), url)
    except urllib.error.HTTPError as exc:
        raise InputError(f"artifact store {base}: cannot fetch {INDEX_NAME}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise OperationFailed(f"artifact store {base}: cannot fetch {url}: {reason}") from None


def _join_url(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


# ---------------------------------------------------------------------------------------------------------------
# Fetching and checking


@contextmanager
def _open_artifact(artifact: Artifact) -> Iterator[BinaryIO]:
    """The archive's bytes as a stream; OperationFailed naming the app and version when it cannot be read."""
    what = _what(artifact)
    if artifact.is_url:
        try:
            response = urllib.request.urlopen(artifact.path_or_url, timeout=HTTP_TIMEOUT)
        except urllib.error.HTTPError as exc:
            raise OperationFailed(f"{what}: cannot fetch {artifact.path_or_url}: HTTP {exc.code} {exc.reason}") \
                from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise OperationFailed(f"{what}: cannot fetch {artifact.path_or_url}: {reason}") from None
        with response:
            yield response
        return
    try:
        handle = open(artifact.path_or_url, "rb")
    except FileNotFoundError:
        raise OperationFailed(f"{what}: missing file {artifact.path_or_url}") from None
    except OSError as exc:
        raise OperationFailed(f"{what}: cannot read {artifact.path_or_url}: {exc.strerror}") from None
    with handle:
        yield handle


def _what(artifact: Artifact) -> str:
    return f"artifact {artifact.app_id} {artifact.version}"


def _copy_hashing(source: BinaryIO, out: BinaryIO | None, limit: int) -> tuple[str, int]:
    """Copy (or only read) at most `limit + 1` bytes, hashing them: (sha256, bytes read)."""
    digest = hashlib.sha256()
    total = 0
    while total <= limit:
        chunk = source.read(min(CHUNK, limit + 1 - total))
        if not chunk:
            break
        digest.update(chunk)
        total += len(chunk)
        if out is not None:
            out.write(chunk)
    return digest.hexdigest(), total


def _mismatch(artifact: Artifact, actual: str, size: int) -> str:
    extra = f"; {size} bytes, expected {artifact.size}" if size != artifact.size else ""
    return (f"{_what(artifact)}: sha256 mismatch: expected {artifact.sha256}, "
            f"got {actual}{extra} ({artifact.path_or_url})")


def fetch(artifact: Artifact, dest_dir: Path) -> Path:
    """Copy (folder store) or download (http store) the archive to `dest_dir/<id>-<version>.tar.gz` and check its
    sha256. A mismatch is an OperationFailed naming app, version, expected and actual sha256; the partial file is
    removed. A file already there with the right sha256 is kept as it is."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / artifact.file_name
    if target.is_file() and target.stat().st_size == artifact.size and sha256_file(target) == artifact.sha256:
        return target
    fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, _open_artifact(artifact) as source:
            actual, size = _copy_hashing(source, out, artifact.size)
            out.flush()
            os.fsync(out.fileno())
        if actual != artifact.sha256 or size != artifact.size:
            raise OperationFailed(_mismatch(artifact, actual, size))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_dir(dest_dir)
    return target


def check(artifact: Artifact) -> Check:
    """Read the archive where the store keeps it and compare its sha256 and size; never raises for a missing or
    wrong archive (the problem is in the result)."""
    try:
        with _open_artifact(artifact) as source:
            actual, size = _copy_hashing(source, None, artifact.size)
    except OperationFailed as exc:
        return Check(artifact, False, None, exc.message.removeprefix(_what(artifact) + ": "))
    if actual != artifact.sha256 or size != artifact.size:
        return Check(artifact, False, actual, _mismatch(artifact, actual, size).removeprefix(_what(artifact) + ": "))
    return Check(artifact, True, actual)


def present(artifact: Artifact) -> bool:
    """Whether the archive is there (a file in a folder store, an answer to HEAD from an http store)."""
    if not artifact.is_url:
        return os.path.isfile(artifact.path_or_url)
    request = urllib.request.Request(artifact.path_or_url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False
