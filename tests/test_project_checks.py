"""`regionkit validate`: every rule, each with a positioned error and exit code 2."""

import json

import pytest
from conftest import SVG, with_hosts


def edit(project, old, new):
    path = project / "region.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return path.read_text()


def errors(cli):
    result = cli("validate", "--json")
    assert result.exit_code == 2, result.output
    return json.loads(result.stdout)["errors"]


def line_of(text, needle):
    """The line of the last occurrence (an edit that duplicates a value makes the second one)."""
    return [i + 1 for i, line in enumerate(text.splitlines()) if needle in line][-1]


def test_fresh_project_is_valid_with_warnings(cli, project):
    result = cli("validate")
    assert result.exit_code == 0
    assert "69 units" in result.stdout
    assert "warning:" in result.stderr and "no logo" in result.stderr


def test_deployable_selection_is_valid(cli, project):
    with_hosts(project)
    assert cli("apps", "add", "--preset", "pandeglang-2021", "website-opd").exit_code == 0
    assert cli("validate").exit_code == 0


@pytest.mark.parametrize("old, new, field, message", [
    ("  code: '36.01'", "  code: '36.99'", "region.code", "unknown region code '36.99'"),
    ("  code: '36.01'", "  code: '3601'", "region.code", "Kemendagri code"),
    ("  kind: kabupaten", "  kind: kota", "region.kind", "is a kabupaten (Kabupaten Pandeglang), not a kota"),
    ("  timezone: Asia/Jakarta", "  timezone: Asia/Tokyo", "region.timezone", "Asia/Pontianak"),
    ("  domain: pandeglangkab.go.id", "  domain: pandeglang_kab", "region.domain", "domain name"),
    ("    primary: '#1f4e79'", "    primary: blue", "region.colours.primary", "#rrggbb"),
    ("  - code: dinkes\n", "  - code: setda\n", "units[4].code", "duplicate code 'setda'"),
    ("  - code: dinkes\n", "  - code: Dinas Kesehatan\n", "units[4].code", "slug"),
    ("    wilayah: 36.01.12", "    wilayah: 36.02.01", "units", "lies outside Kabupaten Pandeglang"),
    ("    wilayah: 36.01.12", "    wilayah: 36.01.99", "units", "unknown kecamatan code"),
    ("    kind: opd\n", "    kind: dinas\n", "units[0].kind", "'opd', 'kecamatan'"),
    ("  logo: null", "  logo: ../secret.png", "region.logo", "inside the project"),
    ("  capital: Pandeglang", "  capitol: Pandeglang", "region.capitol", "unknown field"),
])
def test_profile_rules(cli, project, old, new, field, message):
    text = edit(project, old, new)
    found = [e for e in errors(cli) if e["field"].startswith(field)]
    assert found, errors(cli)
    assert message in found[0]["message"]
    assert found[0]["line"] == line_of(text, new.strip().splitlines()[0])


def test_fake_logo(cli, project):
    (project / "assets" / "logo.png").write_bytes(b"<html>not an image</html>")
    edit(project, "  logo: null", "  logo: assets/logo.png")
    [error] = errors(cli)
    assert error["field"] == "region.logo" and "not a PNG or SVG" in error["message"]
    (project / "assets" / "logo.png").write_bytes(SVG)
    assert cli("validate").exit_code == 0


def test_malformed_yaml(cli, project):
    edit(project, "  name: Kabupaten Pandeglang", "  name: [Kabupaten Pandeglang")
    result = cli("validate")
    assert result.exit_code == 2 and "invalid YAML" in result.stderr and "region.yaml:" in result.stderr


def test_dangling_app_and_missing_dependency(cli, project):
    with_hosts(project)
    text = edit(project, "apps: {}", "apps:\n  e-ofice: {}\n  e-kinerja: {}")
    found = {e["message"].split(";")[0]: e for e in errors(cli)}
    assert found["unknown app 'e-ofice'"]["line"] == line_of(text, "e-ofice")
    [needs] = [e for e in found.values() if "e-kinerja needs" in e["message"]]
    assert "sso, simasn" in needs["message"] and "regionkit apps add sso simasn" in needs["message"]


def test_apps_need_hosts_with_the_right_roles(cli, project):
    cli("apps", "add", "e-office")
    messages = [e["message"] for e in errors(cli)]
    assert any("no host has the web role" in m for m in messages)
    assert any("no host has the db role" in m and "e-office" in m for m in messages)


def test_unit_site_apps_need_units_of_their_kind(cli, project):
    with_hosts(project)
    cli("apps", "add", "website-kelurahan")
    [error] = errors(cli)
    assert "one site per kelurahan unit, and the profile has none" in error["message"]


def test_national_settings(cli, project):
    with_hosts(project)
    cli("apps", "add", "sp4n-lapor")
    edit(project, "  sp4n-lapor: {}", "  sp4n-lapor:\n    settings: {api_token: s3cret, colour: red}")
    found = {e["field"]: e["message"] for e in errors(cli)}
    assert "keep it in the vault" in found["apps.sp4n-lapor.settings.api_token"]
    assert "unknown setting" in found["apps.sp4n-lapor.settings.colour"]


def test_every_problem_at_once_in_file_order(cli, project):
    edit(project, "  timezone: Asia/Jakarta", "  timezone: Europe/Paris")
    edit(project, "  - code: dinkes\n", "  - code: setda\n")
    result = cli("validate")
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 3 and lines[-1].endswith("2 problems")
    assert "region.timezone" in lines[0] and "units[4].code" in lines[1]


def test_institution_rules(cli, tmp_path, monkeypatch):
    root = tmp_path / "polres"
    cli("init", root, "--institution", "Polres Metro Tangerang Kota", "--parent", "36.71", "--no-input")
    monkeypatch.chdir(root)
    edit(root, "  parent: '36.71'", "  parent: '36.79'")
    [error] = errors(cli)
    assert error["field"] == "region.parent" and "36.71 Kota Tangerang" in error["message"]


def test_profile_schema_is_published(cli, project):
    import jsonschema
    import yaml

    schema = cli.json("schema", "profile")
    jsonschema.Draft202012Validator.check_schema(schema)
    data = yaml.safe_load((project / "region.yaml").read_text())
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(data)) == []
    assert cli.json("schema", "catalog")["title"] == "regionkit catalog"
