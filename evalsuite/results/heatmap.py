"""Heatmap strips as stored in a results folder, shared by the runner (which writes them) and the
site (which recolours them on one scale per category).

A strip is one PNG of panels side by side, each `width` pixels wide with `GAP_PX` white pixels
between them: image | anomaly-map overlay | ground truth (only when the dataset has masks) |
map thresholded at the pixel threshold (only when there is one). Beside each strip the runner
keeps the raw anomaly map as `<strip>.map.png`: a 16-bit greyscale PNG whose values are the
map's float16 bit patterns, so the site can colour every strip of a category on one scale.
"""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from evalsuite import regular

GAP_PX = 2
"""White pixels between two panels of a strip."""
OVERLAY_PANEL = 1
"""The overlay is the second panel of every strip."""
MAP_SUFFIX = ".map.png"
COLORMAP_ANCHORS: tuple[tuple[float, float, float], ...] = (
    (0.27, 0.00, 0.33),
    (0.23, 0.32, 0.55),
    (0.13, 0.57, 0.55),
    (0.37, 0.79, 0.38),
    (0.99, 0.91, 0.14),
)
"""A perceptually ordered colormap (dark purple -> teal -> yellow, like viridis), as RGB anchors
in [0, 1]; the site's colour bars draw the same gradient."""


def colormap(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] (H, W) to colours (H, W, 3) uint8 (values outside are clipped)."""
    anchors = np.array(COLORMAP_ANCHORS)
    x = np.clip(values, 0.0, 1.0) * (len(anchors) - 1)
    low = np.floor(x).astype(int).clip(0, len(anchors) - 2)
    frac = (x - low)[..., None]
    rgb = anchors[low] * (1 - frac) + anchors[low + 1] * frac
    return (rgb * 255).round().astype(np.uint8)


def overlay(image: np.ndarray, amap: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """The image half-blended with its coloured anomaly map.

    Args:
        image: (H, W, 3) uint8.
        amap: (H, W) anomaly map.
        scale: (low, high) map values at the colormap's two ends.

    Returns:
        (H, W, 3) uint8.
    """
    low, high = scale
    heat = colormap((amap - low) / max(high - low, 1e-12)).astype(np.float32)
    return (0.5 * image.astype(np.float32) + 0.5 * heat).round().astype(np.uint8)


def map_relpath(strip: str | PurePosixPath) -> PurePosixPath:
    """Where the raw map of a strip is kept: `<strip without .png>.map.png`."""
    path = PurePosixPath(strip)
    return path.with_name(path.name.removesuffix(".png") + MAP_SUFFIX)


def encode_map(amap: np.ndarray) -> bytes:
    """A (H, W) anomaly map as a 16-bit greyscale PNG of its float16 bit patterns."""
    bits = np.ascontiguousarray(amap.astype(np.float16)).view(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(bits.astype(np.uint16)).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_map(path: Path) -> np.ndarray | None:
    """The (H, W) float32 map of a `.map.png` file; None when it is absent or unreadable.

    Raises:
        ResultsError: the path is a link, a FIFO or a device (see `evalsuite.regular`).
    """
    try:
        stream = regular.open_file(path, regular.ARTIFACT, "raw anomaly map")
        with stream, Image.open(stream) as picture:
            bits = np.array(picture)
    except (OSError, ValueError):
        return None
    if bits.ndim != 2:
        return None
    return bits.astype(np.uint16).view(np.float16).astype(np.float32)


def replace_overlay(strip: np.ndarray, image_overlay: np.ndarray) -> np.ndarray:
    """A copy of `strip` (H, W_strip, 3) with its overlay panel replaced by `image_overlay`
    (H, W, 3)."""
    height, width = image_overlay.shape[:2]
    start = OVERLAY_PANEL * (width + GAP_PX)
    if strip.shape[0] != height or strip.shape[1] < start + width:
        raise ValueError(f"a strip of shape {strip.shape} has no {height}x{width} overlay panel")
    out = strip.copy()
    out[:, start : start + width] = image_overlay
    return out


def first_panel(strip: np.ndarray, width: int) -> np.ndarray:
    """The image panel (H, width, 3) of a strip."""
    return strip[:, :width]
