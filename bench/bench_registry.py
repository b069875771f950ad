"""Benchmark: the central registry with 500 region ledgers of 30 apps each.

Run: .venv/bin/python bench/bench_registry.py [--regions N] [--apps N] [--keep DIR]
Generates the ledgers with `ledger.record_deploy` (valid chains: a deploy of every app, then upgrades of some and
a removal), imports them all into a fresh registry, writes the HTML report, and prints the seconds of each step
and the per-ledger import cost over all ledgers against the cost over the first 50 (1.0 = perfectly linear).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from regionkit.atomic import write_atomic
from regionkit.audit import registry, report
from regionkit.audit.ledger import AppHostFact, record_deploy
from regionkit.catalog.model import load_catalog
from regionkit.project.wilayah import code_table


def generate(root: Path, regions: int, apps_per_region: int, seed: int = 7) -> list[Path]:
    rng = random.Random(seed)
    app_ids = list(load_catalog().apps)
    table = sorted(code_table().regencies.values(), key=lambda r: r.code)[:regions]
    folders = []
    for i, regency in enumerate(table):
        folder = root / regency.code
        folder.mkdir()
        apps = rng.sample(app_ids, apps_per_region)
        year, month = 2019 + i % 5, 1 + rng.randrange(12)
        common = dict(operator="bench", kit_version="0.1.0", catalog_digest="c" * 64)
        when = f"{year}-{month:02d}-{1 + rng.randrange(28):02d}T0"
        record_deploy(folder, (regency.code, regency.name), [AppHostFact(a, "web1", "1.0.0", True) for a in apps],
                      run_id=f"run-{i}-1", started=when + "1:00:00Z", finished=when + "2:00:00Z", **common)
        later = f"{year + 1}-{month:02d}-{1 + rng.randrange(28):02d}T0"
        record_deploy(folder, (regency.code, regency.name), [AppHostFact(a, "web1", "1.1.0", True) for a in apps[:3]],
                      run_id=f"run-{i}-2", started=later + "1:00:00Z", finished=later + "2:00:00Z", **common)
        record_deploy(folder, (regency.code, regency.name), [AppHostFact(apps[-1], "web1", None, True)],
                      run_id=f"run-{i}-3", started=later + "3:00:00Z", finished=later + "4:00:00Z", removal=True,
                      **common)
        folders.append(folder)
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=500)
    parser.add_argument("--apps", type=int, default=30)
    parser.add_argument("--keep", type=Path, help="work in this folder (kept) instead of a temporary one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as scratch:
        root = args.keep or Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        ledgers_root = root / "regions"
        ledgers_root.mkdir()
        db = root / "registry.sqlite"

        t0 = time.perf_counter()
        folders = generate(ledgers_root, args.regions, args.apps)
        t_generate = time.perf_counter() - t0

        first = min(50, len(folders))
        t0 = time.perf_counter()
        outcomes = registry.import_ledgers(db, folders[:first])
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        outcomes += registry.import_ledgers(db, folders[first:])
        t_rest = time.perf_counter() - t0
        t_import = t_first + t_rest
        assert all(o.imported for o in outcomes), [o.reason for o in outcomes if not o.imported][:3]

        t0 = time.perf_counter()
        conn = registry.connect(db)
        try:
            data = report.build(conn, load_catalog())
        finally:
            conn.close()
        html = report.render_html(data, str(db))
        write_atomic(root / "report.html", html)
        t_report = time.perf_counter() - t0

        entries = data["summary"]["entries"]
        per_first = t_first / first
        per_all = t_import / len(folders)
        print(f"ledgers: {len(folders)} x {args.apps} apps, {entries} entries; report {len(html) / 1e6:.2f} MB")
        print(f"generate  {t_generate:8.2f} s")
        print(f"import    {t_import:8.2f} s  (first {first}: {t_first:.2f} s)")
        print(f"report    {t_report:8.2f} s  (build + render HTML + write)")
        print(f"import per ledger: {per_all * 1000:.2f} ms over {len(folders)}, {per_first * 1000:.2f} ms over the "
              f"first {first}; ratio {per_all / per_first:.2f} (1.0 = linear)")


if __name__ == "__main__":
    main()
