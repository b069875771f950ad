"""`regionkit bundle ...`: one file with everything a field rollout needs, and its checks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from regionkit.catalog.model import load_catalog
from regionkit.cli.deploy_view import ask_password
from regionkit.cli.options import CatalogOption, JsonOption, VaultFileOption
from regionkit.cli.output import labelled, print_result, stderr, stdout
from regionkit.field import bundle, packing
from regionkit.project.files import Project

app = typer.Typer(help="Field bundles: create one at the office, verify it onsite.", no_args_is_help=True)

PublicKeyOption = Annotated[Path | None, typer.Option(
    "--public-key", metavar="FILE", help="Require a signature by this ed25519 public key (PEM or OpenSSH).")]


@app.command("create")
def create(
    out: Annotated[Path | None, typer.Option(
        metavar="FILE", help="The bundle to write [default: regionkit-bundle-<region code>-<date>.tar here].",
        show_default=False)] = None,
    sign_key: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Sign the manifest with this ed25519 private key (`regionkit bundle keygen`).")] = None,
    vault_password_file: VaultFileOption = None,
    catalog: CatalogOption = None,
    json: JsonOption = False,
) -> None:
    """Bundle the region project: build, playbooks, artifacts, Debian packages and Python wheels, all hashed."""

    project = Project.locate()
    profile = project.profile()
    if out is None:
        out = Path.cwd() / f"regionkit-bundle-{profile.region.key}-{datetime.now(UTC):%Y%m%d}.tar"
    if not json:
        stderr.print(f"bundling {profile.region.name} into {out}")

    def progress(step: str) -> None:
        if not json:
            stderr.print(f"  {step}")

    verified = packing.create(project, load_catalog(catalog), out, sign_key=sign_key,
                              vault_password_file=vault_password_file, prompt=ask_password, progress=progress)
    _show(verified, json)


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The bundle.")],
    public_key: PublicKeyOption = None,
    json: JsonOption = False,
) -> None:
    """Check every member (no absolute paths, `..`, links out or device files), every sha256 and the signature,
    extracting nothing; exit 2 naming the first problem."""

    _show(bundle.verify(file, public_key), json)


@app.command("extract")
def extract(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The bundle.")],
    workdir: Annotated[Path | None, typer.Option(
        metavar="DIR", help="Where to extract [default: the bundle's name without .tar, next to it].")] = None,
    public_key: PublicKeyOption = None,
) -> None:
    """Verify, then extract (or find already extracted) a bundle; prints the region project's folder, for
    `regionkit -C DIR preflight` and `status`. `deploy --bundle` does this itself."""

    folder = bundle.default_workdir(file) if workdir is None else workdir
    bundle.extract(file, folder, public_key)
    stdout.print(str(Path(folder).absolute() / bundle.PROJECT), soft_wrap=True)


@app.command("keygen")
def keygen(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="Private key to write (0600); FILE.pub and "
                                                                "FILE.pub.pem are the public key to hand to field "
                                                                "teams.")],
) -> None:
    """Make an ed25519 key pair for signing bundles."""

    private, public = bundle.generate_key(path)
    stdout.print(f"private key: {private} (keep it at the office)\npublic key: {public}\n"
                 f"public key as PEM, for openssl in the field: {public}.pem")


def _show(verified, as_json: bool) -> None:
    files = verified.manifest["files"]
    counts = {part: sum(1 for name in files if name.startswith(part + "/"))
              for part in ("project", "playbooks", "artifacts", "debs", "wheels")}
    record = {"path": str(verified.path), "kit_version": verified.manifest["kit_version"],
              "region": verified.manifest["region"], "created": verified.manifest["created"],
              "apps": verified.manifest["apps"], "files": verified.files, "bytes": verified.size,
              "manifest_sha256": verified.manifest_sha256, "signed": verified.signed,
              "signature_checked": verified.signature_checked, "contents": counts, "warnings": verified.warnings}

    def human() -> None:

        region = verified.manifest["region"]
        stdout.print(f"{verified.path}: verified, {verified.files} files, {verified.size / 1e6:.1f} MB")
        stdout.print(f"  region {region['code']} {region['name']}, {len(record['apps'])} apps, "
                     f"regionkit {record['kit_version']}, created {record['created']}")
        stdout.print("  " + ", ".join(f"{part}: {n} files" for part, n in counts.items()))
        stdout.print(f"  manifest sha256 {verified.manifest_sha256}"
                     + (", signature checked" if verified.signature_checked else ""))
        for warning in verified.warnings:
            stderr.print(labelled(warning, "warning:", "yellow"))

    print_result(as_json, record, human)
