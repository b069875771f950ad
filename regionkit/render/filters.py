"""Filters shared by every template environment (the project scaffold and the app templates).

One filter per output format, each writing a value so that the format's reader gets it back as one value on its
line, whatever the value holds. `validate` already refuses control characters and template syntax in project
values (`plaintext`); these filters are the second line of defence, for values that never went through it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from jinja2 import TemplateRuntimeError

from regionkit.plaintext import CONTROL_CHARACTERS

_NGINX_BARE = re.compile(r"^[A-Za-z0-9._:@/+-]+$")
_NGINX_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# What json.dumps leaves as it is and a shell (the init script sources app.env) or a line-based reader would not:
# `$` and backquote would be expanded inside double quotes, the others end a line for some readers.
_ENV_UNSAFE = re.compile(r"[$`\x7f-\x9f\u2028\u2029]")


def yaml_value(value: Any) -> str:
    """One value as inline YAML on one line, quoted where YAML needs it (line breaks as escapes)."""
    text = _yaml_flow(value)
    if CONTROL_CHARACTERS.search(text):  # PyYAML folds line breaks over lines, or writes NEL raw, unless
        text = _yaml_flow(value, style='"')  # double-quoted, where every control character is an escape
    return text


def _yaml_flow(value: Any, style: str | None = None) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**9, sort_keys=False,
                          default_style=style)
    return text.removesuffix("\n").removesuffix("\n...")


def quote(value: Any) -> str:
    """A double-quoted string for env files: JSON's escapes, plus `$`, backquote and the control characters JSON
    leaves raw as \\uXXXX. JSON readers (the apps) get the value back exactly; systemd's EnvironmentFile and a
    shell that sources the file read the same `\\"` and `\\\\`, and can expand or split nothing."""
    text = json.dumps(str(value), ensure_ascii=False)
    return _ENV_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def comment_text(value: Any, closer: str = "") -> str:
    """Text for inside a comment: control characters shown as escapes (`\\n`), so that the comment keeps to its
    line; `closer` (`*/` for CSS, `--` for XML) is broken up so that the text cannot end the comment."""
    text = CONTROL_CHARACTERS.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), str(value))
    while closer and closer in text:
        text = text.replace(closer, f"{closer[0]} {closer[1:]}")
    return text


def nginx(value: Any) -> str:
    """One nginx parameter: as it is when it is a plain word (a domain, a path), else double-quoted with nginx's
    escapes. A control character nginx has no escape for is refused."""
    text = str(value)
    if _NGINX_BARE.match(text):
        return text
    escaped = "".join(_NGINX_ESCAPES.get(char, char) for char in text)
    if CONTROL_CHARACTERS.search(escaped):
        raise TemplateRuntimeError(f"{text!r} holds a control character that nginx.conf cannot hold")
    return f'"{escaped}"'


def systemd(value: Any) -> str:
    """Text for a systemd unit setting such as Description=: on one line (control characters as escapes),
    `%` doubled so that it is not a specifier, `\\` doubled so that it cannot continue the line."""
    return comment_text(str(value).replace("\\", "\\\\")).replace("%", "%%")


FILTERS = {"yaml": yaml_value, "quote": quote, "comment_text": comment_text, "nginx": nginx, "systemd": systemd}
