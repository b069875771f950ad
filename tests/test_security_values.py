"""Values are data: project values never run as code on the control node, never become SSH options, and never
break out of a line of a generated file (issue 11 items 1-3, issue 13 item 1).

Three layers, each tested on its own:
- `validate` refuses control characters and template syntax, and SSH paths and login names that are not plain
  (the CLI tests run the real `regionkit plan` / `preflight` and check that no marker file appears);
- whatever reaches Ansible is marked `!unsafe` (real ansible-playbook, and Ansible's own loader, on values that
  bypass validation);
- every generated format escapes what it holds (rendering with values that bypass validation).
"""

from __future__ import annotations

import configparser
import json
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import with_hosts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import TemplateRuntimeError

from regionkit.catalog.model import load_catalog
from regionkit.errors import InputError, ValidationFailed
from regionkit.plaintext import CONTROL_CHARACTERS, text_problem
from regionkit.project.files import Project
from regionkit.project.region import load_profile
from regionkit.project.scaffold import InitOptions, create_project, propose_profile
from regionkit.provision import preflight, runner
from regionkit.provision.inventory import inventory, playbook_vars
from regionkit.provision.runspec import ansible_config, playbook_run
from regionkit.render.build import Renderer
from regionkit.render.filters import comment_text, nginx, quote, systemd, yaml_value

REPO = Path(__file__).resolve().parent.parent


def regionkit(project: Path, *args: str) -> subprocess.CompletedProcess:
    """The real command, in a process of its own, importing this checkout (whatever the tests' current folder)."""
    return subprocess.run([sys.executable, "-m", "regionkit", "-C", str(project), *args], capture_output=True,
                          text=True, timeout=300, cwd=REPO)


HOSTILE_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from(list("\n\r\t\x0b\x85\u2028{}%#;$`'\"\\*/-")),
                       max_size=60)  # text with what breaks formats


def pipe(marker: Path) -> str:
    """Ansible template syntax that creates `marker` when Ansible evaluates it."""
    return f"{{{{ lookup('pipe', 'touch {marker}') }}}}"


def closed_port() -> int:
    """A loopback port nothing listens on (so that Ansible fails to connect, after templating its settings)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def edit(root: Path, old: str, new: str) -> None:
    path = root / "region.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def errors(cli) -> list[dict]:
    result = cli("validate", "--json")
    assert result.exit_code == 2, result.output
    return json.loads(result.stdout)["errors"]


# --- 1 and 2: the real commands, with the attacks of the issue ---------------------------------------------------


@pytest.fixture(scope="module")
def pangkep(tmp_path_factory) -> Path:
    """Kabupaten Pangkajene dan Kepulauan (73.10) with e-Office and the demo artifact store: `plan` and
    `preflight` go as far as Ansible. Its one host is 127.0.0.1 on a closed port. Tests restore region.yaml."""
    root = tmp_path_factory.mktemp("attacks") / "pangkep"
    root.mkdir()
    init = regionkit(root, "init", str(root), "--region", "73.10", "--no-input")
    assert init.returncode == 0, init.stderr
    assert regionkit(root, "apps", "add", "e-office").returncode == 0
    edit(root, "hosts: []\n",
         f"hosts:\n  - {{name: web1, address: 127.0.0.1, port: {closed_port()}, roles: [web, db]}}\n")
    assert regionkit(root, "artifacts", "build-demo").returncode == 0
    return root


HOST_LINE = "roles: [web, db]}"


@pytest.mark.parametrize("old, new, field", [
    ("  name: Kabupaten Pangkajene dan Kepulauan", "  name: \"Kab X{pipe}\"", "region.name"),
    (HOST_LINE, "roles: [web, db], user: \"root{pipe}\"}", "hosts[0].user"),
    (HOST_LINE, "roles: [web, db], known_hosts: '/tmp/kh -o ProxyCommand=\"touch {marker}\"'}", "hosts[0].known_hosts"),
    (HOST_LINE, "roles: [web, db], ssh_key: '/tmp/key\" -o ProxyCommand=\"touch {marker}'}", "hosts[0].ssh_key"),
], ids=["region-name-template", "host-user-template", "known-hosts-proxycommand", "ssh-key-proxycommand"])
@pytest.mark.parametrize("command", ["plan", "preflight"])
def test_plan_and_preflight_refuse_and_run_nothing(pangkep, command, old, new, field):
    marker = pangkep.parent / f"pwned-{command}-{field}"
    original = (pangkep / "region.yaml").read_text()
    try:
        edit(pangkep, old, new.replace("{pipe}", pipe(marker)).replace("{marker}", str(marker)))
        result = regionkit(pangkep, command)
        assert not marker.exists(), f"{command} ran the command in {field}"
        assert result.returncode == 2, result.stderr
        assert "region.yaml:" in result.stderr and field in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        (pangkep / "region.yaml").write_text(original)


# --- 1: Ansible never templates what regionkit hands it -----------------------------------------------------------


def hostile_profile(root: Path, markers: Path):
    """The project's profile with template syntax in every host and region field, as if validation were bypassed."""
    profile = load_profile(root / "region.yaml")
    host = profile.hosts[0].model_copy(update={
        "user": "root" + pipe(markers / "pwned-user"), "ssh_key": "/tmp/key" + pipe(markers / "pwned-key"),
        "known_hosts": "/tmp/kh" + pipe(markers / "pwned-known-hosts")})
    region = profile.region.model_copy(update={"name": "Kab X" + pipe(markers / "pwned-region-name"),
                                               "domain": "x.go.id" + pipe(markers / "pwned-domain")})
    return profile.model_copy(update={"hosts": [host], "region": region})


