"""The corruptions that act over a neighbourhood: the four blurs and fog.

Their constants are pixels of a 224 px image (`corruption_params.TABLE`); each is multiplied by
`CorruptionParams.scale` (the shorter side / 224), so the blur or the fog's structure covers the
same fraction of any image. Borders are filled by reflection (defocus, as the reference's
OpenCV filter) or by repeating the edge (Gaussian blur, motion blur, zoom).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np
from PIL import Image
from scipy import ndimage, signal

from evalsuite.data.corruption_params import CorruptionParams

FOG_JITTER = 100.0
"""The fractal's first jitter amplitude (the reference's `wibble`); the jitter is
J * U(-J, J) at each level, and J is divided by the severity's decay from level to level."""


def _per_channel(image: np.ndarray, plane_fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """`plane_fn` on each channel of (H, W, C), or on (H, W) itself."""
    if image.ndim == 2:
        return np.asarray(plane_fn(image), np.float32)
    return np.stack([plane_fn(image[..., c]) for c in range(image.shape[2])], axis=2)


def disk_kernel(radius: float, alias_sigma: float) -> np.ndarray:
    """The defocus point spread: a uniform disk of `radius` px, smoothed by a Gaussian of
    `alias_sigma` px against aliasing, summing to 1. Returns (K, K), K odd."""
    half = math.ceil(radius + 3 * alias_sigma) + 1
    ys, xs = np.mgrid[-half : half + 1, -half : half + 1]
    kernel = (xs**2 + ys**2 <= radius**2).astype(np.float64)
    if alias_sigma > 0:
        kernel = ndimage.gaussian_filter(kernel, alias_sigma, mode="constant")
    return kernel / kernel.sum()


def defocus_blur(image: np.ndarray, params: CorruptionParams) -> np.ndarray:
    """Convolve with the anti-aliased disk (radius r, anti-alias sigma s, both scaled)."""
    radius, alias_sigma = params.constants
    kernel = disk_kernel(radius * params.scale, alias_sigma * params.scale)
    half = kernel.shape[0] // 2

    def plane(values: np.ndarray) -> np.ndarray:
        padded = np.pad(values, half, mode="reflect")
        return signal.fftconvolve(padded, kernel, mode="valid").astype(np.float32)

    return _per_channel(image, plane)


def motion_weights(radius: float, sigma: float) -> np.ndarray:
    """The motion kernel's taps along the motion: 2 * radius + 1 one-sided Gaussian weights
    exp(-i^2 / (2 sigma^2)), i = 0, 1, ..., summing to 1 (ImageMagick's motion blur, which the
    reference code calls)."""
    taps = 2 * round(radius) + 1
    steps = np.arange(taps, dtype=np.float64)
    weights = np.exp(-(steps**2) / (2 * max(sigma, 1e-6) ** 2))
    return weights / weights.sum()


def motion_blur(image: np.ndarray, params: CorruptionParams) -> np.ndarray:
    """Average the image along one direction: out(p) = sum_i w_i * x(p + i * (cos a, sin a)),
    with the drawn angle a (x right, y down) and the image's edge repeated beyond it."""
    radius, sigma = params.constants
    weights = motion_weights(radius * params.scale, sigma * params.scale)
    angle = math.radians(params.angle_deg or 0.0)
    height, width = image.shape[:2]
    offsets = [
        (math.ceil(i * math.sin(angle) - 0.5), math.ceil(i * math.cos(angle) - 0.5))
        for i in range(weights.size)
    ]
    pad = weights.size
    widths = ((pad, pad), (pad, pad)) + ((0, 0),) * (image.ndim - 2)
    padded = np.pad(image, widths, mode="edge")
    out = np.zeros_like(image, dtype=np.float32)
    for weight, (dy, dx) in zip(weights, offsets, strict=True):
        out += (
            np.float32(weight) * padded[pad + dy : pad + dy + height, pad + dx : pad + dx + width]
        )
    return out


def zoom_factors(last: float, step: float) -> np.ndarray:
    """The zooms of zoom blur: 1, 1 + step, ..., last."""
    return 1.0 + step * np.arange(round((last - 1.0) / step) + 1)


def zoom_blur(image: np.ndarray, params: CorruptionParams) -> np.ndarray:
    """Average the image with its copies zoomed about the centre by each factor (linear
    interpolation): (x + sum_z zoom_z(x)) / (n + 1). Zooms are relative: nothing to scale."""
    factors = zoom_factors(*params.constants)
    height, width = image.shape[:2]
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    total = image.astype(np.float32).copy()
    for factor in factors:
        total += _per_channel(image, partial(_zoomed, factor=float(factor), centre=centre))
    return total / (factors.size + 1)


def _zoomed(plane: np.ndarray, factor: float, centre: np.ndarray) -> np.ndarray:
    """(H, W) `plane` zoomed by `factor` about `centre` (row, column), same size."""
    inverse = 1.0 / factor
    return ndimage.affine_transform(
        plane, np.full(2, inverse), centre * (1 - inverse), order=1, mode="nearest"
    )


def gaussian_blur(image: np.ndarray, params: CorruptionParams) -> np.ndarray:
    """Gaussian blur of std sigma (scaled), the edge repeated (scikit-image's default)."""
    (sigma,) = params.constants
    spread = (sigma * params.scale,) * 2 + (0.0,) * (image.ndim - 2)
    return ndimage.gaussian_filter(image, spread, mode="nearest")


def plasma(rng: np.random.Generator, size: int, decay: float) -> np.ndarray:
    """A diamond-square fractal on a `size` x `size` torus (`size` a power of two), in [0, 1].

    Each level sets the square centres, then the edge midpoints, to the mean of their four
    neighbours plus a jitter J * U(-J, J); J starts at `FOG_JITTER` and is divided by `decay`
    per level (a smaller decay gives rougher fog).
    """
    grid = np.zeros((size, size), np.float64)
    step, jitter = size, FOG_JITTER

    def jittered(total: np.ndarray) -> np.ndarray:
        return total / 4 + jitter * rng.uniform(-jitter, jitter, total.shape)

    while step >= 2:
        half = step // 2
        corners = grid[0::step, 0::step]
        right, below = np.roll(corners, -1, axis=1), np.roll(corners, -1, axis=0)
        grid[half::step, half::step] = jittered(
            corners + right + below + np.roll(right, -1, axis=0)
        )
        centres = grid[half::step, half::step]
        grid[0::step, half::step] = jittered(
            corners + right + centres + np.roll(centres, 1, axis=0)
        )
        grid[half::step, 0::step] = jittered(
            corners + below + centres + np.roll(centres, 1, axis=1)
        )
        step, jitter = half, jitter / decay
    grid -= grid.min()
    return grid / grid.max()


def fog_field(params: CorruptionParams, height: int, width: int) -> np.ndarray:
    """The fog's (H, W) fractal in [0, 1]: drawn on the image's 224 px equivalent (as the
    reference draws 256 px and keeps 224), then resized to the image."""
    _, decay = params.constants
    base = (max(round(height / params.scale), 1), max(round(width / params.scale), 1))
    size = 1 << max(max(base) - 1, 1).bit_length()
    field = plasma(np.random.default_rng(params.noise_seed), size, decay)[: base[0], : base[1]]
    if base != (height, width):
        resized = Image.fromarray(field.astype(np.float32)).resize(
            (width, height), Image.Resampling.BILINEAR
        )
        field = np.asarray(resized)
    return field.astype(np.float32)


def fog(image: np.ndarray, params: CorruptionParams) -> np.ndarray:
    """Add c times the fractal, then rescale so the image's maximum m stays m:
    (x + c * fog) * m / (m + c)."""
    strength, _ = params.constants
    field = fog_field(params, *image.shape[:2])
    if image.ndim == 3:
        field = field[..., None]
    top = float(image.max())
    return (image + strength * field) * top / (top + strength)
