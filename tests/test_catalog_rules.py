"""Every catalog rule: each broken variant of the mini catalog is refused with file:line and field."""

from pathlib import Path

import pytest

from regionkit.catalog.model import Kind, load_catalog
from regionkit.errors import ValidationFailed

EXTRA_APP = """
  - id: extra
    name: Extra
    group: e-government
    subgroup: manajemen-pemerintahan
    kind: web
    audience: government
    summary: {en: An extra app., id: Aplikasi tambahan.}
    version: "1.0.0"
    status: beta
    owner: Diskominfo Kota Tangerang
    spbe: admin.lainnya
    depends_on: DEPS
    runtime: php-8.2
    database: mariadb
    resources: {cpu: 1, memory_mb: 256, disk_mb: 256}
    health: /health
    ports: [80]
"""


def problems_of(path: Path) -> list:
    with pytest.raises(ValidationFailed) as err:
        load_catalog(path)
    assert err.value.exit_code == 2
    return err.value.problems


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return lines[occurrence - 1]


def test_mini_catalog_is_valid(mini_catalog):
    catalog = load_catalog(mini_catalog)
    assert len(catalog) == 6
    assert {a.kind for a in catalog.apps.values()} == set(Kind)
    assert catalog.closure(["laksa-android"]) == ["sso", "sp4n-lapor", "laksa", "laksa-android"]
    assert catalog.dependents["sso"] == ["e-office", "laksa", "website-opd"]
    assert len(catalog.digest) == 64


def test_duplicate_id(write_catalog, catalog_text):
    text = catalog_text.replace("  - id: laksa\n", "  - id: e-office\n")
    [problem, *rest] = problems_of(write_catalog(text))
    dup = [p for p in [problem, *rest] if "duplicate app id" in p.message]
    assert len(dup) == 1
    assert dup[0].location.line == line_of(text, "- id: e-office", 2)
    assert dup[0].location.field == "apps[e-office].id"
    assert f"line {line_of(text, '- id: e-office')}" in dup[0].message


def test_dangling_dependency_suggests_close_ids(write_catalog, catalog_text):
    text = catalog_text.replace("depends_on: [laksa]", "depends_on: [laksaa]")
    [problem] = problems_of(write_catalog(text))
    assert problem.location.line == line_of(text, "[laksaa]")
    assert problem.location.field == "apps[laksa-android].depends_on[0]"
    assert "unknown app 'laksaa' (did you mean laksa" in problem.message


def test_cycle_is_named(write_catalog, catalog_text):
    text = catalog_text + EXTRA_APP.replace("DEPS", "[e-office]")
    text = text.replace("    depends_on: [sso]\n    runtime: php-8.2\n    database: mariadb\n    resources: "
                        "{cpu: 1, memory_mb: 1024, disk_mb: 4096}",
                        "    depends_on: [sso, extra]\n    runtime: php-8.2\n    database: mariadb\n    resources: "
                        "{cpu: 1, memory_mb: 1024, disk_mb: 4096}")
    [problem] = problems_of(write_catalog(text))
    assert "dependency cycle:" in problem.message
    assert problem.message.endswith(("e-office -> extra -> e-office", "extra -> e-office -> extra"))
    assert problem.location.line is not None


def test_self_dependency(write_catalog, catalog_text):
    text = catalog_text + EXTRA_APP.replace("DEPS", "[extra]")
    [problem] = problems_of(write_catalog(text))
    assert problem.message == "an app cannot depend on itself"
    assert problem.location.field == "apps[extra].depends_on[0]"


@pytest.mark.parametrize("old, new, field, message", [
    ("cpu: 0.5", "cpu: lots", "apps[website-opd].resources.cpu", "valid number"),
    ("cpu: 0.5", "cpu: -1", "apps[website-opd].resources.cpu", "greater than 0"),
    ('version: "4.0.2"', 'version: "4.0"', "apps[laksa].version", "MAJOR.MINOR.PATCH"),
    ("ports: [80, 443]\n  - id: e-office", "ports: [80, 99999]\n  - id: e-office", "apps[sso].ports[1]",
     "less than or equal to 65535"),
    ("audience: public\n    summary:\n      en: Citizen", "audience: everyone\n    summary:\n      en: Citizen",
     "apps[laksa].audience", "'public' or 'government'"),
    ("kind: national", "kind: nationwide", "apps[sp4n-lapor].kind", "expected one of: web, unit-site"),
    ("spbe: admin.kearsipan", "spbe: admin.surat", "apps[e-office].spbe", "Input should be"),
    ("- id: laksa\n", "- id: Laksa_App\n", "apps[Laksa_App].id", "expected a slug"),
    ("health: /\n", "health: health\n", "apps[website-opd].health", "HTTP path"),
])
def test_wrong_types_and_values(write_catalog, catalog_text, old, new, field, message):
    assert old in catalog_text
    text = catalog_text.replace(old, new, 1)
    problems = problems_of(write_catalog(text))
    matching = [p for p in problems if p.location.field == field]
    assert matching, problems
    assert message in matching[0].message
    assert matching[0].location.line == line_of(text, new.splitlines()[0].strip())