def write_run_files(root: Path, profile, apps: list[dict], build: Path):
    """The files a deploy of `apps` writes, built as `regionkit deploy` builds them."""
    return playbook_run(Project(root).ansible_dir, inventory(profile), "site.yml",
                        playbook_vars(profile, apps, build)).write()


def hostile_apps(markers: Path) -> list[dict]:
    return [{"id": "e-office", "name": "e-Office" + pipe(markers / "pwned-app-name"), "version": "1.0.0",
             "fqdn": "e-office.x.go.id" + pipe(markers / "pwned-fqdn"), "sites": ["s" + pipe(markers / "pwned-site")],
             "artifact": {"path": "/tmp/a" + pipe(markers / "pwned-artifact"), "sha256": "0" * 64},
             "kind": "web", "database": "postgresql", "db_name": "eoffice" + pipe(markers / "pwned-db-name"),
             "db_user": "eoffice" + pipe(markers / "pwned-db-user")}]


def test_the_preflight_probe_never_templates_host_settings(pangkep, tmp_path):
    profile = hostile_profile(pangkep, tmp_path)
    answers = preflight.probe(Project(pangkep), profile, ["web1"])
    assert isinstance(answers["web1"], str)  # unreachable: nothing answers on the port
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "Ansible evaluated a host setting"


PLAYBOOK = """\
- name: Use every value regionkit hands Ansible
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Write them back
      ansible.builtin.copy:
        dest: "{{ out }}"
        mode: "0600"
        content: >-
          {{ {'region': regionkit_region, 'apps': regionkit_apps, 'build': regionkit_build_dir,
              'clients': regionkit_db_clients, 'databases': regionkit_databases,
              'host': {'user': hostvars['web1'].ansible_user, 'key': hostvars['web1'].ansible_ssh_private_key_file,
                       'args': hostvars['web1'].ansible_ssh_common_args}} | to_json }}
"""


def test_ansible_reads_every_generated_value_as_text(pangkep, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    profile = hostile_profile(pangkep, markers)
    apps = hostile_apps(markers)
    # the project's folder is a value too: it is in ansible.cfg, the inventory's path and regionkit_build_dir
    root = tmp_path / "Kab X 100%{{ lookup('pipe', 'touch pwned-folder') }}"
    files = write_run_files(root, profile, apps, root / "build")
    play = tmp_path / "play.yml"
    play.write_text(PLAYBOOK)
    out = tmp_path / "out.json"
    done = subprocess.run([runner.ansible_playbook(), str(play), "-i", str(files.inventory), "-e",
                           f"@{files.variables}", "-e", json.dumps({"out": str(out)})],
                          capture_output=True, text=True, cwd=markers, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "ANSIBLE_CONFIG": str(files.config),
                               "ANSIBLE_LOCALHOST_WARNING": "0", "HOME": str(tmp_path)})
    assert sorted(p.name for p in markers.iterdir()) == [], "Ansible evaluated a value of the project"
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(out.read_text())
    assert seen["region"]["name"] == profile.region.name and seen["region"]["domain"] == profile.region.domain
    assert seen["build"] == str(root / "build")
    assert seen["apps"] == apps
    assert seen["databases"] == [{k: apps[0][k] for k in ("id", "database", "db_name", "db_user")}]
    host = profile.hosts[0]
    assert seen["host"]["user"] == host.user and seen["host"]["key"] == host.ssh_key
    assert shlex.split(seen["host"]["args"]) == ["-o", "IdentitiesOnly=yes", "-o",
                                                 f"UserKnownHostsFile={host.known_hosts}"]


