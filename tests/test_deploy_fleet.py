"""Real deploys: Ansible over SSH onto sandbox servers (network namespaces on this machine).

One sandbox and one Pandeglang project (the 2021 package plus the OPD websites) serve the whole module:
database on h1, web apps and unit sites on h2. Traffic goes only to the sandbox's own addresses.
"""

import http.client
import json
import signal
import subprocess
import sys
import time

import pytest
import yaml

from regionkit.provision import sandbox
from tests.fleet import fresh_sandbox, regionkit, sample_project, sandbox_get

pytestmark = pytest.mark.fleet

SANDBOX = "rktest"
SUBNET = "10.77.1.0/24"


def get(address: str, host_header: str, path: str = "/") -> tuple[int, str]:
    return sandbox_get(SUBNET, address, host_header, path)


@pytest.fixture(scope="module")
def rollout(tmp_path_factory):
    """The project, its sandbox and the first deploy's output."""
    with fresh_sandbox(SANDBOX, SUBNET) as state:
        root = sample_project(tmp_path_factory.mktemp("fleet") / "pandeglang", state, "website-opd",
                              init_args=("--head-name", "Irna Narulita"))
        started = time.monotonic()
        first = regionkit(root, "deploy", "--json")
        first_seconds = time.monotonic() - started
        yield {"root": root, "state": state, "first": first, "first_seconds": first_seconds}


def web_address(rollout) -> str:
    profile = yaml.safe_load((rollout["root"] / "region.yaml").read_text())
    return next(h["address"] for h in profile["hosts"] if "web" in h["roles"])


def test_first_deploy_installs_every_app_and_database_across_hosts(rollout):
    first = rollout["first"]
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    result = json.loads(first.stdout)
    assert result["status"] == "succeeded"
    profile = yaml.safe_load((rollout["root"] / "region.yaml").read_text())
    db_host = next(h for h in profile["hosts"] if h["roles"] == ["db"])
    web = web_address(rollout)
    manifest = json.loads((rollout["root"] / "build/manifest.json").read_text())
    installable = [a for a, r in manifest["apps"].items() if r["kind"] in ("web", "service")]
    assert "e-office" in installable and "sso" in installable
    for app_id in installable:
        catalog_health = json.loads(regionkit(rollout["root"], "catalog", "show", app_id, "--json").stdout)["health"]
        status, body = get(web, f"{app_id}.pandeglangkab.go.id", catalog_health)
        assert status == 200, (app_id, body[:500])
        health = json.loads(body)
        assert health["region"] == "Kabupaten Pandeglang" and health["app"] == app_id
        assert health["units"] == 69
        assert health["database"]["ok"] is True and health["database"]["host"] == db_host["address"]
        status, page = get(web, f"{app_id}.pandeglangkab.go.id", "/")
        assert status == 200 and "Kabupaten Pandeglang" in page


def test_the_ledger_holds_one_entry_per_app_and_host_and_verifies(rollout):
    root = rollout["root"]
    entries = [json.loads(line) for line in (root / "ledger.jsonl").read_text().splitlines()]
    manifest = json.loads((root / "build/manifest.json").read_text())
    installable = {a for a, r in manifest["apps"].items() if r["kind"] in ("web", "service", "unit-site")}
    first_run = entries[0]["run_id"]
    pairs = [(e["app"], e["host"]) for e in entries if e["run_id"] == first_run]
    assert sorted(pairs) == sorted((app, "h2") for app in installable)
    assert all(e["result"] == "succeeded" and e["operator"] == "ci-test" for e in entries)
    region = json.loads(regionkit(root, "audit", "region", "36.01", "--json").stdout)
    running = {row["app"] for row in (region["apps"] if isinstance(region, dict) else region)}
    assert running == installable
    verify = regionkit(root, "audit", "verify")
    assert verify.returncode == 0, verify.stderr


def test_every_unit_site_answers_with_its_unit(rollout):
    web = web_address(rollout)
    profile = yaml.safe_load((rollout["root"] / "region.yaml").read_text())
    opd = [u for u in profile["units"] if u["kind"] == "opd"]
    assert len(opd) == 34
    for unit in opd:
        status, page = get(web, f"{unit['code']}.pandeglangkab.go.id")
        assert status == 200 and unit["name"] in page and "Kabupaten Pandeglang" in page


def test_second_deploy_changes_nothing(rollout):
    root = rollout["root"]
    added = regionkit(root, "agreements", "add", "--number", "PKS-2021-01", "--kind", "pks", "--date", "2021-11-10",
                      "--party", "36.71", "--party", "36.01", "--app", "e-office")
    assert added.returncode == 0, added.stderr
    again = regionkit(root, "deploy", "--json", "--agreement", "PKS-2021-01")
    assert again.returncode == 0, again.stderr[-2000:]
    result = json.loads(again.stdout)
    changed = {app: counts["changed"] for app, counts in result["apps"].items() if counts["changed"]}
    assert changed == {}, changed
    assert all(h["changed"] == 0 and h["failed"] == 0 for h in result["hosts"].values())
    last = json.loads((root / "ledger.jsonl").read_text().splitlines()[-1])
    assert last["run_id"] == result["run_id"] and last["agreement"] == "PKS-2021-01"


