"""The adoption ledger: which region runs which app, at which version, since when, deployed by whom.

`ledger.jsonl` at the root of a region project holds one entry per app and host for every deploy, upgrade and
removal. Each line is one canonical JSON object (sorted keys, no spaces, UTF-8, `\\n`-terminated), so the file
diffs and merges line by line in git. The ledger is append-only and hash-chained:

- `hash` is the sha256 of the entry's canonical JSON without `hash`; an edited entry no longer matches it;
- `prev` is the sha256 of the previous entry's whole line (`"0" * 64` for the first) and `seq` counts 1, 2, ...;
  a removed or moved entry breaks the chain at the first entry after it.

Appends take an exclusive flock on the file, refuse to write after a torn or damaged last line, write with
O_APPEND and fsync before they return: an entry is acknowledged when `append_entries` (or `record_deploy`)
returns, and a crash after that never loses it. A crash during an append can leave a torn last line (no
newline); `verify` reports it as such, never drops it silently, and appends refuse until someone looks at it.

A hash chain cannot show that entries were cut from its end: compare the head that `verify` prints with one
noted earlier (`verify --anchor HASH`) or with the ledger committed to git.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from regionkit.atomic import sync_dir
from regionkit.errors import InputError, Location, Problem, ValidationFailed
from regionkit.project.files import Project

FORMAT_VERSION = 1
GENESIS = "0" * 64
HEX64 = r"^[0-9a-f]{64}$"


class Action(StrEnum):
    DEPLOY = "deploy"  # first install of the app on that host (or again at the same version)
    UPGRADE = "upgrade"  # the version differs from the one recorded as running there
    REMOVAL = "removal"


class Result(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def _utc_text(value: datetime | str) -> str:
    """ISO 8601 in UTC with a `Z`; a time without a zone is refused rather than guessed."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        raise ValueError(f"{value}: expected a time with a zone (UTC), e.g. 2021-11-10T03:00:00Z")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Entry(BaseModel):
    """One line of the ledger: one app on one host in one run. The one definition of an entry's fields: the
    ledger's columns (FIELDS, in this order: the auditor's questions first, the chain last) and the registry's
    table are made from it."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)

    seq: int = Field(ge=1, description="Position in the ledger: 1, 2, 3, ...")
    finished: str = Field(description="End of the run, UTC, ISO 8601.")
    region_code: str = Field(min_length=1, description="Kemendagri code (or parent/slug of an institution).")
    region_name: str = Field(min_length=1)
    app: str = Field(min_length=1, description="Catalog id of the app.")
    version: str = Field(min_length=1)
    host: str = Field(min_length=1, description="Host name from region.yaml.")
    action: Action
    result: Result
    operator: str = Field(min_length=1, description="Who ran it.")
    agreement: str | None = Field(None, description="The agreement (MoU/PKS) the app is deployed under.")
    started: str = Field(description="Start of the run, UTC, ISO 8601.")
    run_id: str = Field(min_length=1, description="The run record in .regionkit/runs/<run id>/.")
    kit_version: str
    catalog_digest: str | None = None
    config_digest: str | None = None
    prev: str = Field(pattern=HEX64, description="sha256 of the previous entry's line; 64 zeros for the first.")
    hash: str = Field(pattern=HEX64, description="sha256 of this entry's canonical JSON without `hash`.")
    v: int = Field(FORMAT_VERSION, ge=1, le=FORMAT_VERSION, description="Format version of the entry.")

    @field_validator("started", "finished")
    @classmethod
    def _utc(cls, value: str) -> str:
        if not value.endswith("Z") or _utc_text(value) != value:
            raise ValueError("expected a UTC time in ISO 8601 ending in Z, e.g. 2021-11-10T03:00:00Z")
        return value

    @property
    def finished_at(self) -> datetime:
        return datetime.fromisoformat(self.finished)


FIELDS = list(Entry.model_fields)  # column order for tables and CSV
_CHAIN_FIELDS = {"v", "seq", "prev", "hash"}  # set by the ledger when it appends
_PAYLOAD_FIELDS = set(FIELDS) - _CHAIN_FIELDS
_OPTIONAL_FIELDS = [n for n in sorted(_PAYLOAD_FIELDS) if not Entry.model_fields[n].is_required()]


def canonical(data: Mapping[str, Any]) -> bytes:
    """The one byte form of an entry: sorted keys, no spaces, UTF-8 (not \\u escapes)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def entry_hash(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in data.items() if k != "hash"})).hexdigest()


