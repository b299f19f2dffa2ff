"""Random fields the categories build their textures from.

All fields are float32 arrays of shape (H, W), zero mean and unit standard deviation unless a
docstring says otherwise. Each is vectorised: white noise on a coarse grid, resampled bicubically.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

Field = NDArray[np.float32]


def value_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> Field:
    """Smooth noise whose blobs are about `scale` pixels across.

    Args:
        rng: random stream.
        shape: (H, W) of the result.
        scale: feature size in pixels; 1 or less gives white noise.

    Returns:
        field: (H, W) float32, zero mean, unit standard deviation.
    """
    if scale <= 1.0:
        return _standardise(rng.standard_normal(shape).astype(np.float32))
    return stretched_noise(rng, shape, along=scale, across=scale)


def fractal_noise(
    rng: np.random.Generator, shape: tuple[int, int], scale: float, octaves: int = 4
) -> Field:
    """Sum of `value_noise` octaves, each half the scale and weight of the previous one.

    Returns:
        field: (H, W) float32, zero mean, unit standard deviation.
    """
    total = np.zeros(shape, dtype=np.float32)
    for octave in range(octaves):
        total += value_noise(rng, shape, max(1.0, scale / 2**octave)) / 2**octave
    return _standardise(total)


def stretched_noise(
    rng: np.random.Generator, shape: tuple[int, int], along: float, across: float
) -> Field:
    """Fibre-like noise, stretched along the rows' direction (x) by `along` / `across`.

    Args:
        rng: random stream.
        shape: (H, W) of the result.
        along: feature length in pixels along x.
        across: feature width in pixels along y.

    Returns:
        field: (H, W) float32, zero mean, unit standard deviation.
    """
    height, width = shape
    coarse_h = max(2, round(height / max(across, 1.0))) + 4
    coarse_w = max(2, round(width / max(along, 1.0))) + 4
    coarse = rng.standard_normal((coarse_h, coarse_w)).astype(np.float32)
    # Resample the whole coarse grid, then crop two coarse cells off each side: no edge effects.
    big_h = round(coarse_h * height / (coarse_h - 4))
    big_w = round(coarse_w * width / (coarse_w - 4))
    image = Image.fromarray(coarse).resize((big_w, big_h), Image.Resampling.BICUBIC)
    field = np.asarray(image, dtype=np.float32)
    top = (big_h - height) // 2
    left = (big_w - width) // 2
    return _standardise(field[top : top + height, left : left + width])


def coordinates(size: int) -> tuple[Field, Field]:
    """Pixel-centre coordinates of a square image.

    Returns:
        (yy, xx): two (size, size) float32 arrays, row and column of every pixel.
    """
    axis = np.arange(size, dtype=np.float32)
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    return yy, xx


def _standardise(field: Field) -> Field:
    """Shift and scale `field` to zero mean, unit standard deviation."""
    centred = field - field.mean()
    std = float(centred.std())
    return (centred / std if std > 0 else centred).astype(np.float32)
