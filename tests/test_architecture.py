"""Rules about how regionkit's own modules fit together, checked on the source.

The import graph is built with `ast` from every `import regionkit...` / `from regionkit... import ...` in
regionkit/, at module top and inside functions alike: a function-level import still ties two modules together
(and is where cycles hide, since Python only trips over a cycle at module top). The graph must be acyclic, so
the package reads bottom-up: each module only uses modules below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import regionkit
from regionkit.project import files as project_module
from regionkit.project.files import Project

PACKAGE = Path(regionkit.__file__).parent


def _module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package_dir: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the modules of `package_dir`'s package it imports (a package's `__init__` counts as the
    package)."""
    modules = {_module_name(p, package_dir): p for p in package_dir.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: `from . import x` in package a.b is a.b.x
                    parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(parent + ([base] if base else []))
                # `from regionkit import bundle` imports the module regionkit.field.bundle, not only the package
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as [a, b, ..., a], or None when it is acyclic."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for child in sorted(graph[node]):
            if state.get(child) == 1:
                return path[path.index(child):] + [child]
            if child not in state and (found := visit(child)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_imports_in_sub_packages_and_inside_functions(tmp_path):
    package = tmp_path / "regionkit"
    for folder in (package / "catalog", package / "cli"):
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "catalog" / "model.py").write_text("")
    (package / "cli" / "apps.py").write_text("def add():\n    from regionkit.catalog.model import Kind\n")
    (package / "cli" / "output.py").write_text("from . import apps\n")
    graph = import_graph(package)
    assert graph["regionkit.cli.apps"] == {"regionkit.catalog.model"}  # imported inside a function only
    assert graph["regionkit.cli.output"] == {"regionkit.cli.apps"}  # relative, inside a sub-package
    assert "regionkit.catalog.model" in import_graph()["regionkit.cli.apps"]  # the real package's sub-packages


def test_regionkit_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# --- project paths are spelt out in regionkit/project/files.py only -------------------------------------------------

SAMPLE = Project(Path("/r"))
# Every file and folder name of a region project, read from `Project` itself.
PROJECT_NAMES = {part for value in (getattr(SAMPLE, name) for name in dir(Project) if not name.startswith("_"))
                 if isinstance(value, Path) for part in value.relative_to(SAMPLE.root).parts}
# Names specific enough to be a project path wherever they stand in a string without spaces (prose, which has
# spaces, may name region.yaml to the user); the others ("build", "runs", ...) only count as the right side of a
# `path / "name"` join.
DISTINCT = {n for n in PROJECT_NAMES if "." in n}
# `path / "name"` joins that are not project paths, each with why.
NOT_PROJECT_PATHS = {
    ("packing.py", "artifacts"),  # a bundle's own top-level artifacts/ folder, beside project/ (bundle layout)
    ("debs.py", "lock"),  # the lock file apt-ftparchive leaves in a folder of Debian packages
}


def _path_literals(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and not any(c.isspace() for c in node.value):
            if set(node.value.split("/")) & DISTINCT:
                found.append((node.lineno, node.value))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant) \
                and node.right.value in PROJECT_NAMES and (path.name, node.right.value) not in NOT_PROJECT_PATHS:
            found.append((node.lineno, f"/ {node.right.value!r}"))
    return found


def test_the_scan_knows_the_project_names():
    assert {"region.yaml", ".regionkit", "ledger.jsonl", "agreements.yaml", "secrets.vault.yml", ".vault-pass",
            "build", "runs", "lock"} <= PROJECT_NAMES
    assert _path_literals(Path(project_module.__file__))  # the one place where they are written


def test_project_paths_are_written_only_in_the_project_module():
    offenders = [f"{p.relative_to(PACKAGE.parent)}:{line}: {text}"
                 for p in sorted(PACKAGE.rglob("*.py")) if p != Path(project_module.__file__)
                 for line, text in _path_literals(p)]
    assert offenders == [], "use the Project property instead:\n" + "\n".join(offenders)


# --- one way to print "JSON or table" ---------------------------------------------------------------------------

# Outputs that are JSON only, with no table to choose instead, each with why.
JSON_ONLY = {
    ("catalog.py", "validate"),  # --json's answer when the catalog does not validate (then exit 2)
    ("preflight.py", "refusal_as_json"),  # --json's answer when preflight blocks a deploy
    ("project.py", "schema"),  # a JSON Schema is JSON
}


def test_commands_choose_json_or_table_through_one_helper():
    """`--json` commands print through cli/output.py print_result; print_json is called directly only where no
    table exists."""
    calls = set()
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print_json":
                    calls.add((path.name, function.name))
    assert calls - {("output.py", "print_result")} == JSON_ONLY
