"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from regionkit.errors import Location, OperationFailed


def write_atomic(path: Path, data: bytes | str, mode: int | None = None) -> None:
    """Write `data` to `path` through a synced temporary file in the same folder, then rename it into place.

    The file keeps its current permission bits unless `mode` is given (new files default to 0644).
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if mode is None:
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_dir(path.parent)


def sync_dir(folder: Path) -> None:
    """Make a rename or a new entry in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def swap_in(new: Path, dest: Path, what: str = "") -> None:
    """Put `new` (a folder or file in `dest`'s folder, made whole beforehand) at `dest`, durably: a reader sees
    what was at `dest` before or `new`, never a mix. `dest` may be absent; a file when `new` is one (replaced); an
    empty folder or a folder when `new` is one (kept aside and removed once `new` is in place, put back if that
    fails).

    OperationFailed naming `dest` (and `what`, e.g. "the build") when a rename fails; `new` is left to the
    caller to remove."""

    new, dest = Path(new), Path(dest)
    try:
        folders = new.is_dir() and dest.is_dir() and not dest.is_symlink()
        if folders and any(dest.iterdir()):
            _swap_folder(new, dest)
        else:
            if folders:
                dest.rmdir()
            os.replace(new, dest)  # a file over a folder, or a folder over a file, fails
    except OSError as exc:
        raise OperationFailed(f"could not replace {what or dest}: {exc.strerror}", Location(dest)) from None
    sync_dir(dest.parent)


def _swap_folder(new: Path, dest: Path) -> None:
    """Exchange the folder `dest` for `new`: `dest` is moved aside first and put back if `new` cannot follow."""

    retired = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
    try:
        os.rename(dest, retired / dest.name)
        try:
            os.rename(new, dest)
        except OSError:
            if not dest.exists():
                os.rename(retired / dest.name, dest)
            raise
    finally:
        shutil.rmtree(retired, ignore_errors=True)
