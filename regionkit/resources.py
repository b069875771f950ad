"""Where the kit's own data lives: inside the installed wheel, or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def kit_root() -> Path:
    """The folder holding `catalog.yaml`, `templates/` and `playbooks/`."""
    packaged = _PACKAGE / "kit"
    return packaged if packaged.is_dir() else _PACKAGE.parent


def kit_path(*parts: str) -> Path:
    return kit_root().joinpath(*parts)


def data_path(*parts: str) -> Path:
    """Reference data shipped as package data (e.g. the Kemendagri region codes)."""
    return _PACKAGE.joinpath("data", *parts)
