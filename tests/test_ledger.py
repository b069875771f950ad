"""The adoption ledger: hash chain, tamper evidence, torn writes, crash safety, current state."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from regionkit.audit import ledger
from regionkit.audit.ledger import AppHostFact, record_deploy
from regionkit.errors import InputError, ValidationFailed
from regionkit.project.files import Project

PDG = ("36.01", "Kabupaten Pandeglang")
BREBES = ("33.29", "Kabupaten Brebes")


def run(root: Path, facts, region=PDG, day: int = 10, removal: bool = False, run_id: str | None = None, **extra):
    return record_deploy(root, region, facts, run_id=run_id or f"202111{day:02d}T010000Z-abc{day:03d}",
                         operator="budi", kit_version="0.1.0", catalog_digest="c" * 64,
                         started=f"2021-11-{day:02d}T01:00:00Z", finished=f"2021-11-{day:02d}T01:30:00Z",
                         removal=removal, **extra)


def fact(app: str, host: str, version: str | None = "1.0", ok: bool = True) -> AppHostFact:
    return AppHostFact(app, host, version, ok, config_digest="d" * 64)


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    """A ledger of 8 entries over four runs and two regions; returns its path."""
    run(tmp_path, [fact("e-office", "h1"), fact("e-office", "h2"), fact("laksa", "h2")], day=10)
    run(tmp_path, [fact("e-office", "h2", "1.1")], day=11)
    run(tmp_path, [fact("laksa", "h2")], day=12, removal=True)
    run(tmp_path, [fact("e-office", "web1"), fact("sigap", "web1", "2.0", ok=False), fact("sigap", "web2", "2.0")],
        region=BREBES, day=13)
    return Project(tmp_path).ledger_path


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def problem_of(path: Path) -> ledger.Ledger:
    read = ledger.read(path)
    assert not read.ok, "the ledger verified, but it should not"
    return read


# --- happy path ------------------------------------------------------------------------------------------


def test_one_entry_per_app_and_host_chained_and_durable(tmp_path: Path):
    entries = run(tmp_path, [fact("e-office", "h1"), fact("e-office", "h2"), fact("laksa", "h2")],
                  agreement="PKS 180/2021")
    path = tmp_path / "ledger.jsonl"
    raw = lines(path)
    assert [e.seq for e in entries] == [1, 2, 3] and len(raw) == 3
    assert all(line.endswith(b"\n") for line in raw)
    first = json.loads(raw[0])
    assert first["prev"] == "0" * 64 and list(first) == sorted(first)
    assert json.loads(raw[1])["prev"] == ledger.line_hash(raw[0].rstrip(b"\n"))
    assert first["hash"] == ledger.entry_hash(first)
    assert {(e.app, e.host) for e in entries} == {("e-office", "h1"), ("e-office", "h2"), ("laksa", "h2")}
    e = entries[0]
    assert (e.region_code, e.region_name, e.action, e.result, e.operator, e.agreement) == (
        "36.01", "Kabupaten Pandeglang", "deploy", "succeeded", "budi", "PKS 180/2021")
    assert (e.started, e.finished, e.kit_version, e.catalog_digest, e.config_digest) == (
        "2021-11-10T01:00:00Z", "2021-11-10T01:30:00Z", "0.1.0", "c" * 64, "d" * 64)
    read = ledger.read(path)
    assert read.ok and read.entries == entries and read.head.seq == 3


def test_times_are_stored_in_utc_and_naive_times_refused(tmp_path: Path):
    [entry] = record_deploy(tmp_path, PDG, [fact("e-office", "h1")], run_id="r", operator="o", kit_version="1",
                            catalog_digest=None, started="2021-11-10T08:00:00+07:00",
                            finished="2021-11-10T08:30:00+07:00")
    assert (entry.started, entry.finished) == ("2021-11-10T01:00:00Z", "2021-11-10T01:30:00Z")
    with pytest.raises(ValueError, match="zone"):
        record_deploy(tmp_path, PDG, [fact("e-office", "h1")], run_id="r", operator="o", kit_version="1",
                      catalog_digest=None, started="2021-11-10T08:00:00", finished="2021-11-10T08:30:00Z")
    assert ledger.read(tmp_path / "ledger.jsonl").ok


def test_facts_may_be_plain_mappings_and_empty_runs_write_nothing(tmp_path: Path):
    [entry] = run(tmp_path, [{"app": "e-office", "host": "h1", "version": "1.0", "succeeded": False}])
    assert entry.result == "failed" and entry.config_digest is None
    assert run(tmp_path, []) == []
    assert len(ledger.read(tmp_path / "ledger.jsonl").entries) == 1


def test_actions_deploy_upgrade_removal(filled: Path):
    actions = [(e.app, e.host, e.version, e.action, e.result) for e in ledger.read(filled).entries]
    assert actions == [
        ("e-office", "h1", "1.0", "deploy", "succeeded"), ("e-office", "h2", "1.0", "deploy", "succeeded"),
        ("laksa", "h2", "1.0", "deploy", "succeeded"), ("e-office", "h2", "1.1", "upgrade", "succeeded"),
        ("laksa", "h2", "1.0", "removal", "succeeded"),  # version taken from what ran there
        ("e-office", "web1", "1.0", "deploy", "succeeded"), ("sigap", "web1", "2.0", "deploy", "failed"),
        ("sigap", "web2", "2.0", "deploy", "succeeded")]


def test_same_version_again_is_a_deploy_and_keeps_since(tmp_path: Path):
    run(tmp_path, [fact("e-office", "h1")], day=10)
    [again] = run(tmp_path, [fact("e-office", "h1")], day=11)
    assert again.action == "deploy"
    [now] = ledger.current_state(ledger.read(tmp_path / "ledger.jsonl").entries).values()
    assert (now.version, now.since, now.last_seq) == ("1.0", "2021-11-10T01:30:00Z", 2)


def test_removal_of_an_unrecorded_app_needs_a_version(tmp_path: Path):
    with pytest.raises(InputError, match="no version given"):
        run(tmp_path, [fact("laksa", "h1", None)], removal=True)
    [entry] = run(tmp_path, [fact("laksa", "h1", "0.9")], removal=True)
    assert entry.action == "removal" and not ledger.current_state([entry])


def test_concurrent_appenders_lose_nothing(tmp_path: Path):
    path = tmp_path / "ledger.jsonl"

    def writer(n: int) -> None:
        for i in range(15):
            run(tmp_path, [fact(f"app-{n}", f"h{i}")], run_id=f"r{n}-{i}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    read = ledger.read(path)
    assert read.ok and len(read.entries) == 60
    assert {e.run_id for e in read.entries} == {f"r{n}-{i}" for n in range(4) for i in range(15)}


# --- current state ----------------------------------------------------------------------------------------


def test_current_state(filled: Path):
    state = ledger.current_state(ledger.read(filled).entries)
    assert {k: v.version for k, v in state.items()} == {
        ("36.01", "e-office", "h1"): "1.0", ("36.01", "e-office", "h2"): "1.1",
        ("33.29", "e-office", "web1"): "1.0", ("33.29", "sigap", "web2"): "2.0"}
    upgraded = state[("36.01", "e-office", "h2")]
    assert (upgraded.since, upgraded.run_id) == ("2021-11-11T01:30:00Z", "20211111T010000Z-abc011")


def test_failed_upgrade_keeps_the_old_version_and_failed_removal_keeps_the_app(tmp_path: Path):
    run(tmp_path, [fact("e-office", "h1")], day=10)
    run(tmp_path, [fact("e-office", "h1", "2.0", ok=False)], day=11)
    run(tmp_path, [fact("e-office", "h1", None, ok=False)], day=12, removal=True)
    [now] = ledger.current_state(ledger.read(tmp_path / "ledger.jsonl").entries).values()
    assert now.version == "1.0"
    run(tmp_path, [fact("e-office", "h1", None)], day=13, removal=True)
    assert ledger.current_state(ledger.read(tmp_path / "ledger.jsonl").entries) == {}


def test_queries(filled: Path):
    entries = ledger.read(filled).entries
    assert [(r.app, r.host, r.version) for r in ledger.region_apps(entries, "36.01")] == [
        ("e-office", "h1", "1.0"), ("e-office", "h2", "1.1")]
    assert ledger.region_apps(entries, "99.99") == []
    office = ledger.adopters(entries, "e-office")
    assert [(r["region_code"], r["versions"]) for r in office] == [("33.29", ["1.0"]), ("36.01", ["1.0", "1.1"])]
    assert office[1]["since"] == "2021-11-10T01:30:00Z"
    assert ledger.adopters(entries, "laksa") == []
    assert [e.seq for e in ledger.select(entries, app="laksa")] == [3, 5]
    assert [e.seq for e in ledger.select(entries, region="33.29", since=ledger.parse_since("2021-11-13"))] == [6, 7, 8]
    assert ledger.select(entries, since=ledger.parse_since("2021-11-13T01:31:00+00:00")) == []
    with pytest.raises(InputError, match="--since"):
        ledger.parse_since("last tuesday")


def test_facts_from_run():
    apps = [{"id": "e-office", "version": "1.0", "config_digest": "x"}, {"id": "laksa", "version": "2.0"}]
    per_app = {"e-office": {"hosts": ["h1", "h2"], "recorded_on": ["h1", "h2"]},
               "laksa": {"hosts": ["h1", "h2"], "recorded_on": ["h1"]}}
    failures = [{"app": "e-office", "host": "h2", "task": "t"}]
    facts = ledger.facts_from_run(apps, per_app, failures)
    assert [(f.app, f.host, f.succeeded) for f in facts] == [
        ("e-office", "h1", True), ("e-office", "h2", False), ("laksa", "h1", True), ("laksa", "h2", False)]
    assert facts[0].config_digest == "x" and facts[2].config_digest is None


# --- tamper evidence --------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", range(1, 9))
def test_one_changed_byte_in_any_entry_is_named(filled: Path, number: int):
    original = lines(filled)
    rng = random.Random(number)
    line = original[number - 1]
    offsets = {0, len(line) - 2, len(line) - 1, *rng.sample(range(len(line)), 12)}
    for offset in sorted(offsets):
        changed = bytearray(line)
        changed[offset] ^= 0x01
        filled.write_bytes(b"".join(original[:number - 1] + [bytes(changed)] + original[number:]))
        read = problem_of(filled)
        assert read.problem.location.line == number, (offset, str(read.problem))
        assert len(read.entries) == number - 1
        with pytest.raises(ValidationFailed):
            read.raise_if_broken()


@pytest.mark.parametrize("field, value", [("version", "9.9"), ("operator", "mallory"), ("result", "failed"),
                                          ("finished", "2021-11-12T01:30:00Z"), ("hash", "f" * 64)])
def test_an_edited_field_is_named(filled: Path, field: str, value: str):
    original = lines(filled)
    data = json.loads(original[3])
    data[field] = value
    filled.write_bytes(b"".join(original[:3] + [ledger.canonical(data) + b"\n"] + original[4:]))
    read = problem_of(filled)
    assert (read.problem.location.line, read.problem.location.field) == (4, "seq 4")
    assert "edited" in read.problem.message


def test_a_rewritten_entry_with_a_fresh_hash_breaks_the_next_link(filled: Path):
    original = lines(filled)
    data = json.loads(original[3])
    data["version"] = "9.9"
    data["hash"] = ledger.entry_hash(data)
    filled.write_bytes(b"".join(original[:3] + [ledger.canonical(data) + b"\n"] + original[4:]))
    read = problem_of(filled)
    assert (read.problem.location.line, read.problem.location.field) == (5, "seq 5")
    assert "broken chain" in read.problem.message


def test_reformatted_json_is_detected(filled: Path):
    original = lines(filled)
    pretty = json.dumps(json.loads(original[1]), sort_keys=True).encode() + b"\n"  # spaces after separators
    filled.write_bytes(b"".join(original[:1] + [pretty] + original[2:]))
    read = problem_of(filled)
    assert read.problem.location.line == 2 and "canonical" in read.problem.message


@pytest.mark.parametrize("number", [1, 4, 7])
def test_a_deleted_entry_is_named(filled: Path, number: int):
    original = lines(filled)
    filled.write_bytes(b"".join(original[:number - 1] + original[number:]))
    read = problem_of(filled)
    assert (read.problem.location.line, read.problem.location.field) == (number, f"seq {number + 1}")
    assert "removed" in read.problem.message


def test_a_deleted_last_entry_needs_an_anchor(filled: Path, cli):
    head = ledger.read(filled).head
    filled.write_bytes(b"".join(lines(filled)[:-1]))
    assert ledger.read(filled).ok  # a hash chain alone cannot see a cut at its end
    result = cli("audit", "verify", "--ledger", filled, "--anchor", head.hash[:16])
    assert result.exit_code == 2 and "not in the ledger" in result.stderr


@pytest.mark.parametrize("number", [1, 3, 7])
def test_swapped_entries_are_named(filled: Path, number: int):
    original = lines(filled)
    swapped = original[:number - 1] + [original[number], original[number - 1]] + original[number + 1:]
    filled.write_bytes(b"".join(swapped))
    read = problem_of(filled)
    assert read.problem.location.line == number and "out of order" in read.problem.message


def test_an_inserted_entry_is_named(filled: Path):
    original = lines(filled)
    filled.write_bytes(b"".join(original[:2] + [original[5]] + original[2:]))
    assert problem_of(filled).problem.location.line == 3


def test_crlf_line_endings_are_explained(filled: Path):
    filled.write_bytes(filled.read_bytes().replace(b"\n", b"\r\n"))
    read = problem_of(filled)
    assert read.problem.location.line == 1 and "CRLF" in read.problem.message


def test_a_tampered_ledger_refuses_new_entries(filled: Path):
    original = lines(filled)
    filled.write_bytes(b"".join(original[:2] + [original[2].replace(b"laksa", b"laksz")] + original[3:]))
    with pytest.raises(InputError, match="refusing to append"):
        run(filled.parent, [fact("e-office", "h3")])
    assert lines(filled)[3:] == original[3:]


# --- torn writes ------------------------------------------------------------------------------------------


def test_a_torn_last_line_is_reported_and_blocks_appends(filled: Path):
    whole = filled.read_bytes()
    torn = b'{"action":"deploy","agreement":null,"app":"e-of'
    filled.write_bytes(whole + torn)
    read = problem_of(filled)
    assert read.problem.location.line == 9 and "torn write" in read.problem.message
    assert read.torn == ledger.Torn(line=9, offset=len(whole), size=len(torn), whole=False)
    assert f"truncate -s {len(whole)}" in read.hint
    assert len(read.entries) == 8  # nothing before it is lost
    for append in (lambda: run(filled.parent, [fact("e-office", "h3")]),
                   lambda: ledger.append_entries(filled, [])):
        with pytest.raises(InputError, match="refusing to append: .*:9: torn write") as caught:
            append()
        assert "truncate -s" in caught.value.hint
    assert filled.read_bytes() == whole + torn  # untouched
    os.truncate(filled, read.torn.offset)  # what the hint says to do
    assert ledger.read(filled).ok
    assert run(filled.parent, [fact("e-office", "h3")])[0].seq == 9


def test_a_whole_entry_without_its_newline_is_torn_too(filled: Path):
    filled.write_bytes(filled.read_bytes()[:-1])
    read = problem_of(filled)
    assert read.torn.whole and read.torn.line == 8 and "whole" in read.problem.message
    assert "echo >>" in read.hint
    with pytest.raises(InputError, match="torn write"):
        run(filled.parent, [fact("e-office", "h3")])
    with open(filled, "ab") as handle:
        handle.write(b"\n")
    assert ledger.read(filled).ok


def test_a_damaged_middle_line_is_corruption_not_a_torn_write(filled: Path):
    original = lines(filled)
    filled.write_bytes(b"".join(original[:3] + [original[3][:40] + b"\n"] + original[4:]))
    read = problem_of(filled)
    assert read.problem.location.line == 4 and "corrupted" in read.problem.message and read.torn is None


def test_a_missing_ledger_is_an_input_error_and_an_empty_one_verifies(tmp_path: Path):
    with pytest.raises(InputError, match="no ledger"):
        ledger.read(tmp_path / "ledger.jsonl")
    assert ledger.read(tmp_path / "ledger.jsonl", must_exist=False).entries == []
    (tmp_path / "ledger.jsonl").write_bytes(b"")
    assert ledger.read(tmp_path / "ledger.jsonl").ok


# --- crash safety: a writer killed with SIGKILL at random moments --------------------------------------------

WRITER = textwrap.dedent("""
    import os, sys, time
    from regionkit.audit import ledger

    path, chunked = sys.argv[1], sys.argv[2] == "chunked"
    if chunked:  # a slow disk: the line goes out a few bytes at a time, so a kill can land inside it
        real_write = os.write
        def slow_write(fd, data):
            time.sleep(0.0005)
            return real_write(fd, bytes(data[:23]))
        os.write = slow_write
    print("READY", flush=True)
    n = 0
    while True:
        n += 1
        batch = [{"action": "deploy", "result": "succeeded", "region_code": "36.01",
                  "region_name": "Kabupaten Pandeglang", "app": f"app-{n}-{i}", "version": "1.0", "host": "h1",
                  "started": "2021-11-10T01:00:00Z", "finished": "2021-11-10T01:30:00Z", "operator": "budi",
                  "kit_version": "0.1.0", "run_id": f"r{n}"} for i in range(1 + n % 3)]
        entries = ledger.append_entries(path, batch)
        print("ACK", " ".join(str(e.seq) for e in entries), flush=True)
