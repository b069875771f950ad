"""`regionkit agreements add|list`: the registry, its errors and the shipped example."""

from __future__ import annotations

from pathlib import Path

import pytest

from regionkit.audit import agreements
from regionkit.catalog.model import load_catalog

PKS = ["agreements", "add", "--number", "180/12-Kominfo/2021", "--kind", "pks", "--date", "2021-11-10",
       "--party", "36.71", "--party", "36.01 Kabupaten Pandeglang", "--app", "e-office", "--app", "sigap"]


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return tmp_path / "agreements.yaml"


def test_add_then_list(cli, registry: Path):
    result = cli(*PKS, "--source", "Diskominfo archive", "--agreements", registry)
    assert result.exit_code == 0, result.output
    mou = cli("agreements", "add", "--number", "MOU/1", "--kind", "mou", "--date", "2016-09-20", "--party", "36",
              "--party", "36.71/polres-metro-tangerang-kota Polres Metro Tangerang Kota", "--agreements", registry)
    assert mou.exit_code == 0, mou.output
    records = cli.json("agreements", "list", "--agreements", registry, "--json")
    assert records == [
        {"number": "180/12-Kominfo/2021", "kind": "pks", "date": "2021-11-10",
         "parties": [{"code": "36.71", "name": "Kota Tangerang"}, {"code": "36.01", "name": "Kabupaten Pandeglang"}],
         "apps": ["e-office", "sigap"], "source": "Diskominfo archive"},
        {"number": "MOU/1", "kind": "mou", "date": "2016-09-20",
         "parties": [{"code": "36", "name": "Provinsi Banten"},
                     {"code": "36.71/polres-metro-tangerang-kota", "name": "Polres Metro Tangerang Kota"}],
         "apps": [], "source": None}]
    table = cli("agreements", "list", "--agreements", registry)
    assert table.exit_code == 0
    for text in ("2 agreements", "180/12-Kominfo/2021", "PKS", "Kabupaten Pandeglang", "e-office, sigap"):
        assert text in table.stdout


def test_add_keeps_comments(cli, registry: Path):
    registry.write_text("# kept by hand\nagreements:\n  - number: A1  # the first\n    kind: mou\n"
                        "    date: 2016-09-20\n    parties: [{code: '36.71', name: Kota Tangerang}]\n")
    assert cli(*PKS, "--agreements", registry).exit_code == 0
    text = registry.read_text()
    assert "# kept by hand" in text and "# the first" in text
    assert [a.number for a in agreements.load_agreements(registry)] == ["A1", "180/12-Kominfo/2021"]


def test_list_in_project(cli, tmp_path: Path):
    (tmp_path / "region.yaml").write_text("region: {}\n")
    assert cli("-C", tmp_path, *PKS).exit_code == 0
    assert (tmp_path / "agreements.yaml").is_file()
    assert [a["number"] for a in cli.json("-C", tmp_path, "agreements", "list", "--json")] == ["180/12-Kominfo/2021"]


def test_missing_registry_lists_nothing(cli, registry: Path):
    result = cli("agreements", "list", "--agreements", registry)
    assert result.exit_code == 0 and "no agreements" in result.stderr
    assert cli.json("agreements", "list", "--agreements", registry, "--json") == []


def test_duplicate_number_refused(cli, registry: Path):
    assert cli(*PKS, "--agreements", registry).exit_code == 0
    before = registry.read_bytes()
    again = cli(*PKS, "--agreements", registry)
    assert again.exit_code == 2 and "already in" in again.stderr
    assert registry.read_bytes() == before


def test_duplicate_number_in_file_is_positioned(cli, registry: Path):
    entry = "  - {number: A1, kind: mou, date: 2016-09-20, parties: [{name: X}]}\n"
    registry.write_text("agreements:\n" + entry + entry)
    result = cli("agreements", "list", "--agreements", registry)
    assert result.exit_code == 2
    assert f"{registry}:3:" in result.stderr and "duplicate agreement number 'A1' (first on line 2)" in result.stderr


