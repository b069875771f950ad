"""Agreements: the MoUs and PKSs that adoption-ledger entries refer to.

`agreements.yaml` at the root of a region project (next to `region.yaml` and `ledger.jsonl`) lists them:

    agreements:
      - number: "180/12-Kominfo/2021"
        kind: pks                # mou (nota kesepahaman) or pks (perjanjian kerja sama)
        date: 2021-11-10
        parties:
          - {code: "36.71", name: Kota Tangerang}
          - {code: "36.01", name: Kabupaten Pandeglang}
        apps: [e-office, sigap]  # catalog ids the agreement names (an MoU usually names none)
        source: "signed copy in the Diskominfo archive"

A ledger entry's `agreement` is one of these numbers. Numbers are unique. Problems name `file:line:column`
and exit 2; `add_agreement` rewrites the file atomically and keeps its comments.
"""

from __future__ import annotations

import re
from datetime import date as Date
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from regionkit.errors import InputError, Location, Problem, ValidationFailed
from regionkit.project.files import Project
from regionkit.project.wilayah import code_table
from regionkit.resources import data_path
from regionkit.schema_errors import pydantic_problem, sort_problems
from regionkit.yamldoc import YamlDocument, load_yaml, read_text

if TYPE_CHECKING:
    from regionkit.catalog.model import Catalog

EXAMPLE_NAME = "agreements-example.yaml"
# A Kemendagri code (`36`, `36.71`), optionally followed by an institution's slug (`36.71/polres-metro-tangerang-kota`)
PARTY_CODE = r"^\d{2}(\.\d{2}){0,2}(/[a-z0-9]+(-[a-z0-9]+)*)?$"
_HINTS = {"code": "expected a Kemendagri code (36, 36.01) optionally followed by /institution-slug"}

_HEADER = """\
# The agreements (MoU = nota kesepahaman, PKS = perjanjian kerja sama) the region's apps are deployed under.
# Ledger entries refer to them by number. Edit with `regionkit agreements add`, or by hand.
"""


class Party(BaseModel):
    """One side of an agreement: a region (Kemendagri code) or an institution in it, and its name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str | None = Field(None, pattern=PARTY_CODE, description="Kemendagri code, or code/institution-slug.")
    name: str = Field(min_length=1)

    def __str__(self) -> str:
        return f"{self.code} {self.name}" if self.code else self.name


class Agreement(BaseModel):
    """One MoU or PKS."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    number: str = Field(min_length=1, description="The agreement's number as written on it.")
    kind: Literal["mou", "pks"] = Field(description="mou (nota kesepahaman) or pks (perjanjian kerja sama).")
    date: Date = Field(description="The date it was signed.")
    parties: list[Party] = Field(min_length=1)
    apps: list[str] = Field(default_factory=list, description="Catalog ids of the apps it names.")
    source: str | None = Field(None, description="Where it is documented (archive, news report).")

    @field_validator("number")
    @classmethod
    def _stripped(cls, value: str) -> str:
        if value != value.strip():
            raise ValueError("no leading or trailing spaces")
        return value

    def record(self) -> dict:
        return self.model_dump(mode="json")


class _Registry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agreements: list[Agreement] = Field(default_factory=list)


def example_path() -> Path:
    """The public adoption history of Kota Tangerang's apps, shipped as an example registry."""
    return data_path(EXAMPLE_NAME)


def _check(doc: YamlDocument) -> tuple[list[Agreement], list[Problem]]:
    problems = list(doc.problems)
    if doc.data is None:
        return [], problems
    if not isinstance(doc.data, dict):
        return [], problems + [Problem("expected a mapping with `agreements:` (a list)", doc.location(()))]
    try:
        registry = _Registry.model_validate(doc.data)
    except ValidationError as exc:
        return [], sort_problems(problems + [pydantic_problem(doc, error, hints=_HINTS) for error in exc.errors()])
    seen: dict[str, int] = {}
    for index, agreement in enumerate(registry.agreements):
        if agreement.number in seen:
            first = doc.location(("agreements", seen[agreement.number])).line
            problems.append(Problem(f"duplicate agreement number '{agreement.number}' (first on line {first})",
                                    doc.location(("agreements", index, "number"))))
        else:
            seen[agreement.number] = index
    return registry.agreements, sort_problems(problems)


def load_agreements(path: Path, missing_ok: bool = True) -> list[Agreement]:
    """The agreements in `path`, validated; every problem is collected into one ValidationFailed (exit 2)."""
    path = Path(path)
    if missing_ok and not path.exists():
        return []
    agreements, problems = _check(load_yaml(path, read_text(path)))
    if problems:
        raise ValidationFailed(problems, f"{path}: invalid agreements")
    return agreements


