import pytest
from conftest import SVG, make_png

from regionkit.project.logo import LogoError, inspect_logo


def test_real_png_and_svg(tmp_path):
    png = tmp_path / "a.png"
    png.write_bytes(make_png(200, 100))
    assert (inspect_logo(png).format, inspect_logo(png).width, inspect_logo(png).height) == ("png", 200, 100)
    svg = tmp_path / "a.svg"
    svg.write_bytes(SVG)
    assert inspect_logo(svg).format == "svg"


def test_content_not_extension_decides(tmp_path):
    disguised = tmp_path / "logo.png"
    disguised.write_bytes(SVG)
    assert inspect_logo(disguised).format == "svg"
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"GIF89a not really a logo")
    with pytest.raises(LogoError, match="not a PNG or SVG"):
        inspect_logo(fake)


@pytest.mark.parametrize("data, message", [
    (make_png(16, 16), "each side must be 64 to 4096"),
    (make_png()[:-12], "truncated"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "no IHDR"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "<script>"),
    (b"<svg xmlns='http://www.w3.org/2000/svg' onload='x()'/>", "event handler"),
    (b"<svg xmlns='http://www.w3.org/2000/svg' xmlns:x='http://www.w3.org/1999/xlink'>"
     b"<image x:href='http://evil.example/a.png'/></svg>", "external resource"),
    (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>', "DOCTYPE"),
    (b"<svg><unclosed></svg>", "broken SVG"),
    (b"<?xml version='1.0'?><html><svg/></html>", "root is not <svg>"),
])
def test_bad_logos(tmp_path, data, message):
    path = tmp_path / "logo"
    path.write_bytes(data)
    with pytest.raises(LogoError, match=message):
        inspect_logo(path)


def test_size_limit(tmp_path):
    path = tmp_path / "big.svg"
    path.write_bytes(SVG[:-7] + b"<!--" + b"x" * (2 * 1024 * 1024) + b"--></svg>")
    with pytest.raises(LogoError, match="at most"):
        inspect_logo(path)
