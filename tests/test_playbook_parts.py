"""The playbooks' shared pieces are written once: package installs, the helper one-liner, handlers, removal."""

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

PLAYBOOKS = Path(__file__).resolve().parent.parent / "playbooks"


def _texts() -> dict[str, str]:
    return {p.relative_to(PLAYBOOKS).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(PLAYBOOKS.rglob("*.yml"))}


def test_packages_are_installed_by_the_packages_role_only():
    users = {name for name, text in _texts().items() if re.search(r"ansible\.builtin\.apt:|dpkg-query", text)}
    assert users == {"roles/packages/tasks/main.yml"}
    # Every role with a <role>_packages list hands it to the packages role, keeping <role>_install for its tasks.
    for defaults in sorted(PLAYBOOKS.glob("roles/*/defaults/main.yml")):
        role = defaults.parent.parent.name
        if f"{role}_packages" in (yaml.safe_load(defaults.read_text(encoding="utf-8")) or {}):
            tasks = "".join(p.read_text(encoding="utf-8") for p in defaults.parent.parent.glob("tasks/*.yml"))
            assert f"packages_for: {role}\n" in tasks and f'packages_wanted: "{{{{ {role}_packages }}}}"' in tasks


def test_the_helper_one_liner_is_defined_once():
    texts = _texts()
    assert [name for name, text in texts.items() if "exec(d.pop('script')" in text] == ["group_vars/all/helpers.yml"]
    runs = [name for name, text in texts.items() if "python3, -c," in text]
    assert runs and all('python3, -c, "{{ regionkit_helper }}"' in texts[name] for name in runs)


def test_handlers_live_in_roles_and_every_notification_has_one():
    for play_file in sorted(PLAYBOOKS.glob("*.yml")):
        plays = yaml.safe_load(play_file.read_text(encoding="utf-8"))
        assert all("handlers" not in play for play in plays), play_file.name
    listened = set()
    for handlers in PLAYBOOKS.glob("roles/*/handlers/main.yml"):
        for handler in yaml.safe_load(handlers.read_text(encoding="utf-8")):
            listened |= {handler["name"], handler.get("listen")}
    notified = set(re.findall(r"notify: (.+)", "".join(_texts().values())))
    assert notified and notified <= listened


def test_removing_an_app_is_each_roles_own_remove_tasks():
    steps = yaml.safe_load((PLAYBOOKS / "tasks" / "remove-app.yml").read_text(encoding="utf-8"))
    roles = [s["ansible.builtin.include_role"]["name"] for s in steps if "ansible.builtin.include_role" in s]
    assert roles == ["nginx", "php", "app"]
    assert all(s["ansible.builtin.include_role"]["tasks_from"] == "remove"
               for s in steps if "ansible.builtin.include_role" in s)
    assert all((PLAYBOOKS / "roles" / role / "tasks" / "remove.yml").is_file() for role in roles)
    # Nothing but the deployed record is removed outside the roles.
    assert [s["name"] for s in steps if "ansible.builtin.include_role" not in s] == ["regionkit: record removed app"]


def test_the_health_role_checks_each_site_at_its_page_and_every_other_app_at_its_health_path(tmp_path):
    """The health role's checks, computed by real Ansible from the sample region's playbook vars (the golden file
    of test_appplan): an app with sites gets one check per site at "/", every other app one at its fqdn and
    health path."""
    golden = PLAYBOOKS.parent / "tests" / "data" / "playbook-vars-pandeglang.yml"
    out = tmp_path / "checks.json"
    (tmp_path / "p.yml").write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False,
        "vars_files": [str(golden), str(PLAYBOOKS / "roles" / "health" / "vars" / "main.yml")],
        "tasks": [{"ansible.builtin.copy": {"content": "{{ health_checks | to_json }}", "dest": str(out)}}]}]))
    ansible = Path(sys.executable).parent / "ansible-playbook"
    run = subprocess.run([str(ansible), "-i", "localhost,", "-c", "local", str(tmp_path / "p.yml")], cwd=tmp_path,
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "ANSIBLE_LOCALHOST_WARNING": "0",
                                                             "HOME": str(tmp_path)}, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    checks = [(c["id"], c["health_host"], c["health_path"]) for c in json.loads(out.read_text())]
    apps = yaml.load(golden.read_text().removeprefix("!unsafe\n"), Loader=yaml.SafeLoader)["regionkit_apps"]
    expected = [(a["id"], f"{site}.pandeglangkab.go.id", "/") for a in apps for site in a["sites"]]
    expected += [(a["id"], a["fqdn"], a["health"]) for a in apps if not a["sites"]]
    assert sorted(checks) == sorted(expected)
    assert any(a["kind"] == "unit-site" for a in apps) and any(a["kind"] == "web" for a in apps)
