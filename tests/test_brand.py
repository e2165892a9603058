"""The brand images follow Home Assistant's brand image rules.

The rules of the brands repository's README and validation script, which Home
Assistant 2026.3+ applies to a custom integration's brand/ folder as well: PNG, sRGB,
transparent background preferred, trimmed to the drawing, icons square 256x256 (512x512
for @2x), logos with the shortest side 128-256 px (256-512 px for @2x), no file a copy
of another. scripts/draw_brand.py draws them.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

from PIL import Image
import pytest

BRAND = Path(__file__).resolve().parent.parent / "custom_components" / "sunvec_connect" / "brand"
KNOWN = {
    f"{theme}{kind}{density}.png"
    for theme in ("", "dark_")
    for kind in ("icon", "logo")
    for density in ("", "@2x")
}
IMAGES = sorted(BRAND.glob("*"))
MIN_TRANSPARENT_SHARE = 0.2


def _open(path: Path) -> Image.Image:
    image = Image.open(path)
    image.load()
    return image


def _shortest_side_range(name: str) -> tuple[int, int]:
    return (256, 512) if "@2x" in name else (128, 256)


def test_the_folder_holds_known_images_only() -> None:
    names = {path.name for path in IMAGES}
    assert "icon.png" in names
    assert names <= KNOWN, names - KNOWN
    for name in names:
        if "@2x" in name:
            assert name.replace("@2x", "") in names, f"{name} without its normal version"


@pytest.mark.parametrize("path", IMAGES, ids=lambda path: path.name)
def test_png_in_srgb_with_alpha(path: Path) -> None:
    image = _open(path)
    assert image.format == "PNG"
    assert image.mode == "RGBA"
    # Without an embedded profile a PNG is read as sRGB.
    assert "icc_profile" not in image.info


@pytest.mark.parametrize("path", IMAGES, ids=lambda path: path.name)
def test_size(path: Path) -> None:
    width, height = _open(path).size
    if "icon" in path.name:
        side = 512 if "@2x" in path.name else 256
        assert (width, height) == (side, side)
    else:
        low, high = _shortest_side_range(path.name)
        assert low <= min(width, height) <= high
        assert width >= height, "a landscape logo is preferred"


@pytest.mark.parametrize("path", IMAGES, ids=lambda path: path.name)
def test_transparent_background(path: Path) -> None:
    image = _open(path)
    alpha = image.getchannel("A")
    histogram = alpha.histogram()
    assert histogram[0] / (image.width * image.height) >= MIN_TRANSPARENT_SHARE
    # A filled background would make every pixel along the border opaque.
    border = [
        *(alpha.getpixel((x, y)) for x in range(image.width) for y in (0, image.height - 1)),
        *(alpha.getpixel((x, y)) for y in range(image.height) for x in (0, image.width - 1)),
    ]
    assert min(border) == 0


@pytest.mark.parametrize("path", IMAGES, ids=lambda path: path.name)
def test_trimmed_to_the_drawing(path: Path) -> None:
    image = _open(path)
    box = image.getchannel("A").getbbox()
    assert box is not None
    left, top, right, bottom = box
    if "icon" in path.name:
        # Square by rule: the drawing spans the icon along its longer side.
        assert (left, right) == (0, image.width) or (top, bottom) == (0, image.height), box
    else:
        assert box == (0, 0, image.width, image.height)


@pytest.mark.parametrize(
    "path", [path for path in IMAGES if "@2x" in path.name], ids=lambda path: path.name
)
def test_high_dpi_is_twice_the_normal(path: Path) -> None:
    double = _open(path).size
    normal = _open(path.with_name(path.name.replace("@2x", ""))).size
    assert all(abs(big - 2 * small) <= 1 for big, small in zip(double, normal, strict=True))


def test_no_image_is_a_copy_of_another() -> None:
    for first, second in combinations(IMAGES, 2):
        assert first.read_bytes() != second.read_bytes(), (first.name, second.name)
