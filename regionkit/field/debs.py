"""The Debian packages the playbooks install on servers, gathered into a folder that works as an apt repository.

Field servers have no mirror. `collect` asks apt which packages a bare Debian system needs for the roles'
package lists (an empty dpkg status, so that the closure does not depend on what this machine has installed),
takes each .deb from the local apt cache when it is there and lets apt download the rest, then writes a
`Packages` index so that the servers can use the folder as `deb [trusted=yes] file:/... ./`. apt checks every
.deb against the SHA256 in that index; the index itself is covered by the bundle's signed manifest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from regionkit.errors import OperationFailed
from regionkit.resources import kit_path

APT_CACHE = Path("/var/cache/apt/archives")
SOURCE_LINE = "deb [trusted=yes] file:{path} ./"


@dataclass(frozen=True)
class Deb:
    filename: str
    size: int


def role_packages() -> list[str]:
    """Every package the kit's roles install (the `<role>_packages` lists of their defaults)."""
    import jinja2

    names: list[str] = []
    for defaults in sorted(kit_path("playbooks", "roles").glob("*/defaults/main.yml")):
        values = yaml.safe_load(defaults.read_text(encoding="utf-8")) or {}
        for key, packages in values.items():
            if not key.endswith("_packages"):
                continue
            for package in packages:
                # Names may use the role's own defaults, e.g. "php{{ php_version }}-fpm".
                for _ in range(3):
                    package = jinja2.Template(package).render(values)
                names.append(package)
    return sorted(set(names))


def collect(packages: list[str], out: Path, apt_cache: Path = APT_CACHE) -> list[Deb]:
    """Put the .deb files a bare system needs for `packages` into `out`, with a Packages index."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="regionkit-apt-") as scratch:
        status = Path(scratch) / "status"
        status.write_text("", encoding="utf-8")
        (out / "partial").mkdir(exist_ok=True)
        options = ["-o", f"Dir::State::status={status}", "-o", f"Dir::Cache::archives={out}",
                   "-o", "Debug::NoLocking=1", "-o", "APT::Install-Recommends=false"]
        wanted = _uris(options, packages)
        for deb in wanted:
            cached = apt_cache / deb.filename
            if not (out / deb.filename).exists() and cached.is_file() and cached.stat().st_size == deb.size:
                _link_or_copy(cached, out / deb.filename)
        missing = [d for d in wanted if not (out / d.filename).exists()]
        if missing:
            fetched = subprocess.run(["apt-get", "-qq", "-y", "--download-only", "install", *options, *packages],
                                     capture_output=True, text=True)
            still = [d.filename for d in missing if not (out / d.filename).exists()]
            if still:
                raise OperationFailed(
                    f"{len(still)} Debian packages are neither in {apt_cache} nor downloadable: "
                    f"{', '.join(still[:5])}{' ...' if len(still) > 5 else ''}",
                    hint=(fetched.stderr.strip().splitlines()
                          or ["run `apt-get update` where a mirror is reachable"])[-1])
        shutil.rmtree(out / "partial", ignore_errors=True)
        (out / "lock").unlink(missing_ok=True)
    write_index(out)
    return wanted


def write_index(folder: Path) -> Path:
    """Write `Packages` (and nothing else) for the .deb files of `folder`: a flat apt repository."""
    stanzas = []
    for deb in sorted(folder.glob("*.deb")):
        data = deb.read_bytes()
        control = control_fields(data).rstrip("\n")
        stanzas.append(f"{control}\nFilename: ./{deb.name}\nSize: {len(data)}\n"
                       f"MD5sum: {hashlib.md5(data).hexdigest()}\nSHA256: {hashlib.sha256(data).hexdigest()}\n")
    index = folder / "Packages"
    index.write_text("\n".join(stanzas), encoding="utf-8")
    return index


def control_fields(deb: bytes) -> str:
    """The `control` file of a .deb (an ar archive holding control.tar.{gz,xz,zst})."""
    if not deb.startswith(b"!<arch>\n"):
        raise ValueError("not a Debian package (no ar header)")
    offset = 8
    while offset + 60 <= len(deb):
        header = deb[offset:offset + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        body = deb[offset + 60:offset + 60 + size]
        offset += 60 + size + (size % 2)
        if not name.startswith("control.tar"):
            continue
        if name.endswith(".xz"):
            body = lzma.decompress(body)
        elif name.endswith(".gz"):
            body = gzip.decompress(body)
        elif name != "control.tar":
            raise ValueError(f"unsupported {name}")
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            for member in tar.getmembers():
                data = tar.extractfile(member) if member.name in ("./control", "control") else None
                if data is not None:
                    return data.read().decode("utf-8")
    raise ValueError("no control member")


def _uris(options: list[str], packages: list[str]) -> list[Deb]:
    listed = subprocess.run(["apt-get", "-qq", "--print-uris", "--download-only", "-y", "install", *options,
                             *packages], capture_output=True, text=True)
    if listed.returncode != 0:
        raise OperationFailed(f"apt cannot resolve the server packages {', '.join(packages)}",
                              hint=(listed.stderr.strip().splitlines() or ["see apt-get's output"])[-1])
    debs = []
    for line in listed.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1].endswith(".deb"):
            debs.append(Deb(parts[1], int(parts[2])))
    return debs


def _link_or_copy(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)
