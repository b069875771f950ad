"""Hostile bundle manifests and artifact store indexes (issue 11): every field with wrong types, huge numbers,
deep nesting and odd names. Each run must end in exit 0 or exit 2 with one line naming the file or member,
never an internal error, and nothing extracted or written on refusal."""

import base64
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regionkit.errors import InputError, ValidationFailed
from regionkit.field import bundle
from regionkit.provision.artifacts import INDEX_NAME, Store

BIG = "<a 5000-digit integer>"  # json.dumps cannot write one: put in by `dumps`
ODD_TEXT = st.one_of(st.text(max_size=30), st.sampled_from([
    "{{ lookup('pipe', 'touch marker') }}", "[/]", "[link=file:///etc/passwd]x[/link]", "a\nb", "../../etc/x",
    "/etc/passwd", "\0", "é", "x" * 5000, "MANIFEST.json", "project/", "project//x", "./x"]))
HUGE = st.sampled_from([10 ** 30, BIG, -1, 2 ** 63, 1e999, -1e999, float("nan"), 1.5, True, None])
LEAF = st.one_of(ODD_TEXT, HUGE, st.integers(), st.booleans(), st.none())
ANY = st.recursive(LEAF, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                  st.dictionaries(ODD_TEXT, inner, max_size=3)), max_leaves=10)
SHA = "0" * 64


def dumps(value) -> bytes:
    return json.dumps(value, allow_nan=True).replace(json.dumps(BIG), "7" * 5000).encode()


def good_manifest() -> dict:
    return {"format": 1, "kit_version": "0.1.0", "created": "2026-11-23T00:00:00Z",
            "region": {"code": "36.01", "name": "Kabupaten Pandeglang"}, "apps": ["e-office"],
            "files": {"project/region.yaml": {"sha256": SHA, "size": 1}}}


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@st.composite
def hostile_manifests(draw) -> bytes:
    manifest = good_manifest()
    where = draw(st.sampled_from(["format", "kit_version", "created", "region", "region.code", "region.name",
                                  "apps", "files", "files.entry", "files.sha256", "files.size", "extra",
                                  "name", "top", "deep"]))
    value = draw(ANY)
    if where == "top":
        return dumps(value)
    if where == "deep":
        return f'{{"format": 1, "files": {deep(draw(st.integers(500, 50000)))}}}'.encode()
    if where == "name":
        manifest["files"] = {draw(ODD_TEXT): {"sha256": SHA, "size": 1}}
    elif where.startswith("files."):
        key = where.split(".", 1)[1]
        if key == "entry":
            manifest["files"]["project/region.yaml"] = value
        else:
            manifest["files"]["project/region.yaml"][key] = value
    elif where.startswith("region."):
        manifest["region"][where.split(".", 1)[1]] = value
    else:
        manifest[where if where != "extra" else draw(ODD_TEXT) or "x"] = value
    return dumps(manifest)


def tar_with(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    private, public = bundle.generate_key(folder / "k")
    return bundle.load_private_key(private), public


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(manifest=hostile_manifests(), signed=st.booleans())
def test_a_hostile_manifest_is_refused_naming_it_and_nothing_is_extracted(tmp_path_factory, key, manifest, signed):
    folder = tmp_path_factory.mktemp("b")
    members = {bundle.MANIFEST: manifest, "project/region.yaml": b"x"}
    if signed:
        members[bundle.SIGNATURE] = base64.b64encode(key[0].sign(manifest)) + b"\n"
    path = folder / "b.tar"
    tar_with(path, members)
    dest = folder / "field"
    try:
        bundle.extract(path, dest, key[1] if signed else None)
    except ValidationFailed as refused:
        text = str(refused.problems[0])
        assert str(path) in text, text
        assert not dest.exists() and [p.name for p in folder.iterdir()] == ["b.tar"]
    else:  # only a manifest that is right in every field, with the right sha256, could pass: it cannot here
        pytest.fail("a manifest naming a wrong sha256 was accepted")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(manifest=hostile_manifests())
def test_bundle_verify_on_a_hostile_manifest_exits_2_with_one_clear_line(tmp_path_factory, manifest):
    folder = tmp_path_factory.mktemp("c")
    path = folder / "b.tar"
    tar_with(path, {bundle.MANIFEST: manifest, "project/region.yaml": b"x"})
    run = subprocess.run([sys.executable, "-m", "regionkit", "bundle", "verify", str(path)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    assert str(path) in run.stderr and "internal error" not in run.stderr.lower() and "Traceback" not in run.stderr


@st.composite
def hostile_indexes(draw) -> bytes:
    index = {"format": 1, "artifacts": {"e-office": {"3.4.1": {"file": "a.tar.gz", "sha256": SHA, "size": 1}}}}
    where = draw(st.sampled_from(["top", "format", "artifacts", "app", "version", "file", "sha256", "size",
                                  "label", "app-name", "version-name", "deep"]))
    value = draw(ANY)
    entry = index["artifacts"]["e-office"]["3.4.1"]
    if where == "top":
        return dumps(value)
    if where == "deep":
        return f'{{"format": 1, "artifacts": {deep(draw(st.integers(500, 50000)))}}}'.encode()
    if where in ("format", "artifacts"):
        index[where] = value
    elif where == "app":
        index["artifacts"]["e-office"] = value
    elif where == "version":
        index["artifacts"]["e-office"]["3.4.1"] = value
    elif where == "app-name":
        index["artifacts"] = {draw(ODD_TEXT): {"3.4.1": entry}}
    elif where == "version-name":
        index["artifacts"]["e-office"] = {draw(ODD_TEXT): entry}
    else:
        entry[where] = value
    return dumps(index)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=hostile_indexes())
def test_a_hostile_store_index_is_refused_naming_it_or_resolves_to_a_path_inside_the_store(tmp_path_factory,
                                                                                            index):
    store = tmp_path_factory.mktemp("store")
    (store / INDEX_NAME).write_bytes(index)
    before = sorted(p.name for p in store.iterdir())
    try:
        opened = Store.open(store)
        for app_id in list(opened.artifacts):
            for version in opened.versions(app_id):
                artifact = opened.resolve(app_id, version)
                assert Path(artifact.path_or_url).resolve().is_relative_to(store.resolve())
    except InputError as refused:
        assert INDEX_NAME in str(refused), str(refused)
    assert sorted(p.name for p in store.iterdir()) == before
