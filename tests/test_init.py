"""`regionkit init`: profiles from the Kemendagri table, prompting, refusals that leave nothing behind."""

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import make_png

from regionkit.project.files import Project


def profile_of(root: Path) -> dict:
    return yaml.safe_load((root / "region.yaml").read_text())


def test_pandeglang_from_the_code_table(cli, tmp_path):
    root = tmp_path / "pdg"
    result = cli("init", root, "--region", "36.01", "--no-input")
    assert result.exit_code == 0, result.output
    data = profile_of(root)
    region = data["region"]
    assert (region["code"], region["name"], region["kind"]) == ("36.01", "Kabupaten Pandeglang", "kabupaten")
    assert (region["province"], region["capital"], region["timezone"]) == ("Banten", "Pandeglang", "Asia/Jakarta")
    assert region["domain"] == "pandeglangkab.go.id" and region["head"]["title"] == "Bupati"
    kecamatan = [u for u in data["units"] if u["kind"] == "kecamatan"]
    assert len(kecamatan) == 35
    assert {"code": "kec-labuan", "name": "Kecamatan Labuan", "kind": "kecamatan", "wilayah": "36.01.12"} in kecamatan
    opd = {u["acronym"] for u in data["units"] if u["kind"] == "opd"}
    assert {"SETDA", "SETWAN", "INSPEKTORAT", "DISKOMINFO", "DINKES", "BAPPEDA", "BPKAD", "RSUD"} <= opd
    assert data["apps"] == {} and data["hosts"] == []
    for name in (".gitignore", "README.md", "assets"):
        assert (root / name).exists()
    ignored = (root / ".gitignore").read_text()
    assert "*vault-pass*" in ignored and "*vault_pass*" in ignored and "/.regionkit/" in ignored
    assert "Kabupaten Pandeglang" in (root / "README.md").read_text()
    assert cli("-C", root, "validate").exit_code == 0


@pytest.mark.parametrize("code, name, zone, kind", [
    ("73.71", "Kota Makassar", "Asia/Makassar", "kota"),
    ("91.03", None, "Asia/Jayapura", "kabupaten"),
    ("61.71", "Kota Pontianak", "Asia/Pontianak", "kota"),
])
def test_time_zones_and_kinds(cli, tmp_path, code, name, zone, kind):
    root = tmp_path / code
    assert cli("init", root, "--region", code, "--no-input").exit_code == 0
    region = profile_of(root)["region"]
    assert region["timezone"] == zone and region["kind"] == kind
    if name:
        assert region["name"] == name
    assert region["domain"].endswith("kota.go.id" if kind == "kota" else "kab.go.id")


def test_province_level_adopter(cli, tmp_path):
    root = tmp_path / "banten"
    assert cli("init", root, "--region", "36", "--no-input").exit_code == 0
    data = profile_of(root)
    assert data["region"]["name"] == "Provinsi Banten" and data["region"]["kind"] == "provinsi"
    assert data["region"]["domain"] == "bantenprov.go.id" and data["region"]["head"]["title"] == "Gubernur"
    assert {u["kind"] for u in data["units"]} == {"opd"}
    assert "DISDUKCAPIL" not in {u["acronym"] for u in data["units"]}
    assert cli("-C", root, "validate").exit_code == 0


def test_institution_with_a_parent(cli, tmp_path):
    root = tmp_path / "polres"
    result = cli("init", root, "--institution", "Polres Metro Tangerang Kota", "--parent", "36.71", "--no-input",
                 "--head-title", "Kapolres")
    assert result.exit_code == 0, result.output
    region = profile_of(root)["region"]
    assert region["code"] is None and region["parent"] == "36.71" and region["kind"] == "institution"
    assert region["timezone"] == "Asia/Jakarta" and region["province"] == "Banten"
    assert region["head"]["title"] == "Kapolres"
    assert cli("-C", root, "validate").exit_code == 0


def test_logo_is_checked_and_copied(cli, tmp_path, png_logo):
    root = tmp_path / "pdg"
    assert cli("init", root, "--region", "36.01", "--no-input", "--logo", png_logo).exit_code == 0
    assert profile_of(root)["region"]["logo"] == "assets/logo.png"
    assert (root / "assets" / "logo.png").read_bytes() == png_logo.read_bytes()
    assert cli("-C", root, "validate").exit_code == 0


