"""regionkit-release: put one app's files in place on a web host, in one pass, and say what changed.

Run by the app and unit_sites roles through ansible.builtin.command: `python3 -c "<bootstrap>"` reads
{"script": <this text>, ...spec} from stdin and calls main(spec), so that neither the script nor any secret
shows in process lists or in the task's logged command. `python3 regionkit-release.py < spec.json` works too.
Every section of the spec is optional; they are applied in this order:

  dirs      [{path, mode, group}]              folders, created or given their mode and group (owner root)
  secrets   {dir, files: {name: value}}        one file per secret, 0640 root:<group>, dir 0750 (values are
            + group                            never printed: the task that sends them has no_log)
  files     [{dest, mode, group, tag,          config files, from a member of the build bundle or from the
              member | content}]               given text; replaced atomically when content, mode or group differ
  trees     [{dest, mode: replace|merge,       folders filled from a tarball: the artifact (archive, sha256) or
              archive + sha256 | members}]     members of the build bundle ({prefix in bundle: path in dest}).
                                               A marker .regionkit-content in dest keeps the content's sha256:
                                               when it matches, nothing happens. replace: unpacked next to dest,
                                               then swapped in (a crash leaves dest as it was); merge: unpacked
                                               over dest (files the deploy adds there stay).
  migrate   {release, env_file, user,          release/bin/migrate, when present, as user, in release, with
             unchanged}                        REGIONKIT_ENV_FILE; on every run (it must be idempotent). It
                                               changed something when it printed a line that is exactly
                                               "changed", or printed anything on stdout that the regular
                                               expression `unchanged` (case-insensitive) does not match.
  current   {link, target}                     the symlink, switched atomically (rename over the old link)

  bundle    path of the build bundle (regionkit-build.tar) the `members` entries are read from
  check     true in --check mode: everything is compared and reported, nothing is written or run
  diff      true in --diff mode: unified diffs of changed text files are returned

Prints one JSON object: {"changed": bool, "changes": [...], "tags": [...], "migrate": "output", "diff": "..."}.
The tags of changed files (and "release" when a tree or the current link changed, "secrets" when a secret
did) tell the role what to reload or restart. Errors: {"failed": true, "msg": ...} and exit code 1.
"""
import difflib
import grp
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

MARKER = ".regionkit-content"


class Failure(Exception):
    pass


