"""The central registry: the adoption ledgers of many region projects merged into one SQLite file.

`import_ledgers` verifies each ledger with `regionkit.audit.ledger.read` (every hash, `prev` link and `seq`) before
anything of it is stored. A ledger that does not verify is refused with the reason (the file and its first bad
entry) and leaves the registry as it was; the others in the same call still import. Each ledger is imported
in its own transaction. Entries are keyed by their hash (UNIQUE, `INSERT OR IGNORE`): importing the same
ledger again adds nothing, and a ledger that grew adds only its new entries.

A ledger imported before must still hold the head imported then: if it does not, entries were cut from its
end or it was rewritten, and it is refused too.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from regionkit.audit import ledger as ledger_mod
from regionkit.clock import utc_now
from regionkit.errors import InputError, OperationFailed
from regionkit.project.files import Project

REGISTRY_ENV = "REGIONKIT_REGISTRY"
DEFAULT_NAME = "registry.sqlite"
SCHEMA_VERSION = 1

_SCHEMA_TEMPLATE = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledgers (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,          -- the ledger file's absolute path
    region_code TEXT NOT NULL,
    region_name TEXT NOT NULL,
    head_seq INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    entries INTEGER NOT NULL,
    verified_at TEXT NOT NULL,            -- UTC, ISO 8601
    status TEXT NOT NULL                  -- 'verified': the chain held when it was imported
);
CREATE TABLE IF NOT EXISTS entries (
    hash TEXT NOT NULL UNIQUE,
    ledger_id INTEGER NOT NULL REFERENCES ledgers(id),
    {entry_columns}
);
CREATE INDEX IF NOT EXISTS entries_by_ledger ON entries (ledger_id, seq);
"""



def _column(name: str) -> str:
    """The SQL column of a ledger entry's field: its type and whether it may be NULL, from ledger.Entry."""
    info = ledger_mod.Entry.model_fields[name]
    sql_type = "INTEGER" if info.annotation is int else "TEXT"
    return f"{name} {sql_type}" + (" NOT NULL" if info.is_required() or info.default is not None else "")


_FIELDS = [n for n in ledger_mod.FIELDS if n != "hash"]  # hash is the table's key, first
_ENTRY_COLUMNS = ["hash", "ledger_id", *_FIELDS]
_SCHEMA = _SCHEMA_TEMPLATE.format(entry_columns=",\n    ".join(_column(n) for n in _FIELDS))


@dataclass(frozen=True)
class Outcome:
    """What happened to one ledger in an import."""

    source: Path
    imported: bool
    reason: str | None = None  # why it was refused
    hint: str | None = None
    region_code: str | None = None
    region_name: str | None = None
    entries: int = 0
    added: int = 0  # entries new to the registry
    head_hash: str | None = None


def default_path() -> Path:
    """REGIONKIT_REGISTRY, else registry.sqlite in the current folder."""
    return Path(os.environ.get(REGISTRY_ENV) or DEFAULT_NAME)



def connect(path: Path, create: bool = False) -> sqlite3.Connection:
    """Open the registry (creating it and its tables when `create`); an InputError when it is not one."""
    path = Path(path)
    if not create and not path.is_file():
        raise InputError(f"no registry at {path}", hint="create it with `regionkit audit import PATH...` "
                                                        "or point --registry (or REGIONKIT_REGISTRY) at one")
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA foreign_keys = ON")
        if create:
            conn.executescript(_SCHEMA)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path}: not a regionkit registry ({exc})") from None
    if version is None or version[0] != str(SCHEMA_VERSION):
        conn.close()
        raise InputError(f"{path}: registry schema version {version[0] if version else '?'}; this regionkit "
                         f"reads version {SCHEMA_VERSION}")
    return conn


def ledger_file(path: Path) -> Path:
    """A project folder stands for its ledger.jsonl."""
    path = Path(path)
    return Project(path).ledger_path if path.is_dir() else path


def import_ledgers(registry: Path, paths: Iterable[Path]) -> list[Outcome]:
    """Verify and import each ledger, each in its own transaction; refused ones leave the registry untouched."""
    conn = connect(registry, create=True)
    try:
        return [import_one(conn, Path(p)) for p in paths]
    finally:
        conn.close()


def import_one(conn: sqlite3.Connection, path: Path) -> Outcome:
    source = ledger_file(path).resolve()
    try:
        read = ledger_mod.read(source)
    except InputError as exc:
        return Outcome(source, False, exc.message, exc.hint)
    if not read.ok:
        return Outcome(source, False, f"the ledger does not verify: {read.problem}", read.hint)
    if not read.entries:
        return Outcome(source, False, f"{source}: the ledger has no entries")
    head, first = read.entries[-1], read.entries[0]
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            before = conn.execute("SELECT id, head_hash, head_seq FROM ledgers WHERE source = ?",
                                  (str(source),)).fetchone()
            if before is not None and not any(e.hash == before[1] for e in read.entries):
                conn.execute("ROLLBACK")
                return Outcome(source, False, f"{source}: the ledger no longer holds the head imported earlier "
                                              f"(seq {before[2]} hash {before[1][:12]}): entries were cut from "
                                              "its end or it was rewritten",
                               "compare with the ledger committed to git (`git log -p -- ledger.jsonl`)")
            row = (first.region_code, first.region_name, head.seq, head.hash, len(read.entries), utc_now(),
                   "verified")
            if before is None:
                inserted = conn.execute(
                    "INSERT INTO ledgers (region_code, region_name, head_seq, head_hash, entries, verified_at, "
                    "status, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*row, str(source)))
                assert inserted.lastrowid is not None  # an INSERT sets it
                ledger_id = inserted.lastrowid
            else:
                ledger_id = before[0]
                conn.execute("UPDATE ledgers SET region_code = ?, region_name = ?, head_seq = ?, head_hash = ?, "
                             "entries = ?, verified_at = ?, status = ? WHERE id = ?", (*row, ledger_id))
            changes = conn.total_changes
            conn.executemany(
                f"INSERT OR IGNORE INTO entries ({', '.join(_ENTRY_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_ENTRY_COLUMNS))})",
                (_entry_row(e, ledger_id) for e in read.entries))
            added = conn.total_changes - changes
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise OperationFailed(f"registry: importing {source} failed: {exc}") from None
    return Outcome(source, True, region_code=first.region_code, region_name=first.region_name,
                   entries=len(read.entries), added=added, head_hash=head.hash)


def _entry_row(entry: ledger_mod.Entry, ledger_id: int) -> tuple:
    data = entry.model_dump(mode="json")
    data["ledger_id"] = ledger_id
    return tuple(data[c] for c in _ENTRY_COLUMNS)


def ledgers(conn: sqlite3.Connection) -> list[dict]:
    """The imported ledgers, by region code then source."""
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT id, source, region_code, region_name, head_seq, head_hash, entries, "
                            "verified_at, status FROM ledgers ORDER BY region_code, source").fetchall()
    finally:
        conn.row_factory = None
    return [dict(r) for r in rows]


def entries(conn: sqlite3.Connection) -> Iterator[ledger_mod.Entry]:
    """Every stored entry, ledger by ledger in chain order (the order `ledger.current_state` needs). Entries
    were validated when imported: they are not validated again."""
    columns = [c for c in _ENTRY_COLUMNS if c != "ledger_id"]
    cursor = conn.execute(f"SELECT {', '.join(columns)} FROM entries ORDER BY ledger_id, seq")
    for row in cursor:
        yield ledger_mod.Entry.model_construct(**dict(zip(columns, row, strict=True)))
