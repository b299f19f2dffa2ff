"""Reading and writing images and masks, with errors that name the file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from evalsuite.atomic import write_bytes
from evalsuite.errors import DatasetError


def read_image(path: Path) -> np.ndarray:
    """Read an image fully (a truncated file fails here, not later).

    Returns:
        (H, W, 3) uint8 for colour images, (H, W) uint8 for grayscale ones.
    """
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("L", "I;16", "I", "F", "1"):
                return np.asarray(image.convert("L"), dtype=np.uint8)
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError as error:
        raise DatasetError(f"{path}: image file not found") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise DatasetError(
            f"{path}: unreadable or truncated image ({error}); replace or delete the file"
        ) from error


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image, read from its header only."""
    try:
        with Image.open(path) as image:
            return image.size
    except (UnidentifiedImageError, OSError) as error:
        raise DatasetError(f"{path}: unreadable image ({error})") from error


def read_mask(path: Path) -> np.ndarray:
    """Read a ground-truth mask and check it is binary.

    Returns:
        (H, W) bool, True on defect pixels.
    """
    array = read_image(path)
    if array.ndim == 3:
        array = array.max(axis=2)
    values = np.unique(array)
    if not set(values.tolist()) <= {0, 255} and not set(values.tolist()) <= {0, 1}:
        shown = ", ".join(str(v) for v in values[:6])
        raise DatasetError(
            f"{path}: mask is not binary (values {shown}{', ...' if len(values) > 6 else ''}); "
            "masks must hold only 0 and 255 (or 0 and 1)"
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
