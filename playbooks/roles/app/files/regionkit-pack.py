"""regionkit-pack: pack parts of the rendered build into one tarball, on the controller, reproducibly.

    python3 regionkit-pack.py OUT_DIR|- NAME=ROOT:PATH[,PATH...] ...

Each NAME becomes OUT_DIR/NAME.tar holding the given paths (files or folders, relative to ROOT) under the same
relative names. Entries are sorted, owned by root, dated 1970 and given modes 0755/0644, so the same build
always gives byte-identical tarballs: a rerun copies nothing. A PATH ending in "?" is left out when it does
not exist. OUT_DIR "-" makes a new private temporary folder. Prints
{"dir": OUT_DIR, "files": {"NAME": {"path": ..., "sha256": ...}, ...}} as JSON.

Why: ansible.builtin.copy costs a round trip per file, and a region's build has hundreds (a unit-site app
has a folder per organisational unit); one tarball per deploy costs one.
"""
import hashlib
import json
import os
import sys
import tarfile
import tempfile


def entries(root, rel):
    """(path on disk, name in the tarball) of root/rel and everything below it, sorted."""
    top = os.path.join(root, rel)
    yield top, rel
    if os.path.isdir(top) and not os.path.islink(top):
        for here, dirs, files in os.walk(top):
            dirs.sort()
            for name in sorted(dirs + files):
                path = os.path.join(here, name)
                yield path, os.path.relpath(path, root)


def normalised(info):
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0
    info.mode = 0o755 if info.isdir() or (info.isfile() and info.mode & 0o100) else 0o644
    return info


def pack(out_dir, name, root, paths):
    path = os.path.join(out_dir, name + ".tar")
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for rel in paths:
            optional = rel.endswith("?")
            rel = rel.rstrip("?").strip("/")
            if optional and not os.path.exists(os.path.join(root, rel)):
                continue
            if not rel or rel.startswith("..") or not os.path.exists(os.path.join(root, rel)):
                raise SystemExit(f"regionkit-pack: not in {root}: {rel}")
            for disk_path, arcname in entries(root, rel):
                if os.path.islink(disk_path):
                    raise SystemExit(f"regionkit-pack: refusing a symbolic link in the build: {disk_path}")
                tar.add(disk_path, arcname=arcname, recursive=False, filter=normalised)
    with open(path, "rb") as f:
        return {"path": path, "sha256": hashlib.sha256(f.read()).hexdigest()}


def main(argv):
    out_dir, specs = argv[0], argv[1:]
    if out_dir == "-":
        out_dir = tempfile.mkdtemp(prefix="regionkit-pack-")
    os.makedirs(out_dir, mode=0o700, exist_ok=True)
    files = {}
    for spec in specs:
        name, _, rest = spec.partition("=")
        root, _, paths = rest.rpartition(":")
        files[name] = pack(out_dir, name, root, paths.split(","))
    print(json.dumps({"dir": out_dir, "files": files}))


if __name__ == "__main__":
    main(sys.argv[1:])
