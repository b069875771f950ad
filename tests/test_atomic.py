"""atomic.swap_in: the one way a folder (a build, an extracted bundle, a new project) or a file is put in place."""

import os

import pytest

from regionkit import atomic
from regionkit.atomic import swap_in
from regionkit.errors import OperationFailed


def folder(path, **files):
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
    return path


@pytest.mark.parametrize("before", ["absent", "empty", "full"])
def test_a_folder_takes_the_place_of_what_was_there(tmp_path, before):
    dest = tmp_path / "build"
    if before != "absent":
        folder(dest, **({"old.txt": "old"} if before == "full" else {}))
    swap_in(folder(tmp_path / ".staging", **{"new.txt": "new"}), dest)
    assert sorted(p.name for p in dest.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build"]  # nothing kept aside is left


def test_a_file_never_replaces_a_folder(tmp_path):
    dest = folder(tmp_path / "out.tar", **{"keep.txt": "mine"})
    partial = tmp_path / ".out.tar.partial"
    partial.write_text("bundle")
    with pytest.raises(OperationFailed, match="could not replace"):
        swap_in(partial, dest)
    assert (dest / "keep.txt").read_text() == "mine"


def test_the_old_folder_comes_back_when_the_new_one_cannot_follow(tmp_path, monkeypatch):
    dest = folder(tmp_path / "build", **{"old.txt": "old"})
    staging = folder(tmp_path / ".staging", **{"new.txt": "new"})
    real = os.rename

    def rename(src, dst):
        if src == staging:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "rename", rename)
    with pytest.raises(OperationFailed, match="could not replace the build: No space left on device"):
        swap_in(staging, dest, "the build")
    assert (dest / "old.txt").read_text() == "old" and staging.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".staging", "build"]
