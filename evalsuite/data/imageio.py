"""Reading and writing images and masks, with errors that name the file.

An image is read faithfully or refused (see `evalsuite.data.pixels` for the modes): its EXIF
orientation is applied (so image and mask agree as a viewer shows them), and an image of more
than `MAX_IMAGE_PIXELS` pixels, or one Pillow flags as a decompression bomb, is refused from
its header, before any pixel is decoded.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from evalsuite.atomic import write_bytes
from evalsuite.data.pixels import PixelError, to_uint8
from evalsuite.errors import DatasetError
from evalsuite.limits import MAX_IMAGE_PIXELS

_TRANSPOSED = (5, 6, 7, 8)
"""EXIF orientations that swap width and height."""
_ORIENTATION = 0x0112


@contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    """`Image.open(path)` with its size checked against the limit; errors name `path`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise DatasetError(
                        f"{path}: image of {width}x{height} pixels is larger than the limit of "
                        f"{MAX_IMAGE_PIXELS:,} pixels; downscale it or remove it"
                    )
                yield image
    except FileNotFoundError as error:
        raise DatasetError(f"{path}: image file not found") from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DatasetError(
            f"{path}: refused as a decompression bomb ({error}); remove the file"
        ) from error


def _decoded(path: Path) -> Image.Image:
    """The fully decoded image at `path`, EXIF orientation applied."""
    try:
        with _opened(path) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
            upright.load()
            return upright
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise DatasetError(
            f"{path}: unreadable or truncated image ({error}); replace or delete the file"
        ) from error


def read_image(path: Path) -> np.ndarray:
    """Read an image fully (a truncated file fails here, not later), converted faithfully.

    Returns:
        (H, W, 3) uint8 for colour images, (H, W) uint8 for grayscale ones (16-bit scaled).

    Raises:
        DatasetError: missing, unreadable, truncated, too large, or pixels without a faithful
            8-bit form; naming the file.
    """
    image = _decoded(path)
    try:
        return to_uint8(image)
    except PixelError as error:
        raise DatasetError(f"{path}: {error}") from error


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image as it is shown (EXIF orientation applied), from its header."""
    try:
        with _opened(path) as image:
            width, height = image.size
            if image.getexif().get(_ORIENTATION) in _TRANSPOSED:
                return height, width
            return width, height
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise DatasetError(f"{path}: unreadable image ({error})") from error


def _label_mask(path: Path) -> bool:
    """Whether `path` is a VisA mask (`<object>/Data/Masks/<label>/<name>`): those hold
    region labels (0 background, 1, 2, ... one per defect region), not 0/255."""
    parts = path.parts
    return len(parts) >= 4 and parts[-4:-2] == ("Data", "Masks")


def read_mask(path: Path) -> np.ndarray:
    """Read a ground-truth mask and check it is binary (a VisA mask, whose values label its
    defect regions, is binarised: any non-zero value is defect).

    Returns:
        (H, W) bool, True on defect pixels.
    """
    image = _decoded(path)
    if _label_mask(path):
        array = np.asarray(image)
        return (array[..., :3].max(axis=2) if array.ndim == 3 else array) > 0
    if image.mode.startswith("I"):  # 16-bit: its raw values, so 0/1 and 0/65535 masks pass
        array = np.asarray(image).astype(np.int64)
    else:
        try:
            array = to_uint8(image)
        except PixelError as error:
            raise DatasetError(f"{path}: {error}") from error
    if array.ndim == 3:
        array = array.max(axis=2)
    values = np.unique(array)
    if not any(set(values.tolist()) <= {0, top} for top in (1, 255, 65535)):
        shown = ", ".join(str(v) for v in values[:6])
        raise DatasetError(
            f"{path}: mask is not binary (values {shown}{', ...' if len(values) > 6 else ''}); "
            "masks must hold only 0 and 255 (or 0 and 1, or 0 and 65535 in 16 bits)"
        )
    return array > 0


def write_png(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as PNG atomically (temp file + rename).

    Args:
        path: destination.
        array: (H, W) or (H, W, 3) uint8.
    """
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG")
    write_bytes(path, buffer.getvalue(), durable=False)
