"""Preflight: what the chosen apps need per host, how a probe's answer is judged, and the control-node checks.

Hosts are never dialled here: the probe is replaced by synthetic answers (tests/test_preflight_fleet.py probes
real sandbox hosts).
"""

import json
import re
import tomllib
from pathlib import Path

import pytest
from conftest import with_hosts

from regionkit.catalog.model import InstallableApp, load_catalog
from regionkit.errors import InputError
from regionkit.project.files import Project
from regionkit.project.region import load_profile
from regionkit.provision import preflight
from regionkit.provision.preflight import HostNeeds, PortUse, Severity, evaluate, host_needs, select_hosts
from regionkit.provision.rollout import Rollout
from regionkit.provision.serverpaths import DATA as DATA_ROOT
from regionkit.provision.serverpaths import ROOT as APPS_ROOT

REPO = Path(__file__).resolve().parent.parent


def facts(**changes) -> dict:
    """A probe answer from a clean Debian 12 host with plenty of room, as root, in the region's zone."""
    answer = {
        "python": [3, 11, 2],
        "os": {"id": "debian", "version_id": "12", "pretty_name": "Debian GNU/Linux 12 (bookworm)"},
        "user": {"uid": 0, "passwordless_sudo": None},
        "disk": [{"path": APPS_ROOT, "checked": "/srv", "device": 1, "free_mb": 500_000, "total_mb": 900_000},
                 {"path": DATA_ROOT, "checked": "/var", "device": 2, "free_mb": 500_000, "total_mb": 900_000}],
        "memory": {"total_mb": 65_536, "available_mb": 60_000},
        "listeners": [{"address": "0.0.0.0", "port": 22, "pid": 310, "process": "sshd",
                       "cmdline": "sshd: /usr/sbin/sshd", "cwd": "/"}],
        "timezone": "Asia/Jakarta",
    }
    answer.update(changes)
    return answer


def listener(port: int, process: str | None, cmdline: str | None = None, cwd: str | None = "/",
             address: str = "0.0.0.0") -> dict:
    return {"address": address, "port": port, "pid": 4242 if process else None, "process": process,
            "cmdline": cmdline, "cwd": cwd}


def web_needs() -> HostNeeds:
    needs = HostNeeds(disk_mb={APPS_ROOT: 20_000}, memory_mb=4096)
    needs.claim(80, PortUse("nginx", ("nginx",)))
    needs.claim(8123, PortUse("app sso", app="sso"))
    return needs


def blockers(found):
    return [f for f in found if f.severity == Severity.BLOCKER]


# --- requirements ----------------------------------------------------------------------------------------------


@pytest.fixture
def pandeglang(cli, project):
    with_hosts(project)
    assert cli("apps", "add", "--preset", "pandeglang-2021", "website-opd").exit_code == 0
    return load_profile(project / "region.yaml")


def test_web_and_db_hosts_need_what_the_chosen_apps_declare(pandeglang):
    catalog = load_catalog()
    needs = host_needs(pandeglang, catalog)
    installable = [catalog.apps[a] for a in pandeglang.apps if isinstance(catalog.apps[a], InstallableApp)]
    with_db = [a for a in installable if a.kind.value != "unit-site" and a.database.value != "none"]
    web, db = needs["web1"], needs["db1"]
    assert web.disk_mb == {APPS_ROOT: sum(a.resources.disk_mb for a in installable)}
    assert web.memory_mb == sum(a.resources.memory_mb for a in installable)
    assert db.disk_mb == {DATA_ROOT: sum(a.resources.disk_mb for a in with_db)}
    assert db.memory_mb == 2 * preflight.DB_ENGINE_MEMORY_MB  # MariaDB and PostgreSQL
    assert sorted(db.ports) == [3306, 5432]
    # port 80 and the upstream port of every app served by its own process (not the PHP-FPM ones)
    services = {p: u.app for p, u in web.ports.items() if u.app}
    assert web.ports[80].user == "nginx"
    assert set(services.values()) == {"sso", "tte-gateway", "api-gateway", "notifikasi", "open-data"}
    assert all(8000 <= p < 9000 for p in services) and not web.clashes and not db.clashes


