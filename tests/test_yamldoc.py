from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regionkit.errors import InputError
from regionkit.yamldoc import format_field_path, load_yaml


def test_positions_point_at_values(tmp_path: Path):
    path = tmp_path / "a.yaml"
    path.write_text("top:\n  items:\n    - name: one\n    - name: two\n      size: 3\n")
    doc = load_yaml(path)
    assert doc.data == {"top": {"items": [{"name": "one"}, {"name": "two", "size": 3}]}}
    assert doc.positions[("top", "items", 1, "size")] == (5, 13)
    loc = doc.location(("top", "items", 1, "missing"))
    assert (loc.line, loc.field) == (4, "top.items[1].missing")


def test_duplicate_keys_are_problems_not_silent_overrides(tmp_path: Path):
    path = tmp_path / "a.yaml"
    path.write_text("a: 1\nb: 2\na: 3\n")
    doc = load_yaml(path)
    assert doc.data == {"a": 1, "b": 2}
    [problem] = doc.problems
    assert problem.location.line == 3
    assert "duplicate key 'a' (first defined on line 1)" in problem.message


def test_merge_keys_and_aliases(tmp_path: Path):
    path = tmp_path / "a.yaml"
    path.write_text("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n")
    assert load_yaml(path).data == {"base": {"x": 1}, "other": {"x": 1, "y": 2}}


def test_syntax_error_names_line_and_column(tmp_path: Path):
    path = tmp_path / "a.yaml"
    path.write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(InputError) as err:
        load_yaml(path)
    assert err.value.location.file == path
    assert err.value.location.line == 2
    assert str(err.value).startswith(f"{path}:2:")


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe bad", "not UTF-8"),
    (None, "file not found"),
])
def test_unreadable_files(tmp_path: Path, content, message):
    path = tmp_path / "a.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_yaml(path)


def test_recursive_alias_is_refused(tmp_path: Path):
    path = tmp_path / "a.yaml"
    path.write_text("a: &x [*x]\n")
    with pytest.raises(InputError, match="recursive alias"):
        load_yaml(path)


def test_field_path_format():
    assert format_field_path(("apps", 3, "resources", "cpu")) == "apps[3].resources.cpu"
    assert format_field_path(()) == ""


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_either_loads_or_gives_a_positioned_input_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("y") / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_yaml(path)
    except InputError as exc:
        assert exc.location.file == path