@pytest.mark.parametrize("folder", ["Kab X\n[defaults]\ncallback_plugins = /tmp", "Kab X ;comment"])
def test_a_project_folder_that_ansible_cfg_cannot_hold_is_refused_before_writing(pangkep, tmp_path, folder):
    root = tmp_path / folder
    with pytest.raises(InputError, match="Ansible's configuration cannot hold this path"):
        write_run_files(root, load_profile(pangkep / "region.yaml"), [], root / "build")
    assert not root.exists()


def test_ansible_cfg_reads_back_paths_with_percent_signs(tmp_path):
    folder = tmp_path / "Kab X 100% (2024)"
    ini = configparser.ConfigParser(inline_comment_prefixes=(";",))  # as Ansible reads it
    ini.read_string(ansible_config(folder, tuned=True))
    assert ini["defaults"]["inventory"] == str(folder / "inventory.yml")
    assert ini["defaults"]["fact_caching_connection"] == str(folder / "facts")


def _strings(data, path=""):
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _strings(value, f"{path}.{key}")
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from _strings(item, f"{path}[{index}]")


class _UnsafeAsText(yaml.SafeLoader):
    pass


_UnsafeAsText.add_constructor("!unsafe", lambda loader, node: loader.construct_mapping(node, deep=True))


def test_ansibles_loader_finds_every_generated_string_unsafe(pangkep, tmp_path):
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import is_trusted_as_template

    profile = hostile_profile(pangkep, tmp_path)
    files = write_run_files(pangkep, profile, hostile_apps(tmp_path), pangkep / "build")
    preflight.probe(Project(pangkep), profile, ["web1"])
    loader = DataLoader()
    checked = 0
    for path in (files.inventory, files.variables, pangkep / ".regionkit/preflight/inventory.yml",
                 pangkep / ".regionkit/preflight/vars.yml"):
        loaded = loader.load_from_file(str(path), trusted_as_template=True)  # as the inventory and -e @ do
        assert loaded == yaml.load(path.read_text(), Loader=_UnsafeAsText)  # the tag changes nothing but trust
        for where, value in _strings(loaded):
            assert not is_trusted_as_template(value), f"{path.name}{where} would be templated: {value!r}"
            checked += 1
    assert checked > 20


# --- 2: SSH arguments ---------------------------------------------------------------------------------------------


WEB1 = "address: 192.0.2.11, roles: [web]}"  # the host line of conftest.with_hosts


@pytest.mark.parametrize("value", [
    '/tmp/kh -o ProxyCommand="touch x"', "-oProxyCommand=touch", "/tmp/a b", "/tmp/a\tb", "/tmp/a%h", "/tmp/${HOME}",
    "/tmp/a'b", '/tmp/a"b', "/tmp/a;b", "/tmp/a$(id)", "/tmp/a\nb", "",
])
@pytest.mark.parametrize("field", ["known_hosts", "ssh_key"])
def test_ssh_paths_must_be_plain_paths(cli, project, field, value):
    with_hosts(project)
    edit(project, WEB1, f"address: 192.0.2.11, roles: [web], {field}: {json.dumps(value)}}}")
    line = (project / "region.yaml").read_text().splitlines().index(f"  - {{name: web1, address: 192.0.2.11, "
                                                                  f"roles: [web], {field}: {json.dumps(value)}}}") + 1
    found = {e["field"]: e for e in errors(cli)}
    assert found[f"hosts[0].{field}"]["line"] == line, found


