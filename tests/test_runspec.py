"""One way to run a playbook (regionkit.provision.runspec) and the event callback's explicit data.

The callback attributes results to apps and phases from the task variables `regionkit_app` and `regionkit_phase`,
never from a task's name or a loop variable's name: a real ansible-playbook run (localhost, connection local)
of a playbook whose names are all unlike the kit's shows it.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import yaml

from regionkit.project.files import Project
from regionkit.provision import runner
from regionkit.provision.deploy import PLATFORM, _converged, summarise
from regionkit.provision.runspec import RECORDED, REMOVED, RunSpec, playbook_run
from regionkit.provision.secrets import VaultPassword

REPO = Path(__file__).resolve().parent.parent

PLAY = textwrap.dedent("""\
    - name: Something else entirely
      hosts: all
      gather_facts: false
      tasks:
        - name: Before any app
          ansible.builtin.debug:
            msg: platform
        - name: Each thing
          ansible.builtin.include_tasks: per-thing.yml
          loop: "{{ regionkit_apps }}"
          loop_control:
            loop_var: thing
          vars:
            regionkit_app: "{{ thing.id }}"
""")

PER_THING = textwrap.dedent("""\
    - name: Work on {{ thing.id }}
      ansible.builtin.include_role:
        name: worker
    - name: A finishing touch with any name
      vars:
        regionkit_phase: recorded
      ansible.builtin.debug:
        msg: "{{ thing.id }} done"
""")

ROLE_TASK = textwrap.dedent("""\
    - name: Inside a role
      ansible.builtin.command: "true"
      changed_when: true
""")


def local_run(tmp_path: Path, apps: list[dict]) -> RunSpec:
    playbooks = tmp_path / "playbooks"
    (playbooks / "roles" / "worker" / "tasks").mkdir(parents=True)
    (playbooks / "play.yml").write_text(PLAY)
    (playbooks / "per-thing.yml").write_text(PER_THING)
    (playbooks / "roles" / "worker" / "tasks" / "main.yml").write_text(ROLE_TASK)
    inventory = {"all": {"hosts": {"here": {"ansible_connection": "local",
                                            "ansible_python_interpreter": sys.executable}}}}
    return playbook_run(Project(tmp_path / "project").ansible_dir, inventory, "play.yml", {"regionkit_apps": apps},
                        playbooks=playbooks, tuned=False)


def test_results_are_attributed_by_explicit_task_data_not_names(tmp_path):
    # an app id holding template syntax stays text: the vars file is !unsafe, and only regionkit_app is rendered
    apps = [{"id": "alpha"}, {"id": "beta{{ 7 * 6 }}"}]
    spec = local_run(tmp_path, apps)
    spec.write()
    events: list[dict] = []
    outcome = spec.run(events.append, tmp_path / "ansible.log")
    assert outcome.returncode == 0, (tmp_path / "ansible.log").read_text()
    results = [e for e in events if e["event"] == "result"]
    by_task = {(e["task"], e["app"]) for e in results}
    assert ("Before any app", None) in by_task
    assert {("worker : Inside a role", "alpha"), ("worker : Inside a role", "beta{{ 7 * 6 }}")} <= by_task
    marked = [(e["app"], e["phase"]) for e in results if "phase" in e]
    assert marked == [("alpha", RECORDED), ("beta{{ 7 * 6 }}", RECORDED)]
    per_app, _, failures = summarise(events)
    assert not failures and per_app[PLATFORM]["ok"] == 2  # the first task and the inclusion itself
    assert {e["task"] for e in results if e["app"] is None} == {"Before any app", "Each thing"}
    assert _converged(per_app["alpha"]) and _converged(per_app["beta{{ 7 * 6 }}"])
    assert per_app["alpha"]["changed_tasks"] == ["worker : Inside a role"]


def test_the_kit_playbooks_mark_apps_and_phases_explicitly():
    """The per-app inclusions name their app, and the last per-app task carries the phase deploy counts."""
    playbooks = REPO / "playbooks"
    for playbook, tasks, phase in (("site.yml", "tasks/deploy-app.yml", RECORDED),
                                   ("remove.yml", "tasks/remove-app.yml", REMOVED)):
        includes = [t for play in yaml.safe_load((playbooks / playbook).read_text())
                    for t in _tasks(play.get("tasks", [])) if t.get("ansible.builtin.include_tasks") == tasks]
        assert len(includes) == 1, playbook
        loop_var = includes[0]["loop_control"]["loop_var"]
        assert includes[0]["vars"]["regionkit_app"] == f"{{{{ {loop_var}.id }}}}"
        last = yaml.safe_load((playbooks / tasks).read_text())[-1]
        assert last["vars"]["regionkit_phase"] == phase


def _tasks(tasks: list[dict]):
    for task in tasks:
        yield task
        for key in ("block", "rescue", "always"):
            yield from _tasks(task.get(key, []))


def test_the_vault_password_reaches_the_playbook_through_a_pipe(tmp_path, monkeypatch):
    """argv names /dev/fd/N, never the password; the playbook can read it from there."""
    script = tmp_path / "fake-playbook"
    script.write_text(f"#!{sys.executable}\nimport json, sys\n"
                      "source = sys.argv[sys.argv.index('--vault-password-file') + 1]\n"
                      "print(json.dumps({'event': 'seen', 'source': source, 'password': open(source).read()}))\n")
    script.chmod(0o755)
    spec = playbook_run(Project(tmp_path).ansible_dir, {"all": {}}, "site.yml", {}, vault_file=tmp_path / "vault.yml",
                        check=True)
    files = spec.write()
    assert files.folder == tmp_path / ".regionkit/ansible" and files.config.read_text().startswith("[defaults]")
    monkeypatch.setattr(runner, "ansible_playbook", lambda: str(script))
    seen: list[dict] = []
    started: list[list[str]] = []
    spec.run(seen.append, tmp_path / "log", password=VaultPassword(b"s3cret", "test"), on_start=started.append)
    assert seen[0]["source"].startswith("/dev/fd/") and seen[0]["password"] == "s3cret\n"
    argv = started[0]
    assert "s3cret" not in " ".join(argv) and "s3cret" not in str(spec.env().values())
    assert argv[argv.index("-e", argv.index("-e") + 1) + 1] == f"@{tmp_path / 'vault.yml'}"
    assert "--check" in argv and "--diff" in argv
    assert not any(b"s3cret" in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p != script)
