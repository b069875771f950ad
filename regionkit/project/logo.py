"""Region logos: a real PNG or SVG, recognised by content (not by file name), within size limits."""

from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from regionkit.confined import project_path, read_inside, read_named_file

MAX_BYTES = 2 * 1024 * 1024
MIN_PIXELS, MAX_PIXELS = 64, 4096
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Logo:
    format: str  # png | svg
    width: int | None
    height: int | None
    size: int


class LogoError(ValueError):
    """What is wrong with a logo file, in words for its user."""


def inspect_logo(path: Path) -> Logo:
    """Check a logo file the user names (links followed, e.g. `init --logo`) and describe it, or raise LogoError
    saying what is wrong. Only a regular file of at most MAX_BYTES is read."""

    try:
        data = read_named_file(Path(path), MAX_BYTES)
    except ValueError as exc:
        raise LogoError(str(exc)) from None
    return inspect_logo_bytes(data)


def read_logo(root: Path, rel: str) -> tuple[Logo, bytes]:
    """The logo `rel` of the project at `root`, read under the project-file rule (inside the project, no link,
    a regular file of at most MAX_BYTES; see regionkit.confined) and checked: what `validate` and `render` both
    use. LogoError saying what is wrong."""

    try:
        project_path(rel)
    except ValueError:
        raise LogoError("the logo must be a path inside the project, e.g. assets/logo.png") from None
    try:
        data = read_inside(root, rel, MAX_BYTES)
    except ValueError as exc:
        raise LogoError(str(exc)) from None
    return inspect_logo_bytes(data), data


def inspect_logo_bytes(data: bytes) -> Logo:
    """Describe a logo's bytes (a PNG that decodes, or a safe SVG), or raise LogoError."""
    if len(data) > MAX_BYTES:
        raise LogoError(f"{len(data):,} bytes; a logo may be at most {MAX_BYTES:,} bytes")
    if data.startswith(PNG_SIGNATURE):
        return _png(data)
    if _looks_like_svg(data):
        return _svg(data)
    raise LogoError("not a PNG or SVG image (checked by content)")


def _png(data: bytes) -> Logo:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise LogoError("broken PNG: no IHDR header")
    width, height = struct.unpack(">II", data[16:24])
    if b"IEND" not in data[-12:]:
        raise LogoError("broken PNG: the file is truncated (no IEND chunk)")
    for side in (width, height):
        if not MIN_PIXELS <= side <= MAX_PIXELS:
            raise LogoError(f"PNG is {width}x{height} pixels; each side must be {MIN_PIXELS} to {MAX_PIXELS}")
    _decode_png(data)
    return Logo("png", width, height, len(data))


def _decode_png(data: bytes) -> None:
    """Decode the whole image, as rendering the branding will: a header that looks right is not enough."""

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            image.load()
    except Exception as exc:  # Pillow's decoders raise many types (OSError, SyntaxError, ValueError, zlib...)
        raise LogoError(f"broken PNG: the image data does not decode ({exc})") from None


def _looks_like_svg(data: bytes) -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<?xml", b"<svg", b"<!--")) and b"<svg" in data[:65536].lower()


def _svg(data: bytes) -> Logo:
    if b"<!doctype" in data.lower() or b"<!entity" in data.lower():
        raise LogoError("SVG with a DOCTYPE or entities is refused")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise LogoError(f"broken SVG: {exc}") from None
    if root.tag not in ("svg", "{http://www.w3.org/2000/svg}svg"):
        raise LogoError("the XML root is not <svg>")
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1].lower()
        if tag in ("script", "foreignobject"):
            raise LogoError(f"SVG contains <{tag}>, which is not allowed in a logo")
        for name, value in element.attrib.items():
            name = name.rsplit("}", 1)[-1].lower()
            if name.startswith("on"):
                raise LogoError(f"SVG has an event handler ({name}), which is not allowed in a logo")
            if name == "href" and not value.startswith(("#", "data:image/")):
                raise LogoError("SVG links to an external resource, which is not allowed in a logo")
    return Logo("svg", None, None, len(data))
