"""The deploy's bookkeeping without servers: event summaries, convergence, lock, inventory and config."""

import pytest
import yaml
from conftest import with_hosts

from regionkit.errors import InputError
from regionkit.project.files import Project
from regionkit.provision.deploy import PLATFORM, _converged, summarise
from regionkit.provision.inventory import inventory
from regionkit.provision.runspec import RECORDED, ansible_config


def result(status, host, task, app=None, msg="", phase=None):
    event = {"event": "result", "status": status, "host": host, "task": task, "app": app, "msg": msg}
    return event if phase is None else {**event, "phase": phase}


def test_summary_per_app_and_host_and_convergence():
    events = [
        {"event": "play", "name": "Base system"},
        result("ok", "h1", "base : timezone"),
        result("changed", "h2", "app : Release", "e-office"),
        result("changed", "h2", "app : Record", "e-office", phase=RECORDED),
        result("ok", "h2", "app : Release", "laksa"),
        result("failed", "h2", "app : Files | the artifact is the one the build names", "laksa", "sha256 differs"),
        result("ignored", "h2", "probe", "laksa"),
        result("skipped", "h1", "mariadb : create", None),
    ]
    per_app, per_host, failures = summarise(events)
    assert per_app["e-office"]["changed"] == 2 and per_app["e-office"]["recorded_on"] == ["h2"]
    assert per_app[PLATFORM]["ok"] == 1 and per_app[PLATFORM]["skipped"] == 1
    assert per_host["h2"] == {"ok": 1, "changed": 2, "failed": 1, "unreachable": 0, "skipped": 0}
    assert failures == [{"app": "laksa", "host": "h2", "task": "app : Files | the artifact is the one the build names",
                         "msg": "sha256 differs"}]
    assert _converged(per_app["e-office"]) and not _converged(per_app["laksa"]) and not _converged(None)


def test_an_app_interrupted_before_its_record_task_has_not_converged():
    per_app, _, _ = summarise([result("changed", "h2", "app : Release", "sigap")])
    assert not _converged(per_app["sigap"])


def test_lock_refuses_a_second_holder(project):
    with Project(project).lock():
        with pytest.raises(InputError, match="another deploy is running"):
            with Project(project).lock():
                pass
    with Project(project).lock():  # released on exit
        pass


def test_inventory_groups_and_ssh_settings(project):
    with_hosts(project)
    profile = Project(project).profile()
    data = inventory(profile)
    assert data["all"]["children"]["web"]["hosts"] == {"web1": {}}
    assert data["all"]["children"]["db"]["hosts"] == {"db1": {}}
    assert data["all"]["hosts"]["web1"]["ansible_python_interpreter"] == "/usr/bin/python3"
    yaml.safe_dump(data)


def test_tuned_and_stock_ansible_config(tmp_path):
    tuned = ansible_config(tmp_path, tuned=True)
    stock = ansible_config(tmp_path, tuned=False)
    assert "pipelining = True" in tuned and "ControlPersist" in tuned and "fact_caching = jsonfile" in tuned
    assert "pipelining" not in stock and "ControlPersist" not in stock
    for cfg in (tuned, stock):
        assert "stdout_callback = regionkit_events" in cfg and "roles_path" in cfg


def test_deploy_refuses_an_invalid_project_before_touching_anything(cli, project):
    cli("apps", "add", "e-office")  # no hosts with web/db roles
    result = cli("deploy")
    assert result.exit_code == 2 and "no host has the web role" in result.stderr
    assert not (project / ".regionkit" / "runs").exists()


def test_deploy_under_an_unknown_agreement_is_refused(cli, project):
    with_hosts(project)
    result = cli("deploy", "--agreement", "MOU-404")
    assert result.exit_code == 2 and "no agreement numbered 'MOU-404'" in result.stderr
    assert not (project / ".regionkit" / "runs").exists()


def test_undeploy_refuses_chosen_apps_and_apps_the_ledger_does_not_record_before_any_run(cli, project):
    from regionkit.audit.ledger import AppHostFact, record_deploy

    with_hosts(project)
    cli("apps", "add", "e-office")
    record_deploy(project, ("36.01", "Kabupaten Pandeglang"), [AppHostFact("laksa", "web1", "1.0.0", True)],
                  run_id="r1", operator="test", kit_version="0.1.0", catalog_digest=None,
                  started="2026-01-01T00:00:00Z", finished="2026-01-01T00:01:00Z")
    chosen = cli("undeploy", "e-office")
    assert chosen.exit_code == 2 and "still chosen for this region: e-office" in chosen.stderr
    never = cli("undeploy", "open-data")
    assert never.exit_code == 2 and "records no host of 36.01 running open-data" in never.stderr
    assert not (project / ".regionkit" / "runs").exists()
