"""`regionkit render`: real files for every chosen app, a manifest that matches, refusals that leave no trace."""

import json
import os
from pathlib import Path

import pytest
from conftest import SVG, make_png, with_hosts
from PIL import Image

from regionkit.render.build import _inside, read_manifest, verify_build

SAMPLE_APPS = ["--preset", "pandeglang-2021", "website-opd", "website-kecamatan", "laksa-android", "sp4n-lapor"]


@pytest.fixture
def sample(cli, project):
    """Pandeglang with the 2021 package, unit sites, an Android app and a national platform, rendered once."""
    with_hosts(project)
    assert cli("apps", "add", *SAMPLE_APPS).exit_code == 0
    result = cli("render")
    assert result.exit_code == 0, result.output
    return project


def files_of(build: Path) -> dict[str, bytes]:
    return {p.relative_to(build).as_posix(): p.read_bytes() for p in sorted(build.rglob("*")) if p.is_file()}


def test_every_chosen_app_gets_files_with_the_region_in_them(cli, sample):
    build = sample / "build"
    manifest = read_manifest(build)
    chosen = [r["id"] for r in cli.json("apps", "list", "--json")]
    assert sorted(manifest["apps"]) == sorted(chosen)
    for app_id, record in manifest["apps"].items():
        texts = [(build / rel).read_bytes().decode("utf-8", "replace") for rel in record["files"]]
        assert record["files"], app_id
        assert any("Kabupaten Pandeglang" in t for t in texts), app_id
        assert any("pandeglangkab.go.id" in t for t in texts), app_id
    env = (build / "apps/e-office/app.env").read_text()
    assert 'APP_URL="https://e-office.pandeglangkab.go.id/"' in env and 'DB_HOST="192.0.2.12"' in env
    assert 'APP_TIMEZONE="Asia/Jakarta"' in env and "REGION_UNITS=69" in env
    assert "server_name e-office.pandeglangkab.go.id;" in (build / "apps/e-office/nginx.conf").read_text()
    assert "[regionkit-e-office]" in (build / "apps/e-office/php-fpm.conf").read_text()


def test_one_site_per_unit(sample):
    sites = sample / "build/apps/website-opd/sites"
    assert len(list(sites.iterdir())) == 34
    assert len(list((sample / "build/apps/website-kecamatan/sites").iterdir())) == 35
    page = (sites / "diskominfo" / "index.html").read_text()
    assert "Dinas Komunikasi dan Informatika" in page and "Kabupaten Pandeglang" in page
    assert 'href="https://e-office.pandeglangkab.go.id/"' in page  # links to the region's other services
    assert "<script" not in page
    nginx = (sample / "build/apps/website-opd/nginx.conf").read_text()
    assert "diskominfo.pandeglangkab.go.id diskominfo;" in nginx


def test_android_and_national_outputs(sample):
    android = json.loads((sample / "build/apps/laksa-android/android.json").read_text())
    assert android["applicationId"] == "id.go.pandeglangkab.laksa"
    icon = Image.open(sample / "build/apps/laksa-android/res/mipmap-xxxhdpi/ic_launcher.png")
    assert icon.size == (192, 192)
    national = (sample / "build/apps/sp4n-lapor/integration.yaml").read_text()
    assert "vault_key: sp4n-lapor/api_token" in national and "secret: true" in national


def test_manifest_matches_and_rendering_twice_changes_nothing(cli, sample):
    build = sample / "build"
    assert verify_build(build) == []
    before = files_of(build)
    again = cli("render", "--json")
    assert json.loads(again.stdout)["changed"] == []
    assert files_of(build) == before
    other = sample.parent / "elsewhere"
    assert cli("render", "--out", other).exit_code == 0
    assert files_of(other) == before  # byte-identical, wherever it is written


def test_diff_shows_exactly_the_files_that_use_a_changed_name(cli, sample):
    build = sample / "build"
    using_name = {rel for rel, data in files_of(build).items() if b"Kabupaten Pandeglang" in data}
    profile = sample / "region.yaml"
    profile.write_text(profile.read_text().replace("name: Kabupaten Pandeglang", "name: Kabupaten Pandeglang Raya"))
    before = files_of(build)
    result = cli("render", "--diff", "--json")
    diff = json.loads(result.stdout)["diff"]
    changed = {line[6:] for line in diff.splitlines() if line.startswith("+++ b/")}
    assert changed == using_name - {"manifest.json"}
    assert "+REGION_NAME=\"Kabupaten Pandeglang Raya\"" in diff
    assert files_of(build) == before  # --diff writes nothing
    assert "no changes" not in cli("render", "--diff").stdout