def line_hash(line: bytes) -> str:
    """What the next entry's `prev` must be: the sha256 of this line without its newline."""
    return hashlib.sha256(line).hexdigest()


# ---------------------------------------------------------------------------------------------------------
# Reading and verifying


@dataclass(frozen=True)
class Torn:
    """A last line that a crash cut short: where it starts, so it can be inspected (and cut by hand)."""

    line: int
    offset: int  # byte offset where the torn line starts: `truncate -s OFFSET ledger.jsonl` removes it
    size: int
    whole: bool  # the entry is complete and chains correctly; only its newline is missing


@dataclass
class Ledger:
    """What a ledger file holds: its entries in order, and the first problem found (if any)."""

    path: Path
    entries: list[Entry] = field(default_factory=list)
    problem: Problem | None = None
    hint: str | None = None
    torn: Torn | None = None
    size: int = 0

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def head(self) -> Entry | None:
        return self.entries[-1] if self.entries else None

    def raise_if_broken(self) -> None:
        if self.problem is not None:
            error = ValidationFailed([self.problem], f"{self.path}: the ledger does not verify")
            error.hint = self.hint
            raise error

    def check_anchor(self, anchor: str) -> None:
        """When the chain holds, make it a problem that no entry's hash starts with `anchor` (a head hash noted
        earlier, at least 12 hex digits; InputError otherwise): entries were cut from the end, or the ledger was
        rewritten."""
        if not self.ok:
            return
        anchor = anchor.strip().lower()
        if len(anchor) < 12:
            raise InputError("--anchor: give at least the first 12 hex digits of the hash")
        if not any(e.hash.startswith(anchor) for e in self.entries):
            self.problem = Problem(f"anchor {anchor} is not in the ledger: entries were cut from its end or the "
                                   "ledger was rewritten", Location(self.path))
            self.hint = "compare with the ledger committed to git (`git log -p -- ledger.jsonl`)"


