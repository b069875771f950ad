"""Load YAML while remembering where every value came from, so errors can name `file:line` and the field."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from regionkit.errors import InputError, Location, Problem

try:  # libyaml is bundled in PyYAML's wheels; fall back to the pure-Python parser where it is not
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

FieldPath = tuple[str | int, ...]
_STR_TAG = "tag:yaml.org,2002:str"


def format_field_path(path: FieldPath) -> str:
    """`('apps', 3, 'resources', 'cpu')` -> `apps[3].resources.cpu`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass
class YamlDocument:
    """Plain Python data parsed from YAML, with the 1-based line and column of every node."""

    path: Path
    data: Any
    positions: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def location(self, path: FieldPath, display: str | None = None) -> Location:
        """The location of the deepest node on `path` that exists in the document."""
        probe = tuple(path)
        while probe and probe not in self.positions:
            probe = probe[:-1]
        line, column = self.positions.get(probe, (None, None))
        return Location(self.path, line, column, display if display is not None else format_field_path(path))


def read_text(path: Path) -> str:
    """Read a UTF-8 text file, turning every OS or encoding problem into an InputError naming the file."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InputError("file not found", Location(path)) from None
    except IsADirectoryError:
        raise InputError("expected a file, found a directory", Location(path)) from None
    except PermissionError:
        raise InputError("permission denied", Location(path)) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", Location(path)) from None


def load_yaml(path: Path, text: str | None = None) -> YamlDocument:
    """Parse one YAML document. Syntax errors raise InputError; duplicate keys become document problems."""
    path = Path(path)
    if text is None:
        text = read_text(path)
    loader = _Loader(text)
    try:
        with _gc_paused():
            node = loader.get_single_node()
            doc = YamlDocument(path, None)
            if node is not None:
                doc.data = _Builder(loader, doc).build(node, ())
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part) or "invalid YAML"
        raise InputError(
            f"invalid YAML: {message}",
            Location(path, mark.line + 1 if mark else None, mark.column + 1 if mark else None),
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", Location(path)) from None
    finally:
        loader.dispose()


@contextmanager
def _gc_paused():
    """Building a large tree allocates hundreds of thousands of objects and no cycles: skip the collector's
    repeated scans meanwhile (it halves the load time of a 10,000-app catalog)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Builder:
    """Turns a composed node tree into plain data, recording positions and duplicate keys."""

    def __init__(self, loader: Any, doc: YamlDocument):
        self.loader = loader
        self.doc = doc
        self.active: set[int] = set()

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        self.doc.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR_TAG:  # the common case, without the constructor's bookkeeping
                return node.value
            return self.loader.construct_object(node, deep=True)
        if id(node) in self.active:
            raise yaml.MarkedYAMLError(problem="recursive alias is not supported", problem_mark=node.start_mark)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
            return self._mapping(node, path)
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: FieldPath) -> dict:
        self.loader.flatten_mapping(node)
        result: dict = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                self.doc.problems.append(Problem(
                    "mapping keys must be plain strings",
                    Location(self.doc.path, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                             format_field_path(path)),
                ))
                continue
            key = str(key)
            if key in result:
                first_line = self.doc.positions[path + (key,)][0]
                self.doc.problems.append(Problem(
                    f"duplicate key '{key}' (first defined on line {first_line})",
                    Location(self.doc.path, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                             format_field_path(path + (key,))),
                ))
                continue
            result[key] = self.build(value_node, path + (key,))
        return result
