"""Benchmark: CLI start-up and catalog loading (174 apps and 10,000 synthetic ones).

Run: .venv/bin/python bench/bench_catalog.py [--runs N]
Prints a table of medians and the ratios that matter: CLI start-up against a bare Python start-up, and the
per-app load cost at 10,000 apps against the per-app cost at the kit's size (1.0 = perfectly linear).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from regionkit.catalog.model import load_catalog
from regionkit.resources import kit_path


def median_seconds(action, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def command(*args: str):
    def run() -> None:
        subprocess.run([sys.executable, *args], check=True, capture_output=True)
    return run


def synthetic_catalog(size: int, folder: Path) -> Path:
    """The kit's catalog cloned until it holds `size` apps; each clone keeps its own dependency graph."""
    source = yaml.safe_load(kit_path("catalog.yaml").read_text(encoding="utf-8"))
    apps = []
    copy = 0
    while len(apps) < size:
        ids = {app["id"] for app in source["apps"]}
        for app in source["apps"]:
            clone = dict(app, id=f"{app['id']}-{copy}" if copy else app["id"])
            clone["depends_on"] = [f"{d}-{copy}" if copy else d for d in app.get("depends_on", []) if d in ids]
            apps.append(clone)
        copy += 1
    # trimming may cut dependencies of the last clone: drop edges to apps that did not make the cut
    apps = apps[:size]
    kept = {app["id"] for app in apps}
    for app in apps:
        app["depends_on"] = [d for d in app["depends_on"] if d in kept]
    path = folder / f"catalog-{size}.yaml"
    path.write_text(yaml.safe_dump({**source, "apps": apps}, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        big = synthetic_catalog(10_000, Path(tmp))
        python = median_seconds(command("-c", "pass"), runs)
        rows.append(("python -c pass (baseline)", python))
        rows.append(("regionkit --help", median_seconds(command("-m", "regionkit", "--help"), runs)))
        rows.append(("regionkit catalog list --json", median_seconds(
            command("-m", "regionkit", "catalog", "list", "--json"), runs)))
        kit = median_seconds(lambda: load_catalog(), runs)
        rows.append((f"load_catalog, kit ({len(load_catalog())} apps)", kit))
        large = median_seconds(lambda: load_catalog(big), max(3, runs // 2))
        rows.append(("load_catalog, 10,000 synthetic apps", large))
    width = max(len(name) for name, _ in rows)
    print(f"{'case':<{width}}  {'median s':>9}")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:9.3f}")
    kit_size = len(load_catalog())
    print()
    print(f"--help start-up / bare python:               {rows[1][1] / python:6.2f}x")
    print(f"catalog list start-up / bare python:         {rows[2][1] / python:6.2f}x")
    print(f"per-app load cost, 10,000 apps / kit size:   {(large / 10_000) / (kit / kit_size):6.2f}x  (1.00 = linear)")


if __name__ == "__main__":
    main()
