"""A field rollout from a bundle alone: regionkit installed from its wheels with no package index, then
`deploy --bundle` onto sandbox servers whose apt caches were emptied, so every package comes from the bundle.

Creating the bundle gathers wheels and Debian packages (from the local caches, else the package registries);
the field part runs with no index and proxies pointing nowhere. Traffic goes only to the sandbox's addresses.
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.fleet import fresh_sandbox, sample_project, sandbox_get
from tests.test_bundle import first_check

pytestmark = pytest.mark.fleet

SANDBOX = "rkbndl"
SUBNET = "10.77.4.0/24"
# The field laptop: no package index, and any HTTP(S) it would attempt goes to a closed local port.
OFFLINE = {"PIP_NO_INDEX": "1", "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "no_proxy": "10.77.4.0/24",
           "REGIONKIT_OPERATOR": "field-team"}


def office(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "regionkit", "-C", str(project), *args], capture_output=True,
                          text=True, timeout=900)


def host_shell(host: str, script: str) -> str:
    from regionkit.provision import sandbox

    return sandbox.exec_in(SANDBOX, host, ["sh", "-c", script]).stdout


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    with fresh_sandbox(SANDBOX, SUBNET) as state:
        base = tmp_path_factory.mktemp("bundle")
        # e-Office and what it needs (6 apps, MariaDB and PostgreSQL): the whole stack, in less time than the
        # 2021 package that test_deploy_fleet deploys.
        project = sample_project(base / "office" / "pandeglang", state, "e-office", preset=None)
        assert office(base, "bundle", "keygen", str(base / "office" / "sign.key")).returncode == 0
        bundle = base / "usb" / "pandeglang.tar"
        bundle.parent.mkdir()
        created = office(project, "bundle", "create", "--out", str(bundle), "--sign-key",
                         str(base / "office" / "sign.key"), "--json")
        assert created.returncode == 0, created.stderr[-3000:]
        # Onsite, first with tools the laptop already trusts: the field guide's own check (openssl verifies the
        # signature, sha256sum every wheel), then regionkit into a fresh venv from the checked wheels, no index.
        shutil.copyfile(base / "office" / "sign.key.pub.pem", bundle.parent / "kominfo-bundle.key.pub.pem")
        checked = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", first_check("field-guide.md")],
                                 cwd=bundle.parent, capture_output=True, text=True, timeout=300)
        assert checked.returncode == 0 and "Signature Verified Successfully" in checked.stdout, checked.stderr
        wheels = bundle.parent / "pandeglang-check" / "wheels"
        laptop = base / "laptop"
        laptop.mkdir()
        venv = laptop / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        env = {**os.environ, **OFFLINE}
        installed = subprocess.run([str(venv / "bin/pip"), "install", "--quiet", "--disable-pip-version-check",
                                    "--no-index", "--find-links", str(wheels), "--require-hashes",
                                    "-r", str(wheels / "requirements.txt")], capture_output=True, text=True,
                                   env=env, cwd=laptop, timeout=600)
        for host in ("h1", "h2"):  # nothing to install from but the bundle
            host_shell(host, "rm -f /var/cache/apt/archives/*.deb")
        deploy = [str(venv / "bin/regionkit"), "deploy", "--bundle", str(bundle), "--public-key",
                  str(base / "office" / "sign.key.pub"), "--vault-password-file", str(project / ".vault-pass"),
                  "--json"]
        first = subprocess.run(deploy, capture_output=True, text=True, env=env, cwd=laptop, timeout=1200)
        yield {"base": base, "project": project, "bundle": bundle, "created": created, "venv": venv,
               "installed": installed, "first": first, "deploy": deploy, "env": env, "laptop": laptop,
               "workdir": bundle.with_suffix("")}


def test_the_bundle_carries_everything_and_verifies_signed(field):
    record = json.loads(field["created"].stdout)
    assert record["signature_checked"] and record["region"]["code"] == "36.01"
    contents = record["contents"]
    assert contents["artifacts"] >= 2 and contents["playbooks"] > 20 and contents["debs"] > 50
    with tarfile.open(field["bundle"]) as tar:
        names = tar.getnames()
    assert "project/secrets.vault.yml" in names and "project/build/manifest.json" in names
    assert not any(n.endswith(".vault-pass") or "/.regionkit/" in n for n in names)
    assert any(n.startswith("debs/nginx_") for n in names) and "debs/Packages" in names
    assert any(n.startswith("wheels/regionkit-") for n in names)
    assert any(n.startswith("wheels/ansible_core-2.19") for n in names)


def test_regionkit_installs_from_the_bundle_with_no_package_index(field):
    assert field["installed"].returncode == 0, field["installed"].stderr[-2000:]
    version = subprocess.run([str(field["venv"] / "bin/regionkit"), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and "0.1.0" in version.stdout


def test_deploy_from_the_bundle_alone_completes_with_packages_from_the_bundle(field):
    first = field["first"]
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    assert json.loads(first.stdout)["status"] == "succeeded"
    assert "/etc/apt/sources.list.d/regionkit-bundle.list" in host_shell(
        "h2", "ls /etc/apt/sources.list.d/regionkit-bundle.list")
    for host, package in (("h2", "nginx"), ("h2", "php8.2-fpm"), ("h1", "mariadb-server")):
        status = host_shell(host, f"dpkg-query -W -f '${{db:Status-Abbrev}}' {package}")
        assert status.startswith("ii"), (host, package, status)
    assert host_shell("h2", "ls /var/cache/apt/archives/*.deb 2>/dev/null | wc -l").strip() == "0"
    web = next(h["address"] for h in json.loads(json.dumps(_hosts(field))) if "web" in h["roles"])
    status, body = sandbox_get(SUBNET, web, "e-office.pandeglangkab.go.id", "/health")
    health = json.loads(body)
    assert status == 200 and health["region"] == "Kabupaten Pandeglang" and health["database"]["ok"]


def test_the_field_run_is_recorded_in_the_bundles_project(field):
    workdir = field["workdir"]
    entries = [json.loads(line) for line in (workdir / "project/ledger.jsonl").read_text().splitlines()]
    assert entries and {e["operator"] for e in entries} == {"field-team"}
    assert "e-office" in {e["app"] for e in entries}
    verify = subprocess.run([str(field["venv"] / "bin/regionkit"), "-C", str(workdir / "project"), "audit",
                             "verify"], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    assert not (field["project"] / "ledger.jsonl").exists()  # the office copy is untouched until brought back


def test_a_second_run_reuses_the_extracted_bundle_and_changes_nothing(field):
    again = subprocess.run(field["deploy"], capture_output=True, text=True, env=field["env"], cwd=field["laptop"],
                           timeout=1200)
    assert again.returncode == 0, again.stderr[-3000:]
    result = json.loads(again.stdout)
    assert all(h["changed"] == 0 and h["failed"] == 0 for h in result["hosts"].values()), result["hosts"]


def _hosts(field) -> list[dict]:
    import yaml

    return yaml.safe_load((field["workdir"] / "project/region.yaml").read_text())["hosts"]
