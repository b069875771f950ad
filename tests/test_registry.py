"""`regionkit audit import|report`: the central registry of many ledgers and the adoption reports."""

from __future__ import annotations

import csv
import io
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from regionkit.audit.ledger import AppHostFact, record_deploy

PDG = ("36.01", "Kabupaten Pandeglang")
BREBES = ("33.29", "Kabupaten Brebes")


def run(root: Path, region, facts, day: int, removal: bool = False, month: int = 11):
    return record_deploy(root, region, [AppHostFact(*f) for f in facts], run_id=f"run-{month}-{day}",
                         operator="budi", kit_version="0.1.0", catalog_digest="c" * 64,
                         started=f"2021-{month:02d}-{day:02d}T01:00:00Z",
                         finished=f"2021-{month:02d}-{day:02d}T01:30:00Z", removal=removal)


@pytest.fixture
def projects(tmp_path: Path) -> tuple[Path, Path]:
    """Pandeglang: e-office (upgraded to 1.1), laksa deployed then removed; Brebes: e-office, failed sigap."""
    pdg, brebes = tmp_path / "pandeglang", tmp_path / "brebes"
    pdg.mkdir()
    brebes.mkdir()
    run(pdg, PDG, [("e-office", "h1", "1.0", True), ("laksa", "h1", "2.0", True)], day=10)
    run(pdg, PDG, [("e-office", "h1", "1.1", True)], day=11)
    run(pdg, PDG, [("laksa", "h1", None, True)], day=12, removal=True)
    run(brebes, BREBES, [("e-office", "web1", "1.0", True), ("sigap", "web1", "3.0", False)], day=3, month=12)
    return pdg, brebes


def counts(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as conn:
        return (conn.execute("SELECT count(*) FROM ledgers").fetchone()[0],
                conn.execute("SELECT count(*) FROM entries").fetchone()[0])


def test_import_two_ledgers_then_reimport_adds_nothing(cli, projects, tmp_path: Path):
    pdg, brebes = projects
    db = tmp_path / "reg.sqlite"
    result = cli("audit", "import", pdg, brebes / "ledger.jsonl", "--registry", db)
    assert result.exit_code == 0, result.output
    assert "Kabupaten Pandeglang" in result.stdout and "Kabupaten Brebes" in result.stdout
    assert counts(db) == (2, 6)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT region_code, entries, status, head_hash FROM ledgers ORDER BY region_code")
        assert [r[:3] for r in rows] == [("33.29", 2, "verified"), ("36.01", 4, "verified")]
    again = cli("audit", "import", pdg, brebes, "--registry", db)
    assert again.exit_code == 0, again.output
    assert "(0 new)" in again.stdout
    assert counts(db) == (2, 6)


def test_the_registry_stores_the_ledgers_entries_field_for_field(projects, tmp_path: Path):
    """One definition of an entry (ledger.Entry): the registry's table has its fields and gives them back."""
    from regionkit.audit import ledger, registry

    pdg, brebes = projects
    db = tmp_path / "reg.sqlite"
    registry.import_ledgers(db, [pdg, brebes])
    with sqlite3.connect(db) as conn:
        columns = {row[1]: (row[2], bool(row[3])) for row in conn.execute("PRAGMA table_info(entries)")}
    assert set(columns) == set(ledger.FIELDS) | {"ledger_id"}
    assert columns["seq"] == ("INTEGER", True) and columns["agreement"] == ("TEXT", False)
    conn = registry.connect(db)
    try:
        stored = list(registry.entries(conn))
    finally:
        conn.close()
    read = ledger.read(pdg / "ledger.jsonl").entries + ledger.read(brebes / "ledger.jsonl").entries
    assert [ledger.entry_record(e) for e in stored] == [ledger.entry_record(e) for e in read]


def test_registry_from_the_environment(cli, projects, tmp_path: Path, monkeypatch):
    db = tmp_path / "env.sqlite"
    monkeypatch.setenv("REGIONKIT_REGISTRY", str(db))
    assert cli("audit", "import", projects[0]).exit_code == 0
    assert counts(db) == (1, 4)


def test_a_grown_ledger_adds_only_its_new_entries(cli, projects, tmp_path: Path):
    pdg, _ = projects
    db = tmp_path / "reg.sqlite"
    assert cli("audit", "import", pdg, "--registry", db).exit_code == 0
    run(pdg, PDG, [("sigap", "h1", "3.0", True)], day=20)
    result = cli("audit", "import", pdg, "--registry", db)
    assert result.exit_code == 0 and "(1 new)" in result.stdout
    assert counts(db) == (1, 5)


def test_tampered_ledger_is_refused_and_others_still_import(cli, projects, tmp_path: Path):
    pdg, brebes = projects
    db = tmp_path / "reg.sqlite"
    path = pdg / "ledger.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b"\"1.1\"", b"\"9.9\"")
    path.write_bytes(b"".join(lines))
    result = cli("audit", "import", pdg, brebes, "--registry", db)
    assert result.exit_code == 2
    assert "refused" in result.stderr and f"{path}:3" in result.stderr and "seq 3" in result.stderr
    assert "Traceback" not in result.output
    assert counts(db) == (1, 2)  # Brebes only: nothing of Pandeglang
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM entries WHERE region_code = '36.01'").fetchone()[0] == 0


