"""Presentation helpers shared by the commands: consoles, JSON output, error lines."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

from regionkit.errors import RegionkitError, ValidationFailed

# Piped output (a file, `less`, CI logs) gets a wide page instead of rich's 80-column default.
stdout = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, no colour, stable key order."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def report_error(exc: RegionkitError) -> None:
    if isinstance(exc, ValidationFailed):
        for problem in exc.problems:
            stderr.print(f"[red]error:[/] {escape(str(problem))}")
    stderr.print(f"[red]error:[/] {escape(str(exc))}")
    if exc.hint:
        stderr.print(f"  [dim]hint:[/] {escape(exc.hint)}")


def report_internal_error(exc: BaseException) -> None:
    stderr.print(f"[red]internal error:[/] {escape(type(exc).__name__)}: {escape(str(exc))}")
    stderr.print("  [dim]this is a bug in regionkit; rerun with REGIONKIT_DEBUG=1 for the traceback and report it[/]")
