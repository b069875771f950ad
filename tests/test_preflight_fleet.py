"""Preflight against real hosts: sandbox servers reached over SSH by Ansible, probed and judged, never changed.

Its own sandbox (rkpre, 10.77.2.0/24) and a Pandeglang project that is never deployed: clean hosts pass, a
foreign process on port 80 or a full /srv/regionkit blocks, and `deploy` then stops before any change.
"""

import json
import subprocess
from pathlib import Path

import pytest

from tests.fleet import fresh_sandbox, regionkit, sample_project

pytestmark = pytest.mark.fleet

SANDBOX = "rkpre"
SUBNET = "10.77.2.0/24"
ZONE = "Asia/Makassar"  # the hosts' zone before any deploy; the region's is Asia/Jakarta


def on_host(host: str, script: str) -> subprocess.CompletedProcess:
    from regionkit.provision import sandbox

    return sandbox.exec_in(SANDBOX, host, ["sh", "-c", script])


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    with fresh_sandbox(SANDBOX, SUBNET) as state:
        root = sample_project(tmp_path_factory.mktemp("preflight") / "pandeglang", state)
        for host in ("h1", "h2"):
            assert on_host(host, f"ln -sf /usr/share/zoneinfo/{ZONE} /etc/localtime").returncode == 0
        yield root


def untouched(host: str) -> bool:
    """Nothing of a deploy on the host: no /etc/regionkit, no /srv/regionkit, no nginx, its zone unchanged."""
    result = on_host(host, "test ! -e /etc/regionkit && test ! -e /srv/regionkit && test ! -e /usr/sbin/nginx "
                           f"&& test \"$(readlink /etc/localtime)\" = /usr/share/zoneinfo/{ZONE}")
    return result.returncode == 0


def preflight(project: Path) -> tuple[int, dict]:
    result = regionkit(project, "preflight", "--json")
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return result.returncode, json.loads(result.stdout)


def test_clean_hosts_pass_and_are_left_as_they_were(project):
    code, report = preflight(project)
    assert code == 0 and report["ok"] and report["blockers"] == 0, report
    assert report["hosts"] == ["h1", "h2"]
    # the probe really answered: each host's zone differs from the region's and is reported
    zones = {f["host"]: f["message"] for f in report["findings"] if f["check"] == "time zone"}
    assert zones == {h: f"the time zone is {ZONE}; the deploy sets Asia/Jakarta (region.yaml)" for h in ("h1", "h2")}
    assert untouched("h1") and untouched("h2")


def test_a_taken_port_blocks_preflight_and_deploy_naming_host_port_and_process(project):
    started = on_host("h2", "nohup python3 -m http.server 80 --bind 0.0.0.0 >/dev/null 2>&1 </dev/null & echo $!")
    pid = started.stdout.strip()
    assert pid.isdigit(), started.stderr
    try:
        listening = on_host("h2", "for i in $(seq 50); do ss -ltnH 'sport = :80' | grep -q . && exit 0; "
                                  "sleep 0.1; done; exit 1")
        assert listening.returncode == 0, "the listener did not start"
        code, report = preflight(project)
        assert code == 1 and report["blockers"] == 1
        [blocker] = [f for f in report["findings"] if f["severity"] == "blocker"]
        assert blocker["host"] == "h2" and blocker["check"] == "ports"
        assert blocker["message"].startswith(f"port 80 is taken by python3 (pid {pid}: python3 -m http.server 80")
        assert blocker["message"].endswith("nginx needs it")

        refused = regionkit(project, "deploy")
        assert refused.returncode == 1
        assert "port 80 is taken by python3" in refused.stderr and "h2" in refused.stderr
        assert "preflight found 1 blocker: nothing was changed" in refused.stderr
        assert not (project / ".regionkit" / "runs").exists()
        assert untouched("h1") and untouched("h2")
    finally:
        on_host("h2", f"kill {pid}")


def test_an_unreachable_host_is_a_blocker_with_the_ssh_error(project):
    profile = project / "region.yaml"
    original = profile.read_text()
    key = "/run/regionkit-sandbox/rkpre/id_ed25519"
    assert key in original
    # an address of the sandbox's own subnet where no host answers
    profile.write_text(original.replace("hosts:\n", f"hosts:\n  - {{name: h9, address: 10.77.2.99, roles: [web], "
                                                     f"ssh_key: {key}}}\n", 1))
    try:
        result = regionkit(project, "preflight", "--json", "--limit", "h9")
    finally:
        profile.write_text(original)
    assert result.returncode == 1, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["hosts"] == ["h9"]
    [finding] = report["findings"]
    assert finding["host"] == "h9" and finding["check"] == "reachable" and finding["severity"] == "blocker"
    assert finding["message"].startswith("unreachable: ") and "10.77.2.99" in finding["message"]


def test_too_little_disk_blocks_naming_host_path_and_megabytes(project):
    mounted = on_host("h2", "mkdir -p /srv/regionkit && mount -t tmpfs -o size=1m tmpfs /srv/regionkit")
    assert mounted.returncode == 0, mounted.stderr
    try:
        code, report = preflight(project)
        assert code == 1
        [blocker] = [f for f in report["findings"] if f["severity"] == "blocker"]
        assert blocker["host"] == "h2" and blocker["check"] == "disk"
        assert blocker["message"].startswith("/srv/regionkit: 1 MB free, the deploy needs at least 256 MB")
    finally:
        on_host("h2", "umount /srv/regionkit && rmdir /srv/regionkit")
    code, report = preflight(project)
    assert code == 0, report
