"""The catalog commands: output, filters, JSON, exit codes and error lines."""

import json

import jsonschema
import pytest
import yaml


def test_list_table_and_json(cli, mini_catalog):
    result = cli("catalog", "list", "--catalog", mini_catalog)
    assert result.exit_code == 0
    assert "6 of 6 apps" in result.stdout
    for app_id in ("sso", "e-office", "laksa", "laksa-android", "website-opd", "sp4n-lapor"):
        assert app_id in result.stdout
    records = cli.json("catalog", "list", "--catalog", mini_catalog, "--json")
    assert [r["id"] for r in records] == ["sso", "e-office", "laksa", "laksa-android", "website-opd", "sp4n-lapor"]
    assert records[0]["resources"] == {"cpu": 1.0, "memory_mb": 512, "disk_mb": 1024}
    assert "runtime" not in records[-1] and records[-1]["integration"]["provider"] == "KemenPAN-RB"


@pytest.mark.parametrize("args, ids", [
    (["--kind", "web"], ["e-office", "laksa"]),
    (["--group", "infrastruktur"], ["sso"]),
    (["--search", "PONSEL"], ["laksa-android"]),
    (["--search", "lapor", "--kind", "national"], ["sp4n-lapor"]),
    (["--search", "no such thing"], []),
])
def test_list_filters(cli, mini_catalog, args, ids):
    records = cli.json("catalog", "list", "--catalog", mini_catalog, "--json", *args)
    assert [r["id"] for r in records] == ids


@pytest.mark.parametrize("args, message", [
    (["--kind", "webapp"], "unknown kind 'webapp'"),
    (["--group", "e-govt"], "unknown group 'e-govt'"),
])
def test_list_rejects_unknown_filters(cli, mini_catalog, args, message):
    result = cli("catalog", "list", "--catalog", mini_catalog, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_catalog_from_environment(cli, mini_catalog, monkeypatch):
    monkeypatch.setenv("REGIONKIT_CATALOG", str(mini_catalog))
    assert len(cli.json("catalog", "list", "--json")) == 6


def test_show_tree_and_reverse_dependencies(cli, mini_catalog):
    result = cli("catalog", "show", "laksa", "--catalog", mini_catalog)
    assert result.exit_code == 0
    out = result.stdout
    assert "LAKSA" in out and "sso (service)" in out and "sp4n-lapor (national)" in out
    assert "required by: laksa-android" in out
    details = cli.json("catalog", "show", "sso", "--catalog", mini_catalog, "--json")
    assert details["required_by"] == ["e-office", "laksa", "website-opd"]
    assert set(details["required_by_all"]) == {"e-office", "laksa", "website-opd", "laksa-android"}
    deep = cli.json("catalog", "show", "laksa-android", "--catalog", mini_catalog, "--json")
    assert deep["install_order"] == ["sso", "sp4n-lapor", "laksa", "laksa-android"]
    [laksa] = deep["dependency_tree"]
    assert laksa["id"] == "laksa" and [d["id"] for d in laksa["depends_on"]] == ["sso", "sp4n-lapor"]


def test_show_unknown_id_suggests_closest(cli, mini_catalog):
    result = cli("catalog", "show", "eoffice", "--catalog", mini_catalog)
    assert result.exit_code == 2
    assert "unknown app 'eoffice'" in result.stderr
    assert "did you mean: e-office" in result.stderr
    by_name = cli("catalog", "show", "Lakssa", "--catalog", mini_catalog)
    assert by_name.exit_code == 2 and "laksa" in by_name.stderr


def test_validate_ok_and_json(cli, mini_catalog):
    result = cli("catalog", "validate", mini_catalog)
    assert result.exit_code == 0 and "6 apps" in result.stdout
    assert cli.json("catalog", "validate", mini_catalog, "--json")["valid"] is True


def test_validate_reports_every_problem_with_location(cli, write_catalog, catalog_text):
    text = (catalog_text.replace("depends_on: [laksa]", "depends_on: [nope]")
            .replace("cpu: 0.5", "cpu: zero"))
    path = write_catalog(text)
    result = cli("catalog", "validate", path)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"error: {path}:") and "apps[laksa-android].depends_on[0]" in lines[0]
    assert "apps[website-opd].resources.cpu" in lines[1]
    assert lines[2].endswith("invalid catalog: 2 problems")
    assert "Traceback" not in result.output
    report = json.loads(cli("catalog", "validate", path, "--json").stdout)
    assert report["valid"] is False
    assert [p["field"] for p in report["problems"]] == ["apps[laksa-android].depends_on[0]",
                                                        "apps[website-opd].resources.cpu"]
    assert all(p["line"] for p in report["problems"])


@pytest.mark.parametrize("content, message", [
    ("apps: [\n", "invalid YAML"),
    (None, "file not found"),
])
def test_validate_unreadable(cli, tmp_path, content, message):
    path = tmp_path / "c.yaml"
    if content is not None:
        path.write_text(content)
    result = cli("catalog", "validate", path)
    assert result.exit_code == 2
    assert message in result.stderr and str(path) in result.stderr


def test_stats(cli, mini_catalog):
    stats = cli.json("catalog", "stats", "--catalog", mini_catalog, "--json")
    assert stats["apps"] == 6
    assert stats["by_kind"] == {"web": 2, "unit-site": 1, "android": 1, "service": 1, "national": 1}
    assert stats["by_audience"] == {"public": 4, "government": 2}
    [egov, infra] = stats["by_group"]
    assert egov["apps"] == 5 and [s["apps"] for s in egov["subgroups"]] == [1, 1, 3]
    [sites] = stats["unit_sites"]
    spread = sites["sites_per_region"]
    # 34 standard OPD plus each kabupaten/kota's kecamatan: Kota Tangerang has 13, Pandeglang 35
    assert spread["regions"] == 514
    assert spread["min"] <= 34 + 13 and spread["max"] >= 34 + 35
    table = cli("catalog", "stats", "--catalog", mini_catalog)
    assert table.exit_code == 0 and "websites per region" in table.stdout


def test_schema_validates_the_catalog_it_describes(cli, mini_catalog, catalog_text):
    schema = cli.json("schema", "catalog")
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(yaml.safe_load(catalog_text))) == []
    broken = yaml.safe_load(catalog_text.replace("kind: national", "kind: nationwide"))
    assert list(validator.iter_errors(broken))


def test_version_and_help(cli):
    from regionkit import __version__

    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"regionkit {__version__}"
    assert "catalog" in cli("--help").stdout


def test_change_directory_option(cli, tmp_path, mini_catalog):
    (tmp_path / "c.yaml").write_text(mini_catalog.read_text())
    assert cli("-C", tmp_path, "catalog", "validate", "c.yaml").exit_code == 0
    missing = cli("-C", tmp_path / "nope", "catalog", "list")
    assert missing.exit_code == 2 and "cannot enter" in missing.output
