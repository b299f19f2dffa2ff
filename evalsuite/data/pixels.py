"""Turning a decoded image of any mode into the 8-bit array the suite computes on.

Every mode is converted faithfully or refused: 16-bit values are scaled to 8 bits (not clipped
to white), palette images are expanded, alpha is composited onto black (the pixels under a
transparent area are undefined), 1-bit images become 0 / 255, CMYK / YCbCr / LAB / HSV become
RGB. Floating-point images (mode F) have no defined range and are refused.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N")
SIXTEEN_BIT_MAX = 65535


class PixelError(ValueError):
    """An image whose pixels have no faithful 8-bit form (the caller names the file)."""


def to_uint8(image: Image.Image) -> np.ndarray:
    """The pixels of a loaded `image` as uint8.

    Returns:
        (H, W) for grayscale modes (1, L, LA, I, I;16*), (H, W, 3) for every other mode.

    Raises:
        PixelError: a floating-point image, or a 32-bit one with values above 16 bits.
    """
    mode = image.mode
    if mode == "F":
        raise PixelError(
            "floating-point pixels (mode F) have no defined range; save it as 8- or 16-bit PNG"
        )
    if mode.startswith("I"):
        return _sixteen_bit(np.asarray(image))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        return _composite(image)
    if image.mode in ("1", "L"):
        return np.asarray(image.convert("L"), dtype=np.uint8)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _sixteen_bit(values: np.ndarray) -> np.ndarray:
    """16-bit gray values (0-65535) scaled to 0-255, rounded: 65535 -> 255, 257 -> 1."""
    values = values.astype(np.int64)
    if values.size and (values.min() < 0 or values.max() > SIXTEEN_BIT_MAX):
        raise PixelError(
            f"integer pixels in [{values.min()}, {values.max()}] exceed 16 bits; save it as "
            "8- or 16-bit PNG"
        )
    return ((values * 255 + SIXTEEN_BIT_MAX // 2) // SIXTEEN_BIT_MAX).astype(np.uint8)


def _composite(image: Image.Image) -> np.ndarray:
    """Colour (or gray) times alpha: the image composited onto black, uint8."""
    gray = image.mode in ("LA", "La")
    rgba = np.asarray(image.convert("LA" if gray else "RGBA"), dtype=np.uint16)
    colour, alpha = rgba[..., :-1], rgba[..., -1:]
    composited = ((colour * alpha + 127) // 255).astype(np.uint8)
    return composited[..., 0] if gray else composited
