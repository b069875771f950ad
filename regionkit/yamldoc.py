"""Load YAML while remembering where every value came from, so errors can name `file:line` and the field."""

from __future__ import annotations

import gc
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from regionkit.errors import InputError, Location, Problem

_Loader: type[yaml.CSafeLoader] | type[yaml.SafeLoader]
try:  # libyaml is bundled in PyYAML's wheels; fall back to the pure-Python parser where it is not
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

FieldPath = tuple[str | int, ...]
_STR_TAG = "tag:yaml.org,2002:str"
_TAG = "tag:yaml.org,2002:"
# What a document may hold: plain data. Other tags (`!!binary`, `!!set`, `!!omap`, `!custom`, ...) are refused.
_SCALAR_TAGS = {_TAG + name for name in ("str", "int", "float", "bool", "null", "timestamp")}
_COLLECTION_TAGS: dict[type[yaml.Node], str] = {yaml.MappingNode: _TAG + "map", yaml.SequenceNode: _TAG + "seq"}
_TAG_NAMES = {_TAG + "int": "integer", _TAG + "float": "number", _TAG + "bool": "boolean",
              _TAG + "timestamp": "date", _TAG + "null": "null"}
# Aliases may repeat a node; past this many repeated nodes a document is an alias bomb, not a configuration
MAX_ALIASED_NODES = 100_000


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
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow; libyaml counts it from the start
        line, column = _line_column(text, exc.position)
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise InputError(f"invalid YAML: character {what} is not allowed ({exc.reason})",
                         Location(path, line, column)) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", Location(path)) from None
    finally:
        loader.dispose()


def _line_column(text: str, position: int) -> tuple[int, int]:
    """1-based line and column of the character at `position`."""
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


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
        self.built: set[int] = set()
        self.repeated = 0

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        self.doc.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if node.tag != _COLLECTION_TAGS[type(node)]:
            raise self.refusal(node, path, f"unsupported tag {_short_tag(node.tag)}: expected a plain "
                                           f"{'mapping' if isinstance(node, yaml.MappingNode) else 'list'}")
        if id(node) in self.active:
            raise yaml.MarkedYAMLError(problem="recursive alias is not supported", problem_mark=node.start_mark)
        if id(node) in self.built:
            self.repeated += len(node.value)
            if self.repeated > MAX_ALIASED_NODES:
                raise self.refusal(node, path, f"aliases repeat more than {MAX_ALIASED_NODES} values")
        self.built.add(id(node))
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        finally:
            self.active.discard(id(node))

    def scalar(self, node: yaml.ScalarNode, path: FieldPath) -> Any:
        """The value of a scalar, or a positioned InputError when YAML's rules cannot make one."""
        if node.tag == _STR_TAG:  # the common case, without the constructor's bookkeeping
            return node.value
        if node.tag not in _SCALAR_TAGS:
            raise self.refusal(node, path, f"unsupported tag {_short_tag(node.tag)}: expected plain text, a number, "
                                           "true/false, null or a date")
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            # e.g. 2021-13-45 (YAML reads it as a date), 5000 digits (Python's int limit), !!bool maybe
            reason = ""
            if "digits" in str(exc):
                reason = f": more than {sys.get_int_max_str_digits()} digits"
            elif node.tag == _TAG + "timestamp" and isinstance(exc, ValueError):
                reason = f": {exc}"  # month must be in 1..12, day is out of range for month
            what = _TAG_NAMES.get(node.tag, "value")
            raise self.refusal(node, path, f"{_short(node.value)} is not a valid {what}{reason}; quote it to keep "
                                           "it as text") from None

    def refusal(self, node: yaml.Node, path: FieldPath, message: str) -> InputError:
        return InputError(message, Location(self.doc.path, node.start_mark.line + 1, node.start_mark.column + 1,
                                            format_field_path(path)))

    def _mapping(self, node: yaml.MappingNode, path: FieldPath) -> dict:
        self.loader.flatten_mapping(node)
        result: dict = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node, path) if isinstance(key_node, yaml.ScalarNode) else None
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


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37]) + "..."
