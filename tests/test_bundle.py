"""Field bundles: verification before extraction, signatures, extraction, and the Debian repository index."""

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from regionkit.errors import InputError, ValidationFailed
from regionkit.field import bundle, debs, packing


def make_bundle(tmp_path: Path, key=None, extra=None, name="b.tar", apps=("e-office",)) -> Path:
    """A small, valid bundle (the real `create` also gathers packages and wheels; see test_bundle_fleet)."""
    stage = tmp_path / "stage"
    files = {"project/region.yaml": b"region: {code: '36.01'}\n", "playbooks/site.yml": b"- hosts: all\n",
             "debs/Packages": b"", "wheels/regionkit-0.1.0-py3-none-any.whl": b"PK\x05\x06" + b"\0" * 18}
    for rel, data in files.items():
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        (stage / rel).write_bytes(data)
    manifest = {"format": bundle.FORMAT, "kit_version": "0.1.0", "created": "2026-11-23T00:00:00Z",
                "region": {"code": "36.01", "name": "Kabupaten Pandeglang"}, "apps": list(apps),
                "files": packing._hash_tree(stage)}
    data = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    (stage / bundle.MANIFEST).write_bytes(data)
    if key is not None:
        import base64

        (stage / bundle.SIGNATURE).write_text(base64.b64encode(key.sign(data)).decode() + "\n")
    out = tmp_path / name
    packing._write_tar(stage, out, 0)
    if extra is not None:
        with tarfile.open(out, "a") as tar:
            extra(tar)
    return out


def add_member(tar: tarfile.TarFile, name: str, kind=tarfile.REGTYPE, linkname: str = "", data: bytes = b"x"):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


@pytest.fixture
def keys(tmp_path):
    private, public = bundle.generate_key(tmp_path / "keys" / "sign.key")
    return bundle.load_private_key(private), public


def test_a_valid_bundle_verifies_with_every_file_counted(tmp_path):
    verified = bundle.verify(make_bundle(tmp_path))
    assert verified.files == 4 and verified.manifest["region"]["code"] == "36.01"
    assert not verified.signed and "not signed" in verified.warnings[0]


def test_signature_is_checked_and_a_wrong_key_or_missing_signature_is_refused(tmp_path, keys):
    key, public = keys
    signed = make_bundle(tmp_path, key=key)
    verified = bundle.verify(signed, public)
    assert verified.signature_checked and verified.warnings == []
    other_private, other_public = bundle.generate_key(tmp_path / "other.key")
    with pytest.raises(ValidationFailed) as refused:
        bundle.verify(signed, other_public)
    assert "signature does not match" in str(refused.value.problems[0])
    (tmp_path / "u").mkdir()
    unsigned = make_bundle(tmp_path / "u", name="u.tar")
    with pytest.raises(ValidationFailed) as refused:
        bundle.verify(unsigned, public)
    assert "not signed" in str(refused.value.problems[0])


def test_key_files_are_private_and_never_overwritten(tmp_path):
    private, public = bundle.generate_key(tmp_path / "k")
    assert private.stat().st_mode & 0o777 == 0o600 and public.read_text().startswith("ssh-ed25519 ")
    with pytest.raises(InputError):
        bundle.generate_key(tmp_path / "k")


def flip_byte_of(path: Path, member: str) -> None:
    with tarfile.open(path) as tar:
        offset = tar.getmember(member).offset_data
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("member", ["project/region.yaml", "playbooks/site.yml", bundle.MANIFEST])
def test_one_changed_byte_is_refused_naming_the_member_and_nothing_is_extracted(tmp_path, keys, member):
    key, public = keys
    path = make_bundle(tmp_path, key=key)
    flip_byte_of(path, member)
    dest = tmp_path / "field"
    with pytest.raises(ValidationFailed) as refused:
        bundle.extract(path, dest, public)
    text = str(refused.value.problems[0])
    assert (member in text) if member != bundle.MANIFEST else ("signature" in text or "manifest" in text)
    assert not dest.exists() and not list(tmp_path.glob(".field.*"))


