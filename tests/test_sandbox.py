"""Sandbox hosts: real namespaces, sshd and SSH (root only, marked `fleet`), and the checks that need none of it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import with_hosts

from regionkit.errors import InputError, OperationFailed
from regionkit.provision import sandbox

NAME = "rkstest"
SUBNET = "10.77.3.0/24"  # other suites use 10.77.1.0/24 and 10.77.5.0/24 at the same time: never those


def _why_no_hosts() -> str | None:
    if sys.platform != "linux" or os.geteuid() != 0:
        return "sandbox hosts need Linux and root"
    missing = [t for t in ("ip", "unshare", "nsenter", "ssh-keygen", "sshd", "ssh") if sandbox._which(t) is None]
    return f"sandbox hosts need {', '.join(missing)}" if missing else None


needs_hosts = pytest.mark.skipif(_why_no_hosts() is not None, reason=_why_no_hosts() or "")


def route_to(address: str) -> str:
    return subprocess.run(["ip", "route", "get", address], capture_output=True, text=True).stdout


def ssh(state: sandbox.SandboxState, host: sandbox.SandboxHost, *command: str) -> subprocess.CompletedProcess:
    """Real SSH with the sandbox's key and known_hosts, only after checking the route goes through its bridge."""
    assert f"dev {state.bridge} " in route_to(host.address)
    options = [f"UserKnownHostsFile={host.known_hosts}", "StrictHostKeyChecking=yes", "IdentitiesOnly=yes",
               "BatchMode=yes", "ConnectTimeout=5"]
    return subprocess.run(["ssh", "-F", "/dev/null", "-i", str(host.ssh_key),
                           *(part for option in options for part in ("-o", option)), f"root@{host.address}", *command],
                          capture_output=True, text=True, timeout=30)


