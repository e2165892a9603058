"""Draw the integration's brand images (icon, logo, dark logo and their @2x versions).

Run with .venv/bin/python scripts/draw_brand.py; the images are committed and
tests/test_brand.py checks them against Home Assistant's brand image rules: PNG with a
transparent background, trimmed to the drawing, icons 256x256 and 512x512, logos with
the shortest side 128 to 256 (256 to 512 for @2x). Home Assistant 2026.3 and later serve
them from the integration's brand/ folder.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BRAND = Path(__file__).resolve().parent.parent / "custom_components" / "sunvec_connect" / "brand"
SUN = (247, 181, 0, 255)
PANEL = (21, 82, 153, 255)
GRID = (200, 225, 250, 255)
TEXT = (33, 33, 33, 255)
DARK_TEXT = (225, 225, 225, 255)
"""The name on the dark theme's logo."""
SUPERSAMPLING = 4
"""Shapes are drawn this many times larger and scaled down, for smooth edges."""
NAME = "Sunvec Connect"


def draw_sun_and_panel(size: int) -> Image.Image:
    """A sun rising over a solar panel, on a transparent square of `size` pixels."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    s = size / 256
    cx, cy, radius = 128 * s, 100 * s, 42 * s
    for ray in range(12):
        angle = math.pi * 2 * ray / 12
        inner, outer = radius + 10 * s, radius + 34 * s
        draw.line(
            (
                cx + inner * math.cos(angle),
                cy + inner * math.sin(angle),
                cx + outer * math.cos(angle),
                cy + outer * math.sin(angle),
            ),
            fill=SUN,
            width=max(1, round(10 * s)),
        )
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=SUN)
    panel = [(40 * s, 250 * s), (216 * s, 250 * s), (190 * s, 150 * s), (66 * s, 150 * s)]
    draw.polygon(panel, fill=PANEL)
    for row in range(1, 4):
        t = row / 4
        y = 150 * s + t * 100 * s
        left = 66 * s - t * 26 * s
        right = 190 * s + t * 26 * s
        draw.line((left, y, right, y), fill=GRID, width=max(1, round(3 * s)))
    for column in range(1, 4):
        t = column / 4
        top = 66 * s + t * 124 * s
        bottom = 40 * s + t * 176 * s
        draw.line((top, 150 * s, bottom, 250 * s), fill=GRID, width=max(1, round(3 * s)))
    return image


def trimmed(image: Image.Image) -> Image.Image:
    """`image` cropped to its visible (not fully transparent) pixels."""
    box = image.getchannel("A").getbbox()
    if box is None:
        raise ValueError("nothing drawn")
    return image.crop(box)


def draw_icon(size: int) -> Image.Image:
    """The sun and panel filling a transparent `size` square along its longer side."""
    drawing = trimmed(draw_sun_and_panel(size * SUPERSAMPLING))
    scale = size / max(drawing.size)
    width, height = (max(1, round(side * scale)) for side in drawing.size)
    icon = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    icon.paste(
        drawing.resize((width, height), Image.Resampling.LANCZOS),
        ((size - width) // 2, (size - height) // 2),
    )
    return icon


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf", size)
    except OSError:
        return ImageFont.load_default(size)


def draw_logo(height: int, text_color: tuple[int, int, int, int] = TEXT) -> Image.Image:
    """The sun and panel followed by the name, trimmed and `height` pixels high."""
    big = height * SUPERSAMPLING
    mark = trimmed(draw_sun_and_panel(big))
    mark = mark.resize((round(mark.width * big / mark.height), big), Image.Resampling.LANCZOS)
    font = _font(round(big * 0.42))
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), NAME, font=font)
    gap = round(big * 0.12)
    canvas = Image.new("RGBA", (mark.width + gap + (right - left), big), (0, 0, 0, 0))
    canvas.paste(mark, (0, 0), mark)
    origin = (mark.width + gap - left, (big - (bottom - top)) / 2 - top)
    ImageDraw.Draw(canvas).text(origin, NAME, font=font, fill=text_color)
    logo = trimmed(canvas)
    return logo.resize((round(logo.width * height / logo.height), height), Image.Resampling.LANCZOS)


def main() -> None:
    """Write the brand images."""
    BRAND.mkdir(parents=True, exist_ok=True)
    images = {
        "icon.png": draw_icon(256),
        "icon@2x.png": draw_icon(512),
        "logo.png": draw_logo(128),
        "logo@2x.png": draw_logo(256),
        "dark_logo.png": draw_logo(128, DARK_TEXT),
        "dark_logo@2x.png": draw_logo(256, DARK_TEXT),
    }
    for name, image in images.items():
        image.save(BRAND / name, optimize=True)


if __name__ == "__main__":
    main()