def test_a_changed_byte_is_refused_without_a_key_too(tmp_path):
    path = make_bundle(tmp_path)
    flip_byte_of(path, "project/region.yaml")
    with pytest.raises(ValidationFailed) as refused:
        bundle.verify(path)
    assert "project/region.yaml" in str(refused.value.problems[0]) and "sha256" in str(refused.value.problems[0])


@pytest.mark.parametrize("name, kind, linkname, expected", [
    ("../evil.sh", tarfile.REGTYPE, "", "leaves the bundle"),
    ("project/../../evil.sh", tarfile.REGTYPE, "", "leaves the bundle"),
    ("/etc/cron.d/evil", tarfile.REGTYPE, "", "absolute"),
    ("project/out", tarfile.SYMTYPE, "../../etc/passwd", "points outside"),
    ("project/abs", tarfile.SYMTYPE, "/etc/shadow", "points outside"),
    ("project/hard", tarfile.LNKTYPE, "../etc/passwd", "points outside"),
    ("project/inside", tarfile.SYMTYPE, "region.yaml", "links are not part"),
    ("project/dev", tarfile.CHRTYPE, "", "device"),
    ("project/fifo", tarfile.FIFOTYPE, "", "device, fifo"),
    ("project/extra.txt", tarfile.REGTYPE, "", "not in the manifest"),
    ("project/region.yaml", tarfile.REGTYPE, "", "appears twice"),
])
def test_unsafe_members_are_refused_before_extraction(tmp_path, name, kind, linkname, expected):
    path = make_bundle(tmp_path, extra=lambda tar: add_member(tar, name, kind, linkname))
    dest = tmp_path / "field"
    with pytest.raises(ValidationFailed) as refused:
        bundle.extract(path, dest)
    assert expected in str(refused.value.problems[0])
    assert not dest.exists() and not (tmp_path / "evil.sh").exists()


def test_a_file_missing_from_the_archive_is_refused(tmp_path):
    path = make_bundle(tmp_path)
    with tarfile.open(path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers() if m.name != "playbooks/site.yml"]
    with tarfile.open(path, "w") as tar:
        for member, data in members:
            tar.addfile(member, io.BytesIO(data))
    with pytest.raises(ValidationFailed) as refused:
        bundle.verify(path)
    assert "playbooks/site.yml: in the manifest but missing" in str(refused.value.problems[0])


def test_not_a_tar_and_compressed_tars_are_refused_clearly(tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"hello")
    with pytest.raises(ValidationFailed):
        bundle.verify(junk)
    gz = tmp_path / "b.tar.gz"
    gz.write_bytes(gzip.compress(make_bundle(tmp_path).read_bytes()))
    with pytest.raises(ValidationFailed) as refused:
        bundle.verify(gz)
    assert "uncompressed tar" in str(refused.value.problems[0])
    with pytest.raises(InputError):
        bundle.verify(tmp_path / "missing.tar")


def test_extract_creates_the_folder_whole_then_reuses_it_for_the_same_bundle_only(tmp_path):
    path = make_bundle(tmp_path)
    dest = tmp_path / "field"
    bundle.extract(path, dest)
    assert (dest / "project/region.yaml").read_bytes() == b"region: {code: '36.01'}\n"
    assert (dest / bundle.DEBS_ARCHIVE).is_file()
    (dest / "project/ledger.jsonl").write_text("kept\n")
    bundle.extract(path, dest)  # a second run in the same folder keeps what the first left
    assert (dest / "project/ledger.jsonl").read_text() == "kept\n"
    (tmp_path / "o").mkdir()
    other = make_bundle(tmp_path / "o", name="o.tar", apps=("laksa",))
    with pytest.raises(InputError, match="does not hold this bundle"):
        bundle.extract(other, dest)


