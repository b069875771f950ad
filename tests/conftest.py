from __future__ import annotations

import json
import struct
import zlib
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


def make_png(width: int = 128, height: int = 128) -> bytes:
    """A real, minimal RGB PNG of one colour."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x1f\x4e\x79" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle r="4"/></svg>\n'


@pytest.fixture
def png_logo(tmp_path: Path) -> Path:
    path = tmp_path / "logo-source.png"
    path.write_bytes(make_png())
    return path


@pytest.fixture
def project(tmp_path: Path, cli, monkeypatch) -> Path:
    """A fresh Pandeglang project (36.01), made with `init --no-input`; commands run inside it."""
    root = tmp_path / "pdg"
    result = cli("init", root, "--region", "36.01", "--no-input")
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(root)
    return root


HOSTS = """hosts:
  - {name: web1, address: 192.0.2.11, roles: [web]}
  - {name: db1, address: 192.0.2.12, roles: [db]}
"""


def with_hosts(root: Path) -> None:
    profile = root / "region.yaml"
    profile.write_text(profile.read_text().replace("hosts: []\n", HOSTS))