@pytest.mark.parametrize("template, message", [
    ("x={{ region.nme }}\n", "has no attribute 'nme'"),
    ("ok\n{{ ''.__class__.__mro__[1].__subclasses__() }}\n", "refused by the sandbox"),
    ("{{ cycler.__init__.__globals__.os }}\n", "refused by the sandbox"),
    ("{% if %}\n", "template syntax error"),
    ("{% include '../../../../etc/passwd' %}\n", "template not found"),
])
def test_bad_templates_are_refused_and_the_build_is_untouched(cli, sample, template, message):
    before = files_of(sample / "build")
    override = sample / "templates/apps/e-office/extra.conf.j2"
    override.parent.mkdir(parents=True)
    override.write_text(template)
    result = cli("render")
    assert result.exit_code == 2
    assert message in result.stderr and str(override) in result.stderr
    assert files_of(sample / "build") == before
    assert [p.name for p in sample.iterdir() if p.name.startswith(".build")] == []


def test_template_links_out_of_the_template_folders_are_refused(cli, sample):
    override = sample / "templates/apps/e-office/passwd.j2"
    override.parent.mkdir(parents=True)
    os.symlink("/etc/passwd", override)
    result = cli("render")
    assert result.exit_code == 2 and "is a symbolic link" in result.stderr


def test_output_paths_cannot_leave_the_build_folder():
    for bad in ("../x", "apps/../../x", "/etc/x", "apps//x", "apps/./x"):
        with pytest.raises(Exception, match="would leave the build folder"):
            _inside(bad)
    assert _inside("apps/e-office/app.env") == "apps/e-office/app.env"


def test_a_unit_code_that_escapes_is_refused(sample):
    from regionkit.catalog.model import load_catalog
    from regionkit.errors import InputError
    from regionkit.project.files import Project
    from regionkit.project.region import Unit
    from regionkit.render.build import Renderer

    profile = Project(sample).profile()
    profile.units[0] = Unit.model_construct(**{**profile.units[0].model_dump(), "code": "../../../tmp/evil"})
    with pytest.raises(InputError, match="would leave the build folder"):
        Renderer(sample, profile, load_catalog()).build(sample / "build")
    assert not Path("/tmp/evil").exists()


def test_project_overrides_are_used_and_listed(cli, sample):
    override = sample / "templates/apps/kinds/web/theme.css.j2"
    override.parent.mkdir(parents=True)
    override.write_text(":root { --brand: {{ region.primary_colour }}; } /* {{ region.name }} custom */\n")
    result = json.loads(cli("render", "--json").stdout)
    assert result["overrides"] == ["templates/apps/kinds/web/theme.css.j2"]
    assert "custom" in (sample / "build/apps/e-office/theme.css").read_text()
    assert read_manifest(sample / "build")["apps"]["e-office"]["overrides"] == result["overrides"]


def test_render_one_app(cli, sample):
    build = sample / "build"
    before = files_of(build)
    override = sample / "templates/apps/kinds/web/theme.css.j2"
    override.parent.mkdir(parents=True)
    override.write_text("/* changed {{ region.name }} */\n")
    assert cli("render", "--app", "e-office").exit_code == 0
    after = files_of(build)
    changed = {rel for rel in after if after[rel] != before.get(rel)}
    assert changed == {"apps/e-office/theme.css", "manifest.json"}
    assert verify_build(build) == []
    assert cli("render", "--app", "laksaa").exit_code == 2


def test_logos(cli, sample):
    (sample / "assets/logo.png").write_bytes(make_png(400, 200))
    profile = sample / "region.yaml"
    profile.write_text(profile.read_text().replace("  logo: null", "  logo: assets/logo.png"))
    assert cli("render").exit_code == 0
    branding = sample / "build/branding"
    assert Image.open(branding / "logo.png").size == (256, 128)
    assert Image.open(branding / "favicon-32.png").size == (32, 32)
    assert Image.open(branding / "apple-touch-icon.png").size == (180, 180)
    (sample / "assets/logo.svg").write_bytes(SVG)
    profile.write_text(profile.read_text().replace("  logo: assets/logo.png", "  logo: assets/logo.svg"))
    assert cli("render").exit_code == 0
    assert (branding / "logo.svg").read_bytes() == SVG
    assert Image.open(branding / "android/mipmap-hdpi/ic_launcher.png").size == (72, 72)


