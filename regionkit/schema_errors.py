"""Turn pydantic validation errors into positioned, plain-English problems."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from regionkit.errors import Problem
from regionkit.yamldoc import FieldPath, YamlDocument, format_field_path

SLUG_HINT = "expected a slug: lowercase letters and digits joined by single dashes"


def pydantic_problem(doc: YamlDocument, error: Mapping[str, Any], base: FieldPath = (), label: str | None = None,
                     tags: Collection[str] = (), hints: Mapping[str, str] | None = None,
                     noun: str = "entry") -> Problem:
    """One pydantic error as a problem at its node.

    `base` is where the validated value sits in the document; `label` replaces it in the field shown (e.g.
    `apps[e-office]`); `tags` are the values of a discriminated union, whose names pydantic puts in the path;
    `hints` give the expected form of pattern-checked fields, by field name or by dotted path without indexes
    (`units.code`); `noun` names what a tagged value is.
    """
    loc: FieldPath = tuple(error["loc"])
    tag = None
    if loc and isinstance(loc[0], str) and loc[0] in tags:
        tag, loc = loc[0], loc[1:]
    subject = f" for {'an' if tag[0] in 'aeio' else 'a'} {tag} {noun}" if tag else ""
    kind = error["type"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        loc = (error["ctx"]["discriminator"].strip("'"),)
        message = f"{'missing; ' if kind == 'union_tag_not_found' else ''}expected one of: {', '.join(tags)}"
    elif kind == "missing":
        message = f"required{subject}"
    elif kind == "extra_forbidden":
        message = f"not allowed{subject}" if tag else "unknown field"
    elif kind == "string_pattern_mismatch" and _hint(hints, loc):
        message = f"{_hint(hints, loc)} (got {shown(error['input'])})"
    elif kind == "value_error":
        message = f"{error['ctx']['error']} (got {shown(error['input'])})"
    else:
        message = error["msg"]
        if not isinstance(error.get("input"), (dict, list)) and "input" in error:
            message += f" (got {shown(error['input'])})"
    display = format_field_path((label, *loc)) if label else format_field_path(base + loc)
    return Problem(message, doc.location(base + loc, display))


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """File order: what a person fixes top to bottom."""
    return sorted(problems, key=lambda p: (str(p.location.file or ""), p.location.line or 0, p.location.column or 0))


def _hint(hints: Mapping[str, str] | None, loc: FieldPath) -> str | None:
    if not hints or not loc:
        return None
    dotted = ".".join(str(part) for part in loc if isinstance(part, str))
    return hints.get(dotted) or hints.get(str(loc[-1]))


def shown(value: Any) -> str:
    """`value` as Python writes it (quotes and escapes visible), cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
