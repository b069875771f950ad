"""Benchmark: rendering a full region, and a batch of every kabupaten/kota in the Kemendagri table.

Run: .venv/bin/python bench/bench_render.py [--regions N] [--runs N]
- full region: every installable app of the catalog (with what they need) for a region with 45 units;
- batch: the first N kabupaten/kota (default all 514) with the typical-adopter preset, each rendered into its
  own build folder (deleted afterwards to spare the disk).
Prints seconds and the ratios that matter: seconds per region against the 1 s target, and the per-region cost
of the whole batch against its first tenth (1.00 = linear in regions).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from regionkit.catalog.model import InstallableApp, load_catalog
from regionkit.project.region import Profile
from regionkit.project.scaffold import InitOptions, propose_profile
from regionkit.project.wilayah import code_table
from regionkit.render.build import Renderer

HOSTS = [{"name": "web1", "address": "192.0.2.11", "roles": ["web"]},
         {"name": "db1", "address": "192.0.2.12", "roles": ["db"]}]


def profile_for(code: str, apps: list[str], units: int | None = None) -> Profile:
    data = propose_profile(InitOptions(region=code))
    if units is not None:
        data["units"] = data["units"][:units]
    data["apps"] = {app_id: {} for app_id in apps}
    data["hosts"] = HOSTS
    return Profile.model_validate(data)


def render_once(workdir: Path, profile: Profile, catalog) -> float:
    start = time.perf_counter()
    Renderer(workdir, profile, catalog).build(workdir / "build")
    elapsed = time.perf_counter() - start
    shutil.rmtree(workdir / "build")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=514)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    catalog = load_catalog()
    everything = catalog.closure([a.id for a in catalog.apps.values() if isinstance(a, InstallableApp)])
    typical = catalog.closure(catalog.presets["typical-adopter"].apps)
    regencies = sorted(code_table().regencies)[: args.regions]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        full = profile_for("36.01", everything, units=45)
        full_times = [render_once(work, full, catalog) for _ in range(args.runs)]
        batch = [render_once(work, profile_for(code, typical), catalog) for code in regencies]
    tenth = max(1, len(batch) // 10)
    per_region = sum(batch) / len(batch)
    print(f"full region: {len(everything)} apps, 45 units        median {statistics.median(full_times):7.3f} s")
    print(f"batch: {len(batch)} kabupaten/kota, {len(typical)} apps each   total  {sum(batch):7.1f} s, "
          f"{per_region:.3f} s per region")
    print()
    print(f"full region / 1 s target:                   {statistics.median(full_times):6.2f}x")
    print(f"batch per region / 1 s target:              {per_region:6.2f}x")
    print(f"per region, whole batch / first tenth:      {per_region / (sum(batch[:tenth]) / tenth):6.2f}x"
          "  (1.00 = linear in regions)")


if __name__ == "__main__":
    main()
