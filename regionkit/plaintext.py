"""What a value of region.yaml or catalog.yaml may hold: one line of plain data, never code.

Values land in generated files whose formats are line-based (nginx.conf, app.env, PHP-FPM pools, systemd units,
YAML, CSS and XML comments) and in Ansible's variables. A control character (a line break, a tab, ...) would
start a new directive in those files, and template syntax (`{{`, `{%`, `{#`) would be code to Ansible, so
`validate` refuses both, naming the file, line and field. Defence in depth: the template filters
(`render.filters`) escape per format, and Ansible receives every value marked unsafe (`runspec.ansible_yaml`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from regionkit.errors import Problem
from regionkit.schema_errors import shown
from regionkit.yamldoc import FieldPath, YamlDocument

# Unicode's control characters (C0, DEL, C1) and the line and paragraph separators: every character that some
# reader of a generated file takes as the end of a line or as something other than text.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
TEMPLATE_MARKERS = ("{{", "{%", "{#")
_NAMES = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab", "\u2028": "a line separator",
          "\u2029": "a paragraph separator"}


def control_character(text: str) -> str | None:
    """The first control character in `text`, described for a person ("a line break (U+000A)"), or None."""
    found = CONTROL_CHARACTERS.search(text)
    if found is None:
        return None
    char = found.group()
    return f"{_NAMES.get(char, 'a control character')} (U+{ord(char):04X})"


def template_syntax(text: str) -> str | None:
    """The first template marker in `text` (`{{`, `{%` or `{#`), or None."""
    found = [(text.find(marker), marker) for marker in TEMPLATE_MARKERS if marker in text]
    return min(found)[1] if found else None


def _suspect(text: str) -> bool:
    """Whether `text` may hold a control character or template syntax: a quick test that lets nearly every value
    through at C speed (printable text holds no control character, and all template markers start with '{')."""
    return "{" in text or not text.isprintable()


def text_problem(text: str, templates_allowed: bool = False) -> str | None:
    """Why `text` cannot be a value, or None: a control character, or (unless allowed) template syntax."""
    if not _suspect(text):
        return None
    what = control_character(text)
    if what is not None:
        return f"contains {what}: a value must be one line of text"
    marker = None if templates_allowed else template_syntax(text)
    if marker is not None:
        return f"contains template syntax '{marker}': values are data and are never evaluated as templates"
    return None


def value_problems(doc: YamlDocument, templates_allowed: Callable[[FieldPath], bool] = lambda path: False,
                   label: Callable[[FieldPath], str | None] = lambda path: None) -> list[Problem]:
    """Every string of the document (mapping keys too) that `text_problem` refuses, at its file:line and field.

    `templates_allowed(path)` exempts the values (never the keys) at `path` from the template-syntax rule;
    `label(path)` names the field where the plain path (`apps[3].name`) would not (`apps[sso].name`)."""
    problems = []
    suspect = _suspect  # most values pass this one test, and no path is built for them

    def check(path: FieldPath, text: str, is_key: bool) -> None:
        reason = text_problem(text, templates_allowed=not is_key and templates_allowed(path))
        if reason is not None:
            problems.append(Problem(f"{'key ' if is_key else ''}{reason} (got {shown(text)})",
                                    doc.location(path, label(path))))

    stack: list[tuple[FieldPath, Any]] = [((), doc.data)] if isinstance(doc.data, (str, dict, list)) else []
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if suspect(value):
                check(path, value, False)
            continue
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            if isinstance(key, str) and suspect(key):
                check(path + (key,), key, True)
            if isinstance(item, str):
                if suspect(item):
                    check(path + (key,), item, False)
            elif isinstance(item, (dict, list)):
                stack.append((path + (key,), item))
    return problems