@pytest.mark.parametrize("old, new, field, message", [
    # a national platform never carries an install recipe
    ("    owner: KemenPAN-RB\n", "    owner: KemenPAN-RB\n    runtime: php-8.2\n",
     "apps[sp4n-lapor].runtime", "not allowed for a national app"),
    ("    integration:\n", "    integrationz:\n", "apps[sp4n-lapor].integration", "required for a national app"),
    # installable apps need their install fields
    ("    runtime: php-8.2\n    database: postgresql\n", "    database: postgresql\n", "apps[sso].runtime",
     "required for a service app"),
    ("    health: /\n", "", "apps[website-opd].health", "required for a unit-site app"),
    ("    unit_kinds: [opd, kecamatan]\n", "", "apps[website-opd].unit_kinds", "required for a unit-site app"),
    # no playbook creates a database for a unit site (static files): the catalog cannot claim one
    ("    database: none\n    resources: {cpu: 0.5", "    database: mariadb\n    resources: {cpu: 0.5",
     "apps[website-opd].database", "no playbook creates a database for it"),
    ("    unit_kinds: [opd, kecamatan]\n", "    unit_kinds: [opd, desa]\n", "apps[website-opd].unit_kinds[1]",
     "Input should be"),
    # android apps are built elsewhere: no database, but their packaging info
    ("    android: {package: laksa, min_sdk: 24}\n", "    android: {package: laksa, min_sdk: 24}\n"
     "    database: mariadb\n", "apps[laksa-android].database", "not allowed for an android app"),
    ("    android: {package: laksa, min_sdk: 24}\n", "", "apps[laksa-android].android",
     "required for an android app"),
    ("    owner: KemenPAN-RB\n", "    owner: KemenPAN-RB\n    homepage: https://x\n", "apps[sp4n-lapor].homepage",
     "not allowed"),
])
def test_kind_and_field_consistency(write_catalog, catalog_text, old, new, field, message):
    assert old in catalog_text
    problems = problems_of(write_catalog(catalog_text.replace(old, new, 1)))
    matching = [p for p in problems if p.location.field == field]
    assert matching, problems
    assert message in matching[0].message
    assert matching[0].location.line is not None


def test_unknown_group_and_subgroup(write_catalog, catalog_text):
    text = catalog_text.replace("    group: infrastruktur\n", "    group: infra\n", 1)
    text = text.replace("subgroup: website-opd\n    kind", "subgroup: websites\n    kind", 1)
    problems = problems_of(write_catalog(text))
    assert [p.location.field for p in problems] == ["apps[sso].group", "apps[website-opd].subgroup"]
    assert "unknown group 'infra'" in problems[0].message
    assert "unknown subgroup 'websites' of group 'e-government'" in problems[1].message


def test_depending_on_an_android_app_is_refused(write_catalog, catalog_text):
    text = catalog_text + EXTRA_APP.replace("DEPS", "[laksa-android]")
    [problem] = problems_of(write_catalog(text))
    assert "cannot depend on the android app 'laksa-android'" in problem.message


def test_all_problems_are_reported_at_once_in_file_order(write_catalog, catalog_text):
    text = (catalog_text.replace("depends_on: [laksa]", "depends_on: [nope]")
            .replace("cpu: 0.5", "cpu: zero")
            .replace("  - id: laksa\n", "  - id: e-office\n"))
    path = write_catalog(text)
    problems = problems_of(path)
    assert len(problems) == 3
    lines = [p.location.line for p in problems]
    assert lines == sorted(lines)
    assert all(str(p).startswith(f"{path}:{p.location.line}:") for p in problems)


@pytest.mark.parametrize("text, message", [
    ("- just\n- a list\n", "expected a mapping"),
    ("schema_version: 2\ngroups: []\napps: []\n", "Input should be 1"),
    ("schema_version: 1\ngroups: [{id: a, name: A, subgroups: [{id: b, name: B}]}]\napps: {}\n", "valid list"),
    ("schema_version: 1\ngroups: [{id: a, name: A, subgroups: [{id: b, name: B}]}, "
     "{id: a, name: A2, subgroups: [{id: c, name: C}]}]\napps: []\n", "duplicate group id 'a'"),
])
def test_document_shape(write_catalog, text, message):
    problems = problems_of(write_catalog(text))
    assert any(message in p.message for p in problems), problems
