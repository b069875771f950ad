"""Benchmark: a field bundle for the sample region, created, verified and extracted.

Run: .venv/bin/python bench/bench_bundle.py [--keep DIR]
Makes the sample project (Kabupaten Pandeglang, the 2021 package and the OPD websites) with two placeholder
hosts (never contacted) and the demo artifact store, then times `bundle create` (render, artifacts, Debian
packages from the apt cache or the registry, wheels, hashes, signature), `bundle verify` and `bundle extract`,
and prints the seconds, the size, and verify's and extract's throughput and their cost against create's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def regionkit(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "regionkit", *args], cwd=cwd, check=True, capture_output=True, text=True,
                   env={**os.environ, "REGIONKIT_OPERATOR": "bench"})


def timed(*args: str, cwd: Path) -> float:
    started = time.perf_counter()
    regionkit(*args, cwd=cwd)
    return time.perf_counter() - started


HOSTS = """
hosts:
  - {name: db1, address: 10.77.9.11, roles: [db]}
  - {name: web1, address: 10.77.9.12, roles: [web]}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="regionkit-bench-bundle-"))
    base.mkdir(parents=True, exist_ok=True)
    project = base / "pandeglang"
    regionkit("init", str(project), "--region", "36.01", "--no-input", cwd=base)
    regionkit("apps", "add", "--preset", "pandeglang-2021", "website-opd", cwd=project)
    profile = project / "region.yaml"
    text = profile.read_text(encoding="utf-8")
    profile.write_text(text.replace("hosts: []", HOSTS.strip()) if "hosts: []" in text else text + HOSTS,
                       encoding="utf-8")
    regionkit("artifacts", "build-demo", cwd=project)
    regionkit("bundle", "keygen", str(base / "sign.key"), cwd=base)
    out = base / "bundle.tar"
    create = timed("bundle", "create", "--out", str(out), "--sign-key", str(base / "sign.key"), cwd=project)
    verify = timed("bundle", "verify", str(out), "--public-key", str(base / "sign.key.pub"), cwd=base)
    extract = timed("bundle", "extract", str(out), "--workdir", str(base / "field"), cwd=base)
    megabytes = out.stat().st_size / 1e6
    print(f"bundle: {megabytes:.1f} MB in {base}")
    print(f"create  {create:6.2f} s")
    print(f"verify  {verify:6.2f} s  ({megabytes / verify:.0f} MB/s, {verify / create:.2f}x create)")
    print(f"extract {extract:6.2f} s  ({megabytes / extract:.0f} MB/s, {extract / create:.2f}x create)")


if __name__ == "__main__":
    main()