@pytest.mark.parametrize("value", ["~/.ssh/known_hosts", "keys/web1_ed25519", "/root/.ssh/id-rsa.pub+x@y", "~budi/k"])
def test_ordinary_ssh_paths_pass_and_are_quoted(cli, project, value):
    with_hosts(project)
    edit(project, WEB1, f"address: 192.0.2.11, roles: [web], ssh_key: {value}, known_hosts: {value}}}")
    assert cli("validate").exit_code == 0
    entry = inventory(Project(project).profile())["all"]["hosts"]["web1"]
    assert shlex.split(entry["ansible_ssh_common_args"]) == ["-o", "IdentitiesOnly=yes", "-o",
                                                             f"UserKnownHostsFile={value}"]
    assert entry["ansible_ssh_private_key_file"] == value


@pytest.mark.parametrize("value", ["root -oProxyCommand=x", "-oProxyCommand=x", "root;id", "r" * 33, "1root", ""])
def test_host_users_are_login_names(cli, project, value):
    with_hosts(project)
    edit(project, WEB1, f"address: 192.0.2.11, roles: [web], user: {json.dumps(value)}}}")
    assert "hosts[0].user" in {e["field"] for e in errors(cli)}


# --- 1 and 3: validate refuses control characters and template syntax, naming file, line and field -----------


@pytest.mark.parametrize("old, new, field, message", [
    ("  name: Kabupaten Pandeglang", "  name: \"Kab X{{ lookup('pipe','touch m') }}\"", "region.name",
     "contains template syntax '{{'"),
    ("  province: Banten", "  province: \"{% if true %}Banten{% endif %}\"", "region.province",
     "contains template syntax '{%'"),
    ("  capital: Pandeglang", "  capital: \"Pandeglang {# x #}\"", "region.capital", "contains template syntax '{#'"),
    ("  name: Kabupaten Pandeglang", "  name: |\n    Kabupaten Pandeglang\n    }\n    server { listen 80; }\n"
     "    EVIL=1\n    */", "region.name", "contains a line break (U+000A)"),
    ("    name: Sekretariat Daerah", "    name: \"Sekretariat\\rDaerah\"", "units[0].name",
     "contains a carriage return (U+000D)"),
    ("    title: Bupati", "    title: \"Bupati\\t\"", "region.head.title", "contains a tab (U+0009)"),
    ("    name: null", "    name: \"Budi\\u2028Santoso\"", "region.head.name", "a line separator (U+2028)"),
    ("    name: null", "    name: \"Budi\\x85\"", "region.head.name", "a control character (U+0085)"),
    ("    name: null", "    name: \"Budi\\0\"", "region.head.name", "a control character (U+0000)"),
])
def test_validate_refuses_control_characters_and_template_syntax(cli, project, old, new, field, message):
    edit(project, old, new)
    line = next(i + 1 for i, text in enumerate((project / "region.yaml").read_text().splitlines())
                if text.startswith(new.splitlines()[0]))
    [error] = [e for e in errors(cli) if e["field"] == field]
    assert message in error["message"] and error["line"] == line
    assert error["file"] == str(project / "region.yaml")


def test_app_settings_may_hold_template_syntax_but_not_control_characters(cli, project):
    with_hosts(project)
    assert cli("apps", "add", "e-office").exit_code == 0
    edit(project, "  e-office: {}", "  e-office:\n    settings: {greeting: 'Halo {{ nama }}', motd: \"a\\nb\"}")
    [error] = errors(cli)
    assert error["field"] == "apps.e-office.settings.motd" and "line break" in error["message"]
    edit(project, 'motd: "a\\nb"', '"bad\\nkey": 1, "A=1 B": 2')
    found = {e["field"]: e["message"] for e in errors(cli)}
    assert "key contains a line break" in found["apps.e-office.settings.bad\nkey"]
    assert "should match pattern" in found["apps.e-office.settings.A=1 B.[key]"]


def test_catalog_validate_refuses_control_characters_and_template_syntax(cli, write_catalog, catalog_text):
    text = catalog_text.replace("    name: SSO Tangerang", '    name: "SSO\\nExecStartPre=/bin/true"', 1)
    text = text.replace("      en: Single sign-on for every government app.",
                        "      en: \"Single {{ lookup('pipe', 'id') }}\"", 1)
    result = cli("catalog", "validate", write_catalog(text), "--json")
    assert result.exit_code == 2
    found = {(e["field"], e["line"]): e["message"] for e in json.loads(result.stdout)["problems"]}
    assert "contains a line break" in found[("apps[sso].name", 20)]
    assert "template syntax '{{'" in found[("apps[sso].summary.en", 26)]


