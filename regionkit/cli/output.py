"""Presentation helpers shared by the commands: consoles, JSON output, error lines.

User data (names, paths, messages) is always printed as text: the consoles never read rich markup or emoji
codes in a string, and show control characters (a terminal's own markup) escaped. Colour comes only from
`styled`, which builds rich `Text` from plain parts and (text, style) pairs.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.text import Text

from regionkit.errors import RegionkitError, ValidationFailed

# C0 and C1 control characters but newline and tab, and the bidirectional overrides that reorder a line
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """`text` with every control character shown as an escape (`\\x1b`), so it cannot steer the terminal."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}" if ord(match.group()) < 0x100
                        else f"\\u{ord(match.group()):04x}", text)


def styled(*parts: str | tuple[str, str]) -> Text:
    """One line from plain strings and (text, rich style) pairs; no part is ever read as markup."""
    return Text.assemble(*((visible(p[0]), p[1]) if isinstance(p, tuple) else visible(p) for p in parts))


class _TextConsole(Console):
    """A rich console for which every string is text: markup and emoji codes are off and cannot be turned on
    per call; control characters are made visible. Tables, titles and rows go through the same door."""

    def __init__(self, **options: Any):
        super().__init__(markup=False, emoji=False, highlight=False, **options)

    def render_str(self, text: str, **options: Any) -> Text:
        options.update(markup=False, emoji=False)
        return super().render_str(visible(text), **options)


# Piped output (a file, `less`, CI logs) gets a wide page instead of rich's 80-column default.
stdout = _TextConsole(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
stderr = _TextConsole(stderr=True, soft_wrap=True)


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, no colour, stable key order."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def print_result(as_json: bool, data: Any, human: Callable[[], object]) -> None:
    """How every command with --json prints its result: `data` as JSON (`print_json`) when `as_json`, else
    `human()`, which prints it for a person (a table, a panel, lines)."""
    if as_json:
        print_json(data)
    else:
        human()


def labelled(what: Any, label: str = "error:", style: str = "red") -> Text:
    """`error: WHAT` (or another label, e.g. `warning:` in yellow) with the label in colour."""
    return styled((label, style), f" {what}")


def report_error(exc: RegionkitError) -> None:
    if isinstance(exc, ValidationFailed):
        for problem in exc.problems:
            stderr.print(labelled(problem))
    stderr.print(labelled(exc))
    if exc.hint:
        stderr.print(styled("  ", ("hint:", "dim"), f" {exc.hint}"))


def report_internal_error(exc: BaseException) -> None:
    stderr.print(styled(("internal error:", "red"), f" {type(exc).__name__}: {exc}"))
    stderr.print(styled(("  this is a bug in regionkit; rerun with REGIONKIT_DEBUG=1 for the traceback and report it",
                         "dim")))