def test_unknown_app_suggests(cli, registry: Path):
    result = cli(*PKS, "--app", "e-ofice", "--agreements", registry)
    assert result.exit_code == 2
    assert "unknown app 'e-ofice'" in result.stderr and "e-office" in result.stderr
    assert not registry.exists()


@pytest.mark.parametrize("args, message", [
    (["--date", "10/11/2021"], "expected YYYY-MM-DD"),
    (["--party", "Pandeglang"], "expected a region code"),
    (["--party", "36.99"], "unknown region code '36.99'"),
    (["--kind", "nda"], "nda"),
])
def test_bad_options(cli, registry: Path, args, message):
    base = ["agreements", "add", "--number", "N1", "--kind", "mou", "--date", "2021-11-10", "--party", "36.71"]
    result = cli(*base, *args, "--agreements", registry)
    assert result.exit_code == 2 and message in result.stderr
    assert not registry.exists()


@pytest.mark.parametrize("text, where, message", [
    ("agreements:\n  - number: A1\n    kind: [mou\n", ":4:", "invalid YAML"),
    ("agreements:\n  - number: A1\n    kind: nda\n    date: 2021-11-10\n    parties: [{name: X}]\n", ":3:11",
     "agreements[0].kind"),
    ("agreements:\n  - number: A1\n    kind: mou\n    date: someday\n    parties: [{name: X}]\n", ":4:11",
     "agreements[0].date"),
    ("agreements:\n  - number: A1\n    kind: mou\n    date: 2021-11-10\n    parties: [{code: '36-01', name: X}]\n",
     ":5:", "expected a Kemendagri code"),
])
def test_malformed_registry_positioned_and_unchanged(cli, registry: Path, text, where, message):
    registry.write_text(text)
    for args in (["agreements", "list"], PKS):
        result = cli(*args, "--agreements", registry)
        assert result.exit_code == 2, result.output
        assert f"{registry}{where}" in result.stderr and message in result.stderr
    assert registry.read_text() == text


def test_example_registry():
    example = agreements.load_agreements(agreements.example_path(), missing_ok=False)
    by_date = {str(a.date): a for a in example}
    assert list(by_date) == ["2016-09-20", "2018-05-16", "2021-11-10", "2021-12-09"]
    for a in example:
        assert a.parties[0].code == "36.71" and "number not public" in a.number
    assert len(by_date["2016-09-20"].parties) - 1 == 17
    assert {p.code for p in by_date["2018-05-16"].parties[1:]} == {"32.15", "32.16"}
    assert by_date["2021-11-10"].kind == "pks" and len(by_date["2021-11-10"].apps) == 6
    assert by_date["2021-12-09"].apps == ["e-office"]
    catalog = load_catalog()
    assert all(app in catalog.apps for a in example for app in a.apps)


def test_list_example(cli):
    records = cli.json("agreements", "list", "--example", "--json")
    assert [len(r["parties"]) - 1 for r in records] == [17, 2, 1, 1]
    assert "17" not in cli("agreements", "list", "--example", "--agreements", "x.yaml").stdout


def test_concurrent_agreements_add_keep_every_agreement(registry: Path):
    """Two `agreements add` processes while an edit of the registry is held: both wait for the project's edit
    lock, then add in turn; without the lock the held edit, written last, would drop both."""
    from regionkit.project.files import Project
    from tests.locks import finish, start, wait_until_blocked

    project = Project(registry.parent)
    with project.editing(registry, check=lambda doc: [], new_file="agreements: []\n"):
        started = [start("agreements", "add", "--number", number, "--kind", "mou", "--date", "2021-11-10",
                         "--party", "36.01", "--agreements", registry) for number in ("MOU/1", "MOU/2")]
        wait_until_blocked(project.edit_lock_path, started)
    finish(started)
    assert sorted(a.number for a in agreements.load_agreements(registry)) == ["MOU/1", "MOU/2"]
