"""Filters shared by every template environment (the project scaffold and the app templates)."""

from __future__ import annotations

import json
from typing import Any

import yaml


def yaml_value(value: Any) -> str:
    """One value as inline YAML, quoted where YAML needs it."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**9, sort_keys=False)
    return text.removesuffix("\n").removesuffix("\n...")


def quote(value: Any) -> str:
    """A double-quoted string that env files, systemd and PHP's ini parser all read back unchanged."""
    return json.dumps(str(value), ensure_ascii=False)


FILTERS = {"yaml": yaml_value, "quote": quote}
