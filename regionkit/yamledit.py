"""Edit a YAML file in place, keeping its comments and layout, and changing nothing but what the edit changes.

One edit is: read the file, load it with ruamel.yaml (which keeps comments), let the caller change the document,
dump it, read the dumped text back the way validation reads YAML (`yamldoc.load_yaml`, PyYAML, YAML 1.1), check
it, and only then write it atomically. ruamel.yaml reads YAML 1.2 by default, where `1e999` is a number, `yes`
is text and `0777` is 777; here it resolves plain scalars with PyYAML's own rules, so both read every value
alike. The edit is refused, with nothing written, when

- ruamel.yaml and validation read the file differently (a value the edit does not touch would change),
- the dumped text does not read back as exactly the edited document (same types, same values), or
- the edited file does not pass the file's own validation.

The whole sequence is `editing`; `Project.editing` holds the project's edit lock around it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from regionkit.atomic import write_atomic
from regionkit.errors import InputError, Location, Problem, ValidationFailed
from regionkit.yamldoc import FieldPath, YamlDocument, format_field_path, load_yaml, read_text

Check = Callable[[YamlDocument], list[Problem]]  # the file's validation: its problems, none when valid


@contextmanager
def editing(path: Path, check: Check, new_file: str | None = None) -> Iterator[Any]:
    """Yield the YAML file at `path` as a ruamel document for the caller to change in place; when the block ends
    without an error, write the edited file atomically (not at all when the text is unchanged).

    An empty file yields an empty mapping. `new_file` is the text to start from when the file does not exist
    (else a missing file is an InputError). Raises InputError (exit 2) when the file cannot be edited
    faithfully, ValidationFailed when the file is invalid before the edit (its problems as they are) or would
    be after it (problems in the edited text); in every such case, and when the block raises, nothing is
    written.
    """
    from ruamel.yaml.comments import CommentedMap

    path = Path(path)
    text = new_file if new_file is not None and not path.exists() else read_text(path)
    before = load_yaml(path, text)
    if before.problems:
        raise ValidationFailed(before.problems, f"{path}: invalid YAML; fix it before editing")
    rt = round_trip_yaml()
    document = _rt_load(rt, path, text)
    _same_or_refuse(before, document, f"cannot edit {path.name} without changing a value it holds")
    if document is None:
        document = CommentedMap()
    yield document
    out = io.StringIO()
    rt.dump(document, out)
    edited = out.getvalue()
    after = load_yaml(path, edited)
    _same_or_refuse(after, document, f"the edit of {path.name} would not read back as intended")
    problems = check(after)
    if problems:
        earlier = check(before)
        if earlier:
            raise ValidationFailed(earlier, f"{path}: invalid; fix it before editing")
        raise ValidationFailed(problems, f"{path}: refusing the edit: the file would not validate "
                                         "(lines above are those of the edited text; nothing was written)")
    if edited != text or not path.exists():
        write_atomic(path, edited)


def round_trip_yaml():
    """ruamel.yaml set up to read like validation (PyYAML's YAML 1.1 rules) and to write in the layout of the
    project template, so an edit only changes what it edits."""
    from ruamel.yaml import YAML
    from ruamel.yaml.resolver import VersionedResolver
    from ruamel.yaml.scalarint import BinaryInt, OctalInt

    class _AsValidationReads(VersionedResolver):
        """Resolve plain scalars exactly as PyYAML does (`yes` a boolean, `1e999` text, `0777` octal)."""

        @property
        def processing_version(self) -> Any:
            return (1, 1)

        @property
        def versioned_resolver(self) -> Any:
            return {first: list(rules) for first, rules in yaml.resolver.Resolver.yaml_implicit_resolvers.items()}

    rt = YAML()
    rt.Resolver = _AsValidationReads
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)
    add = rt.representer.add_representer
    add(type(None), lambda representer, _: representer.represent_scalar("tag:yaml.org,2002:null", "null"))
    # YAML 1.1 spellings, which PyYAML reads back: 0777 and 0b1010 (ruamel writes 0o777 and quotes it)
    add(OctalInt, lambda representer, value: representer.represent_scalar(
        "tag:yaml.org,2002:int", f"{'-' if value < 0 else ''}0{abs(int(value)):o}"))
    add(BinaryInt, lambda representer, value: representer.represent_scalar(
        "tag:yaml.org,2002:int", f"{'-' if value < 0 else ''}0b{abs(int(value)):b}"))
    return rt


def _rt_load(rt: Any, path: Path, text: str) -> Any:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return rt.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise InputError(f"cannot edit: {exc.problem or exc.context or 'invalid YAML'}",
                         Location(path, mark.line + 1 if mark else None, mark.column + 1 if mark else None)) from None
    except YAMLError as exc:
        raise InputError(f"cannot edit: {exc}", Location(path)) from None


def _same_or_refuse(doc: YamlDocument, document: Any, message: str) -> None:
    where = _first_difference(doc.data, document, ())
    if where is not None:
        raise InputError(f"{message} (at {format_field_path(where) or 'the top'}); nothing was written",
                         doc.location(where), hint="quote the value, or make this change by hand")


def _first_difference(plain: Any, edited: Any, path: FieldPath) -> FieldPath | None:
    """Where `plain` (as validation reads it) and `edited` (a ruamel document) first differ, by type or value;
    None when they are the same data."""
    kind = _kind(edited)
    if kind != _kind(plain):
        return path
    if kind == "map":
        keys = {(str(k) if _kind(k) == "int" else k): v for k, v in edited.items()}
        if set(keys) != set(plain):
            return path + (sorted(map(str, set(keys) ^ set(plain)))[0],)
        for key, value in plain.items():
            found = _first_difference(value, keys[key], path + (key,))
            if found is not None:
                return found
        return None
    if kind == "list":
        if len(plain) != len(edited):
            return path
        for index, (a, b) in enumerate(zip(plain, edited, strict=True)):
            found = _first_difference(a, b, path + (index,))
            if found is not None:
                return found
        return None
    if kind == "float" and math.isnan(plain) and math.isnan(edited):
        return None
    return None if plain == edited else path


def _kind(value: Any) -> str:
    """The data type a YAML value stands for, whatever the Python class ruamel or PyYAML gives it."""
    from ruamel.yaml.scalarbool import ScalarBoolean

    if value is None:
        return "null"
    if isinstance(value, (bool, ScalarBoolean)):  # ScalarBoolean is an int
        return "bool"
    for kind, types in (("int", int), ("float", float), ("str", str), ("datetime", datetime), ("date", date),
                        ("map", dict), ("list", list)):
        if isinstance(value, types):
            return kind
    return type(value).__name__
