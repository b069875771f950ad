"""Run ansible-playbook with the regionkit event callback and turn its output into events.

The process runs in its own session so that Ctrl-C reaches it once, through us: we forward SIGINT, wait for
Ansible to stop cleanly, and report the run as interrupted. SIGTERM and SIGHUP to us do the same. The process
never outlives us: the kernel sends it SIGTERM when we die (PR_SET_PDEATHSIG), and Ansible passes that on to
its workers. File descriptors in `keep_fds` (the project lock, the vault password pipe) are inherited, so a
lock we hold is held until the playbook has exited too.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from shutil import which

from regionkit.errors import OperationFailed


@dataclass
class Outcome:
    returncode: int
    events: list[dict] = field(default_factory=list)
    interrupted: bool = False


def ansible_playbook() -> str:
    """The ansible-playbook next to this Python (a venv's bin is often not on PATH)."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    if beside.exists():
        return str(beside)

    found = which("ansible-playbook")
    if not found:
        raise OperationFailed("ansible-playbook not found", hint="install regionkit with its dependencies")
    return found


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # handled like Ctrl-C while a playbook runs


def run(argv: list[str], env: dict[str, str], on_event: Callable[[dict], None], stderr_path: Path,
        keep_fds: tuple[int, ...] = ()) -> Outcome:
    """Run `argv`; call `on_event` for each JSON event line; keep stderr (and stray stdout) in `stderr_path`.

    `keep_fds` are passed to the process under the same numbers. Ctrl-C, SIGTERM or SIGHUP stop it (SIGINT,
    then harder) and give an Outcome with `interrupted` set; our death kills it (SIGTERM)."""
    outcome = Outcome(returncode=-1)
    with open(stderr_path, "w", encoding="utf-8") as stderr, _stop_signals_interrupt():
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env,
                                start_new_session=True, bufsize=1, pass_fds=keep_fds,
                                preexec_fn=_dies_with(os.getpid()))
        assert proc.stdout is not None  # stdout=PIPE
        try:
            for line in proc.stdout:
                event = _parse(line)
                if event is None:
                    stderr.write(line)
                    continue
                outcome.events.append(event)
                on_event(event)
            outcome.returncode = proc.wait()
        except KeyboardInterrupt:
            outcome.interrupted = True
            outcome.returncode = _stop(proc)
    return outcome


def _dies_with(parent: int) -> Callable[[], None]:
    """For the child, before exec: SIGTERM when `parent` dies (also if it died before this ran)."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork: the child only calls it
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    death_signal = int(signal.SIGTERM)

    def arm() -> None:
        if prctl(PR_SET_PDEATHSIG, death_signal, 0, 0, 0) != 0:
            os._exit(126)
        if os.getppid() != parent:
            os._exit(126)

    return arm


@contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """While a playbook runs, SIGTERM and SIGHUP raise KeyboardInterrupt, as Ctrl-C does."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _parse(line: str) -> dict | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "event" in event else None


def _stop(proc: subprocess.Popen) -> int:
    """Ask Ansible to stop (SIGINT, as a terminal would), then insist."""
    for sig, wait in ((signal.SIGINT, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            return proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt:
            continue
    return proc.wait()