def test_cli_verify_prints_the_contents_and_refuses_tampering_with_exit_2(tmp_path, keys):
    key, public = keys
    path = make_bundle(tmp_path, key=key)
    ok = subprocess.run([sys.executable, "-m", "regionkit", "bundle", "verify", str(path), "--public-key",
                         str(public), "--json"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    record = json.loads(ok.stdout)
    assert record["signature_checked"] and record["contents"]["project"] == 1 and record["files"] == 4
    flip_byte_of(path, "wheels/regionkit-0.1.0-py3-none-any.whl")
    bad = subprocess.run([sys.executable, "-m", "regionkit", "bundle", "verify", str(path)], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "wheels/regionkit-0.1.0-py3-none-any.whl" in bad.stderr
    assert "Traceback" not in bad.stderr and "nothing was extracted" in bad.stderr


def fake_deb(name: str, version: str) -> bytes:
    control = f"Package: {name}\nVersion: {version}\nArchitecture: all\nDescription: test\n".encode()
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tar:
        info = tarfile.TarInfo("./control")
        info.size = len(control)
        tar.addfile(info, io.BytesIO(control))
    members = [("debian-binary", b"2.0\n"), ("control.tar.gz", inner.getvalue()), ("data.tar.gz", b"")]
    out = b"!<arch>\n"
    for member, data in members:
        header = f"{member + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
        out += header + data + (b"\n" if len(data) % 2 else b"")
    return out


def test_the_package_index_lists_every_deb_with_its_sha256(tmp_path):
    for name, version in (("alpha", "1.0"), ("beta", "2.3-1")):
        (tmp_path / f"{name}_{version}_all.deb").write_bytes(fake_deb(name, version))
    index = debs.write_index(tmp_path).read_text()
    stanzas = [s for s in index.split("\n\n") if s.strip()]
    assert len(stanzas) == 2
    beta = next(s for s in stanzas if "Package: beta" in s)
    data = (tmp_path / "beta_2.3-1_all.deb").read_bytes()
    assert "Version: 2.3-1" in beta and "Filename: ./beta_2.3-1_all.deb" in beta
    assert f"SHA256: {hashlib.sha256(data).hexdigest()}" in beta and f"Size: {len(data)}" in beta
    with pytest.raises(ValueError):
        debs.control_fields(b"not a deb")


def test_role_packages_are_the_roles_own_lists():
    packages = debs.role_packages()
    assert {"nginx", "mariadb-server", "postgresql", "php8.2-fpm", "tzdata"} <= set(packages)
    assert not any("{{" in p for p in packages)


def test_cli_extract_prints_the_project_folder_and_reuses_it(tmp_path):
    path = make_bundle(tmp_path)
    run = [sys.executable, "-m", "regionkit", "bundle", "extract", str(path)]
    first = subprocess.run(run, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == str(tmp_path / "b" / "project")
    assert (tmp_path / "b/project/region.yaml").is_file()
    assert subprocess.run(run, capture_output=True, text=True).returncode == 0


# ---------------------------------------------------------------------------------------------------------------
# What was verified is what is extracted (issue 11, items 5, 8 and 15)


def evil_copy(path: Path, tmp_path: Path, name: str = "project/templates/apps/kinds/web/evil.txt") -> Path:
    """The same signed bundle with one unsigned member added: what an attacker swaps in."""
    evil = tmp_path / "evil.tar"
    evil.write_bytes(path.read_bytes())
    with tarfile.open(evil, "a") as tar:
        add_member(tar, name, data=b"unsigned override\n")
    return evil


def test_a_bundle_swapped_after_verification_is_not_what_gets_extracted(tmp_path, keys, monkeypatch):
    key, public = keys
    path = make_bundle(tmp_path, key=key)
    evil = evil_copy(path, tmp_path)
    checked = bundle._check_members

    def swap_after_checking(*args, **kwargs):
        found = checked(*args, **kwargs)
        if evil.exists():
            evil.replace(path)  # the file is swapped by name once its members were checked
        return found

    monkeypatch.setattr(bundle, "_check_members", swap_after_checking)
    dest = tmp_path / "field"
    try:
        bundle.extract(path, dest, public)
    except ValidationFailed:
        assert not dest.exists()
    assert not (dest / "project/templates/apps/kinds/web/evil.txt").exists()
    assert not list(dest.rglob("evil.txt"))


def _edit_region_yaml(dest: Path) -> str:
    (dest / "project/region.yaml").write_bytes(b"region: {code: '36.99'}\n")
    return "project/region.yaml"


def _add_a_template(dest: Path) -> str:
    override = dest / "project/templates/apps/kinds/web/x.txt"
    override.parent.mkdir(parents=True)
    override.write_text("not from the bundle\n")
    return "project/templates/apps/kinds/web/x.txt"


@pytest.mark.parametrize("change", [_edit_region_yaml, _add_a_template], ids=["edited file", "added file"])
def test_a_reused_workdir_that_changed_is_refused_naming_the_file(tmp_path, change):
    path = make_bundle(tmp_path)
    dest = tmp_path / "field"
    bundle.extract(path, dest)
    name = change(dest)
    with pytest.raises(ValidationFailed) as refused:
        bundle.extract(path, dest)
    assert name in str(refused.value.problems[0])


def test_a_reused_workdir_keeps_run_state_and_the_ledger(tmp_path):
    path = make_bundle(tmp_path)
    dest = tmp_path / "field"
    bundle.extract(path, dest)
    (dest / "project/.regionkit/runs/1").mkdir(parents=True)
    (dest / "project/.regionkit/runs/1/result.json").write_text("{}\n")
    (dest / "project/ledger.jsonl").write_text("{}\n")
    bundle.extract(path, dest)


def test_a_reused_workdir_with_an_edited_package_archive_is_refused(tmp_path):
    path = make_bundle(tmp_path)
    dest = tmp_path / "field"
    bundle.extract(path, dest)
    with open(dest / bundle.DEBS_ARCHIVE, "ab") as handle:
        handle.write(b"\0" * 1024)
    with pytest.raises(ValidationFailed) as refused:
        bundle.extract(path, dest)
    assert bundle.DEBS_ARCHIVE in str(refused.value.problems[0])


def signed_with_manifest(tmp_path: Path, key, manifest_bytes: bytes) -> Path:
    """A bundle holding only a manifest (any bytes) and its valid signature."""
    import base64

    out = tmp_path / "m.tar"
    with tarfile.open(out, "w") as tar:
        for name, data in ((bundle.MANIFEST, manifest_bytes),
                           (bundle.SIGNATURE, base64.b64encode(key.sign(manifest_bytes)) + b"\n")):
            add_member(tar, name, data=data)
    return out


def unsigned_with_manifest(tmp_path: Path, manifest_bytes: bytes) -> Path:
    out = tmp_path / "u.tar"
    with tarfile.open(out, "w") as tar:
        add_member(tar, bundle.MANIFEST, data=manifest_bytes)
    return out


def test_an_unsigned_deeply_nested_manifest_is_refused_before_it_is_parsed_when_a_key_is_given(tmp_path, keys,
                                                                                                  monkeypatch):
    key, public = keys
    path = unsigned_with_manifest(tmp_path, b"[" * 100000 + b"]" * 100000)
    parsed = []
    monkeypatch.setattr(bundle.json, "loads", lambda *a, **k: parsed.append(1) or {})
    with pytest.raises(ValidationFailed) as refused:
        bundle.verify(path, public)
    assert "not signed" in str(refused.value.problems[0]) and parsed == []


@pytest.mark.parametrize("manifest", [
    b"[" * 100000 + b"]" * 100000,
    b'{"format": 1, "files": {"a": []}}',
    b'{"format": 1, "files": {"a": {"sha256": 5, "size": "x"}}}',
    b'{"format": 1, "files": {"a": {"sha256": "' + b"0" * 64 + b'", "size": 1e999}}}',
    b'{"format": 1, "files": [], "region": 7}',
    b'{"format": 1, "files": {}, "region": {"code": [], "name": {}}, "apps": "x", "kit_version": 1}',
    b'{"format": 1, "files": {}, "region": {"code": "36.01", "name": "x"}, "apps": [], "kit_version": "0.1.0",'
    b' "created": "2026-11-23T00:00:00Z", "extra": ' + b"[" * 5000 + b"]" * 5000 + b"}",
])
def test_a_signed_manifest_of_the_wrong_shape_is_refused_naming_it(tmp_path, keys, manifest):
    key, public = keys
    path = signed_with_manifest(tmp_path, key, manifest)
    with pytest.raises(ValidationFailed) as refused:
        bundle.verify(path, public)
    assert bundle.MANIFEST in str(refused.value.problems[0])


def test_a_folder_and_a_file_of_the_same_name_are_refused(tmp_path):
    def both(tar):
        add_member(tar, "project/region.yaml/inner", data=b"x")

    path = make_bundle(tmp_path, extra=both)
    with pytest.raises(ValidationFailed) as refused:
        bundle.verify(path)
    assert "project/region.yaml" in str(refused.value.problems[0])
    dirs = make_bundle(tmp_path / "d" if (tmp_path / "d").mkdir() is None else tmp_path, name="d.tar",
                       extra=lambda tar: add_member(tar, "playbooks/site.yml/", tarfile.DIRTYPE))
    with pytest.raises(ValidationFailed) as refused:
        bundle.verify(dirs)
    assert "playbooks/site.yml" in str(refused.value.problems[0])


def mutated_public_keys(public: Path) -> list[bytes]:
    text = public.read_bytes()
    kind, blob = text.split()[:2]
    raw = base64_decode(blob)
    renamed = raw.replace(b"ssh-ed25519", b"ssh-ed25518")
    return [b"ssh-ed25518 " + blob + b"\n", b"ssh-ed25519 " + base64_encode(renamed) + b"\n",
            b"ssh-rsa " + blob + b"\n", b"ssh-ed25519 " + base64_encode(raw[:-5]) + b"\n",
            b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VxAyEA" + b"A" * 43 + b"=\n-----END PUBLIC KEY-----\n",
            b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA" + b"A" * 43 + b"=\n-----END PUBLIC KEY-----\n",
            b"\xff\xfe" * 50]


def base64_decode(data: bytes) -> bytes:
    import base64

    return base64.b64decode(data)


def base64_encode(data: bytes) -> bytes:
    import base64

    return base64.b64encode(data)


def test_a_mutated_public_key_is_refused_clearly(tmp_path, keys):
    key, public = keys
    path = make_bundle(tmp_path, key=key)
    for number, data in enumerate(mutated_public_keys(public)):
        mutated = tmp_path / f"mutated-{number}.pub"
        mutated.write_bytes(data)
        run = subprocess.run([sys.executable, "-m", "regionkit", "bundle", "verify", str(path), "--public-key",
                              str(mutated)], capture_output=True, text=True)
        assert run.returncode == 2, (data, run.stderr)
        assert "internal error" not in run.stderr.lower() and "Traceback" not in run.stderr, run.stderr
        assert str(mutated) in run.stderr or "signature does not match" in run.stderr, run.stderr


def test_a_public_key_that_is_a_device_is_not_read_without_limit(tmp_path):
    with pytest.raises(InputError) as refused:
        bundle.load_public_key(Path("/dev/zero"))
    assert "/dev/zero" in str(refused.value.location)


# ---------------------------------------------------------------------------------------------------------------
# What `create` takes from the project (issue 11, item 8)


@pytest.fixture
def office_project(project):
    """An `init` project with a host whose ssh_key lies inside the project, and secrets lying around."""
    text = (project / "region.yaml").read_text()
    (project / "region.yaml").write_text(text.replace(
        "hosts: []\n",
        "hosts:\n  - {name: web1, address: 192.0.2.11, roles: [web, db], ssh_key: keys/field_ed25519}\n"))
    (project / "keys").mkdir()
    (project / "keys/field_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
    (project / "keys/field_ed25519").chmod(0o600)
    for name in (".vault-pass", ".vault-password", "office.vault-pass", "vault-pass.old"):
        (project / name).write_text("hunter2\n")
    (project / ".regionkit/ansible").mkdir(parents=True)
    (project / ".regionkit/vault-pass.123.tmp").write_text("hunter2\n")
    (project / "notes.txt").write_text("kept\n")
    (project / "notes.txt").chmod(0o640)
    return project


def copied(project: Path, tmp_path: Path) -> dict[str, int]:
    from regionkit.project.files import Project

    dest = tmp_path / "stage" / "project"
    packing._copy_project(project, dest, Project(project).profile())
    return {p.relative_to(dest).as_posix(): p.stat().st_mode & 0o777 for p in dest.rglob("*") if p.is_file()}


def test_create_takes_no_password_file_and_no_ssh_key(office_project, tmp_path):
    taken = copied(office_project, tmp_path)
    assert "region.yaml" in taken and taken["notes.txt"] == 0o640
    for secret in (".vault-pass", ".vault-password", "office.vault-pass", "vault-pass.old", "keys/field_ed25519"):
        assert secret not in taken, secret
    assert not any(name.startswith(".regionkit") for name in taken)


def test_create_takes_no_private_key_wherever_it_sits_in_a_file_and_no_underscore_password_file(office_project,
                                                                                                tmp_path):
    (office_project / "notes").mkdir()
    (office_project / "notes/padded.txt").write_text("a" * 9000 + "\n-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
    (office_project / "notes/field.ppk").write_text("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n")
    for name in (".vault_pass", "vault_password.txt", "office.vault_pass"):
        (office_project / name).write_text("hunter2\n")
    taken = copied(office_project, tmp_path)
    for secret in ("notes/padded.txt", "notes/field.ppk", ".vault_pass", "vault_password.txt", "office.vault_pass"):
        assert secret not in taken, secret
    assert "notes.txt" in taken


def test_create_follows_the_projects_ignore_rules(office_project, tmp_path):
    with open(office_project / ".gitignore", "a") as rules:
        rules.write("/private/\n*.secret\n!keep.secret\n")
    (office_project / "private").mkdir()
    (office_project / "private/minutes.txt").write_text("x\n")
    (office_project / "assets/token.secret").write_text("x\n")
    (office_project / "assets/keep.secret").write_text("x\n")
    taken = copied(office_project, tmp_path)
    assert "private/minutes.txt" not in taken and "assets/token.secret" not in taken
    assert "assets/keep.secret" in taken


@pytest.mark.parametrize("target", ["/etc/passwd", "../../outside.txt"])
def test_create_refuses_a_link_out_of_the_project(office_project, tmp_path, target):
    (office_project.parent / "outside.txt").write_text("not the project's\n")
    os_link = office_project / "assets/notes.txt"
    os_link.symlink_to(target)
    with pytest.raises(InputError) as refused:
        copied(office_project, tmp_path)
    assert "assets/notes.txt" in str(refused.value.location) and "link" in refused.value.message


# ---------------------------------------------------------------------------------------------------------------
# The field's first check, with tools the laptop already trusts (docs/field-guide.md, step 2)

DOCS = Path(__file__).resolve().parent.parent / "docs"


def first_check(doc: str) -> str:
    """The shell block of `doc` that verifies the signature with openssl."""
    blocks = [block.split("\n", 1)[1] for block in (DOCS / doc).read_text().split("```sh")[1:]]
    [check] = [block.split("```", 1)[0] for block in blocks if "openssl pkeyutl" in block.split("```", 1)[0]]
    return check


def signed_field_bundle(tmp_path: Path, key) -> Path:
    import shutil

    stage = tmp_path / "made"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    path = make_bundle(stage, key=key, name="pandeglang.tar")
    return path.rename(tmp_path / "pandeglang.tar")


def run_first_check(tmp_path: Path) -> subprocess.CompletedProcess:
    import shutil

    shutil.rmtree(tmp_path / "pandeglang-check", ignore_errors=True)
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", first_check("field-guide.md")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(subprocess.run(["sh", "-c", "command -v openssl sha256sum base64"], capture_output=True)
                    .returncode != 0, reason="needs openssl and coreutils")
def test_the_field_guides_first_check_trusts_only_openssl_and_refuses_tampering(tmp_path):
    private, _ = bundle.generate_key(tmp_path / "kominfo-bundle.key")
    assert (tmp_path / "kominfo-bundle.key.pub.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    key = bundle.load_private_key(private)
    path = signed_field_bundle(tmp_path, key)
    good = run_first_check(tmp_path)
    assert good.returncode == 0 and "Signature Verified Successfully" in good.stdout, good.stdout + good.stderr

    flip_byte_of(path, "wheels/regionkit-0.1.0-py3-none-any.whl")  # a changed wheel
    changed = run_first_check(tmp_path)
    assert changed.returncode != 0 and "FAILED" in changed.stdout + changed.stderr

    other = bundle.load_private_key(bundle.generate_key(tmp_path / "other" / "k")[0])
    path.unlink()
    signed_field_bundle(tmp_path, other)  # signed, but not by the office
    forged = run_first_check(tmp_path)
    assert forged.returncode != 0 and "Signature Verified Successfully" not in forged.stdout

    path.unlink()
    (tmp_path / "u").mkdir()
    make_bundle(tmp_path / "u", name="pandeglang.tar").rename(path)  # not signed at all
    unsigned = run_first_check(tmp_path)
    assert unsigned.returncode != 0 and "Signature Verified Successfully" not in unsigned.stdout


def test_the_indonesian_guide_and_bundle_md_run_the_same_first_check():
    def commands(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]

    english = commands(first_check("field-guide.md"))
    assert commands(first_check("field-guide.id.md")) == english
    assert commands(first_check("bundle.md"))[:len(english)] == english


def test_a_listed_file_that_is_also_a_folder_of_another_listed_file_is_refused(tmp_path):
    files = {"project/x": b"a file\n", "project/x/y": b"inside a file?\n"}
    manifest = {"format": bundle.FORMAT, "kit_version": "0.1.0", "created": "2026-11-23T00:00:00Z",
                "region": {"code": "36.01", "name": "Kabupaten Pandeglang"}, "apps": [],
                "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                          for name, data in files.items()}}
    path = tmp_path / "b.tar"
    with tarfile.open(path, "w") as tar:
        add_member(tar, bundle.MANIFEST, data=json.dumps(manifest).encode())
        for name, data in files.items():
            add_member(tar, name, data=data)
    dest = tmp_path / "field"
    with pytest.raises(ValidationFailed) as refused:
        bundle.extract(path, dest)
    assert "project/x" in str(refused.value.problems[0]) and "file and a folder" in str(refused.value.problems[0])
    assert not dest.exists()


@pytest.mark.parametrize("named", ["artifacts", "./x/../artifacts", "{root}/artifacts"])
def test_the_artifact_store_inside_the_project_is_left_out_however_region_yaml_names_it(office_project, tmp_path,
                                                                                         named):
    from regionkit.project.files import Project

    (office_project / "artifacts").mkdir()
    (office_project / "artifacts/index.json").write_text("{}\n")
    Project(office_project).write_artifacts_store(named.format(root=office_project))
    taken = copied(office_project, tmp_path)
    assert "region.yaml" in taken and not any(name.startswith("artifacts") for name in taken)
