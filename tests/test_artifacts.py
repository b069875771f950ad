"""The artifact store: the reproducible reference-workload archive, the index, resolving, fetching and verifying
(from a folder and from a local http server), and the `regionkit artifacts` commands in a region project."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import with_hosts

from regionkit.catalog.model import load_catalog
from regionkit.errors import InputError, OperationFailed
from regionkit.project.files import Project
from regionkit.provision import artifacts
from regionkit.provision.artifacts import (
    ARCHIVE_MTIME,
    INDEX_NAME,
    WORKLOAD_LABEL,
    Artifact,
    Store,
    build_demo_store,
    check,
    closest_versions,
    fetch,
    present,
    resolve,
    store_location,
    workload_archive,
    workload_source,
)

WEB_AND_SERVICE = ["e-office", "api-gateway"]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture
def store(tmp_path: Path, catalog) -> Path:
    return build_demo_store(tmp_path / "store", catalog, WEB_AND_SERVICE)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_index(folder: Path) -> dict:
    return json.loads((folder / INDEX_NAME).read_text())


def only_file(folder: Path) -> Path:
    [archive] = folder.glob("*.tar.gz")
    return archive


# --- the archive ------------------------------------------------------------------------------------------------

def test_building_twice_gives_the_same_sha256(tmp_path: Path, catalog):
    first = build_demo_store(tmp_path / "a", catalog, WEB_AND_SERVICE)
    second = build_demo_store(tmp_path / "b", catalog, WEB_AND_SERVICE)
    assert only_file(first).read_bytes() == only_file(second).read_bytes()
    assert read_index(first) == read_index(second)
    assert workload_archive() == workload_archive()


def test_the_archive_does_not_depend_on_times_modes_or_stray_files_of_the_source(tmp_path: Path):
    copy = tmp_path / "workload"
    shutil.copytree(workload_source(), copy)
    for path in copy.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    (copy / "bin" / "migrate").chmod(0o700)
    (copy / "public" / "index.php").chmod(0o600)
    (copy / ".editorconfig").write_text("root = true\n")
    (copy / "lib" / "__pycache__").mkdir()
    (copy / "lib" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert workload_archive(copy) == workload_archive()
    (copy / "public" / "index.php").write_text((copy / "public" / "index.php").read_text() + "\n")
    assert workload_archive(copy) != workload_archive()


def test_archive_members_are_normalised():
    data = workload_archive()
    assert data[:2] == b"\x1f\x8b"
    assert data[4:8] == b"\0\0\0\0", "gzip header mtime must be 0"
    assert data[3] & 0x08 == 0, "gzip header must carry no file name"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert {"public", "public/index.php", "lib/workload.php", "bin/migrate", "bin/start", "README.md"} <= set(names)
    for member in members:
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "root", "root")
        assert member.mtime == ARCHIVE_MTIME
        assert member.isdir() or member.isfile()
        expected = 0o755 if member.isdir() or member.name.startswith("bin/") else 0o644
        assert member.mode == expected, member.name
    assert not any(name.startswith(("/", "./")) or ".." in name.split("/") for name in names)


def test_archive_unpacks_with_public_at_its_root(tmp_path: Path):
    with tarfile.open(fileobj=io.BytesIO(workload_archive())) as tar:
        tar.extractall(tmp_path, filter="data")
    assert (tmp_path / "public" / "index.php").is_file()
    assert os.access(tmp_path / "bin" / "migrate", os.X_OK) and os.access(tmp_path / "bin" / "start", os.X_OK)


# --- the index --------------------------------------------------------------------------------------------------

def test_index_maps_each_web_and_service_app_at_its_catalog_version(tmp_path: Path, catalog):
    skipped = ["siasn", "website-opd", "laksa-android"]  # national, unit-site, android
    kinds = {catalog.get(a).kind.value for a in skipped}
    assert kinds == {"national", "unit-site", "android"}
    folder = build_demo_store(tmp_path / "store", catalog, WEB_AND_SERVICE + skipped)
    index = read_index(folder)
    assert index["format"] == 1
    assert sorted(index["artifacts"]) == sorted(WEB_AND_SERVICE)
    archive = only_file(folder)
    for app_id in WEB_AND_SERVICE:
        version = catalog.get(app_id).version
        assert list(index["artifacts"][app_id]) == [version]
        entry = index["artifacts"][app_id][version]
        assert entry == {"file": archive.name, "sha256": sha256(archive), "size": archive.stat().st_size,
                         "label": WORKLOAD_LABEL}
    assert (folder / INDEX_NAME).read_text() == json.dumps(index, indent=2, sort_keys=True) + "\n"


def test_rebuilding_keeps_other_entries_and_removes_stale_workload_archives(tmp_path: Path, catalog):
    folder = tmp_path / "store"
    folder.mkdir()
    (folder / "real-e-office.tar.gz").write_bytes(b"real release")
    (folder / "regionkit-workload-0000000000000000.tar.gz").write_bytes(b"an older workload")
    real = {"file": "real-e-office.tar.gz", "sha256": hashlib.sha256(b"real release").hexdigest(), "size": 12}
    (folder / INDEX_NAME).write_text(json.dumps({"format": 1, "artifacts": {"e-office": {"3.3.0": real}}}))
    build_demo_store(folder, catalog, ["e-office"])
    index = read_index(folder)
    assert index["artifacts"]["e-office"]["3.3.0"] == real
    assert catalog.get("e-office").version in index["artifacts"]["e-office"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [INDEX_NAME, "real-e-office.tar.gz", index["artifacts"]["e-office"]["3.4.1"]["file"]])
    assert not list(folder.glob(".*"))  # no temporary files left behind


def test_an_unknown_app_writes_nothing(tmp_path: Path, catalog):
    with pytest.raises(InputError, match="unknown app 'e-ofice'"):
        build_demo_store(tmp_path / "store", catalog, ["e-office", "e-ofice"])
    assert not (tmp_path / "store").exists()


# --- resolving, fetching, verifying -----------------------------------------------------------------------------

def test_resolve_and_fetch_from_a_folder(store: Path, tmp_path: Path):
    artifact = resolve(str(store), "e-office", "3.4.1")
    archive = only_file(store)
    assert artifact == Artifact("e-office", "3.4.1", sha256(archive), str(archive), archive.stat().st_size,
                                WORKLOAD_LABEL)
    assert Path(artifact.path_or_url).is_absolute() and not artifact.is_url
    copy = fetch(artifact, tmp_path / "cache")
    assert copy == tmp_path / "cache" / "e-office-3.4.1.tar.gz"
    assert copy.read_bytes() == archive.read_bytes()
    assert fetch(artifact, tmp_path / "cache") == copy  # already there: kept
    assert check(artifact).ok and present(artifact)


def test_a_tampered_artifact_is_detected_and_no_partial_file_is_left(store: Path, tmp_path: Path):
    artifact = resolve(str(store), "api-gateway", "1.6.0")
    archive = Path(artifact.path_or_url)
    data = bytearray(archive.read_bytes())
    data[100] ^= 0xFF
    archive.write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    cache = tmp_path / "cache"
    with pytest.raises(OperationFailed) as caught:
        fetch(artifact, cache)
    message = caught.value.message
    assert "api-gateway" in message and "1.6.0" in message
    assert artifact.sha256 in message and actual in message
    assert list(cache.iterdir()) == []
    result = check(artifact)
    assert not result.ok and result.actual_sha256 == actual
    assert result.problem.startswith(f"sha256 mismatch: expected {artifact.sha256}, got {actual}")


def test_a_longer_or_missing_artifact_is_detected(store: Path, tmp_path: Path):
    artifact = resolve(str(store), "e-office", "3.4.1")
    archive = Path(artifact.path_or_url)
    archive.write_bytes(archive.read_bytes() + b"more")
    with pytest.raises(OperationFailed, match=r"sha256 mismatch.*bytes, expected"):
        fetch(artifact, tmp_path / "cache")
    archive.unlink()
    with pytest.raises(OperationFailed, match="e-office 3.4.1: missing file"):
        fetch(artifact, tmp_path / "cache")
    assert not present(artifact)
    assert "missing file" in check(artifact).problem
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_stale_copy_in_the_cache_is_replaced(store: Path, tmp_path: Path):
    artifact = resolve(str(store), "e-office", "3.4.1")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "e-office-3.4.1.tar.gz").write_bytes(b"stale")
    assert sha256(fetch(artifact, cache)) == artifact.sha256


def test_unknown_version_names_store_app_version_and_the_closest_versions(store: Path):
    with pytest.raises(InputError) as caught:
        resolve(str(store), "e-office", "3.4.0")
    error = caught.value
    assert str(store) in error.message and "e-office" in error.message and "3.4.0" in error.message
    assert "3.4.1" in error.hint
    with pytest.raises(InputError) as caught:
        resolve(str(store), "e-ofice", "3.4.1")
    assert str(store) in caught.value.message and "e-ofice" in caught.value.message
    assert "3.4.1" in caught.value.message and "e-office" in caught.value.hint


def test_closest_versions():
    assert closest_versions("3.4.0", ["1.0.0", "3.4.1", "3.3.9", "4.0.0", "3.4.5"]) == ["3.4.1", "3.4.5", "3.3.9"]
    assert closest_versions("1.0.0", []) == []


@pytest.mark.parametrize(("index", "message"), [
    ("{", "invalid JSON"),
    ('{"format": 2, "artifacts": {}}', "unsupported index format 2"),
    ('{"format": 1, "artifacts": []}', "artifacts: expected a mapping"),
    ('{"format": 1, "artifacts": {"e-office": ["3.4.1"]}}', "artifacts.e-office: expected a mapping of versions"),
])
def test_a_broken_index_is_an_input_error(tmp_path: Path, index: str, message: str):
    (tmp_path / INDEX_NAME).write_text(index)
    with pytest.raises(InputError, match=message):
        resolve(str(tmp_path), "e-office", "3.4.1")


@pytest.mark.parametrize(("entry", "message"), [
    ({"file": "../outside.tar.gz", "sha256": "0" * 64, "size": 1}, "file: expected a path inside the store"),
    ({"file": "/etc/passwd", "sha256": "0" * 64, "size": 1}, "file: expected a path inside the store"),
    ({"file": "a.tar.gz", "sha256": "XYZ", "size": 1}, "sha256: expected 64 lowercase hex digits"),
    ({"file": "a.tar.gz", "sha256": "0" * 64, "size": -1}, "size: expected"),
])
def test_a_broken_entry_is_an_input_error_naming_the_field(tmp_path: Path, entry: dict, message: str):
    (tmp_path / INDEX_NAME).write_text(json.dumps({"format": 1, "artifacts": {"e-office": {"3.4.1": entry}}}))
    with pytest.raises(InputError, match=message) as caught:
        resolve(str(tmp_path), "e-office", "3.4.1")
    assert caught.value.location.field == "artifacts.e-office.3.4.1"


def test_a_missing_store_or_index_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="does not exist"):
        resolve(str(tmp_path / "nowhere"), "e-office", "3.4.1")
    with pytest.raises(InputError, match="no index.json"):
        resolve(str(tmp_path), "e-office", "3.4.1")
    with pytest.raises(InputError, match="expected a folder or an http"):
        Store.open("ftp://example.invalid/store")


def test_store_location_is_relative_to_the_project(tmp_path: Path):
    assert store_location("artifacts", tmp_path) == str(tmp_path / "artifacts")
    assert store_location("/srv/store", tmp_path) == "/srv/store"
    assert store_location("http://127.0.0.1:8000/s/", tmp_path) == "http://127.0.0.1:8000/s/"
    with pytest.raises(InputError):
        store_location("s3://bucket", tmp_path)


# --- an http store (a local http.server on 127.0.0.1) -----------------------------------------------------------

class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_store(store: Path):
    """The folder store served by http.server on 127.0.0.1 (a free port), under /releases/."""
    root = store.parent / "www"
    root.mkdir()
    shutil.copytree(store, root / "releases")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/releases", root / "releases"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_resolve_and_fetch_over_http(http_store, tmp_path: Path):
    base, folder = http_store
    artifact = resolve(base + "/", "e-office", "3.4.1")
    archive = only_file(folder)
    assert artifact.is_url and artifact.path_or_url == f"{base}/{archive.name}"
    assert present(artifact) and check(artifact).ok
    copy = fetch(artifact, tmp_path / "cache")
    assert copy.read_bytes() == archive.read_bytes()


def test_a_tampered_artifact_over_http_is_detected(http_store, tmp_path: Path):
    base, folder = http_store
    artifact = resolve(base, "api-gateway", "1.6.0")
    archive = only_file(folder)
    archive.write_bytes(archive.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(OperationFailed, match=f"api-gateway 1.6.0: sha256 mismatch: expected {artifact.sha256}"):
        fetch(artifact, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []
    archive.unlink()
    with pytest.raises(OperationFailed, match="HTTP 404"):
        fetch(artifact, tmp_path / "cache")
    assert not present(artifact)


def test_an_http_store_without_index_is_an_input_error(http_store):
    base, _ = http_store
    with pytest.raises(InputError, match="HTTP 404"):
        resolve(base + "/elsewhere", "e-office", "3.4.1")


def test_an_unreachable_http_store_is_an_operation_failure():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OperationFailed, match="cannot fetch"):
        resolve(f"http://127.0.0.1:{port}/store", "e-office", "3.4.1")


# --- the commands in a region project ---------------------------------------------------------------------------

@pytest.fixture
def chosen(project: Path, cli) -> Path:
    result = cli("apps", "add", "--preset", "pandeglang-2021")
    assert result.exit_code == 0, result.output
    return project


def test_build_demo_in_a_project_sets_the_store_and_keeps_comments(chosen: Path, cli, catalog):
    before = (chosen / "region.yaml").read_text()
    result = cli("artifacts", "build-demo")
    assert result.exit_code == 0, result.output
    assert "sha256" in result.stdout and "artifacts.store = artifacts" in result.stdout
    after = (chosen / "region.yaml").read_text()
    assert after.startswith(before)
    assert after.endswith("artifacts: {store: artifacts}\n")
    index = read_index(chosen / "artifacts")
    chosen_ids = list(Project(chosen).profile().apps)
    expected = sorted(a for a in chosen_ids if catalog.get(a).kind.value in ("web", "service"))
    assert sorted(index["artifacts"]) == expected and "siasn" not in index["artifacts"]
    with_hosts(chosen)
    validated = cli("validate")
    assert validated.exit_code == 0, validated.output
    after = (chosen / "region.yaml").read_text()
    again = cli("artifacts", "build-demo")
    assert again.exit_code == 0 and (chosen / "region.yaml").read_text() == after


def test_list_and_verify(chosen: Path, cli):
    assert cli("artifacts", "build-demo").exit_code == 0
    listing = cli.json("artifacts", "list", "--json")
    assert listing["store"] == str(chosen / "artifacts")
    records = {r["id"]: r for r in listing["artifacts"]}
    assert records["e-office"]["version"] == "3.4.1" and records["e-office"]["present"]
    assert all(r["present"] and r["label"] == WORKLOAD_LABEL for r in records.values())
    table = cli("artifacts", "list")
    assert table.exit_code == 0 and "e-office" in table.stdout and records["e-office"]["sha256"][:12] in table.stdout
    verified = cli("artifacts", "verify")
    assert verified.exit_code == 0, verified.output
    assert f"{len(records)} artifacts present with the right sha256" in verified.stdout

    archive = only_file(chosen / "artifacts")
    archive.write_bytes(archive.read_bytes() + b"x")
    tampered = cli("artifacts", "verify")
    assert tampered.exit_code == 2
    assert "e-office 3.4.1: sha256 mismatch: expected" in tampered.stderr
    report = json.loads(cli("artifacts", "verify", "--json").stdout)
    assert report["ok"] is False and not any(r["ok"] for r in report["artifacts"])

    archive.unlink()
    missing = cli("artifacts", "verify")
    assert missing.exit_code == 2 and "missing file" in missing.stderr
    assert not any(r["present"] for r in cli.json("artifacts", "list", "--json")["artifacts"])


def test_verify_names_an_app_missing_from_the_store(chosen: Path, cli):
    assert cli("artifacts", "build-demo").exit_code == 0
    index_path = chosen / "artifacts" / INDEX_NAME
    index = json.loads(index_path.read_text())
    index["artifacts"]["e-office"] = {"3.3.0": index["artifacts"]["e-office"]["3.4.1"]}
    index_path.write_text(json.dumps(index))
    result = cli("artifacts", "verify")
    assert result.exit_code == 2
    assert "no version 3.4.1 of app 'e-office'" in result.stderr and "3.3.0" in result.stderr
    listing = cli.json("artifacts", "list", "--json")
    [record] = [r for r in listing["artifacts"] if r["id"] == "e-office"]
    assert record["in_index"] is False and record["present"] is False


def test_commands_without_a_store_or_apps_say_so(project: Path, cli):
    for command in ("list", "verify"):
        result = cli("artifacts", command)
        assert result.exit_code == 2
        assert "no artifact store is named" in result.stderr and "build-demo" in result.stderr
    result = cli("artifacts", "build-demo")
    assert result.exit_code == 2 and "no web or service app is chosen" in result.stderr
    assert "Traceback" not in result.output


def test_build_demo_to_another_folder_and_without_touching_the_profile(chosen: Path, cli, tmp_path: Path):
    before = (chosen / "region.yaml").read_text()
    result = cli("artifacts", "build-demo", tmp_path / "elsewhere", "--no-set-store")
    assert result.exit_code == 0, result.output
    assert (chosen / "region.yaml").read_text() == before
    assert (tmp_path / "elsewhere" / INDEX_NAME).is_file()
    result = cli("artifacts", "build-demo", "shared-store")
    assert result.exit_code == 0, result.output
    assert (chosen / "region.yaml").read_text().endswith("artifacts: {store: shared-store}\n")


def test_build_demo_outside_a_project_covers_every_web_and_service_app(tmp_path: Path, cli, monkeypatch, catalog):
    monkeypatch.chdir(tmp_path)
    info = cli.json("artifacts", "build-demo", "store", "--json")
    expected = {a.id: a.version for a in catalog.apps.values() if a.kind.value in ("web", "service")}
    assert info["apps"] == expected and info["profile_store"] is None
    assert sorted(read_index(tmp_path / "store")["artifacts"]) == sorted(expected)
    assert info["sha256"] == hashlib.sha256(workload_archive()).hexdigest()
    result = cli("artifacts", "build-demo")
    assert result.exit_code == 2 and "no region.yaml" in result.stderr


def test_gzip_stream_is_valid():
    assert tarfile.open(fileobj=io.BytesIO(gzip.decompress(workload_archive()))).getnames()


def test_artifacts_module_is_documented():
    assert artifacts.__doc__ and "index.json" in artifacts.__doc__


def test_list_and_verify_from_an_http_store(chosen: Path, cli):
    assert cli("artifacts", "build-demo").exit_code == 0
    folder = chosen / "artifacts"
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        Project(chosen).write_artifacts_store(base)
        listing = cli.json("artifacts", "list", "--json")
        assert listing["store"] == base
        assert all(r["present"] and r["location"].startswith(base + "/") for r in listing["artifacts"])
        assert cli("artifacts", "verify").exit_code == 0
        only_file(folder).unlink()
        result = cli("artifacts", "verify")
        assert result.exit_code == 2 and "HTTP 404" in result.stderr
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_store_that_is_a_file_or_cannot_be_written_is_reported(tmp_path: Path, catalog):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        build_demo_store(tmp_path / "file", catalog, ["e-office"])
    with pytest.raises(OperationFailed, match="cannot write the artifact store"):
        build_demo_store(tmp_path / "file" / "below", catalog, ["e-office"])


# --- nothing reaches a server before it is verified (issue 11, item 15) -------------------------------------------

def test_a_wrong_artifact_in_a_folder_store_is_refused_on_the_control_node(chosen: Path, cli, catalog):
    from regionkit.provision.rollout import Rollout

    assert cli("artifacts", "build-demo").exit_code == 0
    archive = only_file(chosen / "artifacts")
    data = archive.read_bytes()
    archive.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    project = Project(chosen)
    with pytest.raises(OperationFailed, match="sha256 mismatch"):
        Rollout(project, catalog, project.profile()).fetch_artifacts()


def test_what_the_playbook_copies_is_a_verified_copy_not_the_stores_file(chosen: Path, cli, catalog):
    from regionkit.provision.rollout import Rollout

    assert cli("artifacts", "build-demo").exit_code == 0
    archive = only_file(chosen / "artifacts")
    project = Project(chosen)
    found = Rollout(project, catalog, project.profile()).fetch_artifacts()
    assert found and all(Path(a.path) != archive and sha256(Path(a.path)) == a.sha256 for a in found.values())
    archive.write_bytes(b"changed after the check")  # what the store holds now never reaches a server
    assert all(sha256(Path(a.path)) == a.sha256 for a in found.values())


@pytest.mark.parametrize("store", ["long-name", "fifo", "zero"])
def test_a_store_that_cannot_be_read_as_a_folder_with_an_index_file_is_refused(tmp_path, store):
    if store == "long-name":
        folder = tmp_path / ("A" * 300)  # longer than a file name may be: stat() fails with ENAMETOOLONG
    else:
        folder = tmp_path / "store"
        folder.mkdir()
        if store == "fifo":
            os.mkfifo(folder / INDEX_NAME)  # opening it for reading would wait for a writer forever
        else:
            (folder / INDEX_NAME).symlink_to("/dev/zero")  # reading it would never end
    with pytest.raises(InputError) as refused:
        Store.open(folder)
    assert str(folder) in str(refused.value)
