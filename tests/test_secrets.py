"""Secrets: generated per region, vault-encrypted at rest (0600), listed by name only, rotated on request."""

import os
import stat

import pytest
from conftest import with_hosts

from regionkit.errors import InputError
from regionkit.project.files import Project
from regionkit.provision.secrets import Vault, redact, vault_password


def test_init_makes_a_private_vault_password(project):
    path = project / ".vault-pass"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().strip()) >= 32
    assert ".vault-pass" in (project / ".gitignore").read_text()


def test_generate_list_rotate_never_show_values(cli, project):
    with_hosts(project)
    cli("apps", "add", "e-office")
    result = cli("secrets", "generate")
    assert result.exit_code == 0 and "e-office/db_password" in result.stdout
    vault_file = Project(project).vault_path
    assert stat.S_IMODE(vault_file.stat().st_mode) == 0o600
    raw = vault_file.read_bytes()
    assert raw.startswith(b"$ANSIBLE_VAULT;1.1;AES256")
    vault = Vault(project, vault_password(project))
    values = vault.values()
    assert values and all(v.encode() not in raw for v in values)
    listed = cli("secrets", "list")
    assert listed.exit_code == 0 and "e-office/app_key" in listed.stdout
    names = cli.json("secrets", "list", "--json")
    assert {n["name"] for n in names} >= {"e-office/db_password", "e-office/app_key", "sso/db_password"}
    for output in (result.output, listed.output, str(names)):
        assert not any(v in output for v in values)
    old = dict(vault.read()["regionkit_secrets"]["e-office"])
    assert cli("secrets", "rotate", "e-office/db_password").exit_code == 0
    new = vault.read()["regionkit_secrets"]["e-office"]
    assert new["db_password"] != old["db_password"] and new["app_key"] == old["app_key"]
    assert cli("secrets", "generate").stdout.startswith("created 0 secrets")
    missing = cli("secrets", "rotate", "e-office/nope")
    assert missing.exit_code == 2 and "no secret named" in missing.stderr


def test_password_sources_and_refusals(project, tmp_path, monkeypatch):
    (project / ".vault-pass").unlink()
    monkeypatch.delenv("REGIONKIT_VAULT_PASSWORD", raising=False)
    monkeypatch.delenv("REGIONKIT_VAULT_PASSWORD_FILE", raising=False)
    with pytest.raises(InputError, match="no vault password"):
        vault_password(project)
    monkeypatch.setenv("REGIONKIT_VAULT_PASSWORD", "from-env")
    assert vault_password(project).value == b"from-env"
    loose = tmp_path / "pw"
    loose.write_text("from-file\n")
    os.chmod(loose, 0o644)
    with pytest.raises(InputError, match="readable by others"):
        vault_password(project, loose)
    os.chmod(loose, 0o600)
    assert vault_password(project, loose).value == b"from-file"
    monkeypatch.delenv("REGIONKIT_VAULT_PASSWORD")
    assert vault_password(project, prompt=lambda: "typed").value == b"typed"


def test_wrong_password_is_a_clear_error(cli, project, monkeypatch):
    with_hosts(project)
    cli("apps", "add", "e-office")
    cli("secrets", "generate")
    monkeypatch.setenv("REGIONKIT_VAULT_PASSWORD", "Zq9-not-the-password")
    (project / ".vault-pass").rename(project / "elsewhere")
    result = cli("secrets", "list")
    assert result.exit_code == 2 and "cannot decrypt" in result.stderr and "REGIONKIT_VAULT_PASSWORD" in result.stderr
    assert "Zq9-not-the-password" not in result.stderr


def test_redact():
    assert redact("pw=abc123 and abc123x", ["abc123"]) == "pw=******** and ********x"
