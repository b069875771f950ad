"""Reading the files of a region project, which regionkit does not trust: one rule for every such file.

A region project travels between regions, field teams and bundles, so every file the kit reads from it
(template overrides, macros, the logo, the files a bundle takes) is read the same way:

- the path is relative to the project and stays inside it (no absolute path, no `..`);
- no part of it is a symbolic link, wherever the link points (replace a link with the file itself);
- it is a regular file (no folder, device, fifo or socket), opened without blocking;
- at most a given number of bytes is read.

The walk opens each folder with O_NOFOLLOW relative to the one before, so a link swapped in while the kit reads
is refused too. Every refusal is an InputError located at the file.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from regionkit.errors import InputError, Location

MAX_FILE_BYTES = 16 * 1024 * 1024  # a template or any other project file the kit reads whole

LINK_REFUSED = "is a symbolic link; the kit reads no link from a project (replace it with the file itself)"
NOT_REGULAR = "not a regular file (a folder, device, fifo or socket)"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def project_path(rel: str | PurePosixPath) -> PurePosixPath:
    """`rel` as a path inside a project; ValueError (a sentence) when it is absolute, empty or climbs with `..`."""
    path = PurePosixPath(str(rel))
    if path.is_absolute() or not path.parts or ".." in path.parts or "\0" in str(rel):
        raise ValueError("must be a path inside the project, e.g. assets/logo.png")
    return path


def read_project_file(root: Path, rel: str | PurePosixPath, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of `root/rel` under the rule above; InputError naming `root/rel` and what is wrong."""

    try:
        return read_inside(root, rel, limit)
    except ValueError as exc:
        raise InputError(f"{rel}: {exc}", Location(Path(root) / str(rel))) from None


def read_inside(root: Path, rel: str | PurePosixPath, limit: int = MAX_FILE_BYTES) -> bytes:
    """Like `read_project_file`, but the problem is a ValueError with a sentence (for checks that collect
    problems instead of stopping at the first)."""
    return _read_open(_open_inside(Path(root), project_path(rel)), limit)


def read_named_file(path: Path, limit: int) -> bytes:
    """A file the user named on the command line (a key, a logo to copy): links are followed, but only a
    regular file of at most `limit` bytes is read; ValueError with a sentence otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ValueError("file not found") from None
    except OSError as exc:
        raise ValueError(exc.strerror or str(exc)) from None
    return _read_open(fd, limit)


def _read_open(fd: int, limit: int) -> bytes:
    """Read a regular file's descriptor whole (at most `limit` bytes) and close it."""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(NOT_REGULAR)
        if info.st_size > limit:
            raise ValueError(f"{info.st_size:,} bytes; at most {limit:,} are read")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise ValueError(f"more than {limit:,} bytes; at most {limit:,} are read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def project_files(root: Path, rel: str | PurePosixPath = "",
                  skip: Callable[[str, bool], bool] = lambda name, is_dir: False) -> list[tuple[str, os.stat_result]]:
    """(path relative to `root`, lstat) of every regular file under the folder `root/rel` (`""`: the whole
    project), sorted; nothing when that folder does not exist. `skip(path, is_dir)` leaves a file or a whole
    folder out before it is looked at. A link or special file anywhere else under it (or on the way to it) is
    an InputError naming it; hidden files are listed too."""

    root = Path(root)
    start = project_path(rel) if str(rel) not in ("", ".") else PurePosixPath()
    on_the_way = PurePosixPath()
    for part in start.parts:
        on_the_way /= part
        try:
            info = os.lstat(root / on_the_way)
        except FileNotFoundError:
            return []
        if stat.S_ISLNK(info.st_mode):
            raise InputError(f"{on_the_way} {LINK_REFUSED}", Location(root / on_the_way))
        if not stat.S_ISDIR(info.st_mode):
            return []
    found: list[tuple[str, os.stat_result]] = []
    pending = [start]
    while pending:
        folder = pending.pop()
        for entry in os.scandir(root / folder):
            name = (folder / entry.name).as_posix()
            info = entry.stat(follow_symlinks=False)
            if skip(name, stat.S_ISDIR(info.st_mode)):
                continue
            if stat.S_ISLNK(info.st_mode):
                raise InputError(f"{name} {LINK_REFUSED}", Location(root / name))
            if stat.S_ISDIR(info.st_mode):
                pending.append(folder / entry.name)
            elif stat.S_ISREG(info.st_mode):
                found.append((name, info))
            else:
                raise InputError(f"{name}: {NOT_REGULAR}", Location(root / name))
    return sorted(found, key=lambda item: item[0])


def _open_inside(root: Path, path: PurePosixPath) -> int:
    """A read-only descriptor of `root/path`, each part opened without following links."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for number, part in enumerate(path.parts):
            last = number == len(path.parts) - 1
            here = PurePosixPath(*path.parts[:number + 1])
            try:
                following = os.open(part, _FILE_FLAGS if last else _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise ValueError(_why_not(fd, part, here, exc)) from None
            os.close(fd)
            fd = following
        return fd
    except BaseException:
        os.close(fd)
        raise


def _why_not(folder_fd: int, part: str, here: PurePosixPath, exc: OSError) -> str:
    try:
        info = os.stat(part, dir_fd=folder_fd, follow_symlinks=False)
    except FileNotFoundError:
        return "file not found"
    except OSError:
        info = None
    if info is not None and stat.S_ISLNK(info.st_mode):
        return f"{here} {LINK_REFUSED}"
    if exc.errno == errno.ENOTDIR:
        return f"{here} is not a folder"
    return exc.strerror or str(exc)
