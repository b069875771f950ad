"""Hostile values in every file regionkit reads, through the real CLI.

The rule they all hold: exit 0 or 2, a refusal names `file:line`, never an internal error or a traceback, no
file changes on a refusal; user data is printed as text (never as rich markup); an edit of a YAML file changes
only what it edits, or writes nothing.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regionkit.audit import ledger
from regionkit.errors import ValidationFailed
from regionkit.field import bundle, packing
from regionkit.project.files import Project

MARKUP = "Kab [/] [link=https://evil.example]x[/link] [bold]y :smile: \\[z]"
AGREEMENT = ["agreements", "add", "--number", "1/2021", "--kind", "mou", "--date", "2021-11-10",
             "--party", "36.01"]


def refused_or_ok(result, changed: Path | None = None, before: bytes | None = None, file: Path | str = ""):
    """The one rule: exit 0 or 2, no internal error, a positioned line on refusal, nothing written on refusal."""
    output = result.stdout + result.stderr
    assert "internal error" not in output and "Traceback" not in output, output
    assert result.exit_code in (0, 2), output
    if result.exit_code == 2:
        assert re.search(re.escape(str(file)) + r":\d+", result.stderr), result.stderr
        if changed is not None:
            assert changed.read_bytes() == before
    return result.exit_code


def set_line(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def ledger_with(path: Path, **fields) -> Path:
    record = {"action": "deploy", "result": "succeeded", "region_code": "36.01", "region_name": "Kab Pandeglang",
              "app": "e-office", "version": "1.0", "host": "web1", "started": "2021-11-10T01:00:00Z",
              "finished": "2021-11-10T01:30:00Z", "operator": "budi", "kit_version": "0.1.0",
              "run_id": "20211110T010000Z-abc"}
    ledger.append_entries(path, [{**record, **fields}])
    return path


# ---------------------------------------------------------------------------------------------------------
# Item 4: terminal markup in user data is printed as text


def test_markup_in_the_region_name_is_printed_as_text_by_validate(project: Path, cli):
    set_line(project / "region.yaml", "name: Kabupaten Pandeglang", f"name: {json.dumps(MARKUP)}")
    result = cli("validate")
    assert result.exit_code == 0, result.output
    assert MARKUP in result.stdout


def test_markup_in_an_agreement_is_printed_as_text_and_written_once(project: Path, cli):
    party = "36.01 Kab [/]Pandeglang [link=x]y"
    result = cli(*AGREEMENT[:-1], party, "--source", MARKUP)
    assert result.exit_code == 0, result.output
    assert "added MOU 1/2021 (2021-11-10)" in result.stdout
    loaded = yaml.safe_load((project / "agreements.yaml").read_text())
    assert loaded["agreements"][0]["source"] == MARKUP
    assert loaded["agreements"][0]["parties"][0]["name"] == "Kab [/]Pandeglang [link=x]y"
    listed = cli("agreements", "list")
    assert listed.exit_code == 0 and "[link=x]y" in listed.stdout and "[/]" in listed.stdout


def test_markup_in_ledger_entries_is_printed_as_text_by_audit(tmp_path: Path, cli):
    path = ledger_with(tmp_path / "l[/]edger.jsonl", region_name="Kab [/]X", operator="[link=x]budi",
                       agreement="[bold]1/2021")
    listed = cli("audit", "list", "--ledger", path)
    assert listed.exit_code == 0, listed.output
    assert "Kab [/]X" in listed.stdout and "[link=x]budi" in listed.stdout and "[bold]1/2021" in listed.stdout
    verified = cli("audit", "verify", "--ledger", path)
    assert verified.exit_code == 0, verified.output
    assert f"ok {path}: 1 entries" in verified.stdout
    region = cli("audit", "region", "36.01", "--ledger", path)
    assert region.exit_code == 0 and "Kab [/]X" in region.stdout, region.output


def test_markup_in_a_bundle_manifest_is_printed_as_text_by_bundle_verify(tmp_path: Path, cli):
    stage = tmp_path / "stage"
    (stage / "project").mkdir(parents=True)
    (stage / "project" / "region.yaml").write_bytes(b"region: {code: '36.01'}\n")
    manifest = {"format": bundle.FORMAT, "kit_version": "0.1.0", "created": "2026-11-23T00:00:00Z",
                "region": {"code": "36.01", "name": MARKUP}, "apps": ["e-office"],
                "files": packing._hash_tree(stage)}
    (stage / bundle.MANIFEST).write_text(json.dumps(manifest, sort_keys=True) + "\n")
    out = tmp_path / "b[link=x]y[bold].tar"
    packing._write_tar(stage, out, 0)
    result = cli("bundle", "verify", out)
    assert result.exit_code == 0, result.output
    assert f"region 36.01 {MARKUP}" in result.stdout and str(out) in result.stdout


def test_the_consoles_read_no_markup_even_when_asked(capsys):
    from rich.table import Table
    from rich.tree import Tree

    from regionkit.cli.output import stdout, styled

    table = Table(title="[/]title")
    table.add_column("[bold]head")
    table.add_row("[link=x]cell :smile:")
    stdout.print("[/] [link=x]y :smile:", markup=True, emoji=True)
    stdout.print(table)
    stdout.print(Tree("[/]label"))
    stdout.print(styled(("ok", "green"), " [/]\x1b[2J"))
    out = capsys.readouterr().out
    for text in ("[/] [link=x]y :smile:", "[/]title", "[bold]head", "[link=x]cell :smile:", "[/]label",
                 "ok [/]\\x1b[2J"):
        assert text in out


def test_terminal_control_sequences_in_user_data_are_shown_escaped(tmp_path: Path, cli):
    path = tmp_path / "agreements.yaml"
    source = "Kab \x1b[2J\x1b]8;;http://x\x07Y\u202eZ"
    assert cli(*AGREEMENT, "--source", source, "--agreements", path).exit_code == 0
    result = cli("agreements", "list", "--agreements", path)
    assert result.exit_code == 0, result.output
    assert "Kab \\x1b[2J\\x1b]8;;http://x\\x07Y\\u202eZ" in result.stdout and "\x1b" not in result.stdout


# ---------------------------------------------------------------------------------------------------------
# Item 13: values YAML cannot construct are positioned refusals in every loader

UNCONSTRUCTIBLE = ["2021-13-45", "2021-02-30", "9" * 5000, "!!float x", "!!bool maybe", "!!timestamp x",
                   "!!binary aGVsbG8=", "!!set {a: null}", "!!omap [{a: 1}]", "!!pairs [{a: 1}]", "!unknown x",
                   "!!python/object:os.system x", "=", "!!int 0x", "!!timestamp 2021-02-30", "&a !!map {}", "0x_",
                   "!!float 1e"]


def assert_positioned_refusal(result, file: Path, line: int, field: str):
    """Exit 2 naming `file:line:column: field` (`field` is a regular expression)."""
    output = result.stdout + result.stderr
    assert result.exit_code == 2, output
    assert "internal error" not in output and "Traceback" not in output, output
    assert re.search(rf"{re.escape(str(file))}:{line}:\d+: {field}", result.stderr), result.stderr


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize("value", UNCONSTRUCTIBLE)
def test_unconstructible_values_in_region_yaml_are_positioned_refusals(project: Path, cli, value):
    profile = project / "region.yaml"
    set_line(profile, "capital: Pandeglang", f"capital: {value}")
    before = profile.read_bytes()
    for command in (["validate"], ["apps", "add", "e-office"]):
        result = cli(*command)
        assert_positioned_refusal(result, profile, line_of(profile, "capital:"), r"region\.capital")
    assert profile.read_bytes() == before


@pytest.mark.parametrize("value", UNCONSTRUCTIBLE)
def test_unconstructible_values_in_a_catalog_are_positioned_refusals(tmp_path: Path, cli, catalog_text, value):
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text.replace("owner: Diskominfo Kota Tangerang", f"owner: {value}", 1))
    field = r"apps\[(0|sso)\]\.owner"  # a constructed value of the wrong type is named by the app's id
    assert_positioned_refusal(cli("catalog", "validate", path), path, line_of(path, "owner:"), field)
    assert_positioned_refusal(cli("catalog", "list", "--catalog", path), path, line_of(path, "owner:"), field)


@pytest.mark.parametrize("value", UNCONSTRUCTIBLE)
def test_unconstructible_values_in_agreements_are_positioned_refusals(tmp_path: Path, cli, value):
    path = tmp_path / "agreements.yaml"
    path.write_text(f"agreements:\n  - number: '1'\n    kind: mou\n    date: 2021-11-10\n"
                    f"    parties: [{{code: '36.01', name: X}}]\n    source: {value}\n")
    before = path.read_bytes()
    assert_positioned_refusal(cli("agreements", "list", "--agreements", path), path, 6, r"agreements\[0\]\.source")
    number = ["--number", "2/2021"]
    result = cli(*AGREEMENT[:2], *number, *AGREEMENT[4:], "--agreements", path)
    assert_positioned_refusal(result, path, 6, r"agreements\[0\]\.source")
    assert path.read_bytes() == before


def test_unconstructible_keys_and_alias_bombs_are_positioned_refusals(tmp_path: Path, cli):
    path = tmp_path / "agreements.yaml"
    path.write_text("agreements: []\n2021-13-45: x\n")
    result = cli("agreements", "list", "--agreements", path)
    assert result.exit_code == 2 and f"{path}:2:1: '2021-13-45' is not a valid date" in result.stderr, result.output
    bomb = "a: &a [" + ",".join(["x"] * 20) + "]\n"
    for level in "bcdefgh":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [" + ",".join([f"*{previous}"] * 20) + "]\n"
    path.write_text(bomb)
    result = cli("agreements", "list", "--agreements", path)
    assert result.exit_code == 2 and re.search(rf"{re.escape(str(path))}:\d+:\d+", result.stderr), result.output


def test_control_characters_are_refused_with_their_line_and_column(tmp_path: Path, cli):
    path = tmp_path / "agreements.yaml"
    path.write_text("agreements:\n  - number: a\x07b\n")
    result = cli("agreements", "list", "--agreements", path)
    assert_positioned_refusal(result, path, 2, "")
    assert f"{path}:2:14: invalid YAML: character #x0007 is not allowed" in result.stderr


@pytest.mark.parametrize("line", [b"[" * 100_000, b'{"seq": ' + b"9" * 5000 + b"}", b'{"seq": 1e999999}'])
def test_unreadable_ledger_lines_are_refused_with_their_line(tmp_path: Path, cli, line):
    path = ledger_with(tmp_path / "ledger.jsonl")
    with path.open("ab") as handle:
        handle.write(line + b"\n")
    for command in (["audit", "verify"], ["audit", "list"]):
        result = cli(*command, "--ledger", path)
        assert result.exit_code == 2, result.output
        assert f"{path}:2: " in result.stderr and "internal error" not in result.output, result.output


# ---------------------------------------------------------------------------------------------------------
# Item 14: round-trip edits read YAML as validation does, change only what they edit, or write nothing

# (field line in the project's region.yaml, its new text, a value PyYAML reads) - each valid there
SAME_READING = [
    ("name: Sekretariat Daerah", "name: 1e999"),
    ("name: Sekretariat DPRD", "name: 1e3"),
    ("name: Inspektorat", "name: 0o17"),
    ("name: Dinas Pendidikan", "name: 0b2"),
    ("name: Dinas Kesehatan", "name: y"),
    ("name: Dinas Sosial", "name: n"),
    ("name: null\n", "name: ~\n"),
    ("parent: null", "parent: Null"),
]
HOSTS_1_1 = ("hosts: []", "hosts:\n  - {name: web1, address: 192.0.2.11, port: 0777, user: root, roles: [web]}\n"
                          "  - {name: db1, address: 192.0.2.12, port: 1:20, roles: [db]}\n"
                          "  - {name: db2, address: 192.0.2.13, port: +0b1010, roles: [db]}")
APPS_1_1 = ("apps: {}", "apps:\n  sso: {auto: yes}\n  e-office: {auto: off}\n  sigap: {auto: On}")


def profile_data(root: Path):
    return yaml.safe_load((root / "region.yaml").read_text(encoding="utf-8"))


def hostile_profile(root: Path) -> None:
    for old, new in (*SAME_READING, HOSTS_1_1, APPS_1_1):
        set_line(root / "region.yaml", old, new)


def test_apps_add_changes_only_the_apps(project: Path, cli):
    hostile_profile(project)
    assert cli("validate").exit_code in (0, 2)  # hosts, apps may need the catalog; reading must not change
    before = profile_data(project)
    result = cli("apps", "add", "open-data")
    assert result.exit_code == 0, result.output
    after = profile_data(project)
    assert after["apps"]["open-data"] in ({}, None) and after["apps"]["sso"] == {"auto": True}
    assert {k: v for k, v in after.items() if k != "apps"} == {k: v for k, v in before.items() if k != "apps"}
    assert after["units"][0]["name"] == "1e999" and after["hosts"][0]["port"] == 511


def test_project_writes_change_only_what_they_edit(project: Path):
    hostile_profile(project)
    before = profile_data(project)
    project_ = Project(project)
    project_.write_hosts([{"name": "sb1", "address": "10.0.0.5", "roles": ["web"]}],
                         replaces=lambda entry: entry.get("name") == "db2")
    project_.write_artifacts_store("artifacts")
    after = profile_data(project)
    assert after["hosts"][:2] == before["hosts"][:2] and after["hosts"][2]["name"] == "sb1"
    assert after["artifacts"] == {"store": "artifacts"}
    assert {k: v for k, v in after.items() if k not in ("hosts", "artifacts")} == \
        {k: v for k, v in before.items() if k not in ("hosts", "artifacts")}


def test_an_edit_that_would_leave_the_profile_invalid_writes_nothing(project: Path):
    before = (project / "region.yaml").read_bytes()
    with pytest.raises(ValidationFailed) as caught:
        Project(project).write_hosts([{"name": "x", "address": "not an address", "roles": ["web"]}],
                                     replaces=lambda entry: False)
    assert "address" in str(caught.value.problems[0])
    assert (project / "region.yaml").read_bytes() == before


def test_agreements_add_changes_only_the_new_entry(tmp_path: Path, cli):
    path = tmp_path / "agreements.yaml"
    path.write_text("# our agreements\nagreements:\n  - number: 1e999  # a comment\n    kind: mou\n"
                    "    date: 2021-11-10\n    parties: [{code: '36.01', name: yes man}]\n    source: 0o17\n"
                    "    apps: [1:2x, y]\n")
    before = yaml.safe_load(path.read_text())
    result = cli(*AGREEMENT[:2], "--number", "2/2021", *AGREEMENT[4:], "--agreements", path)
    assert result.exit_code == 0, result.output
    after = yaml.safe_load(path.read_text())
    assert after["agreements"][0] == before["agreements"][0]
    assert after["agreements"][1]["number"] == "2/2021"
    assert "# a comment" in path.read_text() and "# our agreements" in path.read_text()


# ---------------------------------------------------------------------------------------------------------
# Property tests: a hostile value in any field of region.yaml, a catalog, agreements.yaml or a ledger

HOSTILE_PIECES = ["[/]", "[link=https://evil.example]", "[bold]", ":smile:", "{{ 7*7 }}", "{%", "\n", "'", '"',
                  "\x1b[31m", "\x00", "\\", "x", " ", "# ", ": ", "- "]
HOSTILE_TEXT = st.one_of(
    st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=6).map("".join),
    st.sampled_from([
        "{{ lookup('pipe', 'touch /tmp/regionkit-marker') }}", "{% if true %}x{% endif %}", "{#", "[/]",
        "[link=https://evil.example]x[/link]", "[bold red]x", ":smile:", "'", '"', "\\", "a\nb", "\n", "\x00",
        "\x1b[2J", "\u202e", "\r", "", " ", "yes", "no", "on", "1e999", "~", "null", "0777", "1:20", "2021-13-45",
        "2021-02-30", "*x", "&a", "!!str", "#", "%", "@", "`", "|", ">", "- x", "? x", "x: y", "$(touch m)",
        "; touch m", "../../etc/passwd", "/dev/zero", "-o ProxyCommand=touch m", "9" * 5000]),
    st.text(max_size=30),
    st.text(alphabet="[]/{}%#'\"\n\\:-!&*|>@`$;\x00\x1b", max_size=30),
    st.integers(1000, 20_000).map(lambda n: "x" * n),
)
PLAIN_VALUES = st.one_of(
    HOSTILE_TEXT, st.integers(-(2**70), 2**70), st.floats(), st.booleans(), st.none(), st.dates(), st.datetimes(),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
RAW_YAML = st.sampled_from(UNCONSTRUCTIBLE + [
    "1e999", "1.0e+999", "-.inf", ".nan", "yes", "Off", "~", "0777", "0b101", "1:20", "*undefined", "&a x", "[", "{",
    "'", '"', "|", ">", "!!str 1", "!!int 1e3", "!!python/name:os.system", "!!merge x", "<<: {a: 1}", "[[[[[]]]]]",
    "'\\x00'", '"\\x1b[2J"', '"\\0"', "2021-11-10 10:00:00 +07:00", "'" + "x" * 10_000 + "'"])
PLACEHOLDER = "__hostile_value__"


def leaf_paths(data, path=()):
    """Every field of a parsed document: each scalar, list and mapping below the top."""
    if path:
        yield path
    children = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in children:
        yield from leaf_paths(value, path + (key,))


def with_value(base, path, value, raw: bool) -> str:
    """`base` (plain data) as YAML text with the value at `path` replaced (raw: YAML text pasted verbatim)."""
    import copy

    data = copy.deepcopy(base)
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = PLACEHOLDER
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10**9)
    if not raw:
        value = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**9)
        value = value.removesuffix("\n").removesuffix("\n...")
    return text.replace(PLACEHOLDER, value, 1)


def hostile_documents(base):
    """YAML text of `base` with one field replaced: by hostile text, any plain value, or raw YAML pasted in."""
    paths = sorted(leaf_paths(base), key=str)
    values = {"text": HOSTILE_TEXT.map(lambda v: (v, False)), "plain": PLAIN_VALUES.map(lambda v: (v, False)),
              "raw": RAW_YAML.map(lambda v: (v, True))}
    kinds = st.sampled_from(["text", "raw", "text", "plain", "raw"]).flatmap(values.__getitem__)
    return st.tuples(st.sampled_from(paths), kinds).map(lambda case: with_value(base, case[0], *case[1]))


def invoke(*args):
    from typer.testing import CliRunner

    from regionkit.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


PROPERTY = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])
FULL_PROFILE = {
    "schema_version": 1,
    "region": {"code": "36.01", "name": "Kabupaten Pandeglang", "kind": "kabupaten", "province": "Banten",
               "parent": None, "capital": "Pandeglang", "timezone": "Asia/Jakarta", "domain": "pandeglangkab.go.id",
               "logo": None, "colours": {"primary": "#1f4e79", "accent": "#f2a900"},
               "head": {"title": "Bupati", "name": "Budi"}},
    "units": [{"code": "diskominfo", "name": "Dinas Komunikasi dan Informatika", "acronym": "DISKOMINFO",
               "kind": "opd", "head": {"title": "Kepala Dinas", "name": "Ani"}, "address": "Jl. A. Yani 1",
               "phone": "+62 253 123", "email": "kominfo@pandeglangkab.go.id"},
              {"code": "kec-labuan", "name": "Kecamatan Labuan", "kind": "kecamatan", "wilayah": "36.01.12"}],
    "apps": {"sso": {"auto": True, "settings": {"theme": "blue"}}, "e-office": None},
    "hosts": [{"name": "web1", "address": "192.0.2.11", "port": 22, "user": "root", "roles": ["web", "db"],
               "ssh_key": "keys/id_ed25519", "known_hosts": "keys/known_hosts"}],
    "artifacts": {"store": "artifacts"},
}


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "pdg"
    root.mkdir()
    (root / "region.yaml").write_text(yaml.safe_dump(FULL_PROFILE, sort_keys=False))
    return root


@PROPERTY
@given(text=hostile_documents(FULL_PROFILE))
def test_any_hostile_value_in_region_yaml(hostile_project: Path, mini_catalog: Path, text: str):
    import contextlib

    profile = hostile_project / "region.yaml"
    profile.write_text(text, encoding="utf-8")
    with contextlib.chdir(hostile_project):
        refused_or_ok(invoke("validate", "--catalog", mini_catalog), file=profile)
        before = profile.read_bytes()
        if refused_or_ok(invoke("apps", "add", "laksa", "--catalog", mini_catalog), profile, before, profile) == 0:
            old, new = yaml.safe_load(before), yaml.safe_load(profile.read_bytes())  # item 14: only apps changed
            assert {k: v for k, v in new.items() if k != "apps"} == {k: v for k, v in old.items() if k != "apps"}
            assert "laksa" in new["apps"]


CATALOG_BASE = yaml.safe_load((Path(__file__).parent / "data" / "mini-catalog.yaml").read_text())


@PROPERTY
@given(text=hostile_documents(CATALOG_BASE))
def test_any_hostile_value_in_a_catalog(tmp_path_factory, text: str):
    path = tmp_path_factory.mktemp("catalog") / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    refused_or_ok(invoke("catalog", "validate", path), file=path)
    refused_or_ok(invoke("catalog", "list", "--catalog", path), file=path)


AGREEMENTS_BASE = {"agreements": [{"number": "180/12-Kominfo/2021", "kind": "pks", "date": date(2021, 11, 10),
                                   "parties": [{"code": "36.71", "name": "Kota Tangerang"},
                                               {"code": "36.01", "name": "Kabupaten Pandeglang"}],
                                   "apps": ["e-office", "sigap"], "source": "signed copy"}]}


@PROPERTY
@given(text=hostile_documents(AGREEMENTS_BASE))
def test_any_hostile_value_in_agreements_yaml(tmp_path_factory, text: str):
    path = tmp_path_factory.mktemp("agreements") / "agreements.yaml"
    path.write_text(text, encoding="utf-8")
    refused_or_ok(invoke("agreements", "list", "--agreements", path), file=path)
    before = path.read_bytes()
    if refused_or_ok(invoke(*AGREEMENT[:2], "--number", "9/2026", *AGREEMENT[4:], "--agreements", path),
                     path, before, path) == 0:
        old, new = yaml.safe_load(before), yaml.safe_load(path.read_bytes())
        assert new["agreements"][:-1] == ((old or {}).get("agreements") or [])
        assert new["agreements"][-1]["number"] == "9/2026"


LEDGER_BASE = {"v": 1, "seq": 1, "prev": ledger.GENESIS, "action": "deploy", "result": "succeeded",
               "region_code": "36.01", "region_name": "Kabupaten Pandeglang", "app": "e-office", "version": "1.0",
               "host": "web1", "started": "2021-11-10T01:00:00Z", "finished": "2021-11-10T01:30:00Z",
               "operator": "budi", "kit_version": "0.1.0", "catalog_digest": None, "config_digest": None,
               "run_id": "20211110T010000Z-abc", "agreement": None}
OTHER_JSON = st.one_of(st.integers(-(2**70), 2**70), st.floats(), st.booleans(), st.none(),
                       st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers()))
JSON_VALUES = st.sampled_from([HOSTILE_TEXT, HOSTILE_TEXT, OTHER_JSON]).flatmap(lambda values: values)


@PROPERTY
@given(field=st.sampled_from(sorted(LEDGER_BASE)), value=JSON_VALUES, rehash=st.sampled_from([True, True, False]))
def test_any_hostile_value_in_a_ledger(tmp_path_factory, field: str, value, rehash: bool):
    """A hostile value in any field, its hash recomputed (so it reaches validation and printing) or not."""
    folder = tmp_path_factory.mktemp("ledger")
    path = folder / "ledger.jsonl"
    data = {**LEDGER_BASE, field: value}
    data["hash"] = ledger.entry_hash(data) if rehash else "0" * 64
    path.write_bytes(ledger.canonical(data) + b"\n")
    for command in (["audit", "verify"], ["audit", "list"], ["audit", "region", "36.01"]):
        refused_or_ok(invoke(*command, "--ledger", path), path, path.read_bytes(), path)
    result = invoke("audit", "import", path, "--registry", folder / "registry.sqlite")
    assert result.exit_code in (0, 2) and "internal error" not in result.output, result.output


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"version": ' + b"9" * 5000 + b"}", b"\xff"])
def test_a_health_answer_json_cannot_read_is_no_document(body):
    from regionkit.provision.status import _health_document

    assert _health_document(body) is None