def read(path: Path, must_exist: bool = True) -> Ledger:
    """Read and verify the whole ledger: every hash, `prev` link and `seq`, stopping at the first problem.

    The entries before the first problem are kept in `entries`; a missing file is an InputError unless
    `must_exist` is false (then it reads as empty).
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        if must_exist:
            raise InputError(f"no ledger at {path}",
                             hint="the first `regionkit deploy` creates it; or point --ledger at one") from None
        return Ledger(path)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # never read half of an append in progress
        return verify_bytes(path, _read_all(fd))
    finally:
        os.close(fd)


def verify_bytes(path: Path, data: bytes) -> Ledger:
    """Verify the content of a ledger file (see `read`)."""
    ledger = Ledger(Path(path), size=len(data))
    prev, offset, number = GENESIS, 0, 0
    while offset < len(data):
        number += 1
        end = data.find(b"\n", offset)
        complete = end != -1
        line = data[offset:end] if complete else data[offset:]
        entry, problem = _check_line(line, number, prev)
        if not complete:
            whole = problem is None
            ledger.torn = Torn(number, offset, len(line), whole)
            where = Location(path, number, field=f"seq {entry.seq}" if entry else None)
            what = ("the last entry is whole but has no newline" if whole else
                    f"the last line is incomplete ({len(line)} bytes, no newline)")
            ledger.problem = Problem(f"torn write: {what}: a crash interrupted an append, so this entry was "
                                     "never acknowledged", where)
            ledger.hint = (f"inspect it with `tail -c +{offset + 1} {path}`; "
                           + (f"`echo >> {path}` keeps it" if whole else
                              f"`truncate -s {offset} {path}` cuts it off")
                           + ", then run `regionkit audit verify` again")
            return ledger
        if problem is not None:
            ledger.problem = Problem(problem, Location(path, number, field=f"seq {entry.seq}" if entry else None))
            ledger.hint = f"compare with the ledger committed to git (`git diff -- {path.name}`)"
            return ledger
        ledger.entries.append(entry)
        prev = line_hash(line)
        offset = end + 1
    return ledger


class _Partial:
    """Just enough of an entry to name it in a message when it does not validate."""

    def __init__(self, seq: Any):
        self.seq = seq


def _check_line(line: bytes, number: int, prev: str) -> tuple[Any, str | None]:
    """(entry or None, problem or None) for the `number`-th line, given the hash the chain expects."""
    if line.endswith(b"\r"):
        return None, "corrupted: the line ends in CRLF (git's autocrlf?); the ledger must keep LF line endings"
    try:
        data = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested thousands deep
        return None, "corrupted: not a JSON object (damaged, or two lines run together)"
    if not isinstance(data, dict):
        return None, "corrupted: not a JSON object"
    named = _Partial(data.get("seq", "?"))
    if not isinstance(data.get("hash"), str):
        return named, "edited: the entry has no hash"
    if entry_hash(data) != data["hash"]:
        return named, "edited: the entry does not match its hash (changed after it was written)"
    if canonical(data) != line:
        return named, "edited: the line is not in canonical form (rewritten after it was written)"
    if data.get("seq") != number:
        return named, (f"out of order: expected seq {number}, found {data.get('seq')}: an entry before it was "
                       "removed, or entries were moved")
    if data.get("prev") != prev:
        return named, ("broken chain: `prev` does not match the line before it: an entry was removed, "
                       "inserted or moved")
    try:
        return Entry.model_validate(data), None
    except ValidationError as exc:
        error = exc.errors()[0]
        place = ".".join(str(p) for p in error["loc"])
        return named, f"invalid entry: {place}: {error['msg']}"


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    while True:
        chunk = os.pread(fd, 1 << 20, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


# ---------------------------------------------------------------------------------------------------------
# Appending


@contextmanager
def _locked_for_append(path: Path) -> Iterator[tuple[int, bool]]:
    """The ledger opened for appending under an exclusive flock; (fd, whether we created the file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    created = False
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        created = True
    except FileExistsError:
        fd = os.open(path, os.O_RDWR | os.O_APPEND)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd, created
    finally:
        os.close(fd)  # releases the lock


def _tail(path: Path, fd: int) -> tuple[int, str]:
    """(seq, line hash) of the last entry, or (0, GENESIS); refuses a torn or damaged last line."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0, GENESIS
    if os.pread(fd, 1, size - 1) != b"\n":
        ledger = verify_bytes(path, _read_all(fd))  # name the torn line precisely
        raise _refusal(path, ledger)
    start, step = size - 1, 4096
    while start > 0:  # find the newline before the last line
        begin = max(0, start - step)
        block = os.pread(fd, start - begin, begin)
        cut = block.rfind(b"\n")
        if cut != -1:
            start = begin + cut + 1
            break
        start = begin
    line = os.pread(fd, size - 1 - start, start)
    try:
        data = json.loads(line.decode("utf-8"))
        seq = data["seq"]
        if not isinstance(seq, int) or entry_hash(data) != data["hash"] or canonical(data) != line:
            raise ValueError
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
        raise _refusal(path, verify_bytes(path, _read_all(fd))) from None
    return seq, line_hash(line)


def _refusal(path: Path, ledger: Ledger) -> InputError:
    problem = ledger.problem or Problem("the last line is damaged", Location(path))
    return InputError(f"refusing to append: {problem}", hint=ledger.hint or "run `regionkit audit verify`")


def append_entries(path: Path, records: Sequence[Mapping[str, Any]]) -> list[Entry]:
    """Append entries (their fields without `v`, `seq`, `prev` and `hash`) and return them once durable.

    The batch is chained, written with one O_APPEND write and fsynced (the folder too when the file is new)
    under an exclusive flock. The entries are acknowledged when this returns.
    """
    with _locked_for_append(path) as (fd, created):
        seq, prev = _tail(Path(path), fd)
        return _write(Path(path), fd, created, seq, prev, records)


def _write(path: Path, fd: int, created: bool, seq: int, prev: str,
           records: Sequence[Mapping[str, Any]]) -> list[Entry]:
    entries, lines = [], []
    for record in records:
        unknown = set(record) - _PAYLOAD_FIELDS
        if unknown:
            raise ValueError(f"not ledger fields: {', '.join(sorted(unknown))}")
        seq += 1
        data: dict[str, Any] = {name: None for name in _OPTIONAL_FIELDS}
        data.update(record)
        data.update(v=FORMAT_VERSION, seq=seq, prev=prev)
        for moment in ("started", "finished"):
            data[moment] = _utc_text(data[moment])
        payload = Entry.model_validate({**data, "hash": GENESIS}).model_dump(mode="json", exclude={"hash"})
        payload["hash"] = entry_hash(payload)
        entry = Entry.model_validate(payload)
        line = canonical(payload)
        entries.append(entry)
        lines.append(line + b"\n")
        prev = line_hash(line)
    if not lines:
        return []
    view = memoryview(b"".join(lines))
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)
    if created:
        sync_dir(path.parent)
    return entries


# ---------------------------------------------------------------------------------------------------------
# The deploy side


@dataclass(frozen=True)
class AppHostFact:
    """What a run did to one app on one host."""

    app: str
    host: str
    version: str | None  # may be None for a removal: the version recorded as running there is taken
    succeeded: bool
    config_digest: str | None = None


def record_deploy(project_root: Path, region: tuple[str, str], facts: Iterable[AppHostFact | Mapping[str, Any]],
                  *, run_id: str, operator: str, kit_version: str, catalog_digest: str | None,
                  started: datetime | str, finished: datetime | str, agreement: str | None = None,
                  removal: bool = False, path: Path | None = None) -> list[Entry]:
    """Record one run in the project's ledger: one entry per app and host, acknowledged when this returns.

    `region` is (key, name), e.g. `(profile.region.key, profile.region.name)`. Each fact is an AppHostFact or
    a mapping with its fields. The action is `removal` when `removal` is true; otherwise `upgrade` when the
    version differs from the one the ledger records as running on that host, else `deploy`. The whole ledger
    is verified first (under the lock): a damaged ledger is refused with an InputError naming the problem.
    """
    checked = [f if isinstance(f, AppHostFact) else AppHostFact(**f) for f in facts]
    code, name = region
    target = Path(path) if path is not None else Project(project_root).ledger_path
    common = {"region_code": code, "region_name": name, "run_id": run_id, "operator": operator,
              "kit_version": kit_version, "catalog_digest": catalog_digest, "started": started,
              "finished": finished, "agreement": agreement}
    with _locked_for_append(target) as (fd, created):
        ledger = verify_bytes(target, _read_all(fd))
        if not ledger.ok:
            raise _refusal(target, ledger)
        running = current_state(ledger.entries)
        records = []
        for fact in checked:
            now = running.get((code, fact.app, fact.host))
            version = fact.version
            if removal:
                action = Action.REMOVAL
                if version is None:
                    if now is None:
                        raise InputError(f"removal of {fact.app} on {fact.host}: no version given and the ledger "
                                         "records none running there")
                    version = now.version
            elif version is None:
                raise InputError(f"{fact.app} on {fact.host}: no version given")
            else:
                action = Action.UPGRADE if now is not None and now.version != version else Action.DEPLOY
            records.append({**common, "app": fact.app, "host": fact.host, "version": version,
                            "action": action.value, "config_digest": fact.config_digest,
                            "result": (Result.SUCCEEDED if fact.succeeded else Result.FAILED).value})
        seq, prev = _tail(target, fd)  # the head line as written, whatever fields it leaves out
        return _write(target, fd, created, seq, prev, records)


def facts_from_run(apps: Iterable[Mapping[str, Any]], per_app: Mapping[str, Mapping[str, Any]],
                   failures: Iterable[Mapping[str, Any]]) -> list[AppHostFact]:
    """The facts of a deploy run, from what regionkit.provision.deploy has at its end.

    `apps` are the app entries the run deployed (`id`, `version`, `config_digest`), `per_app` the counts per
    app (`hosts`, `recorded_on`) and `failures` the failed tasks (`app`, `host`). An app gets one fact per
    host the run touched it on; it succeeded there when its release was recorded on that host and none of its
    tasks failed there.
    """
    failed = {(f.get("app"), f.get("host")) for f in failures}
    facts = []
    for app in apps:
        counts = per_app.get(app["id"]) or {}
        recorded = set(counts.get("recorded_on", []))
        for host in counts.get("hosts", []):
            facts.append(AppHostFact(app["id"], host, app["version"],
                                     host in recorded and (app["id"], host) not in failed, app.get("config_digest")))
    return facts


# ---------------------------------------------------------------------------------------------------------
# Queries


@dataclass(frozen=True)
class Running:
    """One app running on one host of a region, as the ledger tells it."""

    region_code: str
    region_name: str
    app: str
    host: str
    version: str
    since: str  # when this version was installed there (the end of that run)
    operator: str  # who installed this version
    run_id: str  # the run that installed it
    agreement: str | None
    last_seq: int  # the latest successful entry for it (a redeploy at the same version)

    def record(self) -> dict[str, Any]:
        return {"region_code": self.region_code, "region_name": self.region_name, "app": self.app,
                "host": self.host, "version": self.version, "since": self.since, "operator": self.operator,
                "run_id": self.run_id, "agreement": self.agreement, "last_seq": self.last_seq}


def current_state(entries: Iterable[Entry]) -> dict[tuple[str, str, str], Running]:
    """What runs now, per (region code, app, host): the last successful deploy or upgrade not followed by a
    successful removal. A failed upgrade leaves the version that ran before; a failed removal leaves the app."""
    state: dict[tuple[str, str, str], Running] = {}
    for entry in entries:
        if entry.result != Result.SUCCEEDED:
            continue
        key = (entry.region_code, entry.app, entry.host)
        if entry.action == Action.REMOVAL:
            state.pop(key, None)
            continue
        before = state.get(key)
        if before is not None and before.version == entry.version:
            state[key] = Running(entry.region_code, entry.region_name, entry.app, entry.host, entry.version,
                                 before.since, before.operator, before.run_id, entry.agreement or before.agreement,
                                 entry.seq)
        else:
            state[key] = Running(entry.region_code, entry.region_name, entry.app, entry.host, entry.version,
                                 entry.finished, entry.operator, entry.run_id, entry.agreement, entry.seq)
    return state


def parse_since(text: str) -> datetime:
    """An ISO date (midnight UTC) or date-time (UTC unless it names a zone)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--since {text}: expected an ISO date or date-time, e.g. 2021-11-10 or "
                         "2021-11-10T08:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def select(entries: Iterable[Entry], region: str | None = None, app: str | None = None,
           since: datetime | None = None) -> list[Entry]:
    """Entries of a region, of an app, finished at or after `since`."""
    return [e for e in entries if (region is None or e.region_code == region) and (app is None or e.app == app)
            and (since is None or e.finished_at >= since)]


def region_apps(entries: Iterable[Entry], code: str) -> list[Running]:
    """What a region runs now, by app then host."""
    return sorted((r for r in current_state(entries).values() if r.region_code == code),
                  key=lambda r: (r.app, r.host))


def adopters(entries: Iterable[Entry], app: str) -> list[dict[str, Any]]:
    """The regions that run `app` now, with the versions and hosts they run it on."""
    regions: dict[str, dict[str, Any]] = {}
    for running in sorted(current_state(entries).values(), key=lambda r: (r.region_code, r.host)):
        if running.app != app:
            continue
        region = regions.setdefault(running.region_code, {
            "region_code": running.region_code, "region_name": running.region_name, "versions": [],
            "since": running.since, "hosts": []})
        if running.version not in region["versions"]:
            region["versions"].append(running.version)
        region["since"] = min(region["since"], running.since)
        region["hosts"].append({"host": running.host, "version": running.version, "since": running.since})
    return list(regions.values())


def entry_record(entry: Entry) -> dict[str, Any]:
    """An entry as plain data, in the column order of FIELDS."""
    data = entry.model_dump(mode="json")
    return {name: data[name] for name in FIELDS}