def traces_on_machine(name: str = NAME) -> list[str]:
    """Everything of the sandbox that could be left on this machine."""
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    routes = subprocess.run(["ip", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    found = [line for line in (netns + links).splitlines() if f"rks-{name}-" in line]
    found += [line for line in routes.splitlines() if SUBNET.rsplit(".", 1)[0] + "." in line]
    return found + ([str(sandbox.state_dir(name))] if sandbox.state_dir(name).exists() else [])


@pytest.fixture(scope="class")
def two_hosts():
    sandbox.down(NAME)  # a crashed earlier run
    state = sandbox.up(2, name=NAME, subnet=SUBNET)
    yield state
    sandbox.down(NAME)


@pytest.fixture
def clean():
    """Start and end without any trace of the test sandbox."""
    sandbox.down(NAME)
    yield
    sandbox.down(NAME)
    assert traces_on_machine() == []


@pytest.mark.fleet
@needs_hosts
class TestTwoHosts:
    def test_hosts_answer_real_ssh_with_their_names(self, two_hosts):
        assert [h.address for h in two_hosts.hosts] == ["10.77.3.11", "10.77.3.12"]
        for host in two_hosts.hosts:
            result = ssh(two_hosts, host, "hostname")
            assert (result.returncode, result.stdout.strip()) == (0, host.name), result.stderr
        via_config = subprocess.run(["ssh", "-F", str(two_hosts.ssh_config), "-o", "BatchMode=yes", "h2", "hostname"],
                                    capture_output=True, text=True, timeout=30)
        assert via_config.stdout.strip() == "h2", via_config.stderr

    def test_each_host_sees_its_own_filesystem(self, two_hosts):
        h1, h2 = two_hosts.hosts
        marker = f"/tmp/rkstest-{uuid.uuid4().hex}"
        assert ssh(two_hosts, h1, f"echo written-in-h1 > {marker}").returncode == 0
        assert sandbox.exec_in(NAME, "h1", ["cat", marker]).stdout == "written-in-h1\n"
        assert sandbox.exec_in(NAME, "h2", ["test", "-e", marker]).returncode == 1
        assert not Path(marker).exists()
        keys = sandbox.exec_in(NAME, "h2", ["cat", "/root/.ssh/authorized_keys"]).stdout
        assert keys == two_hosts.ssh_key.with_suffix(".pub").read_text()
        assert sandbox.exec_in(NAME, "h1", ["hostname"]).stdout.strip() == "h1"

    def test_pid1_is_fleet_init(self, two_hosts):
        for host in two_hosts.hosts:
            assert sandbox.exec_in(NAME, host.name, ["cat", "/proc/1/comm"]).stdout == "fleet-init\n"

    def test_no_traffic_can_leave(self, two_hosts):
        guards = json.loads(subprocess.run(["ip", "-j", "route", "show", "type", "unreachable"],
                                           capture_output=True, text=True).stdout)
        assert {"dst": SUBNET, "metric": 9999} in [{"dst": r.get("dst"), "metric": r.get("metric")} for r in guards]
        for host in two_hosts.hosts:
            assert f"dev {two_hosts.bridge} " in route_to(host.address)
        assert Path(f"/proc/sys/net/ipv4/conf/{two_hosts.bridge}/forwarding").read_text() == "0\n"
        inside = sandbox.exec_in(NAME, "h1", ["ip", "-4", "route"]).stdout.splitlines()
        assert [line.split()[0] for line in inside] == [SUBNET]
        outward = sandbox.exec_in(NAME, "h1", ["ip", "route", "get", "192.0.2.1"])
        assert outward.returncode != 0 and "unreachable" in outward.stderr

    def test_status_json(self, two_hosts, cli):
        report = cli.json("sandbox", "status", "--name", NAME, "--json")
        assert report["up"] is True and report["subnet"] == SUBNET
        assert report["hosts"] == [{"name": "h1", "address": "10.77.3.11", "sshd": True},
                                   {"name": "h2", "address": "10.77.3.12", "sshd": True}]

    def test_a_second_up_is_refused(self, two_hosts, cli):
        result = cli("sandbox", "up", "2", "--name", NAME, "--subnet", SUBNET)
        assert result.exit_code == 2
        assert f"sandbox {NAME} is already up (2 hosts on {SUBNET})" in result.stderr
        try:
            with pytest.raises(InputError, match="already in use on this machine"):
                sandbox.up(1, name="rkstes2", subnet=SUBNET)
        finally:
            sandbox.down("rkstes2")
        assert cli.json("sandbox", "status", "--name", NAME, "--json")["hosts"][1]["sshd"] is True

    def test_exec_in_an_unknown_host(self, two_hosts):
        with pytest.raises(InputError, match="has no host h9"):
            sandbox.exec_in(NAME, "h9", ["true"])


@pytest.mark.fleet
@needs_hosts
def test_down_removes_everything_and_is_idempotent(clean, cli):
    state = sandbox.up(1, name=NAME, subnet=SUBNET)
    assert traces_on_machine()
    assert f"dev {state.bridge} " in route_to(state.hosts[0].address)
    with socket.create_connection((state.hosts[0].address, 22), timeout=5) as lingering:
        assert lingering.recv(4) == b"SSH-"
        result = cli("sandbox", "down", "--name", NAME)
        assert result.exit_code == 0 and f"removed sandbox {NAME}" in result.stdout
        sockets = subprocess.run(["ss", "-H", "-t", "-u", "-n", "dst", SUBNET], capture_output=True, text=True)
        assert sockets.stdout == ""  # closed before the guard route went: it cannot send anything out
    assert traces_on_machine() == []
    again = cli("sandbox", "down", "--name", NAME)
    assert again.exit_code == 0 and "nothing to remove" in again.stdout
    assert sandbox.down(NAME) is False
    assert cli.json("sandbox", "status", "--name", NAME, "--json") == {
        "name": NAME, "up": False, "subnet": None, "ssh_config": None, "hosts": [], "leftovers": []}


@pytest.mark.fleet
@needs_hosts
def test_down_cleans_up_after_a_crashed_run(clean, cli):
    state = sandbox.up(1, name=NAME, subnet=SUBNET)
    shutil.rmtree(state.directory)  # as if the state was lost: only the namespaces and links tell
    report = cli.json("sandbox", "status", "--name", NAME, "--json")
    assert report["up"] is False and report["leftovers"] == [f"rks-{NAME}-h1", f"rks-{NAME}-br"]
    refused = cli("sandbox", "up", "--name", NAME, "--subnet", SUBNET)
    assert refused.exit_code == 2 and "left behind by a crashed run" in refused.stderr
    assert sandbox.down(NAME) is True
    assert traces_on_machine() == []


@pytest.mark.fleet
@needs_hosts
def test_a_route_elsewhere_stops_up_and_removes_everything(clean, monkeypatch):
    monkeypatch.setattr(sandbox, "_route_to", lambda address: "via 192.0.2.1 dev eth0")
    with pytest.raises(OperationFailed, match="10.77.3.11 goes via 192.0.2.1 dev eth0, not through the sandbox"):
        sandbox.up(2, name=NAME, subnet=SUBNET)
    assert traces_on_machine() == []


@pytest.mark.fleet
@needs_hosts
def test_a_host_failing_to_start_stops_up_and_removes_everything(clean, monkeypatch, tmp_path):
    broken = tmp_path / "sandbox-host.sh"
    broken.write_text("echo 'cannot mount the overlay' >&2\nexit 3\n")
    monkeypatch.setattr(sandbox, "data_path", lambda *parts: broken)
    with pytest.raises(OperationFailed, match="host h1 stopped while starting: cannot mount the overlay"):
        sandbox.up(1, name=NAME, subnet=SUBNET)
    assert traces_on_machine() == []


@pytest.mark.fleet
@needs_hosts
def test_up_writes_its_hosts_into_the_project(clean, project, cli):
    from regionkit.project.files import Project

    with_hosts(project)
    result = cli("sandbox", "up", "2", "--name", NAME, "--subnet", SUBNET)
    assert result.exit_code == 0, result.output
    assert "h1" in result.stdout and f"ssh -F /run/regionkit-sandbox/{NAME}/ssh_config h1" in result.stdout
    hosts = Project(project).profile().hosts
    assert [(h.name, h.address, [r.value for r in h.roles]) for h in hosts] == [
        ("web1", "192.0.2.11", ["web"]), ("db1", "192.0.2.12", ["db"]),
        ("h1", "10.77.3.11", ["db"]), ("h2", "10.77.3.12", ["web"])]
    h1 = hosts[2]
    assert (h1.user, h1.port) == ("root", 22)
    assert h1.ssh_key == f"/run/regionkit-sandbox/{NAME}/id_ed25519" and Path(h1.ssh_key).is_file()
    assert h1.known_hosts == f"/run/regionkit-sandbox/{NAME}/known_hosts" and Path(h1.known_hosts).is_file()

    assert cli("sandbox", "down", "--name", NAME).exit_code == 0
    assert cli("sandbox", "up", "1", "--name", NAME, "--subnet", SUBNET).exit_code == 0
    hosts = Project(project).profile().hosts
    assert [(h.name, [r.value for r in h.roles]) for h in hosts] == [("web1", ["web"]), ("db1", ["db"]),
                                                                     ("h1", ["web", "db"])]
    assert "# Servers. roles:" in (project / "region.yaml").read_text()

    before = (project / "region.yaml").read_bytes()
    assert cli("sandbox", "down", "--name", NAME).exit_code == 0
    assert cli("sandbox", "up", "3", "--name", NAME, "--subnet", SUBNET, "--no-project").exit_code == 0
    assert (project / "region.yaml").read_bytes() == before


# --- without root: arguments, platform checks, roles ----------------------------------------------------------

@pytest.mark.parametrize("command", [["up"], ["down"], ["status"]])
def test_not_root_is_one_clear_line(cli, monkeypatch, command):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    result = cli("sandbox", *command, "--name", NAME)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "error: sandbox hosts need root (they create network namespaces and mounts)"
    assert "Traceback" not in result.output


def test_not_linux_is_one_clear_line(cli, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    result = cli("sandbox", "status")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: sandbox hosts need Linux (network namespaces, overlayfs), not darwin")


def test_missing_tools_are_named(cli, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(sandbox, "_which", lambda tool: None if tool in ("sshd", "unshare") else f"/usr/bin/{tool}")
    result = cli("sandbox", "up", "--name", NAME, "--subnet", SUBNET)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: sandbox hosts need unshare, sshd, not found on this machine")
    assert "apt-get install" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["0"], "between 1 and 99, not 0"),
    (["100"], "between 1 and 99, not 100"),
    (["--name", "Bad_Name"], "--name 'Bad_Name': expected 1 to 7 lowercase letters"),
    (["--name", "toolong8"], "--name 'toolong8': expected 1 to 7"),
    (["--subnet", "8.8.8.0/24"], "--subnet 8.8.8.0/24: not a private range"),
    (["--subnet", "10.77.3.5/24"], "--subnet 10.77.3.5/24: 10.77.3.5/24 has host bits set"),
    (["--subnet", "nonsense"], "--subnet nonsense:"),
    (["5", "--subnet", "10.77.3.0/28"], "--subnet 10.77.3.0/28: no room for 5 hosts from .11"),
])
def test_bad_arguments_are_input_errors(cli, args, message):
    defaults = [option for option in (["--name", NAME], ["--subnet", SUBNET]) if option[0] not in args]
    result = cli("sandbox", "up", *args, *(part for option in defaults for part in option))
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_roles_in_the_project():
    def state(n: int) -> sandbox.SandboxState:
        folder = sandbox.state_dir(NAME)
        return sandbox.SandboxState(NAME, SUBNET, tuple(
            sandbox.SandboxHost(f"h{i}", f"10.77.3.{10 + i}", folder / "id_ed25519", folder / "known_hosts")
            for i in range(1, n + 1)))

    assert [e["roles"] for e in sandbox.region_hosts(state(1))] == [["web", "db"]]
    assert [e["roles"] for e in sandbox.region_hosts(state(3))] == [["db"], ["web"], ["web"]]
    entry = sandbox.region_hosts(state(1))[0]
    assert sandbox.is_sandbox_host(entry)
    assert not sandbox.is_sandbox_host({"name": "web1", "address": "192.0.2.11", "roles": ["web"]})
    assert not sandbox.is_sandbox_host({"name": "x", "ssh_key": "/run/regionkit-sandboxes/id"})
