"""A map at the network input brought back to the size of the image it was computed on.

The backbone's preprocessing (`Preprocessing.load_image`, torchvision's resize and centre crop)
resizes the image's shorter side to `resize` and keeps the centre `crop` x `crop`; the detector's
map covers that crop. Undoing it: the map is placed at the crop's position in the resized image,
the border the crop cut off filled with the map's nearest edge values (no score was computed
there: with `crop` < `resize` a defect at the border is not seen; set `backbone.crop` equal to
`resize` for a submission), and that canvas is resized bilinearly to the original size.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def resized_size(size: tuple[int, int], resize: int) -> tuple[int, int]:
    """(H, W) of an image of `size` (H, W) once its shorter side is resized to `resize`, as
    torchvision computes it (the longer side truncated)."""
    height, width = size
    if width <= height:
        return int(resize * height / width), resize
    return resize, int(resize * width / height)


def crop_offset(resized: tuple[int, int], crop: int) -> tuple[int, int]:
    """(top, left) of the centre `crop` x `crop` of an image of size `resized`, as torchvision's
    `center_crop` places it."""
    return round((resized[0] - crop) / 2.0), round((resized[1] - crop) / 2.0)


def to_original_size(amap: np.ndarray, size: tuple[int, int], resize: int) -> np.ndarray:
    """The map `amap` of the centre crop brought back to the image's original size.

    Args:
        amap: (crop, crop) anomaly map at the network input.
        size: (H, W) of the original image.
        resize: the preprocessing's resize side.

    Returns:
        (H, W) float32 map: exact where no resampling is needed (the crop is the whole resized
        image and that is the original size).
    """
    crop = amap.shape[0]
    resized = resized_size(size, resize)
    top, left = crop_offset(resized, crop)
    pads = ((top, resized[0] - crop - top), (left, resized[1] - crop - left))
    canvas = np.pad(np.asarray(amap, dtype=np.float32), pads, mode="edge")
    if canvas.shape == tuple(size):
        return canvas
    image = Image.fromarray(canvas)  # mode F: float32
    scaled = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.asarray(scaled, dtype=np.float32)