def test_the_kit_catalog_holds_only_plain_values():
    load_catalog()  # raises ValidationFailed on any control character or template syntax


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from([("region", "name"), ("region", "province"), ("region", "head", "title"),
                              ("units", 0, "name"), ("units", 0, "address")]),
       value=HOSTILE_TEXT)
def test_validate_refuses_or_accepts_any_text_and_never_crashes(cli, project, field, value):
    original = (project / "region.yaml").read_text()
    data = yaml.safe_load(original)
    target = data
    for part in field[:-1]:
        target = target[part]
    target[field[-1]] = value
    text = yaml.safe_dump(data, sort_keys=False)  # non-ASCII as escapes: PyYAML writes NEL raw otherwise
    assert yaml.safe_load(text) == data
    (project / "region.yaml").write_text(text)
    try:
        result = cli("validate", "--json")
        assert result.exit_code in (0, 2), result.output
        if text_problem(value) is not None:
            shown = ".".join(str(p) for p in field).replace(".0.", "[0].")
            assert result.exit_code == 2 and any(e["field"] == shown and e["line"]
                                                 for e in json.loads(result.stdout)["errors"]), result.output
    finally:
        (project / "region.yaml").write_text(original)


# --- 3: init never writes a project that does not validate --------------------------------------------------------


@pytest.mark.parametrize("args, option", [
    (["--institution", "Polres X\nschema_version: 2", "--parent", "73.10"], "--institution"),
    (["--region", "73.10", "--head-name", "Budi{{ 7*7 }}"], "--head-name"),
    (["--region", "73.10", "--head-title", "Bupati\r"], "--head-title"),
    (["--institution", "Polres {% raw %}", "--parent", "73.10"], "--institution"),
])
def test_init_refuses_values_that_would_not_validate(cli, tmp_path, args, option):
    target = tmp_path / "p"
    result = cli("init", target, *args, "--no-input")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {option}: contains ") and "Traceback" not in result.stderr
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_init_checks_the_written_profile_as_validate_does(tmp_path):
    profile = propose_profile(InitOptions(region="73.10"))
    profile["region"]["name"] = "Kab X\nschema_version: 2"  # as if the proposal had let it through
    with pytest.raises(ValidationFailed, match="would not validate; nothing was written") as caught:
        create_project(tmp_path / "p", profile)
    assert any("region.name" in str(p) and "line break" in str(p) for p in caught.value.problems)
    assert list(tmp_path.iterdir()) == []