def test_a_ledger_cut_after_its_import_is_refused(cli, projects, tmp_path: Path):
    pdg, _ = projects
    db = tmp_path / "reg.sqlite"
    assert cli("audit", "import", pdg, "--registry", db).exit_code == 0
    path = pdg / "ledger.jsonl"
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:2]))
    result = cli("audit", "import", pdg, "--registry", db)
    assert result.exit_code == 2 and "no longer holds the head" in result.stderr
    assert counts(db) == (1, 4)


def test_missing_ledger_and_missing_registry(cli, tmp_path: Path):
    db = tmp_path / "reg.sqlite"
    result = cli("audit", "import", tmp_path / "nowhere", "--registry", db)
    assert result.exit_code == 2 and "no ledger at" in result.stderr
    result = cli("audit", "report", "--format", "json", "--registry", tmp_path / "none.sqlite")
    assert result.exit_code == 2 and "no registry at" in result.stderr
    result = cli("audit", "report", "--registry", db)
    assert result.exit_code == 2 and "choose one of" in result.stderr


@pytest.fixture
def registry_db(cli, projects, tmp_path: Path) -> Path:
    db = tmp_path / "reg.sqlite"
    assert cli("audit", "import", *projects, "--registry", db).exit_code == 0
    return db


def test_report_json(cli, registry_db: Path):
    data = cli.json("audit", "report", "--format", "json", "--registry", registry_db)
    matrix = {r["region_code"]: r["apps"] for r in data["matrix"]}
    assert matrix == {"36.01": {"e-office": "1.1"}, "33.29": {"e-office": "1.0"}}  # laksa removed, sigap failed
    assert data["summary"]["regions"] == 2 and data["summary"]["adoptions"] == 2
    apps = {a["id"]: a for a in data["apps"]}
    assert apps["e-office"]["regions"] == 2 and apps["laksa"]["regions"] == 0 and apps["laksa"]["ever_adopted"] == 1
    group = next(g for g in data["groups"] if g["group"] == apps["e-office"]["group"])
    assert group["apps_adopted"] >= 1 and group["adoptions"] >= 2
    firsts = {(t["region_code"], t["app"]): t["first_deployed"] for t in data["timeline"]}
    assert firsts == {("36.01", "e-office"): "2021-11-10T01:30:00Z", ("36.01", "laksa"): "2021-11-10T01:30:00Z",
                      ("33.29", "e-office"): "2021-12-03T01:30:00Z"}
    assert [m["month"] for m in data["timeline_by_month"]] == ["2021-11", "2021-12"]
    assert {(led["region_code"], led["entries"], led["status"]) for led in data["ledgers"]} == {
        ("36.01", 4, "verified"), ("33.29", 2, "verified")}


def test_report_csv_to_a_file(cli, registry_db: Path, tmp_path: Path):
    out = tmp_path / "matrix.csv"
    result = cli("audit", "report", "--format", "csv", "--out", out, "--registry", registry_db)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    by_region = {r["region_code"]: r for r in rows}
    assert by_region["36.01"]["e-office"] == "1.1" and by_region["36.01"]["laksa"] == ""
    assert by_region["33.29"]["region_name"] == "Kabupaten Brebes" and by_region["33.29"]["sigap"] == ""


def test_report_html_is_self_contained_and_escaped(cli, projects, tmp_path: Path):
    pdg, brebes = projects
    odd = tmp_path / "odd"
    odd.mkdir()
    run(odd, ("36.02", "Kab <b>Lebak</b> & co"), [("e-office", "h1", "1.0", True)], day=5)
    db = tmp_path / "reg.sqlite"
    assert cli("audit", "import", pdg, brebes, odd, "--registry", db).exit_code == 0
    out = tmp_path / "report.html"
    result = cli("audit", "report", "--html", out, "--registry", db)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<script|<link|@import|url\(", html, re.IGNORECASE)
    assert "<svg" in html and "@media print" in html
    assert "Kabupaten Pandeglang" in html and "Kabupaten Brebes" in html
    assert "Kab &lt;b&gt;Lebak&lt;/b&gt; &amp; co" in html and "<b>Lebak" not in html


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium to render the HTML report with")
def test_report_html_renders_in_a_headless_browser(cli, registry_db: Path, tmp_path: Path):
    out = tmp_path / "report.html"
    assert cli("audit", "report", "--html", out, "--registry", registry_db).exit_code == 0
    png = tmp_path / "report.png"
    profile = tmp_path / "chromium-profile"
    done = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", f"--user-data-dir={profile}", f"--screenshot={png}",
                           "--window-size=1280,1600", f"file://{out}"],
                          capture_output=True, timeout=120)
    assert png.exists(), done.stderr.decode(errors="replace")[-2000:]
    assert png.stat().st_size > 10 * 1024
    shutil.rmtree(profile, ignore_errors=True)