def test_plan_after_a_change_lists_exactly_the_affected_app(rollout):
    root = rollout["root"]
    profile = root / "region.yaml"
    original = profile.read_text()
    profile.write_text(original.replace("  e-office: {}",
                                        "  e-office:\n    settings: {mail_domain: pandeglangkab.go.id}"))
    try:
        plan = regionkit(root, "plan", "--json")
        assert plan.returncode == 0, plan.stderr[-2000:]
        assert json.loads(plan.stdout)["changing"] == ["e-office"]
    finally:
        profile.write_text(original)
    assert json.loads(regionkit(root, "plan", "--json").stdout)["changing"] == []


def test_wrong_checksum_is_refused_before_any_run(rollout):
    """An artifact whose sha256 is not the index's never reaches a server: the control node checks it first."""
    root = rollout["root"]
    index_path = root / "artifacts/index.json"
    original = index_path.read_text()
    index = json.loads(original)
    version = next(iter(index["artifacts"]["laksa"]))
    index["artifacts"]["laksa"][version]["sha256"] = "0" * 64
    runs_before = set((root / ".regionkit/runs").iterdir())
    index_path.write_text(json.dumps(index))
    try:
        refused = regionkit(root, "deploy")
    finally:
        index_path.write_text(original)
    assert refused.returncode == 1, refused.stderr  # the store is wrong, not the project: OperationFailed
    assert "laksa" in refused.stderr and "sha256 mismatch" in refused.stderr and "0" * 16 in refused.stderr
    assert set((root / ".regionkit/runs").iterdir()) == runs_before  # no playbook ran