@pytest.mark.parametrize("args, message", [
    (["--region", "36.99"], "unknown region code '36.99'"),
    (["--region", "pandeglang"], "36.01 Kabupaten Pandeglang"),
    (["--institution", "Polres X"], "needs --parent"),
    (["--region", "36.01", "--institution", "X", "--parent", "36.71"], "either --region or --institution"),
    (["--region", "36.01", "--domain", "Not A Domain"], "region.domain"),
    ([], "say which region"),
])
def test_bad_requests_leave_nothing(cli, tmp_path, args, message):
    root = tmp_path / "new"
    result = cli("init", root, "--no-input", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not root.exists()
    assert list(tmp_path.iterdir()) == []


def test_fake_logo_is_refused_and_nothing_is_created(cli, tmp_path):
    fake = tmp_path / "logo.png"
    fake.write_bytes(b"this is not a png")
    result = cli("init", tmp_path / "new", "--region", "36.01", "--no-input", "--logo", fake)
    assert result.exit_code == 2
    assert f"{fake}: logo: not a PNG or SVG" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logo.png"]


def test_never_overwrites(cli, tmp_path, project):
    before = (project / "region.yaml").read_bytes()
    again = cli("init", project, "--region", "73.71", "--no-input")
    assert again.exit_code == 2 and "already a region project" in again.stderr
    assert (project / "region.yaml").read_bytes() == before
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    result = cli("init", busy, "--region", "36.01", "--no-input")
    assert result.exit_code == 2 and "not an empty folder" in result.stderr
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("init", empty, "--region", "36.01", "--no-input").exit_code == 0


def test_prompts_for_what_is_missing(cli, tmp_path, monkeypatch):
    import regionkit.cli.init as init_cli

    monkeypatch.setattr(init_cli, "_interactive", lambda no_input: not no_input)
    logo = tmp_path / "logo.png"
    logo.write_bytes(make_png())
    answers = "\n".join(["36.99", "36.01", "", "Irna Narulita", "nope.png", "", "", str(logo)]) + "\n"
    result = cli.runner.invoke(init_cli_app(), ["init", str(tmp_path / "pdg")], input=answers)
    assert result.exit_code == 0, result.output
    assert "unknown region code '36.99'" in result.output  # asked again after a bad code
    region = profile_of(tmp_path / "pdg")["region"]
    assert region["name"] == "Kabupaten Pandeglang" and region["head"]["name"] == "Irna Narulita"
    assert region["domain"] == "pandeglangkab.go.id" and region["logo"] == "assets/logo.png"


def test_no_input_never_prompts_even_with_missing_answers(cli, tmp_path, monkeypatch):
    import regionkit.cli.init as init_cli

    monkeypatch.setattr(init_cli.sys.stdin, "isatty", lambda: True, raising=False)
    result = cli("init", tmp_path / "x", "--no-input")
    assert result.exit_code == 2 and "say which region" in result.stderr


def test_prompting_on_a_real_terminal(tmp_path):
    """The real process on a pseudo-terminal: it asks, we answer, it creates the project."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "regionkit", "init", str(tmp_path / "kota")],
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    seen = b""
    answers = iter([b"73.71\n", b"\n", b"Munafri Arifuddin\n", b"\n"])
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            seen += chunk
            if chunk.rstrip().endswith((b":", b"]:")):
                os.write(master, next(answers, b"\n"))
    proc.wait(timeout=10)
    os.close(master)
    assert proc.returncode == 0, seen.decode(errors="replace")
    assert b"Region code" in seen and b"Domain" in seen
    region = profile_of(tmp_path / "kota")["region"]
    assert region["name"] == "Kota Makassar" and region["head"]["name"] == "Munafri Arifuddin"


def init_cli_app():
    from regionkit.cli import app

    return app


def test_every_code_in_the_table_gives_a_valid_profile():
    from regionkit.project.region import Profile
    from regionkit.project.scaffold import InitOptions, propose_profile
    from regionkit.project.wilayah import code_table

    table = code_table()
    for code in [*table.provinces, *table.regencies]:
        profile = Profile.model_validate(propose_profile(InitOptions(region=code)))
        assert profile.region.code == code
        if code in table.regencies:
            assert len([u for u in profile.units if u.kind == "kecamatan"]) == len(table.districts_of(code))


def test_git_add_all_in_a_project_takes_no_secret_and_no_run_state(project):
    """The project's .gitignore, checked by git itself (issue 11, items 8 and 10)."""
    import subprocess

    left_out = [".vault-pass", ".vault-password", "office.vault-pass", "vault-pass.old",
                ".regionkit/vault-pass.4242.tmp", ".regionkit/ansible/vars.yml", ".regionkit/ansible/inventory.yml",
                ".regionkit/runs/20261123/result.json", ".regionkit/lock", ".regionkit/cache/artifacts/a.tar.gz",
                ".regionkit/preflight/inventory.yml", "build/manifest.json", ".build.staging-x1y2/manifest.json",
                ".build.old-x1y2/build/manifest.json", "regionkit-bundle-36.01-20261123.tar",
                "regionkit-bundle-36.01-20261123/project/region.yaml", ".regionkit-bundle-abc/stage/x",
                "keys/id_ed25519", ".region.yaml.abc.tmp"]
    kept = ["region.yaml", ".gitignore", "README.md", "ledger.jsonl", "agreements.yaml", "secrets.vault.yml",
            "assets/logo.png", "templates/apps/kinds/web/x.txt", "known_hosts"]
    # The same from Project, which defines the project's paths: its local files stay out, its committed ones in.
    files = Project(project)
    left_out += [p.relative_to(project).as_posix() for p in (
        files.password_path, files.build_dir / "manifest.json", files.runs_dir / "x" / "result.json",
        files.ansible_dir / "vars.yml", files.preflight_dir / "inventory.yml", files.artifact_cache / "a.tar.gz",
        files.lock_path, files.edit_lock_path)]
    kept += [p.relative_to(project).as_posix() for p in (
        files.profile_path, files.ledger_path, files.agreements_path, files.vault_path, files.gitignore_path)]
    for name in left_out + kept:
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text("x\n")
    git = ["git", "-c", "core.excludesFile=/dev/null", "-C", str(project)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    tracked = set(subprocess.run([*git, "ls-files"], check=True, capture_output=True, text=True).stdout.split())
    assert tracked.isdisjoint(left_out), sorted(tracked & set(left_out))
    assert set(kept) <= tracked, sorted(set(kept) - tracked)
