"""Helpers for tests of concurrent edits: start this checkout's regionkit in a process, see who waits on a lock."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import regionkit


def start(*args: str | Path) -> subprocess.Popen:
    """`regionkit ARGS` in a new process, running this checkout's code (stdout, stderr piped, text)."""
    env = {**os.environ, "PYTHONPATH": str(Path(regionkit.__file__).parent.parent)}
    return subprocess.Popen([sys.executable, "-m", "regionkit", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def waiting_on(lock: Path) -> int:
    """How many processes wait for a flock on `lock` (the `->` lines of /proc/locks for its inode)."""
    inode = f":{lock.stat().st_ino} "
    return sum(1 for line in Path("/proc/locks").read_text().splitlines() if "->" in line and inode in line)


def wait_until_blocked(lock: Path, processes: list[subprocess.Popen], timeout: float = 120) -> None:
    """Return once every one of `processes` waits for `lock`; fail when one exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while waiting_on(lock) < len(processes):
        exited = [p.communicate() for p in processes if p.poll() is not None]
        assert not exited and time.monotonic() < deadline, exited
        time.sleep(0.05)


def finish(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
