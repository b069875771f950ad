"""regionkit as a real process: lazy imports on the fast paths, one-line errors, `python -m`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("jinja2", "ansible", "cookiecutter")

PROBE = """
import sys
from regionkit.cli import app
try:
    app(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[0].split(',')))
print('HEAVY=' + ','.join(heavy), file=sys.stderr)
"""


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, **kwargs)


@pytest.mark.parametrize("argv", [["--help"], ["catalog", "list"], ["catalog", "list", "--json"], ["--version"]])
def test_fast_paths_do_not_import_heavy_modules(argv):
    result = run("-c", PROBE, ",".join(HEAVY), *argv)
    assert "HEAVY=\n" in result.stderr, result.stderr
    assert "HEAVY=" in result.stderr


def test_python_dash_m_and_error_line_without_traceback(tmp_path: Path):
    bad = tmp_path / "catalog.yaml"
    bad.write_text("schema_version: 1\ngroups: []\napps: [\n")
    result = run("-m", "regionkit", "catalog", "validate", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {bad}:")


def test_a_directory_given_as_catalog_is_a_clear_input_error(tmp_path: Path):
    (tmp_path / "catalog.yaml").mkdir()
    result = run("-m", "regionkit", "catalog", "list", "--catalog", str(tmp_path / "catalog.yaml"))
    assert result.returncode == 2 and "expected a file, found a directory" in result.stderr


def test_unexpected_errors_are_one_line_unless_debugging(cli, monkeypatch):
    import regionkit.cli.catalog

    def broken(path=None):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(regionkit.cli.catalog, "load_catalog", broken)
    result = cli("catalog", "list")
    assert result.exit_code == 1
    assert "internal error: RuntimeError: disk on fire" in result.stderr
    assert "Traceback" not in result.output
    monkeypatch.setenv("REGIONKIT_DEBUG", "1")
    with pytest.raises(RuntimeError):
        cli("catalog", "list")


def test_kit_catalog_lists_from_any_directory(tmp_path: Path):
    result = run("-m", "regionkit", "catalog", "list", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) >= 174
