"""Thumbnails of every test image of a cell, for the site's image explorer.

Three sprite sheets, each one tile of `px` x `px` per test image, stacked top to bottom in the
order of the record's `scores` (tile i at y = i px):

- `images`: the test images as the detector saw them (the cell's condition, resized and
  cropped), JPEG. They do not depend on the detector, so they are stored once per test set and
  preprocessing, shared by every cell that reads them:
  `artifacts/thumbnails/<category>/<key>.images.jpg`, `<key>` the digest of what they show.
- `masks`: the ground truth, 1-bit PNG, beside the images (`<key>.masks.png`); none without masks.
- `maps`: the cell's anomaly maps as a palette PNG whose palette is the site's colormap
  (`results.heatmap.colormap`), on a fixed scale per cell chosen on val, never on test data
  (`map_scale`); in the cell's artifacts folder (`thumbnails.maps.png`).

Every file is written atomically before the cell's record; the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image

from evalsuite import results
from evalsuite.atomic import write_bytes
from evalsuite.backbone.preprocessing import Preprocessing
from evalsuite.data.samples import Sample
from evalsuite.detectors.base import Scores
from evalsuite.results.heatmap import colormap
from evalsuite.runner.writing.artifacts import as_uint8

JPEG_QUALITY = 85
LEVELS = 32
"""Palette entries of a map sprite: index k is colormap(k / 31). 32 steps keep a map tile near
0.5 kB (256 would triple it) and are told apart by eye."""


def map_scale(val_maps: np.ndarray, pixel_threshold: float | None) -> tuple[float, float] | None:
    """The map values at the colormap's two ends, from the val maps only.

    The low end is the 1st percentile of the val maps; the pixel threshold (chosen on val) sits
    in the middle of the scale, so a pixel at the threshold is teal and saturated yellow is far
    above it. Without a pixel threshold (no masks), the high end is the val maps' 99.9th
    percentile.

    Args:
        val_maps: (N, H, W) anomaly maps of the cell's val images.
        pixel_threshold: the cell's pixel threshold, or None.

    Returns:
        (low, high) with low < high; None when the val maps are empty or not finite.
    """
    if val_maps.size == 0 or not np.isfinite(val_maps).all():
        return None
    low = float(np.quantile(val_maps, 0.01))
    if pixel_threshold is not None and pixel_threshold > low:
        high = 2.0 * float(pixel_threshold) - low
    else:
        high = float(np.quantile(val_maps, 0.999))
    if not high > low:
        high = low + 1.0
    return low, high


def shrink_map(amap: np.ndarray, px: int) -> np.ndarray:
    """A (H, W) map averaged down to (px, px) float32 (box filter)."""
    return np.asarray(
        Image.fromarray(amap.astype(np.float32), mode="F").resize((px, px), Image.Resampling.BOX)
    )


def map_indices(amap: np.ndarray, scale: tuple[float, float], px: int) -> np.ndarray:
    """A map's palette indices (px, px) uint8: 0 at or below `scale`'s low end, `LEVELS` - 1 at
    or above its high end."""
    low, high = scale
    small = shrink_map(amap, px)
    return np.clip(np.round((small - low) / (high - low) * (LEVELS - 1)), 0, LEVELS - 1).astype(
        np.uint8
    )


def maps_sprite(maps: np.ndarray, scale: tuple[float, float], px: int) -> bytes:
    """The maps (N, H, W) as one palette PNG of N tiles (px wide, N px high)."""
    tiles = np.concatenate([map_indices(m, scale, px) for m in maps], axis=0)
    sprite = Image.fromarray(tiles, mode="P")
    palette = colormap(np.arange(LEVELS) / (LEVELS - 1))
    sprite.putpalette(palette.reshape(-1).tolist())
    return _png(sprite)


def images_sprite(pictures: Sequence[np.ndarray], px: int) -> bytes:
    """Images (H, W, 3) uint8 as one JPEG of tiles (px wide, N px high)."""
    tiles = [
        np.asarray(Image.fromarray(p).resize((px, px), Image.Resampling.BOX)) for p in pictures
    ]
    buffer = io.BytesIO()
    Image.fromarray(np.concatenate(tiles, axis=0)).save(
        buffer, format="JPEG", quality=JPEG_QUALITY, optimize=False
    )
    return buffer.getvalue()


def masks_sprite(masks: np.ndarray, px: int) -> bytes:
    """Masks (N, H, W) bool as one 1-bit PNG of tiles; a tile pixel is set where any defect
    pixel falls in it (a small defect stays visible)."""
    tiles = []
    for mask in masks:
        grey = Image.fromarray(mask.astype(np.uint8) * 255).resize((px, px), Image.Resampling.BOX)
        tiles.append(np.asarray(grey) > 0)
    return _png(Image.fromarray(np.concatenate(tiles, axis=0)))


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def set_key(
    fingerprints: Sequence[str | None], ids: Sequence[str], prep: dict[str, Any], px: int
) -> str:
    """The digest naming a test set's shared sprites: the data's fingerprints, the images' ids,
    the preprocessing and the tile size."""
    text = json.dumps(
        {"fingerprints": list(fingerprints), "ids": list(ids), "prep": prep, "px": px},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def write_thumbnails(
    out: Path,
    relpath: PurePosixPath,
    prep: Preprocessing,
    samples: Sequence[Sample],
    test: Scores,
    masks: np.ndarray | None,
    scale: tuple[float, float] | None,
    px: int,
    fingerprints: Sequence[str | None],
) -> dict[str, Any] | None:
    """Write a cell's thumbnails; the record's `thumbnails` field, or None (px 0, no scale).

    Args:
        out: the results folder.
        relpath: the cell's record path.
        prep: the preprocessing the detector saw.
        samples: the test samples (N,), in the record's `scores` order.
        test: their scores: maps (N, H, W).
        masks: (N, H, W) ground truth, or None.
        scale: the maps' (low, high) from `map_scale`.
        px: the tile's side; 0 writes nothing.
        fingerprints: what identifies the images' data (clean and, for shifted images, the
            shifted tree's fingerprint).
    """
    if px == 0 or scale is None or not samples:
        return None
    category = results.check_name("category", samples[0].category)
    key = set_key(fingerprints, [s.id for s in samples], prep.to_dict(), px)
    images = results.shared_thumbnail_relpath(category, key, "images.jpg")
    if not (out / images).is_file():  # shared: the same bytes whoever writes them
        pictures = [as_uint8(prep.load_image(s.path).numpy(), prep.mean, prep.std) for s in samples]
        write_bytes(out / images, images_sprite(pictures, px), durable=False)
    mask_path = None
    if masks is not None:
        mask_path = results.shared_thumbnail_relpath(category, key, "masks.png")
        if not (out / mask_path).is_file():
            write_bytes(out / mask_path, masks_sprite(masks, px), durable=False)
    maps = results.thumbnail_maps_relpath(relpath)
    write_bytes(out / maps, maps_sprite(test.maps, scale, px), durable=False)
    return {
        "images": str(images),
        "masks": None if mask_path is None else str(mask_path),
        "maps": str(maps),
        "px": px,
        "scale": [scale[0], scale[1]],
    }