def test_refuses_to_replace_a_folder_it_did_not_make(cli, sample, tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"jpg")
    result = cli("render", "--out", foreign)
    assert result.exit_code == 2 and "did not make" in result.stderr
    assert [p.name for p in foreign.iterdir()] == ["holiday.jpg"]


# ---------------------------------------------------------------------------------------------------------------
# One confinement rule for every file read from the project (issue 11, items 6 and 15)


@pytest.mark.parametrize("name, target", [
    ("templates/apps/kinds/web/x.txt", "/etc/shadow"),
    ("templates/apps/kinds/web/x.txt", "../../../../region.yaml"),  # inside the project: refused too
    ("templates/apps/e-office/nginx.conf.j2", "/etc/passwd"),
    ("templates/macros/evil.j2", "/etc/shadow"),
])
def test_a_project_template_that_is_a_link_is_refused_and_nothing_is_built(cli, sample, name, target):
    before = files_of(sample / "build")
    link = sample / name
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)
    result = cli("render")
    assert result.exit_code == 2, result.output
    assert "link" in result.stderr and name in result.stderr
    assert files_of(sample / "build") == before


def test_a_project_template_folder_that_is_a_link_is_refused(cli, sample, tmp_path):
    outside = tmp_path / "elsewhere"
    (outside / "web").mkdir(parents=True)
    (outside / "web/x.txt").write_text("from outside\n")
    (sample / "templates/apps").mkdir(parents=True)
    os.symlink(outside, sample / "templates/apps/kinds")
    result = cli("render")
    assert result.exit_code == 2 and "templates/apps/kinds" in result.stderr and "link" in result.stderr
    assert not (sample / "build/apps/e-office/x.txt").exists()


def test_a_project_template_that_is_a_fifo_is_refused_without_blocking(cli, sample):
    fifo = sample / "templates/apps/kinds/web/pipe.txt"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    result = cli("render")
    assert result.exit_code == 2 and "pipe.txt" in result.stderr and "regular file" in result.stderr


def test_a_huge_project_template_is_refused(cli, sample):
    from regionkit.confined import MAX_FILE_BYTES

    big = sample / "templates/apps/kinds/web/big.txt"
    big.parent.mkdir(parents=True)
    with open(big, "wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    result = cli("render")
    assert result.exit_code == 2 and "big.txt" in result.stderr and "at most" in result.stderr


def set_logo(project: Path, value: str) -> None:
    profile = project / "region.yaml"
    text = profile.read_text()
    start = text.index("  logo: ")
    end = text.index("\n", start)
    profile.write_text(text[:start] + f"  logo: {value}" + text[end:])


@pytest.mark.parametrize("data, message", [
    (make_png(16, 16), "each side must be 64 to 4096"),
    (make_png()[:40] + b"\x00" * 30 + make_png()[-12:], "PNG"),  # right header, broken image data
    (b"GIF89a", "not a PNG or SVG"),
])
def test_a_logo_validate_rejects_is_refused_by_render_the_same_way(cli, sample, data, message):
    (sample / "assets/logo.png").write_bytes(data)
    set_logo(sample, "assets/logo.png")
    validate = cli("validate")
    assert validate.exit_code == 2 and message in validate.output
    result = cli("render")
    assert result.exit_code == 2 and message in result.stderr and "region.yaml" in result.stderr, result.output
    assert "internal error" not in result.output.lower()


def test_a_logo_linked_to_dev_zero_is_refused_without_reading_it(cli, sample):
    os.symlink("/dev/zero", sample / "assets/logo.png")
    set_logo(sample, "assets/logo.png")
    for command in ("validate", "render"):
        result = cli(command)
        assert result.exit_code == 2 and "link" in result.output, (command, result.output)


@pytest.mark.parametrize("where", ["outside", "absolute"])
def test_a_logo_outside_the_project_is_not_read_by_render(cli, sample, tmp_path, where):
    outside = tmp_path / "outside.png"
    outside.write_bytes(make_png(300, 100))
    set_logo(sample, "../outside.png" if where == "outside" else str(outside))
    result = cli("render")
    assert result.exit_code == 2 and "inside the project" in result.stderr, result.output
    assert not (sample / "build/branding/logo.png").exists() or \
        Image.open(sample / "build/branding/logo.png").size != (384, 128)
