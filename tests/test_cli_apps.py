"""`regionkit apps ...` inside a project: edits keep comments, refusals change nothing."""

import hashlib
from pathlib import Path

import pytest
import yaml


def digest(root: Path) -> str:
    return hashlib.sha256((root / "region.yaml").read_bytes()).hexdigest()


def test_add_preset_with_dependencies(cli, project):
    result = cli("apps", "add", "--preset", "pandeglang-2021")
    assert result.exit_code == 0, result.output
    assert "added: e-office, portal-egov, sigap, e-kinerja, open-data, server-hosting" in result.stdout
    assert "added because chosen apps need them: sso" in result.stdout
    apps = yaml.safe_load((project / "region.yaml").read_text())["apps"]
    assert apps["e-office"] == {} and apps["sso"] == {"auto": True}
    listed = cli.json("apps", "list", "--json")
    ids = [r["id"] for r in listed]
    assert ids.index("sso") < ids.index("e-office")
    assert {r["id"] for r in listed if r["integration"]} >= {"sp4n-lapor"}
    assert all(r["known"] for r in listed)


def test_edits_keep_comments_and_the_rest_of_the_file(cli, project):
    before = (project / "region.yaml").read_text()
    assert cli("apps", "add", "e-office").exit_code == 0
    after = (project / "region.yaml").read_text()
    assert "# Servers. roles: web" in after and "# Organisational units" in after
    unchanged = [line for line in before.splitlines() if not line.startswith("apps:")]
    assert all(line in after.splitlines() for line in unchanged)
    assert cli("apps", "remove", "e-office").exit_code == 0
    assert (project / "region.yaml").read_text() == before


def test_typical_adopter_preset_is_about_thirty_apps(cli, project):
    presets = {p["id"]: p for p in cli.json("apps", "presets", "--json")}
    assert 25 <= len(presets["typical-adopter"]["apps"]) <= 35
    assert cli("apps", "add", "--preset", "typical-adopter").exit_code == 0
    chosen = cli.json("apps", "list", "--json")
    assert len([r for r in chosen if not r["auto"]]) == len(presets["typical-adopter"]["apps"])


def test_remove_refused_with_reason_and_nothing_changes(cli, project):
    cli("apps", "add", "e-office")
    before = digest(project)
    result = cli("apps", "remove", "sso")
    assert result.exit_code == 2
    assert "sso is needed by" in result.stderr and "e-office" in result.stderr and "--cascade" in result.stderr
    assert digest(project) == before
    cascade = cli("apps", "remove", "sso", "--cascade", "--json")
    assert cascade.exit_code == 0
    assert yaml.safe_load((project / "region.yaml").read_text())["apps"] == {}


@pytest.mark.parametrize("args, message", [
    (["apps", "add", "e-ofice"], "did you mean: e-office"),
    (["apps", "add", "--preset", "pandeglang"], "unknown preset 'pandeglang'"),
    (["apps", "add"], "name the apps to add"),
    (["apps", "remove", "laksa"], "not chosen: laksa"),
])
def test_bad_requests_change_nothing(cli, project, args, message):
    before = digest(project)
    result = cli(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert digest(project) == before


def test_a_broken_profile_is_reported_and_left_alone(cli, project):
    profile = project / "region.yaml"
    profile.write_text(profile.read_text().replace("  - code: dinkes\n", "  - code: setda\n"))
    before = digest(project)
    result = cli("apps", "add", "e-office")
    assert result.exit_code == 2
    assert "duplicate code 'setda'" in result.stderr and "region.yaml:" in result.stderr
    assert digest(project) == before


def test_commands_find_the_project_from_a_subfolder_or_with_C(cli, project, tmp_path, monkeypatch):
    monkeypatch.chdir(project / "assets")
    assert cli("apps", "add", "e-office").exit_code == 0
    monkeypatch.chdir(tmp_path)
    assert len(cli.json("-C", project, "apps", "list", "--json")) > 1
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    result = cli("apps", "list")
    assert result.exit_code == 2 and "no region.yaml" in result.stderr and "regionkit init" in result.stderr


def test_concurrent_apps_add_keep_every_addition(project):
    """Two `apps add` processes and a third edit at once: each holds the project's edit lock for its whole
    read-compute-write, so none works from a profile another has changed since, and every addition lands.

    This test holds the lock itself while both processes start, so both are waiting when it writes its own
    addition; a command that read region.yaml before taking the lock (or took none) would drop one of them."""
    from regionkit.project.files import Project, chosen_apps, set_choice
    from tests.locks import finish, start, wait_until_blocked

    root = Project(project)
    with root.editing() as document:
        started = [start("-C", project, "apps", "add", app_id) for app_id in ("open-data", "sigap")]
        wait_until_blocked(root.edit_lock_path, started)
        set_choice(document, root.profile_path, {**chosen_apps(root.profile()), "e-office": False})
    finish(started)
    apps = yaml.safe_load(root.profile_path.read_text())["apps"]
    assert {"e-office", "open-data", "sigap", "sso"} <= set(apps)
