"""Logo files every app needs, made from the region's PNG (Pillow) or passed through as SVG.

Without a logo, a plain badge with the region's initials on its primary colour stands in, so that every app
and unit site still has a header image and icons.
"""

from __future__ import annotations

import io

HEADER_HEIGHT = 128
SQUARE_SIZES = {"favicon-16.png": 16, "favicon-32.png": 32, "apple-touch-icon.png": 180, "icon-512.png": 512}
ANDROID_DENSITIES = {"mdpi": 48, "hdpi": 72, "xhdpi": 96, "xxhdpi": 144, "xxxhdpi": 192}


def branding_files(logo: bytes | None, logo_format: str | None, initials: str, colour: str) -> dict[str, bytes]:
    """Relative file name -> bytes, for `build/branding/`, from the logo's bytes as `logo.read_logo` checked them
    (format png or svg), or from a badge when there is none. Same inputs, same bytes."""
    from PIL import Image

    if logo is not None and logo_format == "svg":
        files = {"logo.svg": logo, "favicon.svg": logo}
        source = _badge(initials, colour)  # raster icons for Android and old browsers
    else:
        source = Image.open(io.BytesIO(logo), formats=["PNG"]).convert("RGBA") if logo is not None \
            else _badge(initials, colour)
        files = {}
    files["logo.png"] = _png(_fit_height(source, HEADER_HEIGHT))
    square = _square(source)
    for name, size in SQUARE_SIZES.items():
        files[name] = _png(square.resize((size, size), Image.Resampling.LANCZOS))
    for density, size in ANDROID_DENSITIES.items():
        files[f"android/mipmap-{density}/ic_launcher.png"] = _png(square.resize((size, size), Image.Resampling.LANCZOS))
    return files


def initials_of(name: str) -> str:
    """`Kabupaten Pandeglang` -> `KP`; `Polres Metro Tangerang Kota` -> `PM`."""
    words = [w for w in name.replace("-", " ").split() if w[:1].isalpha()]
    return "".join(w[0] for w in words[:2]).upper() or "RK"


def _badge(initials: str, colour: str):
    from PIL import Image, ImageDraw, ImageFont

    size = 512
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=96, fill=colour)
    font = ImageFont.load_default(size=220)
    draw.text((size / 2, size / 2), initials, fill="white", font=font, anchor="mm")
    return image


def _fit_height(image, height: int):
    from PIL import Image

    width = max(1, round(image.width * height / image.height))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _square(image):
    """Centre the image on a transparent square canvas."""
    from PIL import Image

    side = max(image.width, image.height)
    canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    canvas.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return canvas


def _png(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
