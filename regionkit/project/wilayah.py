"""Kemendagri region codes (kode wilayah): provinces, kabupaten/kota and kecamatan, with IANA time zones.

The table ships in `regionkit/data/wilayah/` (see its SOURCE.md for provenance and licence).
"""

from __future__ import annotations

import csv
import difflib
import re
from dataclasses import dataclass
from functools import lru_cache

from regionkit.errors import InputError
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

    def name_of(self, code: str) -> str:
        place = self.regencies.get(code) or self.provinces.get(code)
        return place.name if place else code

    def lookup(self, code: str) -> Province | Regency:
        """A province (`36`) or kabupaten/kota (`36.01`); an unknown code is an InputError with suggestions."""
        place = self.provinces.get(code) or self.regencies.get(code)
        if place is None:
            raise InputError(f"unknown region code '{code}'", hint=self.suggest(code))
        return place

    def suggest(self, text: str) -> str:
        """The closest codes (for a code) or names (for a name), each with its code."""
        places = {**{p.code: f"Provinsi {p.name}" for p in self.provinces.values()},
                  **{r.code: r.name for r in self.regencies.values()}}
        if re.fullmatch(r"[\d.]+", text):
            province, _, rest = text.partition(".")
            if province in self.provinces and rest.isdigit():  # same province, nearest numbers first
                siblings = self.regencies_of(province)
                codes = [r.code for r in sorted(siblings, key=lambda r: abs(int(r.code[3:]) - int(rest)))][:5]
            else:
                same_level = [c for c in places if c.count(".") == text.count(".")]
                codes = difflib.get_close_matches(text, same_level, n=5, cutoff=0.5)
        else:
            by_name = {_bare(name): code for code, name in places.items()}
            codes = [by_name[n] for n in difflib.get_close_matches(_bare(text), list(by_name), n=5, cutoff=0.5)]
        if not codes:
            return "codes look like 36 (province) or 36.01 (kabupaten/kota); see the Kemendagri table"
        return "closest: " + "; ".join(f"{code} {places[code]}" for code in codes)


def _bare(name: str) -> str:
    """`Kabupaten Pandeglang` -> `pandeglang`, for matching what a person types."""
    return re.sub(r"^(kabupaten|kab\.?|kota|provinsi|prov\.?)\s+", "", name.strip().lower())


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