def test_a_host_with_both_roles_needs_both(cli, project):
    profile = project / "region.yaml"
    profile.write_text(profile.read_text().replace(
        "hosts: []\n", "hosts:\n  - {name: solo, address: 192.0.2.20, roles: [web, db]}\n"))
    assert cli("apps", "add", "e-office").exit_code == 0
    needs = host_needs(load_profile(profile), load_catalog())["solo"]
    assert set(needs.disk_mb) == {APPS_ROOT, DATA_ROOT} and {80, 3306} <= set(needs.ports)


def test_two_apps_on_one_port_block():
    needs = HostNeeds()
    needs.claim(8123, PortUse("app a", app="a"))
    needs.claim(8123, PortUse("app b", app="b"))
    found = evaluate("web1", needs, facts(), "Asia/Jakarta")
    assert [f.message for f in blockers(found)] == ["app a and app b both need port 8123"]


# --- judging a probe's answer ----------------------------------------------------------------------------------


def test_a_clean_host_has_nothing_to_report():
    assert evaluate("web1", web_needs(), facts(), "Asia/Jakarta") == []


def test_too_little_disk_blocks_naming_the_path_and_the_numbers():
    disk = [{"path": APPS_ROOT, "checked": APPS_ROOT, "device": 7, "free_mb": 1, "total_mb": 1}]
    found = evaluate("web1", web_needs(), facts(disk=disk), "Asia/Jakarta")
    assert [(f.host, f.check) for f in blockers(found)] == [("web1", "disk")]
    assert blockers(found)[0].message == (f"{APPS_ROOT}: 1 MB free, the deploy needs at least "
                                          f"{preflight.MIN_FREE_MB} MB (the apps declare 20000 MB)")


def test_less_than_declared_but_enough_to_deploy_is_a_warning():
    disk = [{"path": APPS_ROOT, "checked": "/", "device": 7, "free_mb": 2000, "total_mb": 2048}]
    found = evaluate("web1", web_needs(), facts(disk=disk), "Asia/Jakarta")
    assert not blockers(found)
    assert [(f.check, f.message) for f in found] == [
        ("disk", f"{APPS_ROOT}: 2000 MB free, the apps declare 20000 MB (their data included): add disk before it "
                 "fills")]


def test_paths_on_one_filesystem_add_up():
    needs = HostNeeds(disk_mb={APPS_ROOT: 300, DATA_ROOT: 300})
    shared = [{"path": APPS_ROOT, "checked": "/", "device": 3, "free_mb": 500, "total_mb": 900},
              {"path": DATA_ROOT, "checked": "/var", "device": 3, "free_mb": 500, "total_mb": 900}]
    found = evaluate("solo", needs, facts(disk=shared), "Asia/Jakarta")
    assert [f.message for f in found] == [f"{APPS_ROOT} and {DATA_ROOT}: 500 MB free, the apps declare 600 MB "
                                          "(their data included): add disk before it fills"]
    apart = [dict(shared[0]), dict(shared[1], device=4)]
    assert evaluate("solo", needs, facts(disk=apart), "Asia/Jakarta") == []


def test_a_port_held_by_something_else_blocks_naming_the_process():
    taken = facts(listeners=[listener(80, "python3", "python3 -m http.server 80")])
    found = evaluate("web1", web_needs(), taken, "Asia/Jakarta")
    assert [(f.check, f.message) for f in found] == [
        ("ports", "port 80 is taken by python3 (pid 4242: python3 -m http.server 80) on 0.0.0.0; nginx needs it")]
    unknown = evaluate("web1", web_needs(), facts(listeners=[listener(80, None, cwd=None)]), "Asia/Jakarta")
    assert "taken by a process the probe cannot see" in blockers(unknown)[0].message


def test_our_own_services_on_their_ports_pass_so_that_a_redeploy_does():
    ours = facts(listeners=[
        listener(80, "nginx", "nginx: master process /usr/sbin/nginx"),
        listener(80, "nginx", "nginx: master process /usr/sbin/nginx", address="::"),
        listener(8123, "php", "php -S 127.0.0.1:8123 -t /srv/regionkit/apps/sso/current/bin/../public",
                 cwd="/srv/regionkit/apps/sso/releases/2.3.0", address="127.0.0.1")])
    assert evaluate("web1", web_needs(), ours, "Asia/Jakarta") == []
    db = HostNeeds()
    db.claim(3306, PortUse("MariaDB", ("mariadbd", "mysqld")))
    db.claim(5432, PortUse("PostgreSQL", ("postgres",)))
    running = facts(listeners=[listener(3306, "mariadbd"), listener(5432, "postgres")])
    assert evaluate("db1", db, running, "Asia/Jakarta") == []
    foreign = facts(listeners=[listener(3306, "socat", "socat TCP-LISTEN:3306 -")])
    assert "port 3306 is taken by socat" in blockers(evaluate("db1", db, foreign, "Asia/Jakarta"))[0].message


