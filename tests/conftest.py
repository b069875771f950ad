from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from regionkit.cli import app

DATA = Path(__file__).parent / "data"
MINI_CATALOG = DATA / "mini-catalog.yaml"


class Cli:
    """Runs regionkit in-process and returns (exit code, stdout, stderr)."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str | Path):
        result = self.runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        return result

    def json(self, *args: str | Path):
        result = self(*args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def mini_catalog() -> Path:
    return MINI_CATALOG


@pytest.fixture
def catalog_text() -> str:
    return MINI_CATALOG.read_text(encoding="utf-8")


@pytest.fixture
def write_catalog(tmp_path: Path):
    """Write a catalog variant and return its path."""

    def write(text: str, name: str = "catalog.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
