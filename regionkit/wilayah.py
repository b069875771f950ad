"""Kemendagri region codes (kode wilayah): provinces, kabupaten/kota and kecamatan, with IANA time zones.

The table ships in `regionkit/data/wilayah/` (see its SOURCE.md for provenance and licence).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache

from regionkit.resources import data_path


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    capital: str
    timezone: str


@dataclass(frozen=True)
class Regency:
    code: str
    province_code: str
    kind: str  # kabupaten | kota
    name: str
    capital: str
    timezone: str


@dataclass(frozen=True)
class District:
    code: str
    regency_code: str
    name: str


@dataclass(frozen=True)
class CodeTable:
    provinces: dict[str, Province]
    regencies: dict[str, Regency]
    districts: dict[str, District]

    def districts_of(self, regency_code: str) -> list[District]:
        return [d for d in self.districts.values() if d.regency_code == regency_code]

    def regencies_of(self, province_code: str) -> list[Regency]:
        return [r for r in self.regencies.values() if r.province_code == province_code]


def _rows(name: str) -> list[dict[str, str]]:
    with data_path("wilayah", name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@lru_cache(maxsize=1)
def code_table() -> CodeTable:
    """The whole table, loaded once (about 8,000 rows)."""
    return CodeTable(
        provinces={row["code"]: Province(**row) for row in _rows("provinces.csv")},
        regencies={row["code"]: Regency(**row) for row in _rows("regencies.csv")},
        districts={row["code"]: District(**row) for row in _rows("districts.csv")},
    )
