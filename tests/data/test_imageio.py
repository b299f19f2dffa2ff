"""Images read faithfully or refused: 16-bit, palette, alpha, 1-bit, EXIF orientation,
decompression bombs, the pixel limit, and images too small for the backbone."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evalsuite.data import imageio
from evalsuite.data.imageio import image_size, read_image, read_mask
from evalsuite.data.reader import check_dataset
from evalsuite.errors import DatasetError


def _ramp16() -> np.ndarray:
    """(32, 64) uint16 covering 0..65535: the 8-bit value of column c is round(c * 255 / 63)."""
    row = np.round(np.arange(64) * 65535 / 63).astype(np.uint16)
    return np.tile(row, (32, 1))


def _png_rgb16(path: Path, rgb: np.ndarray) -> None:
    """Write (H, W, 3) uint16 as a 16-bit-per-channel RGB PNG by hand (Pillow cannot)."""
    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_sixteen_bit_gray_is_scaled_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "gray16.png"
    Image.fromarray(_ramp16()).save(path)
    with Image.open(path) as opened:
        assert opened.mode == "I;16"
    pixels = read_image(path)
    assert pixels.dtype == np.uint8 and pixels.shape == (32, 64)
    np.testing.assert_array_equal(pixels[0], np.round(np.arange(64) * 255 / 63).astype(np.uint8))
    assert (pixels == 255).sum() == 32  # only the last column is white, not all but the first


def test_sixteen_bit_rgb_is_scaled(tmp_path: Path) -> None:
    path = tmp_path / "rgb16.png"
    ramp = _ramp16()
    _png_rgb16(path, np.stack([ramp, ramp[:, ::-1], np.full_like(ramp, 257 * 100)], axis=-1))
    pixels = read_image(path)
    assert pixels.shape == (32, 64, 3)
    expected = np.arange(64) * 255 / 63  # Pillow keeps the high byte: within 1 of this
    np.testing.assert_allclose(pixels[0, :, 0], expected, atol=1)
    np.testing.assert_allclose(pixels[0, :, 1], expected[::-1], atol=1)
    assert pixels[0, -1, 0] == 255 and pixels[0, 0, 0] == 0
    assert set(np.unique(pixels[..., 2]).tolist()) == {100}


def test_palette_image_is_expanded_to_its_colours(tmp_path: Path) -> None:
    rgb = np.zeros((40, 40, 3), np.uint8)
    rgb[:, :20] = (200, 30, 10)
    rgb[:, 20:] = (5, 90, 250)
    path = tmp_path / "palette.png"
    Image.fromarray(rgb).quantize(colors=2).save(path)
    with Image.open(path) as opened:
        assert opened.mode == "P"
    np.testing.assert_array_equal(read_image(path), rgb)


def test_alpha_is_composited_onto_black(tmp_path: Path) -> None:
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[:, :20, 3] = 255  # opaque left half
    rgba[:, 20:, 3] = 0  # transparent right half, whatever colour is stored under it
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba).save(path)
    pixels = read_image(path)
    assert pixels.shape == (40, 40, 3)
    assert (pixels[:, :20] == (200, 100, 50)).all() and (pixels[:, 20:] == 0).all()
    gray = tmp_path / "la.png"
    Image.fromarray(np.stack([np.full((40, 40), 180, np.uint8), rgba[..., 3]], -1), "LA").save(gray)
    assert (read_image(gray)[:, :20] == 180).all() and (read_image(gray)[:, 20:] == 0).all()


def test_one_bit_image_is_black_and_white(tmp_path: Path) -> None:
    bits = np.zeros((40, 40), bool)
    bits[10:20] = True
    path = tmp_path / "bits.png"
    Image.fromarray(bits).save(path)
    np.testing.assert_array_equal(read_image(path), bits.astype(np.uint8) * 255)


def test_exif_orientation_is_applied_to_pixels_and_size(tmp_path: Path) -> None:
    """A camera JPEG stored landscape with orientation 6 (rotate 90° clockwise to view) is read
    portrait, as a viewer shows it; its header size says so too."""
    stored = np.zeros((40, 64, 3), np.uint8)
    stored[:, :8] = 255  # a white band on the stored image's left edge
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(path, exif=exif, quality=100)
    pixels = read_image(path)
    assert pixels.shape == (64, 40, 3)
    assert pixels[:6].mean() > 240 and pixels[10:].mean() < 15  # the band is now on top
    assert image_size(path) == (40, 64)


def test_floating_point_image_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "float.tif"
    Image.fromarray(np.full((40, 40), 0.5, np.float32)).save(path)
    with pytest.raises(DatasetError, match=r"float\.tif: floating-point pixels \(mode F\)"):
        read_image(path)


def test_sixteen_bit_masks_are_binary(tmp_path: Path) -> None:
    values = np.zeros((40, 40), np.uint16)
    values[5:15, 5:15] = 65535
    path = tmp_path / "mask16.png"
    Image.fromarray(values).save(path)
    np.testing.assert_array_equal(read_mask(path), values > 0)
    values[5:15, 5:15] = 1
    Image.fromarray(values).save(path)
    np.testing.assert_array_equal(read_mask(path), values > 0)


def test_image_above_the_pixel_limit_is_refused_from_its_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "large.png"
    Image.fromarray(np.zeros((100, 120), np.uint8)).save(path)
    monkeypatch.setattr(imageio, "MAX_IMAGE_PIXELS", 100 * 120 - 1)
    for read in (read_image, read_mask, image_size):
        with pytest.raises(DatasetError, match=r"large\.png: image of 120x100 pixels is larger"):
            read(path)


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    """A 30000 x 30000 PNG of zeros is 0.9 GB of pixels in under a megabyte of file: refused
    from its header (Pillow's own bomb check or our limit), not decoded."""
    path = tmp_path / "bomb.png"
    width = height = 30_000
    row = zlib.compress(b"\x00" * (width + 1))
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(b"\x00" * (width + 1)) for _ in range(height))
    data += compressor.flush()
    assert len(row) > 0 and len(data) < 2_000_000

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
    with pytest.raises(DatasetError, match=r"bomb\.png: (image of 30000x30000|refused as a)"):
        read_image(path)


def test_tiny_images_and_clashing_names_are_problems_of_the_tree(
    make_tree: object, tmp_path: Path
) -> None:
    root = make_tree("data", categories=("alpha",))  # type: ignore[operator]
    good = root / "alpha/train/good"
    Image.fromarray(np.zeros((16, 48), np.uint8)).save(good / "tiny.png")
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(good / "000.jpg")  # beside 000.png
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(good / "g 0.png")
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(good / "g#0.png")
    problems = check_dataset(root).problems
    assert any(
        f"{good / 'tiny.png'}: image of 48x16 pixels is smaller than 32" in p for p in problems
    )
    assert any(str(good / "000.jpg") in p and str(good / "000.png") in p for p in problems)
    assert any(str(good / "g 0.png") in p and str(good / "g#0.png") in p for p in problems)
    assert len(problems) == 3, problems
