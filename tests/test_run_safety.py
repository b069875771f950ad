"""A deploy's run without servers: a fake ansible-playbook (a real process) in place of Ansible.

What is held here: the playbook never outlives regionkit and the project lock lives as long as the playbook;
SIGTERM and SIGHUP stop a deploy as Ctrl-C does; the vault password reaches the playbook through a pipe and
never touches the disk; a run's ledger entries come before its record says how it ended, and a killed run is
settled (recorded as interrupted, its ledger entries written) by the next; a partial run's vars keep every
chosen app's database; `render` and `deploy` exclude each other.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import with_hosts

from regionkit.audit import ledger
from regionkit.errors import InputError
from regionkit.project.files import Project
from regionkit.provision import runner
from regionkit.provision.runspec import RECORDED
from regionkit.provision.secrets import vault_password

REPO = Path(__file__).resolve().parent.parent

FAKE_PLAYBOOK = textwrap.dedent("""\
    #!{python}
    # Stands in for ansible-playbook: notes what it was given, reports each app as recorded on web1, then
    # (FAKE_SLEEP) keeps running until signalled. SIGINT: exit 130 at once; SIGTERM: winds down 2 s first.
    import json, os, signal, sys, time
    import yaml

    report = os.environ["FAKE_REPORT"]

    def note(**fields):
        data = json.load(open(report)) if os.path.exists(report) else {{}}
        data.update(fields)
        with open(report + ".tmp", "w") as f:
            json.dump(data, f)
        os.replace(report + ".tmp", report)

    def on_term(signum, frame):
        note(got="SIGTERM")
        time.sleep(2)
        os._exit(143)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, lambda signum, frame: os._exit(130))
    argv = sys.argv[1:]
    source = argv[argv.index("--vault-password-file") + 1]
    password = open(source, "rb").read().strip()
    root = os.environ["FAKE_PROJECT"]
    on_disk = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if name != ".vault-pass" and os.path.isfile(path) and password in open(path, "rb").read():
                on_disk.append(os.path.relpath(path, root))
    class Loader(yaml.SafeLoader):  # the vars file is one mapping under Ansible's !unsafe tag
        pass
    Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_mapping(node, deep=True))
    variables = yaml.load(open(argv[argv.index("-e") + 1][1:]), Loader=Loader)
    for app in variables["regionkit_apps"]:
        print(json.dumps({{"event": "result", "status": "changed", "host": "web1", "task": "record",
                          "phase": {record!r}, "app": app["id"]}}), flush=True)
    note(pid=os.getpid(), password_source=source, password_source_is_file=os.path.isfile(source),
         password_matches=password == os.environ["FAKE_EXPECT"].encode(), password_on_disk=on_disk,
         apps=[a["id"] for a in variables["regionkit_apps"]], databases=variables.get("regionkit_databases"))
    time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
""")

# regionkit deploy in its own process, with the fake playbook; "crash-before-ledger" dies (exit 9) where the
# run's ledger entries would be written.
DEPLOY = textwrap.dedent("""\
    import os, sys
    from regionkit.audit import ledger
    from regionkit.provision import runner
    runner.ansible_playbook = lambda: sys.argv[1]
    if sys.argv[2] == "crash-before-ledger":
        ledger.record_deploy = lambda *args, **kwargs: os._exit(9)
    from regionkit.cli import app
    app(["-C", sys.argv[3], "deploy", "--skip-preflight", *sys.argv[4:]])