""")


def test_a_writer_killed_at_random_never_loses_an_acknowledged_entry(tmp_path: Path):
    path = tmp_path / "ledger.jsonl"
    rng = random.Random(20211110)
    acked: set[int] = set()
    torn_seen = 0
    deadline = time.monotonic() + 15
    for round_number in range(10):
        if time.monotonic() > deadline:
            break
        mode = "chunked" if round_number % 2 else "whole"
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), mode], stdout=subprocess.PIPE,
                                  text=True, cwd=tmp_path)
        assert writer.stdout.readline().strip() == "READY"
        time.sleep(rng.uniform(0.02, 0.25))
        writer.send_signal(signal.SIGKILL)
        output, _ = writer.communicate()
        assert writer.returncode == -signal.SIGKILL
        for line in output.split("\n")[:-1]:  # complete lines only
            assert line.startswith("ACK ")
            acked.update(int(seq) for seq in line.split()[1:])

        read = ledger.read(path, must_exist=False)
        present = {e.seq for e in read.entries}
        assert acked <= present, f"round {round_number}: acknowledged entries lost: {sorted(acked - present)}"
        if not read.ok:  # the only acceptable damage: the last line, torn by the kill
            assert read.torn is not None, str(read.problem)
            assert read.torn.line == len(read.entries) + 1
            assert read.torn.offset + read.torn.size == path.stat().st_size
            torn_seen += 1
            with pytest.raises(InputError, match="torn write"):
                ledger.append_entries(path, [])
            os.truncate(path, read.torn.offset)  # the documented repair
            assert ledger.read(path).ok
    read = ledger.read(path)
    assert read.ok and acked <= {e.seq for e in read.entries} and len(acked) > 0
    assert torn_seen > 0, "no kill landed inside a write: the torn-line path was not exercised"
    assert [e.seq for e in read.entries] == list(range(1, len(read.entries) + 1))


def test_a_head_line_without_the_optional_fields_still_chains_the_next_run(tmp_path: Path):
    """A valid entry may leave out catalog_digest, config_digest and agreement (None by default): the next
    entry's `prev` is the hash of the line as written, not of a re-serialised entry with those fields added."""
    path = Project(tmp_path).ledger_path
    payload = {"v": 1, "seq": 1, "prev": ledger.GENESIS, "action": "deploy", "result": "succeeded",
               "region_code": "36.01", "region_name": "Kabupaten Pandeglang", "app": "e-office", "version": "1.0",
               "host": "h1", "started": "2021-11-10T01:00:00Z", "finished": "2021-11-10T01:30:00Z",
               "operator": "budi", "kit_version": "0.1.0", "run_id": "20211110T010000Z-abc010"}
    payload["hash"] = ledger.entry_hash(payload)
    path.write_bytes(ledger.canonical(payload) + b"\n")
    assert ledger.read(path).ok
    run(tmp_path, [fact("laksa", "h1")], day=11)
    run(tmp_path, [fact("sigap", "h1")], day=12)  # the run after that is not refused either
    read = ledger.read(path)
    assert read.ok, read.problem
    assert [e.seq for e in read.entries] == [1, 2, 3]
    assert read.entries[1].prev == ledger.line_hash(lines(path)[0].rstrip(b"\n"))
