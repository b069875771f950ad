"""Crash safety on real servers: a partial run keeps every app's database, a killed deploy leaves nothing behind
(no playbook, no password), the next run settles it (record and ledger) and --resume continues from it, SIGTERM
interrupts as Ctrl-C does.

One sandbox (rksec) and one Pandeglang project (the 2021 package: five of its apps use PostgreSQL, the others
MariaDB) serve the whole module, deployed once. Traffic goes only to the sandbox's own addresses.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.fleet import fresh_sandbox, regionkit, sample_project, sandbox_get

pytestmark = pytest.mark.fleet

SANDBOX = "rksec"
SUBNET = "10.77.6.0/24"


def get(address: str, host_header: str, path: str = "/") -> tuple[int, str]:
    return sandbox_get(SUBNET, address, host_header, path)


@pytest.fixture(scope="module")
def rollout(tmp_path_factory):
    """The project on its sandbox, deployed once (every chosen app)."""
    with fresh_sandbox(SANDBOX, SUBNET) as state:
        root = sample_project(tmp_path_factory.mktemp("security") / "pandeglang", state)
        first = regionkit(root, "deploy", "--skip-preflight", "--json")
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        yield root


def database_health(root: Path) -> dict[str, tuple[int, object]]:
    """app id -> (HTTP status, the health JSON's `database.ok`) for every web and service app of the build."""
    from regionkit.catalog.model import load_catalog

    catalog = load_catalog()
    profile = yaml.safe_load((root / "region.yaml").read_text())
    web = next(h["address"] for h in profile["hosts"] if "web" in h["roles"])
    manifest = json.loads((root / "build/manifest.json").read_text())
    found = {}
    for app_id, record in manifest["apps"].items():
        if record["kind"] in ("web", "service"):
            status, body = get(web, f"{app_id}.pandeglangkab.go.id", catalog.apps[app_id].health)
            found[app_id] = (status, json.loads(body).get("database", {}).get("ok") if status == 200 else body[:200])
    return found


def test_deploying_one_app_keeps_every_other_apps_database(rollout):
    engines = {a: json.loads(regionkit(rollout, "catalog", "show", a, "--json").stdout)["database"]
               for a in ("simasn", "sso", "e-office")}
    assert engines == {"simasn": "postgresql", "sso": "postgresql", "e-office": "mariadb"}
    before = database_health(rollout)
    assert len(before) >= 10 and all(v == (200, True) for v in before.values()), before
    one = regionkit(rollout, "deploy", "--app", "simasn", "--skip-preflight")
    assert one.returncode == 0, one.stderr[-3000:]
    after = database_health(rollout)
    assert after == before, {a: v for a, v in after.items() if v != (200, True)}


def ansible_processes(root: Path) -> list[str]:
    """Command lines of ansible-playbook processes (workers included) of this project."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if "ansible-playbook" in text and str(root) in text:
            found.append(text)
    return found


def recorded(run: Path) -> set[str]:
    """The apps a run has recorded as deployed on a host so far (its events)."""
    from regionkit.provision.runspec import RECORDED

    events = run / "events.jsonl"
    lines = events.read_text().splitlines() if events.exists() else []
    return {e["app"] for e in map(json.loads, lines[:-1])
            if e.get("phase") == RECORDED and e.get("status") in ("ok", "changed")}


def start_deploy(root: Path, *args: str, apps_done: int = 0) -> tuple[subprocess.Popen, Path]:
    """A deploy, returned with its run folder once its playbook is under way and has recorded `apps_done` apps."""
    runs = root / ".regionkit/runs"
    earlier = set(runs.iterdir())
    proc = subprocess.Popen([sys.executable, "-m", "regionkit", "-C", str(root), "deploy", "--skip-preflight", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "REGIONKIT_OPERATOR": "ci-test"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        fresh = list(set(runs.iterdir()) - earlier)
        events = fresh[0] / "events.jsonl" if fresh else None
        if events and events.exists() and events.stat().st_size > 2000 and len(recorded(fresh[0])) >= apps_done:
            return proc, fresh[0]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("the playbook never got that far")


def gone_within(root: Path, seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while ansible_processes(root) and time.monotonic() < deadline:
        time.sleep(0.2)
    return ansible_processes(root)


def test_kill_9_takes_the_playbook_along_and_leaves_no_password(rollout):
    from regionkit.provision.secrets import vault_password

    root = rollout
    password = vault_password(root).value
    proc, run = start_deploy(root, apps_done=4)
    assert ansible_processes(root)
    proc.kill()
    proc.wait()
    assert gone_within(root, 10) == []
    leftovers = [p for p in root.rglob("*") if p.is_file() and p.name != ".vault-pass"
                 and password in p.read_bytes()]
    assert leftovers == []
    assert not list((root / ".regionkit").glob("vault-pass*"))
    assert json.loads((run / "result.json").read_text())["status"] == "running"
    KILLED.append(run)


KILLED: list[Path] = []  # the run the test above killed


def test_the_next_run_settles_the_killed_one_and_sigterm_is_an_interrupt(rollout):
    root = rollout
    proc, run = start_deploy(root, "--resume", apps_done=2)  # allowed: the killed run is settled as interrupted
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    killed = json.loads((KILLED[0] / "result.json").read_text())
    assert killed["status"] == "interrupted" and killed["abandoned"] is True
    assert len(killed["converged"]) >= 4  # what it had done: the resume skipped it
    assert set(json.loads((run / "result.json").read_text())["skipped_converged"]) == set(killed["converged"])
    ledger = [json.loads(line) for line in (root / "ledger.jsonl").read_text().splitlines()]
    in_ledger = {e["app"] for e in ledger if e["run_id"] == killed["run_id"] and e["result"] == "succeeded"}
    assert in_ledger == set(killed["converged"])  # what the killed run did reached the ledger
    assert json.loads((run / "result.json").read_text())["status"] == "interrupted"
    assert gone_within(root, 5) == []


def test_resume_after_the_kill_and_the_interrupt_completes_and_every_app_answers(rollout):
    root = rollout
    resumed = regionkit(root, "deploy", "--resume", "--skip-preflight", "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert len(json.loads(resumed.stdout)["skipped_converged"]) >= 6
    assert regionkit(root, "audit", "verify").returncode == 0
    assert all(v == (200, True) for v in database_health(root).values())