""")


@pytest.fixture
def fake(project: Path, tmp_path: Path, cli, monkeypatch):
    """The project with two hosts and two PostgreSQL apps (sso, simasn), and the fake playbook in place."""
    with_hosts(project)
    assert cli("apps", "add", "simasn").exit_code == 0  # and sso, which it needs
    assert cli("artifacts", "build-demo").exit_code == 0
    playbook = tmp_path / "bin" / "ansible-playbook"
    playbook.parent.mkdir()
    playbook.write_text(FAKE_PLAYBOOK.format(python=sys.executable, record=RECORDED))
    playbook.chmod(0o755)
    report = tmp_path / "report.json"
    monkeypatch.setattr(runner, "ansible_playbook", lambda: str(playbook))
    monkeypatch.setenv("FAKE_REPORT", str(report))
    monkeypatch.setenv("FAKE_PROJECT", str(project))
    monkeypatch.setenv("FAKE_EXPECT", vault_password(project).value.decode())
    return {"root": project, "playbook": playbook, "report": report}


def report(fake) -> dict:
    return json.loads(fake["report"].read_text())


def start_deploy(fake, mode: str = "run", sleep: float = 0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", DEPLOY, str(fake["playbook"]), mode, str(fake["root"])],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "FAKE_SLEEP": str(sleep)})


def wait_for_playbook(fake, proc: subprocess.Popen) -> int:
    """The fake playbook's pid, once it has reported its apps."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if fake["report"].exists() and "pid" in report(fake):
            return report(fake)["pid"]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the fake playbook never started")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def runs(root: Path) -> dict[str, dict]:
    """run id -> run record (run ids order runs only to the second: look them up by id)."""
    return {p.parent.name: json.loads(p.read_text()) for p in (root / ".regionkit/runs").glob("*/result.json")}


def only_run(root: Path) -> dict:
    (record,) = runs(root).values()
    return record


def locked(root: Path) -> bool:
    try:
        with Project(root).lock():
            return False
    except InputError:
        return True


def test_the_vault_password_reaches_the_playbook_through_a_pipe_never_a_file(fake, cli):
    result = cli("deploy", "--skip-preflight")
    assert result.exit_code == 0, result.output
    seen = report(fake)
    assert seen["password_matches"] is True
    assert seen["password_source"].startswith("/dev/fd/") and seen["password_source_is_file"] is False
    assert seen["password_on_disk"] == []
    assert not list((fake["root"] / ".regionkit").glob("vault-pass*"))


def test_deploying_one_app_still_gives_the_databases_of_every_chosen_app(fake, cli):
    result = cli("deploy", "--skip-preflight", "--app", "simasn")
    assert result.exit_code == 0, result.output
    seen = report(fake)
    assert seen["apps"] == ["simasn"]
    assert {(d["id"], d["database"]) for d in seen["databases"] or []} == {
        ("sso", "postgresql"), ("simasn", "postgresql")}