class Release:
    def __init__(self, spec):
        self.spec = spec
        self.check = bool(spec.get("check"))
        self.want_diff = bool(spec.get("diff"))
        self.changes, self.tags, self.diffs = [], set(), []
        self.migrate_output = ""
        self._bundle = None

    # ------------------------------------------------------------ helpers
    def changed(self, what, tag=None):
        self.changes.append(what + (" (check mode: not done)" if self.check else ""))
        if tag:
            self.tags.add(tag)

    def bundle(self):
        """The build bundle; None in --check mode before a first deploy put it on the host."""
        if self._bundle is None:
            if self.check and not os.path.exists(self.spec["bundle"]):
                return None
            self._bundle = tarfile.open(self.spec["bundle"])
        return self._bundle

    def member_bytes(self, name):
        """The member's content; None in --check mode without a bundle."""
        if self.bundle() is None:
            return None
        try:
            f = self.bundle().extractfile(name)
        except KeyError:
            raise Failure(f"{name} is missing from the build bundle") from None
        if f is None:
            raise Failure(f"{name} in the build bundle is not a file")
        return f.read()

    @staticmethod
    def gid(group):
        return grp.getgrnam(group).gr_gid

    def ensure_attrs(self, path, mode, group, what, tag=None):
        st = os.lstat(path)
        want_mode, want_gid = int(mode, 8), self.gid(group)
        if (st.st_mode & 0o7777) != want_mode or st.st_uid != 0 or st.st_gid != want_gid:
            self.changed(f"{what}: mode/owner of {path}", tag)
            if not self.check:
                os.chown(path, 0, want_gid)
                os.chmod(path, want_mode)

    def write_file(self, dest, data, mode, group, tag=None, secret=False):
        if data is None:                      # --check mode, nothing to compare with
            self.changed(f"updated {dest}", tag)
            return
        try:
            with open(dest, "rb") as f:
                old = f.read()
        except FileNotFoundError:
            old = None
        if old == data:
            self.ensure_attrs(dest, mode, group, "updated", tag)
            return
        self.changed(f"{'created' if old is None else 'updated'} {dest}", tag)
        if self.want_diff and not secret:
            self.diffs.append(self.text_diff(dest, old, data))
        if self.check:
            return
        tmp = os.path.join(os.path.dirname(dest), f".{os.path.basename(dest)}.regionkit-tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fchown(fd, 0, self.gid(group))
            os.fchmod(fd, int(mode, 8))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dest)

    @staticmethod
    def text_diff(dest, old, new):
        try:
            a = (old or b"").decode().splitlines(keepends=True)
            b = new.decode().splitlines(keepends=True)
        except UnicodeDecodeError:
            return f"binary file {dest} changed\n"
        return "".join(difflib.unified_diff(a, b, f"{dest} (on the host)", f"{dest} (from the build)"))

    # ------------------------------------------------------------ sections
    def dirs(self):
        for d in self.spec.get("dirs", []):
            path, mode, group = d["path"], d.get("mode", "0755"), d.get("group", "root")
            if not os.path.isdir(path):
                self.changed(f"created {path}")
                if self.check:
                    continue
                os.makedirs(path, exist_ok=True)
            self.ensure_attrs(path, mode, group, "updated")

    def secrets(self):
        s = self.spec.get("secrets")
        if not s:
            return
        for name, value in sorted(s["files"].items()):
            self.write_file(os.path.join(s["dir"], name), value.encode(), "0640", s["group"], "secrets", secret=True)

    def files(self):
        for f in self.spec.get("files", []):
            data = f["content"].encode() if "content" in f else self.member_bytes(f["member"])
            parent = os.path.dirname(f["dest"])
            if not os.path.isdir(parent) and not self.check:
                os.makedirs(parent, mode=0o755)
            self.write_file(f["dest"], data, f.get("mode", "0644"), f.get("group", "root"), f.get("tag"))

    def tree_digest(self, members):
        """sha256 over names, types, modes and contents of the members; None in --check mode without a bundle."""
        if self.bundle() is None:
            return None
        h = hashlib.sha256()
        for prefix, target in sorted(members.items()):
            h.update(f"{prefix}\0{target}\0".encode())
            for m in self.tree_members(prefix):
                h.update(f"{m.name}\0{m.type.decode()}\0{m.mode:o}\0".encode())
                if m.isfile():
                    h.update(hashlib.sha256(self.bundle().extractfile(m).read()).digest())
        return h.hexdigest()

    def tree_members(self, prefix):
        prefix = prefix.rstrip("/") + "/"
        found = [m for m in self.bundle().getmembers() if m.name.startswith(prefix) and m.name != prefix]
        if not found:
            raise Failure(f"{prefix} is missing from the build bundle")
        return sorted(found, key=lambda m: m.name)

    def fill(self, tree, folder):
        if "archive" in tree:
            proc = subprocess.run(["tar", "-xf", tree["archive"], "-C", folder, "--no-same-owner"],
                                  capture_output=True, text=True)
            if proc.returncode:
                raise Failure(f"unpacking {tree['archive']} failed: {proc.stderr.strip()}")
            return
        for prefix, target in tree["members"].items():
            for m in self.tree_members(prefix):
                rel = m.name[len(prefix.rstrip("/")) + 1:]
                if rel.startswith("/") or ".." in rel.split("/"):
                    raise Failure(f"unsafe name in the build bundle: {m.name}")
                path = os.path.normpath(os.path.join(folder, target, rel))
                if m.isdir():
                    os.makedirs(path, mode=0o755, exist_ok=True)
                elif m.isfile():
                    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
                    with open(path, "wb") as out:
                        shutil.copyfileobj(self.bundle().extractfile(m), out)
                    os.chmod(path, m.mode & 0o755)
                else:
                    raise Failure(f"not a file or folder in the build bundle: {m.name}")

    def trees(self):
        for tree in self.spec.get("trees", []):
            dest = tree["dest"]
            digest = tree["sha256"] if "archive" in tree else self.tree_digest(tree["members"])
            marker = os.path.join(dest, MARKER)
            if os.path.isfile(marker) and open(marker).read().strip() == digest:
                continue
            self.changed(f"installed {dest}", "release")
            if self.check:
                continue
            if "archive" in tree:
                with open(tree["archive"], "rb") as f:
                    actual = hashlib.file_digest(f, "sha256").hexdigest() if hasattr(hashlib, "file_digest") \
                        else hashlib.sha256(f.read()).hexdigest()
                if actual != tree["sha256"]:
                    raise Failure(f"refusing to unpack {tree['archive']}: sha256 is {actual}, "
                                  f"expected {tree['sha256']}")
            if tree["mode"] == "merge":
                os.makedirs(dest, mode=0o755, exist_ok=True)
                if os.path.exists(marker):
                    os.unlink(marker)
                self.fill(tree, dest)
                with open(marker, "w") as f:
                    f.write(digest + "\n")
                continue
            parent, base = os.path.split(dest.rstrip("/"))
            new, old = os.path.join(parent, f".{base}.new"), os.path.join(parent, f".{base}.old")
            for leftover in (new, old):
                shutil.rmtree(leftover, ignore_errors=True)
            os.makedirs(new, mode=0o755)
            self.fill(tree, new)
            with open(os.path.join(new, MARKER), "w") as f:
                f.write(digest + "\n")
            os.chmod(new, 0o755)
            if os.path.exists(dest):
                os.rename(dest, old)
            os.rename(new, dest)
            shutil.rmtree(old, ignore_errors=True)

    def migrate(self):
        m = self.spec.get("migrate")
        if not m:
            return
        script = os.path.join(m["release"], "bin", "migrate")
        if not os.path.isfile(script):
            if self.check and not os.path.isdir(m["release"]):
                self.migrate_output = "(check mode: the release is not unpacked yet)"
            return
        if self.check:
            self.migrate_output = "(check mode: bin/migrate not run)"
            return
        proc = subprocess.run(["runuser", "-u", m["user"], "--", "env", f"REGIONKIT_ENV_FILE={m['env_file']}",
                               script], cwd=m["release"], capture_output=True, text=True)
        self.migrate_output = (proc.stdout + proc.stderr).strip()
        if proc.returncode:
            raise Failure(f"bin/migrate of {m['release']} failed with exit code {proc.returncode}:\n"
                          f"{self.migrate_output}")
        said = proc.stdout.strip()
        if "changed" in said.splitlines() or (said and not re.search(m.get("unchanged", "$^"), said, re.I)):
            self.changed("bin/migrate changed something", "migrate")

    def current(self):
        c = self.spec.get("current")
        if not c:
            return
        link, target = c["link"], c["target"]
        if os.path.islink(link) and os.readlink(link) == target:
            return
        if os.path.exists(link) and not os.path.islink(link):
            raise Failure(f"{link} exists and is not a symbolic link")
        self.changed(f"switched {link} to {target}", "release")
        if self.check:
            return
        tmp = link + ".regionkit-tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        os.replace(tmp, link)

    def run(self):
        for section in (self.dirs, self.secrets, self.files, self.trees, self.migrate, self.current):
            section()
        return {"changed": bool(self.changes), "changes": self.changes, "tags": sorted(self.tags),
                "migrate": self.migrate_output, "diff": "".join(self.diffs)}


def main(spec):
    try:
        result = Release(spec).run()
    except (Failure, OSError, KeyError) as exc:
        print(json.dumps({"changed": False, "failed": True, "msg": str(exc)}))
        sys.exit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    main(json.load(sys.stdin))