def test_another_apps_process_on_an_upstream_port_blocks():
    other = facts(listeners=[listener(8123, "php", "php -S 127.0.0.1:8123",
                                      cwd="/srv/regionkit/apps/laksa/releases/1", address="127.0.0.1")])
    found = blockers(evaluate("web1", web_needs(), other, "Asia/Jakarta"))
    assert len(found) == 1 and "port 8123 is taken by php" in found[0].message
    assert found[0].message.endswith("app sso needs it")


def test_python_missing_blocks_and_leaves_only_the_os_check():
    answer = {"python": None, "os": {"id": "debian", "version_id": "12", "pretty_name": "Debian 12"}}
    found = evaluate("web1", web_needs(), answer, "Asia/Jakarta")
    assert [(f.severity, f.check) for f in found] == [(Severity.BLOCKER, "python")]


def test_old_python_and_another_system_and_zone():
    answer = facts(python=[3, 7, 3], os={"id": "centos", "version_id": "7", "pretty_name": "CentOS Linux 7"},
                   timezone="Etc/UTC")
    found = {f.check: f for f in evaluate("web1", web_needs(), answer, "Asia/Jakarta")}
    assert found["python"].severity == Severity.BLOCKER and "3.7.3" in found["python"].message
    assert found["os"].severity == Severity.WARNING and "CentOS Linux 7" in found["os"].message
    assert found["time zone"].severity == Severity.WARNING
    assert found["time zone"].message == "the time zone is Etc/UTC; the deploy sets Asia/Jakarta (region.yaml)"


def test_not_root_blocks():
    found = evaluate("web1", web_needs(), facts(user={"uid": 1000, "passwordless_sudo": True}), "Asia/Jakarta")
    assert [(f.check, f.severity) for f in found] == [("root", Severity.BLOCKER)]
    assert "uid 1000" in found[0].message and "passwordless sudo works" in found[0].message


def test_memory_short_warns_and_far_below_blocks():
    short = evaluate("web1", web_needs(), facts(memory={"total_mb": 8192, "available_mb": 3000}), "Asia/Jakarta")
    assert [(f.check, f.severity) for f in short] == [("memory", Severity.WARNING)]
    assert short[0].message == "3000 MB of memory available, the apps declare 4096 MB"
    tiny = evaluate("web1", web_needs(), facts(memory={"total_mb": 512, "available_mb": 400}), "Asia/Jakarta")
    assert [(f.check, f.severity) for f in tiny] == [("memory", Severity.BLOCKER)]


# --- which hosts ------------------------------------------------------------------------------------------------


def test_limit_picks_hosts_like_ansible(cli, project):
    with_hosts(project)
    profile = load_profile(project / "region.yaml")
    names = lambda limit: [h.name for h in select_hosts(profile, limit)]  # noqa: E731
    assert names(None) == ["web1", "db1"]
    assert names("db1") == ["db1"] and names("web") == ["web1"] and names("all") == ["web1", "db1"]
    assert names("*1,!db1") == ["web1"] and names("!web1") == ["db1"] and names("192.0.2.12") == ["db1"]
    with pytest.raises(InputError, match="'h9' matches no host"):
        select_hosts(profile, "web1:h9")


# --- the control node and the command ---------------------------------------------------------------------------


@pytest.fixture
def probed(monkeypatch):
    """Replace the host probe (no host is dialled) and the ansible version; record who was probed."""
    calls = []
    answers = {}

    def fake_probe(project, profile, host_names, tuned=True):
        calls.append(host_names)
        return {name: answers.get(name, facts(disk=[], listeners=[])) for name in host_names}

    monkeypatch.setattr(preflight, "probe", fake_probe)
    monkeypatch.setattr(preflight, "ansible_core_version", lambda: (2, 19, 14))
    monkeypatch.setenv("REGIONKIT_VAULT_PASSWORD", "correct horse")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/run/agent.sock")  # hosts without ssh_key log in through an agent
    return {"calls": calls, "answers": answers}