def test_kill_9_of_regionkit_takes_its_playbook_along_and_the_lock_lasts_until_the_playbook_is_gone(fake, cli):
    proc = start_deploy(fake, sleep=60)
    playbook = wait_for_playbook(fake, proc)
    proc.kill()
    proc.wait()
    assert alive(playbook) and locked(fake["root"])  # still winding down: nobody else may start
    deadline = time.monotonic() + 10
    while alive(playbook) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(playbook)
    assert report(fake)["got"] == "SIGTERM"
    assert not locked(fake["root"])
    assert not list((fake["root"] / ".regionkit").glob("vault-pass*"))
    killed = only_run(fake["root"])
    assert killed["status"] == "running"
    resumed = cli("deploy", "--skip-preflight", "--resume")
    assert resumed.exit_code == 0, resumed.output
    settled = runs(fake["root"]).pop(killed["run_id"])
    (last,) = [r for r in runs(fake["root"]).values() if r["run_id"] != killed["run_id"]]
    assert settled["status"] == "interrupted" and settled["abandoned"]
    assert sorted(settled["converged"]) == ["simasn", "sso"]
    assert last["status"] == "succeeded" and sorted(last["skipped_converged"]) == ["simasn", "sso"]
    entries = ledger.read(Project(fake["root"]).ledger_path).entries
    assert sorted((e.app, e.host, e.result) for e in entries if e.run_id == killed["run_id"]) == [
        ("simasn", "web1", "succeeded"), ("sso", "web1", "succeeded")]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_a_deploy_as_ctrl_c_does(fake, sig):
    proc = start_deploy(fake, sleep=60)
    playbook = wait_for_playbook(fake, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert not alive(playbook) and "got" not in report(fake)  # asked with SIGINT, as a terminal would
    assert only_run(fake["root"])["status"] == "interrupted"
    assert "Traceback" not in err


def test_a_crash_before_the_ledger_append_is_settled_by_the_next_run(fake, cli):
    proc = start_deploy(fake, "crash-before-ledger")
    proc.communicate(timeout=60)
    assert proc.returncode == 9
    crashed = only_run(fake["root"])
    assert crashed["status"] == "running"  # never "succeeded" without its ledger entries
    assert not Project(fake["root"]).ledger_path.exists()
    resumed = cli("deploy", "--skip-preflight", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert runs(fake["root"])[crashed["run_id"]]["status"] == "interrupted"
    entries = ledger.read(Project(fake["root"]).ledger_path).entries
    assert sorted((e.app, e.run_id) for e in entries if e.run_id == crashed["run_id"]) == [
        ("simasn", crashed["run_id"]), ("sso", crashed["run_id"])]


def test_render_is_refused_while_a_deploy_holds_the_lock(project, cli):
    assert cli("render").exit_code == 0
    build = {p: p.read_bytes() for p in (project / "build").rglob("*") if p.is_file()}
    (project / "region.yaml").write_text((project / "region.yaml").read_text().replace(
        "name: Kabupaten Pandeglang", "name: Kabupaten Pandeglang Baru", 1))
    with Project(project).lock():
        refused = cli("render")
    assert refused.exit_code == 2 and "another deploy is running in this project" in refused.stderr
    assert {p: p.read_bytes() for p in (project / "build").rglob("*") if p.is_file()} == build
    assert cli("render").exit_code == 0
    assert {p: p.read_bytes() for p in (project / "build").rglob("*") if p.is_file()} != build


def test_a_deploy_is_refused_while_a_render_holds_the_lock(project, cli):
    with_hosts(project)
    with Project(project).lock("render"):
        refused = cli("deploy", "--skip-preflight")
    assert refused.exit_code == 2 and "another render is running in this project" in refused.stderr


def test_bundle_create_is_refused_while_a_deploy_holds_the_lock(project, cli, tmp_path):
    out = tmp_path / "field.tar"
    with Project(project).lock():
        refused = cli("bundle", "create", "--out", str(out))
    assert refused.exit_code == 2 and "another deploy is running in this project" in refused.stderr
    assert not out.exists() and not list(tmp_path.glob(".field.tar*"))


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b"null", b"\xff\xfe", b"[" * 100_000, "fifo"])
def test_a_damaged_run_record_is_a_positioned_refusal(project: Path, content):
    from regionkit.provision import deploy

    record = Project(project).runs_dir / "20211110T010000.000000Z-abc123" / "result.json"
    record.parent.mkdir(parents=True)
    if content == "fifo":
        os.mkfifo(record)  # never opened for reading: that would wait for a writer forever
    else:
        record.write_bytes(content)
    for read in (deploy.settle_abandoned_runs, deploy.last_run):
        with pytest.raises(InputError) as refused:
            read(Project(project))
        assert str(record) in str(refused.value.location), read


@pytest.mark.parametrize("events", ["/dev/zero", "fifo"])
def test_the_events_of_an_abandoned_run_are_never_read_from_a_link_or_a_fifo(project: Path, events):
    from regionkit.provision import deploy

    folder = Project(project).runs_dir / "20211110T010000.000000Z-abc123"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({"run_id": "20211110T010000.000000Z-abc123", "status": "running",
                                                    "mode": "deploy"}))
    if events == "fifo":
        os.mkfifo(folder / "events.jsonl")  # opening it for reading would wait for a writer forever
    else:
        (folder / "events.jsonl").symlink_to(events)  # reading it would never end
    with pytest.raises(InputError) as refused:
        deploy.settle_abandoned_runs(Project(project))
    assert str(folder / "events.jsonl") in str(refused.value.location)
