"""Synthetic `carpet`: a woven basket-weave texture; color, cut, hole, metal_contamination, thread.

The weave is a grid of small tufts whose threads alternate horizontal and vertical in a
checkerboard, with dark gaps between tufts, per-tuft and per-fibre noise, a gentle waviness of the
grid, a slight rotation and varying colour and lighting.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from evalsuite.data.synthetic import defects
from evalsuite.data.synthetic.defects import Field, Mask
from evalsuite.data.synthetic.noise import coordinates, fractal_noise, value_noise

_THREADS_PER_TUFT = 3


def draw(
    base_rng: np.random.Generator,
    defect_rng: np.random.Generator,
    size: int,
    difficulty: float,
    defect: str | None,
) -> tuple[Field, Mask]:
    """Render one carpet image, with `defect` drawn from `defect_rng` unless it is None.

    Returns:
        image: (size, size, 3) float32 in [0, 1].
        mask: (size, size) bool, all False without a defect.
    """
    image = _weave(base_rng, size, difficulty)
    if defect is None:
        return image, np.zeros((size, size), dtype=bool)
    margin = int(0.1 * size)
    inner = np.zeros((size, size), dtype=bool)
    inner[margin:-margin, margin:-margin] = True
    mask, target, sigma = _DRAWERS[defect](image, inner, defect_rng, difficulty)
    return defects.blend(image, target, defects.feather(mask, sigma)), mask


def _weave(rng: np.random.Generator, size: int, difficulty: float) -> Field:
    """The defect-free carpet. Returns (size, size, 3) float32 in [0, 1]."""
    vary = defects.variation(difficulty)
    period = size / 256 * 9.5 * (1 + rng.uniform(-0.04, 0.04) * vary)
    angle = np.deg2rad(rng.normal(0.0, 1.5 * vary))
    yy, xx = coordinates(size)
    drift = 0.15 * period * vary
    u = xx * np.cos(angle) + yy * np.sin(angle) + drift * value_noise(rng, (size, size), size / 5)
    v = yy * np.cos(angle) - xx * np.sin(angle) + drift * value_noise(rng, (size, size), size / 5)
    u = u / period + rng.uniform(0, 1)
    v = v / period + rng.uniform(0, 1)
    col, row = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fu, fv = u - col, v - row
    horizontal = (col + row) % 2 == 0
    across = np.where(horizontal, fv, fu)
    bump = np.sqrt(np.sin(np.pi * fu) * np.sin(np.pi * fv))
    threads = 0.5 + 0.5 * np.cos(2 * np.pi * _THREADS_PER_TUFT * across)
    cells = rng.normal(0.0, 1.0, (64, 64)).astype(np.float32)
    tuft = cells[row % 64, col % 64]
    fibre = value_noise(rng, (size, size), 1.0)
    tone = bump * (0.72 + 0.28 * threads) * (1 + 0.07 * tuft) + 0.05 * fibre
    mottle = fractal_noise(rng, (size, size), size / 4, octaves=3)
    tilt = rng.normal(0.0, 0.05 * vary, 2)
    light = 1 + 0.05 * vary * mottle + tilt[0] * (yy / size - 0.5) + tilt[1] * (xx / size - 0.5)
    base = np.array([0.6, 0.55, 0.5], dtype=np.float32) * (1 + rng.normal(0.0, 0.025, 3))
    base = base * rng.uniform(0.9, 1.1) ** vary
    image = base * (0.3 + 0.8 * tone * light)[..., None]
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def _color(
    image: Field, inner: Mask, rng: np.random.Generator, difficulty: float
) -> tuple[Mask, Field, float]:
    """A stain: a patch tinted towards red, blue, yellow or brown, texture kept."""
    size = image.shape[0]
    scale, contrast = defects.extent(rng, difficulty), defects.strength(rng, difficulty)
    centre = defects.pick(rng, inner)
    radius = 0.085 * size * scale
    mask = defects.blob(inner.shape, centre, radius, rng, 0.35, rng.uniform(1.0, 1.8))
    tints = np.array(
        [[1.3, 0.8, 0.75], [0.8, 0.9, 1.3], [1.2, 1.1, 0.65], [0.7, 0.6, 0.5]], dtype=np.float32
    )
    tint = tints[int(rng.integers(len(tints)))]
    target = image * (1 + 0.8 * contrast * (tint - 1))
    return mask, target.astype(np.float32), 1.5


def _cut(
    image: Field, inner: Mask, rng: np.random.Generator, difficulty: float
) -> tuple[Mask, Field, float]:
    """A thin, nearly straight cut through the pile, showing the dark backing."""
    size = image.shape[0]
    scale, contrast = defects.extent(rng, difficulty), defects.strength(rng, difficulty)
    path = defects.walk(rng, defects.pick(rng, inner), 0.28 * size * scale, 10, 0.08, True)
    width = max(1.5, 0.018 * size * scale * rng.uniform(0.8, 1.3))
    mask = defects.polyline(inner.shape, path, width)
    backing = 0.5 + 0.5 * value_noise(rng, inner.shape, 2.0)[..., None]
    target = image * (1 - 0.75 * contrast * backing)
    return mask, target.astype(np.float32), 0.6


def _hole(
    image: Field, inner: Mask, rng: np.random.Generator, difficulty: float
) -> tuple[Mask, Field, float]:
    """A patch with the pile torn out: dark backing crossed by a few frayed fibres."""
    size = image.shape[0]
    scale, contrast = defects.extent(rng, difficulty), defects.strength(rng, difficulty)
    centre = defects.pick(rng, inner)
    mask = defects.blob(inner.shape, centre, 0.05 * size * scale, rng, 0.4, rng.uniform(1, 1.6))
    fray = np.clip(value_noise(rng, inner.shape, 1.5), 0, None)[..., None]
    backing = image.mean(axis=(0, 1)) * 0.35 * (1 + 0.6 * fray)
    target = image + (0.4 + 0.6 * contrast) * (backing - image)
    return mask, target.astype(np.float32), 0.8


def _metal(
    image: Field, inner: Mask, rng: np.random.Generator, difficulty: float
) -> tuple[Mask, Field, float]:
    """One to three small grey metallic flakes with a highlight on one side."""
    size = image.shape[0]
    scale, contrast = defects.extent(rng, difficulty), defects.strength(rng, difficulty)
    mask = np.zeros(inner.shape, dtype=bool)
    centre = np.asarray(defects.pick(rng, inner), dtype=np.float32)
    for _ in range(int(rng.integers(1, 4))):
        spot = centre + rng.normal(0.0, 0.025 * size, 2).astype(np.float32)
        radius = 0.03 * size * scale * rng.uniform(0.7, 1.3)
        mask |= defects.blob(inner.shape, (spot[0], spot[1]), radius, rng, 0.3, rng.uniform(1, 2))
    yy, xx = np.ogrid[: inner.shape[0], : inner.shape[1]]
    heading = rng.uniform(0, 2 * np.pi)
    sheen = np.sin(((yy - centre[0]) * np.sin(heading) + (xx - centre[1]) * np.cos(heading)) / 3)
    metal = (0.5 + 0.25 * sheen)[..., None] * np.array([0.95, 0.97, 1.0], dtype=np.float32)
    target = image + (0.35 + 0.55 * contrast) * (metal - image)
    return mask, target.astype(np.float32), 0.7


def _thread(
    image: Field, inner: Mask, rng: np.random.Generator, difficulty: float
) -> tuple[Mask, Field, float]:
    """A loose thread lying on the pile: a thin curve, rounded in shading, off-colour."""
    size = image.shape[0]
    scale, contrast = defects.extent(rng, difficulty), defects.strength(rng, difficulty)
    path = defects.walk(rng, defects.pick(rng, inner), 0.3 * size * scale, 16, 0.25, True)
    width = max(1.5, 0.014 * size * rng.uniform(0.8, 1.3))
    mask = defects.polyline(inner.shape, path, width)
    core = ndimage.distance_transform_edt(mask)
    rounded = np.clip(core / max(width / 2, 1.0), 0, 1)[..., None]
    colour = image.mean(axis=(0, 1)) * (1 + rng.choice([-1, 1]) * (0.2 + 0.6 * contrast))
    colour = colour * (1 + rng.normal(0.0, 0.25 * contrast, 3))
    target = colour * (0.8 + 0.3 * rounded)
    return mask, target.astype(np.float32), 0.6


_DRAWERS = {
    "color": _color,
    "cut": _cut,
    "hole": _hole,
    "metal_contamination": _metal,
    "thread": _thread,
}