def test_init_writes_names_with_quotes_and_apostrophes_that_validate(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # -C below changes the folder of this process
    target = tmp_path / "p"
    result = cli("init", target, "--institution", "Polres 'Metro' \"Kota\" #1: x", "--parent", "36.71",
                 "--head-name", "Dr. H. Budi's, S.H.", "--no-input")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((target / "region.yaml").read_text())
    assert data["region"]["name"] == "Polres 'Metro' \"Kota\" #1: x"
    assert data["region"]["head"]["name"] == "Dr. H. Budi's, S.H."
    assert cli("-C", target, "validate").exit_code == 0


# --- 3: every generated format escapes what it holds -----------------------------------------------------------


HOSTILE = ("Kab X\n}\nserver { listen 80; return 200 pwned; }\nEVIL=1\n"
           "php_admin_value[auto_prepend_file] = /tmp/x.php\n"
           "ExecStartPre=/bin/touch /tmp/pwned\n*/ body { display: none } /*\r\t\x0b\x85\u2028 $(touch pwned-shell) "
           "`touch pwned-tick` \"quoted\" back\\slash 100% --> {{ 7*7 }} ; # [x]")
HOSTILE_DOMAIN = 'x.go.id;\n}\nserver {\n  listen 80; root "/"; \\'


@pytest.fixture
def rendered(cli, project):
    """(benign, hostile): the files of e-Office (PHP), SSO (a service), the unit sites and a national platform,
    rendered for the project as it is, and with a hostile region name and domain that bypass validation."""
    with_hosts(project)
    assert cli("apps", "add", "e-office", "website-opd", "sp4n-lapor").exit_code == 0
    profile = load_profile(project / "region.yaml")
    catalog = load_catalog()
    benign, _ = Renderer(project, profile, catalog).render_files()
    region = profile.region.model_copy(update={"name": HOSTILE, "domain": HOSTILE_DOMAIN})
    catalog.apps["sso"] = catalog.apps["sso"].model_copy(update={"name": HOSTILE})
    hostile, _ = Renderer(project, profile.model_copy(update={"region": region}), catalog).render_files()
    return ({k: v.decode() for k, v in benign.items() if k.startswith("apps/")},
            {k: v.decode() for k, v in hostile.items() if k.startswith("apps/")})


def nginx_statements(text: str) -> list[tuple[int, list[str]]]:
    """nginx.conf read by nginx's own lexical rules (ngx_conf_read_token): every statement as (depth, words),
    with quotes and escapes resolved; `{` ends a block's opening statement, `}` is a statement of its own."""
    statements, words, word, depth, i = [], [], None, 0, 0
    while i < len(text):
        char = text[i]
        if char == "#" and word is None:
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
        elif char in "\"'" and word is None:
            i, value = i + 1, ""
            while text[i] != char:
                if text[i] == "\\" and text[i + 1] in "\"'\\ntr":
                    value += {"n": "\n", "t": "\t", "r": "\r"}.get(text[i + 1], text[i + 1])
                    i += 2
                else:
                    value, i = value + text[i], i + 1
            words.append(value)
            i += 1
        elif char.isspace() or char in ";{}":
            if word is not None:
                words.append(word)
                word = None
            if char in ";{":
                statements.append((depth, words + ([char] if char == "{" else [])))
                words, depth = [], depth + (char == "{")
            elif char == "}":
                depth -= 1
                statements.append((depth, ["}"]))
            i += 1
        else:
            word, i = (word or "") + char, i + 1
    assert depth == 0 and words == [] and word is None, "unbalanced"
    return statements


def test_nginx_confs_keep_their_statements_and_read_back_the_names(rendered):
    benign, hostile = rendered
    for name in ("apps/e-office/nginx.conf", "apps/sso/nginx.conf", "apps/website-opd/nginx.conf"):
        assert hostile[name].count("\n") == benign[name].count("\n"), name
        before, after = nginx_statements(benign[name]), nginx_statements(hostile[name])
        assert len(after) == len(before), name
        in_map = False
        for (old_depth, old), (new_depth, new) in zip(before, after, strict=True):
            assert (new_depth, len(new)) == (old_depth, len(old)), (name, new)
            assert in_map or new[0] == old[0], (name, new)
            in_map = (old[0] == "map") or (in_map and old != ["}"])
        names = [words[1:] for _, words in after if words[0] == "server_name"]
        if name == "apps/website-opd/nginx.conf":
            assert names == [[f"{unit}.{HOSTILE_DOMAIN}" for unit in ("setda", "setwan", "inspektorat")]
                             + names[0][3:]]
        else:
            assert names == [[f"{name.split('/')[1]}.{HOSTILE_DOMAIN}"]]


def test_env_files_keep_every_value_on_its_line_and_a_shell_runs_nothing(rendered, tmp_path):
    benign, hostile = rendered
    for name in ("apps/e-office/app.env", "apps/sso/app.env"):
        lines = hostile[name].split("\n")
        assert len(lines) == len(benign[name].split("\n"))
        values = {}
        for line in lines:
            if line and not line.startswith("#"):
                key, _, raw = line.partition("=")
                values[key] = json.loads(raw)  # as the apps read it (regionkit/provision/workload/lib/workload.php)
        assert list(values) == [line.partition("=")[0] for line in benign[name].split("\n")
                                if line and not line.startswith("#")]
        assert values["REGION_NAME"] == HOSTILE and values["APP_URL"] == f"https://{name.split('/')[1]}.{HOSTILE_DOMAIN}/"
    (tmp_path / "app.env").write_text(hostile["apps/e-office/app.env"])
    sourced = subprocess.run(["sh", "-c", 'set -a; . ./app.env; printf %s "$REGION_NAME"'], cwd=tmp_path,
                             capture_output=True, text=True)  # what the sysvinit script does with it
    assert sourced.returncode == 0, sourced.stderr
    assert list(tmp_path.glob("pwned*")) == [], "sourcing app.env ran a command"
    assert "touch pwned-shell" in sourced.stdout and "\n" not in sourced.stdout


def test_php_fpm_pool_and_systemd_unit_gain_no_setting(rendered):
    benign, hostile = rendered
    for name in ("apps/e-office/php-fpm.conf", "apps/sso/app.service"):
        assert hostile[name].count("\n") == benign[name].count("\n"), name
        parsed = []
        for text in (benign[name], hostile[name]):
            ini = configparser.ConfigParser(interpolation=None, strict=False, comment_prefixes=(";", "#"))
            ini.optionxform = str
            ini.read_string(text)
            parsed.append({section: sorted(ini[section]) for section in ini.sections()})
        assert parsed[0] == parsed[1], name
    description = next(line for line in hostile["apps/sso/app.service"].split("\n") if line.startswith("Description="))
    assert "100%%" in description and "\\n" in description and "back\\\\slash" in description


def test_css_comment_cannot_be_closed_by_a_name(rendered):
    benign, hostile = rendered
    for name in ("apps/e-office/theme.css", "apps/sso/theme.css"):
        css = hostile[name]
        first, rest = css.split("\n", 1)
        assert first.startswith("/*") and first.endswith("*/") and first.count("*/") == 1
        assert rest == benign[name].split("\n", 1)[1]


def test_national_integration_yaml_reads_back_the_same_values(rendered):
    _, hostile = rendered
    data = yaml.safe_load(hostile["apps/sp4n-lapor/integration.yaml"])
    assert data["region_name"] == HOSTILE and data["region_domain"] == HOSTILE_DOMAIN


# --- the filters on their own ----------------------------------------------------------------------------------


def test_filters_keep_plain_values_as_they_were():
    for value in ("Kabupaten Pandeglang", "Kab. Pangkep's", "e-office.pandeglangkab.go.id"):
        assert comment_text(value) == value and systemd(value) == value
    assert nginx("e-office.pandeglangkab.go.id") == "e-office.pandeglangkab.go.id"
    assert quote("Kab. Pangkep's") == "\"Kab. Pangkep's\"" and yaml_value("Banten") == "Banten"


@pytest.mark.parametrize("value", [HOSTILE, "a\nb", "\u2028", "x\\", "--->", "*/*/", "'\"", "$HOME `id`"])
def test_filters_write_one_line_that_reads_back(value):
    check_filters(value)


@settings(max_examples=300, deadline=None)
@given(HOSTILE_TEXT)
def test_filters_write_one_line_that_reads_back_whatever_the_text(value):
    check_filters(value)


def check_filters(value: str) -> None:
    """Each filter's output stays on one line and reads back as the value by its format's rules."""
    assert "\n" not in comment_text(value) and len(comment_text(value).splitlines()) <= 1
    assert "*/" not in comment_text(value, "*/") and "--" not in comment_text(value, "--")
    assert json.loads(quote(value)) == value and not any(c in quote(value) for c in "$`\n\r\x85\u2028")
    assert yaml.safe_load(f"k: {yaml_value(value)}")["k"] == value and "\n" not in yaml_value(value)
    unit = systemd(value)
    assert len(unit.splitlines()) <= 1 and (len(unit) - len(unit.rstrip("\\"))) % 2 == 0  # never continues
    try:
        word = nginx(value)
    except TemplateRuntimeError:
        assert CONTROL_CHARACTERS.search(value.replace("\n", "").replace("\r", "").replace("\t", ""))
    else:
        assert "\n" not in word and nginx_statements(f"server_name {word};") == [(0, ["server_name", value])]


def test_nginx_filter_quotes_and_refuses_what_nginx_cannot_hold():
    assert nginx('a b;"\\\n') == '"a b;\\"\\\\\\n"'
    with pytest.raises(TemplateRuntimeError, match="control character"):
        nginx("a\x0bb")


def test_a_multi_line_yaml_value_stays_on_one_line():
    assert yaml_value({"k": "a\nb", "n": 5}).count("\n") == 0
    assert yaml.safe_load(yaml_value({"k": "a\nb", "n": 5})) == {"k": "a\nb", "n": 5}