def findings(result) -> list[tuple[str, str, str]]:
    return [(f["host"], f["check"], f["severity"]) for f in json.loads(result.stdout)["findings"]]


def test_preflight_passes_and_prints_json(cli, project, probed):
    with_hosts(project)
    result = cli("preflight", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["blockers"] == 0 and report["hosts"] == ["web1", "db1"]
    assert probed["calls"] == [["web1", "db1"]]


def test_a_blocker_exits_1_with_one_table(cli, project, probed):
    with_hosts(project)
    probed["answers"]["web1"] = facts(listeners=[listener(80, "apache2", "/usr/sbin/apache2 -k start")])
    assert cli("apps", "add", "e-office").exit_code == 0
    result = cli("preflight", "--limit", "web1")
    assert result.exit_code == 1
    assert probed["calls"] == [["web1"]]
    text = " ".join(result.stdout.split())
    assert "web1" in text and "ports" in text and "blocker" in text and "apache2" in text
    assert "preflight: 1 blocker" in text


def test_unreachable_host_is_a_blocker_naming_it(cli, project, probed, monkeypatch):
    with_hosts(project)
    error = "unreachable: ssh: connect to host 192.0.2.11 port 22: No route to host"
    monkeypatch.setattr(preflight, "probe", lambda *a, **k: {"web1": error, "db1": facts()})
    result = cli("preflight", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["findings"][0] == {"severity": "blocker", "host": "web1", "check": "reachable", "message": error}


def test_no_hosts_blocks_without_probing(cli, project, probed):
    result = cli("preflight", "--json")
    assert result.exit_code == 1
    assert ("control node", "hosts", "blocker") in findings(result)
    assert probed["calls"] == []


def test_missing_vault_password_without_a_terminal_blocks(cli, project, probed, monkeypatch):
    with_hosts(project)
    monkeypatch.delenv("REGIONKIT_VAULT_PASSWORD")
    monkeypatch.delenv("REGIONKIT_VAULT_PASSWORD_FILE", raising=False)
    (project / ".vault-pass").unlink(missing_ok=True)
    result = cli("preflight", "--json")
    assert result.exit_code == 1
    vault = [f for f in json.loads(result.stdout)["findings"] if f["check"] == "vault password"]
    assert vault[0]["severity"] == "blocker" and "no vault password" in vault[0]["message"]
    assert "without a terminal" in vault[0]["message"]


def test_missing_vault_password_on_a_terminal_warns(project, probed, monkeypatch):
    with_hosts(project)
    monkeypatch.delenv("REGIONKIT_VAULT_PASSWORD")
    (project / ".vault-pass").unlink(missing_ok=True)
    report = preflight.run_preflight(Rollout.open(Project(project), load_catalog()), interactive=True)
    assert [(f.check, f.severity) for f in report.findings] == [("vault password", Severity.WARNING)]


def test_a_vault_password_that_does_not_open_the_vault_blocks(cli, project, probed, monkeypatch):
    with_hosts(project)
    assert cli("apps", "add", "e-office").exit_code == 0
    assert cli("secrets", "generate").exit_code == 0, "needs the vault written with the project's password"
    monkeypatch.setenv("REGIONKIT_VAULT_PASSWORD", "not the password")
    result = cli("preflight", "--json")
    assert result.exit_code == 1
    vault = [f for f in json.loads(result.stdout)["findings"] if f["check"] == "vault password"]
    assert "cannot decrypt" in vault[0]["message"]


def test_ssh_keys_missing_or_readable_by_others_block(cli, project, probed, tmp_path):
    loose = tmp_path / "loose_key"
    loose.write_text("key\n")
    loose.chmod(0o644)
    good = tmp_path / "good_key"
    good.write_text("key\n")
    good.chmod(0o600)
    profile = project / "region.yaml"
    profile.write_text(profile.read_text().replace("hosts: []\n", (
        "hosts:\n"
        f"  - {{name: web1, address: 192.0.2.11, roles: [web], ssh_key: {loose}}}\n"
        f"  - {{name: db1, address: 192.0.2.12, roles: [db], ssh_key: {tmp_path / 'absent_key'}}}\n"
        f"  - {{name: db2, address: 192.0.2.13, roles: [db], ssh_key: {good}}}\n")))
    result = cli("preflight", "--json")
    assert result.exit_code == 1
    keys = {f["message"].split(" ")[0]: f for f in json.loads(result.stdout)["findings"] if f["check"] == "ssh key"}
    assert set(keys) == {str(loose), str(tmp_path / "absent_key")}
    assert "mode 0644" in keys[str(loose)]["message"] and "(hosts web1)" in keys[str(loose)]["message"]
    assert "No such file" in keys[str(tmp_path / "absent_key")]["message"]


def test_hosts_without_a_key_and_no_agent_or_default_key_warn(cli, project, probed, monkeypatch, tmp_path):
    with_hosts(project)
    monkeypatch.delenv("SSH_AUTH_SOCK")
    monkeypatch.setenv("HOME", str(tmp_path))
    result = cli("preflight", "--json")
    assert result.exit_code == 0
    [warning] = json.loads(result.stdout)["findings"]
    assert warning["check"] == "ssh key" and warning["severity"] == "warning"
    assert warning["message"].startswith("hosts web1, db1 name no ssh_key")
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_ed25519").write_text("key\n")
    assert json.loads(cli("preflight", "--json").stdout)["findings"] == []


def test_ansible_core_outside_the_supported_range(cli, project, probed, monkeypatch):
    with_hosts(project)
    monkeypatch.setattr(preflight, "ansible_core_version", lambda: (2, 18, 1))
    result = cli("preflight", "--json")
    assert result.exit_code == 1
    assert ("control node", "ansible", "blocker") in findings(result)
    assert probed["calls"] == []  # the probe needs a working ansible
    monkeypatch.setattr(preflight, "ansible_core_version", lambda: (2, 20, 0))
    result = cli("preflight", "--json")
    assert result.exit_code == 0 and ("control node", "ansible", "warning") in findings(result)


def test_the_installed_ansible_core_is_read_and_supported():
    version = preflight.ansible_core_version()
    assert isinstance(version, tuple) and preflight.ANSIBLE_CORE[0] <= version[:2] < preflight.ANSIBLE_CORE[1]


def test_supported_range_matches_the_pin_in_pyproject():
    pins = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pin = next(p for p in pins if p.startswith("ansible-core"))
    low, high = (tuple(int(x) for x in v.split(".")) for v in re.findall(r"[<>]=?\s*([\d.]+)", pin))
    assert (low, high) == preflight.ANSIBLE_CORE


def test_unknown_limit_is_bad_input(cli, project, probed):
    with_hosts(project)
    result = cli("preflight", "--limit", "nosuch")
    assert result.exit_code == 2 and "'nosuch' matches no host" in result.stderr


# --- deploy runs it first ---------------------------------------------------------------------------------------


def test_deploy_is_refused_by_a_blocker_before_anything_changes(cli, project, probed):
    with_hosts(project)
    assert cli("apps", "add", "e-office").exit_code == 0
    probed["answers"]["web1"] = facts(listeners=[listener(80, "apache2", "/usr/sbin/apache2 -k start")])
    result = cli("deploy", "--json")
    assert result.exit_code == 1
    output = json.loads(result.stdout)  # --json: only JSON on stdout, also when refused
    assert output["status"] == "blocked" and output["preflight"]["blockers"] == 1
    assert "preflight found 1 blocker: nothing was changed" in result.stderr
    assert not (project / "build").exists() and not (project / ".regionkit" / "runs").exists()
    table = cli("deploy")
    assert table.exit_code == 1 and "apache2" in table.stderr and table.stdout == ""


def test_deploy_skip_preflight_and_plan_do_not_run_it(cli, project, monkeypatch):
    with_hosts(project)
    assert cli("apps", "add", "e-office").exit_code == 0
    monkeypatch.setattr(preflight, "run_preflight", lambda *a, **k: pytest.fail("preflight ran"))
    monkeypatch.delenv("REGIONKIT_VAULT_PASSWORD", raising=False)
    monkeypatch.delenv("REGIONKIT_VAULT_PASSWORD_FILE", raising=False)
    (project / ".vault-pass").unlink(missing_ok=True)
    # with no vault password the deploy stops at that step, after where preflight would have run
    for args in (("deploy", "--skip-preflight"), ("plan",)):
        result = cli(*args)
        assert result.exit_code == 2 and "no vault password" in result.stderr, args
