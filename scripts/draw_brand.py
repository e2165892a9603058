"""Draw the integration's brand images (icon.png, logo.png and their @2x versions).

Run with .venv/bin/python scripts/draw_brand.py; the images are committed.
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


def draw_icon(size: int) -> Image.Image:
    """A sun rising over a solar panel."""
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


def draw_logo(height: int) -> Image.Image:
    """The icon followed by the name."""
    icon = draw_icon(height)
    font_size = round(height * 0.42)
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.truetype(
            "DejaVuSans-Bold.ttf", font_size
        )
    except OSError:
        font = ImageFont.load_default(font_size)
    text = "Sunvec Connect"
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
    width = height + round(height * 0.1) + (right - left) + round(height * 0.1)
    logo = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    logo.paste(icon, (0, 0), icon)
    draw = ImageDraw.Draw(logo)
    draw.text(
        (height + round(height * 0.1) - left, (height - (bottom - top)) / 2 - top),
        text,
        font=font,
        fill=TEXT,
    )
    return logo


def main() -> None:
    """Write the brand images."""
    BRAND.mkdir(parents=True, exist_ok=True)
    draw_icon(256).save(BRAND / "icon.png")
    draw_icon(512).save(BRAND / "icon@2x.png")
    draw_logo(128).save(BRAND / "logo.png")
    draw_logo(256).save(BRAND / "logo@2x.png")


if __name__ == "__main__":
    main()
