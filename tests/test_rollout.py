"""A rollout prepared once (regionkit.provision.rollout): opened from a project or from a field bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import with_hosts

from regionkit import __version__
from regionkit.catalog.model import load_catalog
from regionkit.errors import InputError, ValidationFailed
from regionkit.field import bundle, packing
from regionkit.project.files import Project
from regionkit.provision.rollout import Rollout


def bundle_of(project: Path, tmp_path: Path, kit_version: str = __version__) -> Path:
    """A bundle holding `project` (no artifacts, packages or wheels: what `create` adds is not needed here)."""
    stage = tmp_path / "stage"
    shutil.copytree(project, stage / bundle.PROJECT, ignore=shutil.ignore_patterns(".regionkit", ".vault-pass"))
    (stage / "playbooks").mkdir()
    (stage / "playbooks" / "site.yml").write_text("- hosts: all\n")
    (stage / "debs").mkdir()
    (stage / "debs" / "Packages").write_text("")
    manifest = {"format": bundle.FORMAT, "kit_version": kit_version, "created": "2026-11-23T00:00:00Z",
                "region": {"code": "36.01", "name": "Kabupaten Pandeglang"}, "apps": [],
                "files": packing._hash_tree(stage)}
    (stage / bundle.MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    out = tmp_path / "field.tar"
    packing._write_tar(stage, out, 0)
    return out


def test_a_bundle_opens_as_a_rollout_with_its_own_playbooks_and_packages(project, tmp_path):
    with_hosts(project)
    rollout = Rollout.from_bundle(bundle_of(project, tmp_path), load_catalog())
    workdir = tmp_path / "field"  # the default: the bundle's name without .tar, next to it
    assert rollout.project.root == workdir / bundle.PROJECT
    assert rollout.playbooks == workdir / "playbooks" and (rollout.playbooks / "site.yml").is_file()
    assert rollout.apt_repo == workdir / bundle.DEBS_ARCHIVE and rollout.apt_repo.is_file()
    assert rollout.bundle is not None and rollout.bundle.manifest["kit_version"] == __version__
    assert [h.name for h in rollout.profile.hosts] == ["web1", "db1"]
    again = Rollout.from_bundle(tmp_path / "field.tar", load_catalog(), workdir=workdir)  # reused, not re-extracted
    assert again.project.root == rollout.project.root


def test_a_bundle_of_another_regionkit_version_is_refused_naming_its_wheels(project, tmp_path):
    file = bundle_of(project, tmp_path, kit_version="9.9.9")
    with pytest.raises(InputError, match=f"made by regionkit 9.9.9; this is regionkit {__version__}") as refused:
        Rollout.from_bundle(file, load_catalog(), workdir=tmp_path / "w")
    assert refused.value.hint is not None and str(tmp_path / "w" / "wheels") in refused.value.hint
    assert "regionkit==9.9.9" in refused.value.hint


def test_opening_checks_the_project_and_says_what_for(project):
    (project / "region.yaml").write_text((project / "region.yaml").read_text().replace("36.01", "99.99", 1))
    with pytest.raises(ValidationFailed, match="fix these before bundling"):
        Rollout.open(Project(project), load_catalog(), "bundling")


def test_prepare_renders_unlocks_fetches_and_plans_once(project, cli):
    with_hosts(project)
    assert cli("apps", "add", "e-office").exit_code == 0
    assert cli("artifacts", "build-demo").exit_code == 0
    rollout = Rollout.open(Project(project), load_catalog()).prepare()
    assert rollout.build is not None and (project / "build" / "manifest.json").is_file()
    assert rollout.vault is not None and rollout.secret_values  # the apps' secrets were generated
    assert not any(value in repr(rollout) for value in rollout.secret_values + [rollout.password.value.decode()])
    assert set(rollout.artifacts) <= {a["id"] for a in rollout.apps}
    assert "e-office" in rollout.artifacts and rollout.artifacts["e-office"].path.is_file()
    assert [a["id"] for a in rollout.apps][-1] == "e-office"  # dependencies first
