"""Benchmark: a real deploy onto two sandbox servers, and no-change reruns with tuned and stock Ansible settings.

Run as root: .venv/bin/python bench/bench_deploy.py
The sample region (Kabupaten Pandeglang, the 2021 package and the OPD websites) is deployed onto a fresh
sandbox (10.77.2.0/24, name rkbench); then the same playbook runs again with nothing to change, once with the
generated ansible.cfg (pipelining, SSH ControlPersist, more forks, cached facts) and once with Ansible's stock
settings. Prints seconds and the ratio tuned / stock.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from regionkit.project.files import Project
from regionkit.provision import sandbox


def regionkit(project: Path, *args: str) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "regionkit", "-C", str(project), *args, "--json"],
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"regionkit {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return elapsed, json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}


def main() -> None:
    sandbox.down("rkbench")
    state = sandbox.up(2, name="rkbench", subnet="10.77.2.0/24")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "pandeglang"
            subprocess.run([sys.executable, "-m", "regionkit", "init", str(root), "--region", "36.01", "--no-input"],
                           check=True, capture_output=True)
            subprocess.run([sys.executable, "-m", "regionkit", "-C", str(root), "apps", "add", "--preset",
                            "pandeglang-2021", "website-opd"], check=True, capture_output=True)
            sandbox.write_to_project(Project(root), state)
            subprocess.run([sys.executable, "-m", "regionkit", "-C", str(root), "artifacts", "build-demo"],
                           check=True, capture_output=True)
            first, result = regionkit(root, "deploy")
            apps = len([a for a in result.get("apps", {}) if not a.startswith("(")])
            tuned, _ = regionkit(root, "deploy")
            stock, _ = regionkit(root, "deploy", "--stock-ansible")
            tuned_again, _ = regionkit(root, "deploy")
    finally:
        sandbox.down("rkbench")
    print(f"sample region: {apps} apps on 2 sandbox hosts (seconds, including regionkit's own start and render)")
    print(f"  first deploy                              {first:7.1f}")
    print(f"  no-change rerun, tuned ansible.cfg        {tuned:7.1f}   (again: {tuned_again:.1f})")
    print(f"  no-change rerun, stock Ansible settings   {stock:7.1f}")
    print(f"  tuned / stock                             {min(tuned, tuned_again) / stock:7.2f}x")


if __name__ == "__main__":
    main()
