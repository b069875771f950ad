"""What the fleet tests share: the platform check, running regionkit, and the sample project on a sandbox."""

import fcntl
import http.client
import ipaddress
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest


def needs_root_and_sshd():
    if os.geteuid() != 0 or not Path("/usr/sbin/sshd").exists() or not shutil.which("unshare"):
        pytest.skip("real hosts need root, openssh-server and util-linux (scripts/install.sh installs them)")


@contextmanager
def fresh_sandbox(name: str, subnet: str, hosts: int = 2):
    """A new sandbox of `hosts` servers (skipping without root and sshd), always taken down afterwards.

    Two test runs on one machine (two checkouts) that want the same sandbox take turns: the sandbox's name is
    held under an exclusive lock in /tmp until it is down again.
    """
    needs_root_and_sshd()
    from regionkit.provision import sandbox

    with open(f"/tmp/regionkit-fleet-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sandbox.down(name)
        try:
            yield sandbox.up(hosts, name=name, subnet=subnet)
        finally:
            sandbox.down(name)


def regionkit(project: Path, *args: str, timeout: int = 900, operator: str = "ci-test") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "regionkit", "-C", str(project), *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "REGIONKIT_OPERATOR": operator})


def sample_project(root: Path, state, *apps: str, preset: str | None = "pandeglang-2021",
                   init_args: tuple[str, ...] = ()) -> Path:
    """Kabupaten Pandeglang (36.01) with `preset` (its 2021 package) and `apps`, on the sandbox `state`, with the
    demo artifact store; not deployed."""
    from regionkit.project.files import Project
    from regionkit.provision import sandbox

    init = subprocess.run([sys.executable, "-m", "regionkit", "init", str(root), "--region", "36.01", "--no-input",
                           *init_args], capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    added = regionkit(root, "apps", "add", *(("--preset", preset) if preset else ()), *apps)
    assert added.returncode == 0, added.stderr
    sandbox.write_to_project(Project(root), state)
    built = regionkit(root, "artifacts", "build-demo")
    assert built.returncode == 0, built.stderr
    return root


def sandbox_get(subnet: str, address: str, host_header: str, path: str = "/") -> tuple[int, str]:
    """(status, body) of an HTTP GET to port 80 of `address`, which must be in the sandbox's `subnet`: the fleet
    tests never send traffic anywhere else."""
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet), address
    connection = http.client.HTTPConnection(address, 80, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host_header})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()