def test_a_failure_on_one_host_names_app_and_host_then_resume_skips_converged(rollout):
    """The host's copy of laksa's artifact cannot be replaced (a folder stands in its place): the run fails
    there, naming laksa and h2; once the folder is gone, --resume deploys only what had not converged."""
    root = rollout["root"]
    version = json.loads((root / "artifacts/index.json").read_text())["artifacts"]["laksa"]
    dest = f"/srv/regionkit/artifacts/laksa-{next(iter(version))}.tar.gz"
    sandbox.exec_in(SANDBOX, "h2", ["sh", "-c", f"rm -rf {dest} && mkdir {dest}"])
    try:
        failed = regionkit(root, "deploy")
        assert failed.returncode == 1
        assert "laksa" in failed.stderr and "h2" in failed.stderr
        record = json.loads(sorted((root / ".regionkit/runs").glob("*/result.json"))[-1].read_text())
        assert record["status"] == "failed"
        converged = set(record["converged"])
        assert "sso" in converged and "laksa" not in converged
    finally:
        sandbox.exec_in(SANDBOX, "h2", ["rm", "-rf", dest])
    resumed = regionkit(root, "deploy", "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    result = json.loads(resumed.stdout)
    assert set(result["skipped_converged"]) == converged
    assert not converged & set(result["apps"])  # converged apps were not touched again
    assert "laksa" in result["apps"]
    status, body = get(web_address(rollout), "laksa.pandeglangkab.go.id", "/health")
    assert status == 200


def test_a_second_deploy_is_refused_while_one_runs(rollout):
    from regionkit.project.files import Project

    with Project(rollout["root"]).lock():
        refused = regionkit(rollout["root"], "deploy")
    assert refused.returncode == 2 and "another deploy is running" in refused.stderr


def test_ctrl_c_leaves_a_resumable_record(rollout):
    root = rollout["root"]
    runs = root / ".regionkit/runs"
    earlier = set(runs.iterdir())
    proc = subprocess.Popen([sys.executable, "-m", "regionkit", "-C", str(root), "deploy"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # interrupt once this run's playbook is under way
        fresh = [run / "events.jsonl" for run in set(runs.iterdir()) - earlier]
        if fresh and fresh[0].exists() and fresh[0].stat().st_size > 2000:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    record = json.loads(sorted(runs.glob("*/result.json"))[-1].read_text())
    assert record["status"] == "interrupted"
    assert "--resume" in err
    resumed = regionkit(root, "deploy", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]


def test_nothing_the_runs_leave_contains_a_secret(rollout):
    from regionkit.provision.secrets import Vault, vault_password

    root = rollout["root"]
    values = Vault(root, vault_password(root)).values()
    assert len(values) >= 10
    leftovers = [root / ".regionkit", root / "build"]
    texts = [rollout["first"].stdout, rollout["first"].stderr]
    for folder in leftovers:
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                texts.append(path.read_bytes().decode("utf-8", "replace"))
    assert len(texts) > 10
    for value in values:
        assert not any(value in text for text in texts)


def processes(name: str, host: str) -> str:
    """The command lines of every process on a sandbox host, one per line."""
    script = ("import pathlib\nfor p in pathlib.Path('/proc').glob('[0-9]*/cmdline'):\n"
              "    try: print(p.read_bytes().replace(b'\\0', b' ').decode())\n    except OSError: pass")
    return sandbox.exec_in(name, host, ["python3", "-c", script]).stdout


def test_undeploy_takes_a_removed_app_off_the_servers_and_the_ledger_records_it(rollout):
    root = rollout["root"]
    web = web_address(rollout)
    assert get(web, "open-data.pandeglangkab.go.id", "/health")[0] == 200
    assert "apps/open-data/" in processes(SANDBOX, "h2")  # its service (the workload's PHP server) runs
    refused = regionkit(root, "undeploy", "open-data")
    assert refused.returncode == 2 and "still chosen" in refused.stderr and "apps remove open-data" in refused.stderr
    assert regionkit(root, "apps", "remove", "open-data").returncode == 0
    removed = regionkit(root, "undeploy", "--json")  # no ids: what runs here but is no longer chosen
    assert removed.returncode == 0, removed.stderr[-2000:]
    assert set(json.loads(removed.stdout)["apps"]) - {"(platform)"} == {"open-data"}  # + the nginx reload
    with pytest.raises(http.client.RemoteDisconnected):  # nginx closes on names no app serves (444)
        get(web, "open-data.pandeglangkab.go.id", "/health")
    assert get(web, "sso.pandeglangkab.go.id", "/health")[0] == 200  # the others still run
    left = sandbox.exec_in(SANDBOX, "h2", ["ls", "/srv/regionkit/apps", "/srv/regionkit/artifacts",
                                          "/etc/regionkit/deployed", "/etc/regionkit/secrets", "/etc/init.d",
                                          "/etc/nginx/conf.d"])
    assert "open-data" not in left.stdout and "sso" in left.stdout
    assert "apps/open-data/" not in processes(SANDBOX, "h2")
    last = json.loads((root / "ledger.jsonl").read_text().splitlines()[-1])
    assert (last["app"], last["host"], last["action"], last["result"]) == ("open-data", "h2", "removal", "succeeded")
    region = json.loads(regionkit(root, "audit", "region", "36.01", "--json").stdout)
    running = {row["app"] for row in (region["apps"] if isinstance(region, dict) else region)}
    assert "open-data" not in running and "sso" in running
    assert regionkit(root, "audit", "verify").returncode == 0
    nothing = regionkit(root, "undeploy")
    assert nothing.returncode == 2 and "nothing to remove" in nothing.stderr


def poll(probe, seconds: float = 30):
    """Call `probe` until it returns something true or `seconds` pass; its last answer (a service takes a moment
    to stop or start)."""
    deadline = time.monotonic() + seconds
    while not (answer := probe()) and time.monotonic() < deadline:
        time.sleep(1)
    return answer


def test_status_shows_a_stopped_service_as_down_until_it_starts_again(rollout):
    root = rollout["root"]
    app = "notifikasi"  # laksa runs under PHP-FPM; notifikasi is a service: its own process behind nginx
    shown = json.loads(regionkit(root, "catalog", "show", app, "--json").stdout)
    assert shown["kind"] == "service" and not shown["runtime"].startswith("php-"), shown
    region = json.loads(regionkit(root, "audit", "region", "36.01", "--json").stdout)
    running = {(row["app"], row["host"]): row["version"]
               for row in (region["apps"] if isinstance(region, dict) else region)}
    assert (app, "h2") in running and ("open-data", "h2") not in running
    everything = regionkit(root, "status", "--json")
    assert everything.returncode == 0, everything.stdout[-3000:] + everything.stderr[-2000:]
    checks = json.loads(everything.stdout)["checks"]
    assert {(c["app"], c["host"]) for c in checks} == set(running)
    assert all(c["result"] == "up" and c["version"] == running[(c["app"], c["host"])] for c in checks)
    assert len([c for c in checks if c["app"] == "website-opd"]) == 34  # one check per OPD website
    service = f"/etc/init.d/regionkit-{app}"
    try:
        stop = sandbox.exec_in(SANDBOX, "h2", [service, "stop"])
        assert stop.returncode == 0, stop.stderr
        assert poll(lambda: f"apps/{app}/" not in processes(SANDBOX, "h2"), 10), f"`{service} stop` left processes"
        down = poll(lambda: (r := regionkit(root, "status", "--json")).returncode == 1 and r)
        assert down, "status did not show the stopped service as down"
        data = json.loads(down.stdout)
        failing = [(c["app"], c["host"], c["result"], c["http_status"]) for c in data["checks"] if c["result"] != "up"]
        assert failing == [(app, "h2", "down", 502)]  # nginx answers, its upstream does not
        table = regionkit(root, "status", "--host", "h2")
        assert table.returncode == 1 and f"{len(checks) - 1} up, 1 down" in table.stdout, table.stdout[-2000:]
    finally:
        sandbox.exec_in(SANDBOX, "h2", [service, "start"])
    back = poll(lambda: (r := regionkit(root, "status", "--json")).returncode == 0 and r)
    assert back, "status did not show the service up again after it started"
    assert all(c["result"] == "up" for c in json.loads(back.stdout)["checks"])
