"""`regionkit audit list|region|adopters|verify`: outputs, filters and exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from regionkit.audit import ledger
from regionkit.audit.ledger import AppHostFact, record_deploy

PDG = ("36.01", "Kabupaten Pandeglang")
BREBES = ("33.29", "Kabupaten Brebes")


def run(root: Path, region, facts, day: int, removal: bool = False, agreement: str | None = None):
    return record_deploy(root, region, [AppHostFact(*f) for f in facts], run_id=f"run-{day}", operator="budi",
                         kit_version="0.1.0", catalog_digest="c" * 64, started=f"2021-11-{day:02d}T01:00:00Z",
                         finished=f"2021-11-{day:02d}T01:30:00Z", removal=removal, agreement=agreement)


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """Pandeglang: e-office on h1 and h2 (upgraded on h2), laksa removed; Brebes: e-office on web1."""
    run(tmp_path, PDG, [("e-office", "h1", "1.0", True), ("e-office", "h2", "1.0", True),
                        ("laksa", "h2", "2.0", True)], day=10, agreement="PKS/2021/11")
    run(tmp_path, PDG, [("e-office", "h2", "1.1", True)], day=11)
    run(tmp_path, PDG, [("laksa", "h2", None, True)], day=12, removal=True)
    run(tmp_path, BREBES, [("e-office", "web1", "1.0", True), ("sigap", "web1", "3.0", False)], day=13)
    return tmp_path / "ledger.jsonl"


def test_audit_is_a_command(cli):
    result = cli("audit", "--help")
    assert result.exit_code == 0
    for command in ("list", "region", "adopters", "verify"):
        assert command in result.stdout


def test_list_table(cli, book: Path):
    result = cli("audit", "list", "--ledger", book)
    assert result.exit_code == 0
    assert "7 of 7 entries" in result.stdout
    for text in ("e-office", "laksa", "upgrade", "removal", "failed", "Kabupaten Brebes", "PKS/2021/11"):
        assert text in result.stdout


def test_list_json_and_filters(cli, book: Path):
    everything = cli.json("audit", "list", "--ledger", book, "--json")
    assert [e["seq"] for e in everything] == list(range(1, 8))
    assert set(everything[0]) == set(ledger.FIELDS)
    assert everything[0]["agreement"] == "PKS/2021/11" and everything[3]["agreement"] is None
    assert [e["seq"] for e in cli.json("audit", "list", "--ledger", book, "--json", "--app", "laksa")] == [3, 5]
    assert [e["seq"] for e in cli.json("audit", "list", "--ledger", book, "--json", "--region", "33.29")] == [6, 7]
    assert [e["seq"] for e in cli.json("audit", "list", "--ledger", book, "--json", "--since", "2021-11-12")] == [
        5, 6, 7]
    since_time = cli.json("audit", "list", "--ledger", book, "--json", "--since", "2021-11-12T08:31:00+07:00")
    assert [e["seq"] for e in since_time] == [6, 7]
    assert cli.json("audit", "list", "--ledger", book, "--json", "--region", "36.01", "--app", "sigap") == []


def test_list_csv(cli, book: Path):
    result = cli("audit", "list", "--ledger", book, "--csv", "--region", "36.01")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ledger.FIELDS
    assert [(r["seq"], r["app"], r["version"], r["host"], r["action"]) for r in rows] == [
        ("1", "e-office", "1.0", "h1", "deploy"), ("2", "e-office", "1.0", "h2", "deploy"),
        ("3", "laksa", "2.0", "h2", "deploy"), ("4", "e-office", "1.1", "h2", "upgrade"),
        ("5", "laksa", "2.0", "h2", "removal")]
    assert rows[0]["finished"] == "2021-11-10T01:30:00Z" and rows[0]["agreement"] == "PKS/2021/11"


def test_list_bad_options(cli, book: Path):
    both = cli("audit", "list", "--ledger", book, "--json", "--csv")
    assert both.exit_code == 2 and "one of --json and --csv" in both.stderr
    since = cli("audit", "list", "--ledger", book, "--since", "yesterday")
    assert since.exit_code == 2 and "--since yesterday" in since.stderr
    missing = cli("audit", "list", "--ledger", book.parent / "nope.jsonl")
    assert missing.exit_code == 2 and "no ledger at" in missing.stderr and "Traceback" not in missing.output


def test_region_lists_what_runs_now(cli, book: Path):
    running = cli.json("audit", "region", "36.01", "--ledger", book, "--json")
    assert [(r["app"], r["host"], r["version"]) for r in running] == [("e-office", "h1", "1.0"),
                                                                       ("e-office", "h2", "1.1")]
    assert running[1]["since"] == "2021-11-11T01:30:00Z" and running[1]["operator"] == "budi"
    assert running[0]["agreement"] == "PKS/2021/11"
    table = cli("audit", "region", "36.01", "--ledger", book)
    assert table.exit_code == 0 and "1 app running" in table.stdout and "laksa" not in table.stdout
    brebes = cli.json("audit", "region", "33.29", "--ledger", book, "--json")
    assert [r["app"] for r in brebes] == ["e-office"]  # the failed sigap deploy does not run
    unknown = cli("audit", "region", "99.99", "--ledger", book)
    assert unknown.exit_code == 0 and "no entry for it" in unknown.stderr


def test_adopters(cli, book: Path):
    regions = cli.json("audit", "adopters", "e-office", "--ledger", book, "--json")
    assert [(r["region_code"], r["versions"]) for r in regions] == [("33.29", ["1.0"]), ("36.01", ["1.0", "1.1"])]
    assert [h["host"] for h in regions[1]["hosts"]] == ["h1", "h2"]
    table = cli("audit", "adopters", "e-office", "--ledger", book)
    assert table.exit_code == 0 and "2 regions" in table.stdout and "Kabupaten Pandeglang" in table.stdout
    assert cli.json("audit", "adopters", "laksa", "--ledger", book, "--json") == []
    nobody = cli("audit", "adopters", "laksa", "--ledger", book)
    assert nobody.exit_code == 0 and "no region runs laksa" in nobody.stderr


def test_verify_ok(cli, book: Path):
    result = cli("audit", "verify", "--ledger", book)
    head = ledger.read(book).head
    assert result.exit_code == 0 and "7 entries, chain intact" in result.stdout and head.hash in result.stdout
    report = cli.json("audit", "verify", "--ledger", book, "--json")
    assert report["valid"] and report["entries"] == 7 and report["head"] == {"seq": 7, "hash": head.hash}
    anchored = cli("audit", "verify", "--ledger", book, "--anchor", ledger.read(book).entries[2].hash[:12])
    assert anchored.exit_code == 0
    short = cli("audit", "verify", "--ledger", book, "--anchor", "abc")
    assert short.exit_code == 2 and "12 hex digits" in short.stderr


def test_verify_names_the_first_bad_entry(cli, book: Path):
    text = book.read_bytes().splitlines(keepends=True)
    text[2] = text[2].replace(b'"version":"2.0"', b'"version":"2.1"')
    book.write_bytes(b"".join(text))
    result = cli("audit", "verify", "--ledger", book)
    assert result.exit_code == 2
    assert f"{book}:3: seq 3: edited" in result.stderr and "Traceback" not in result.output
    report = json.loads(cli("audit", "verify", "--ledger", book, "--json").stdout)
    assert not report["valid"] and report["problems"][0]["line"] == 3 and report["entries"] == 2
    for query in (("list",), ("region", "36.01"), ("adopters", "e-office")):  # no answers from a broken ledger
        refused = cli("audit", *query, "--ledger", book)
        assert refused.exit_code == 2 and ":3: seq 3: edited" in refused.stderr


def test_verify_reports_a_torn_write(cli, book: Path):
    size = book.stat().st_size
    with open(book, "ab") as handle:
        handle.write(b'{"action":"dep')
    result = cli("audit", "verify", "--ledger", book)
    assert result.exit_code == 2 and ":8: torn write" in result.stderr and f"truncate -s {size}" in result.stderr
    report = json.loads(cli("audit", "verify", "--ledger", book, "--json").stdout)
    assert report["torn"] == {"line": 8, "offset": size, "bytes": 14, "whole": False}


def test_the_project_ledger_is_the_default(cli, project: Path):
    missing = cli("audit", "verify")
    assert missing.exit_code == 2 and "no ledger at" in missing.stderr
    run(project, PDG, [("e-office", "web1", "1.0", True)], day=10)
    assert (project / "ledger.jsonl").is_file()
    assert cli("audit", "verify").exit_code == 0
    assert [r["app"] for r in cli.json("audit", "region", "36.01", "--json")] == ["e-office"]
    elsewhere = cli("-C", project.parent, "audit", "list")
    assert elsewhere.exit_code == 2 and "region.yaml" in elsewhere.stderr