def find(agreements: list[Agreement], number: str) -> Agreement | None:
    return next((a for a in agreements if a.number == number), None)


def parse_party(text: str) -> Party:
    """`36.01`, `36.01 Kabupaten Pandeglang`, `36.71/polres-metro-tangerang-kota Polres Metro Tangerang Kota`.

    A bare region code takes its name from the Kemendagri table; an unknown region code is refused with the
    closest codes.
    """

    text = " ".join(text.split())
    first, _, rest = text.partition(" ")
    if not re.fullmatch(PARTY_CODE, first):
        raise InputError(f"--party {text!r}: expected a region code, then optionally its name "
                         "(e.g. '36.01' or '36.01 Kabupaten Pandeglang')")
    region = first.split("/")[0]
    table = code_table()
    if region not in table.provinces and region not in table.regencies:
        raise InputError(f"--party {text!r}: unknown region code '{region}'", hint=table.suggest(region))
    if not rest:
        if "/" in first:
            raise InputError(f"--party {text!r}: give the institution's name after its code")
        rest = table.name_of(region) if region in table.regencies else f"Provinsi {table.name_of(region)}"
    return Party(code=first, name=rest)


def agreement_from_input(number: str, kind: str, date: str, parties: list[str], apps: list[str],
                         source: str | None, catalog: Catalog | None) -> Agreement:
    """The agreement `regionkit agreements add` describes: `date` as YYYY-MM-DD, `parties` as `parse_party` reads
    them, `apps` checked against `catalog` (needed only when there are apps), duplicates dropped. InputError (naming
    the option) for a bad date, an empty number or an unknown app."""
    try:
        signed = Date.fromisoformat(date)
    except ValueError:
        raise InputError(f"--date {date!r}: expected YYYY-MM-DD, e.g. 2021-11-10") from None
    number = number.strip()
    if not number:
        raise InputError("--number: give the agreement's number")
    read = [parse_party(p) for p in parties]
    apps = list(dict.fromkeys(apps))
    for app_id in apps:
        if catalog is None or app_id not in catalog.apps:
            raise InputError(f"--app: unknown app '{app_id}'", hint=catalog.suggest(app_id) if catalog else None)
    return Agreement.model_validate({"number": number, "kind": kind, "date": signed, "parties": read, "apps": apps,
                                     "source": source or None})


def add_agreement(path: Path, agreement: Agreement) -> None:
    """Append `agreement` to the registry at `path` (created when missing), atomically, keeping comments.

    The whole read-check-write holds the edit lock of the project the registry sits in (`Project.editing`), so
    concurrent additions all land. The registry must validate first (else ValidationFailed); a number already
    in it is an InputError. The edit changes nothing else in the file and must validate, or nothing is written.
    """
    from ruamel.yaml.comments import CommentedSeq

    path = Path(path)
    with Project(path.parent).editing(path, lambda doc: _check(doc)[1], new_file=_HEADER + "agreements: []\n") \
            as document:
        if (old := find(load_agreements(path), agreement.number)) is not None:
            raise InputError(f"agreement '{agreement.number}' is already in {path} ({old.kind}, {old.date})",
                             hint="agreement numbers are unique; check the number on the signed copy")
        if not isinstance(document, dict):
            raise InputError("expected a mapping with `agreements:` (a list)", Location(path))
        if document.get("agreements") is None:
            document["agreements"] = CommentedSeq()
        entries = document["agreements"]
        if not isinstance(entries, CommentedSeq):
            raise InputError("expected `agreements:` to be a list", Location(path, field="agreements"))
        entries.append(_round_trip_entry(agreement))
        entries.fa.set_block_style()


def _round_trip_entry(agreement: Agreement):
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    entry = CommentedMap()
    data = agreement.model_dump(mode="json", exclude_none=True)
    for key, value in data.items():
        if key == "parties":
            parties = CommentedSeq()
            for party in value:
                item = CommentedMap(party)
                item.fa.set_flow_style()
                parties.append(item)
            entry[key] = parties
        elif key == "apps":
            apps = CommentedSeq(value)
            apps.fa.set_flow_style()
            entry[key] = apps
        elif key == "date":
            entry[key] = agreement.date
        else:
            entry[key] = value
    return entry


def locate(path: Path | None) -> Path:
    """`path`, else the current project's agreements.yaml."""
    if path is not None:
        return path

    return Project.locate().agreements_path

