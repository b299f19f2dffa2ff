"""Synthetic `hazelnut`: a striated, shaded nut on a dark background; crack, cut, hole, print.

The nut is a teardrop (narrow at its tip) with fibres running from tip to base, a pale rough
scar at its broad end, Lambertian shading with a soft highlight, random pose (rotation, position,
scale) and lighting. Defects are drawn on the nut only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from evalsuite.data.synthetic import defects
from evalsuite.data.synthetic.defects import Field, Mask
from evalsuite.data.synthetic.noise import coordinates, stretched_noise, value_noise


@dataclass(frozen=True)
class _Nut:
    """A rendered normal hazelnut: `image` (H, W, 3) float32 in [0, 1] and `body` (H, W) bool."""

    image: Field
    body: Mask


def draw(
    base_rng: np.random.Generator,
    defect_rng: np.random.Generator,
    size: int,
    difficulty: float,
    defect: str | None,
) -> tuple[Field, Mask]:
    """Render one hazelnut image, with `defect` drawn from `defect_rng` unless it is None.

    Returns:
        image: (size, size, 3) float32 in [0, 1].
        mask: (size, size) bool, all False without a defect.
    """
    nut = _render_nut(base_rng, size, difficulty)
    if defect is None:
        return nut.image, np.zeros((size, size), dtype=bool)
    inner = ndimage.distance_transform_edt(nut.body) > 0.07 * size
    mask, target, sigma = _DRAWERS[defect](nut.image, inner, defect_rng, difficulty)
    mask &= nut.body
    return defects.blend(nut.image, target, defects.feather(mask, sigma)), mask


def _render_nut(rng: np.random.Generator, size: int, difficulty: float) -> _Nut:
    """Draw pose, shape, surface and lighting of one nut and composite it on the background."""
    vary = defects.variation(difficulty)
    centre = size / 2 + np.clip(rng.normal(0.0, 0.035 * size * vary, 2), -0.1 * size, 0.1 * size)
    angle = rng.uniform(0.0, 2 * np.pi)
    length = 0.3 * size * (1 + rng.uniform(-0.06, 0.06) * vary)
    width = length * rng.uniform(0.84, 0.94)
    yy, xx = coordinates(size)
    dy, dx = yy - centre[0], xx - centre[1]
    along = (dx * np.cos(angle) + dy * np.sin(angle)) / length
    across = (-dx * np.sin(angle) + dy * np.cos(angle)) / (width * (1 + 0.2 * along))
    theta = np.arctan2(across, along)
    wobble = sum(
        rng.uniform(0.004, 0.015) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
        for k in range(2, 6)
    )
    radius = np.hypot(along, across) * (1 + wobble)
    coverage = np.clip((1 - radius) * length * 0.8 + 0.5, 0.0, 1.0).astype(np.float32)
    surface = _surface(rng, along, across, size, vary)
    shade = _shading(rng, along, across, radius, angle, vary)
    nut = surface * shade[..., None]
    background = _background(rng, size, vary)
    image = background + coverage[..., None] * (nut - background)
    return _Nut(image=np.clip(image, 0.0, 1.0).astype(np.float32), body=coverage > 0.5)


def _surface(
    rng: np.random.Generator, along: Field, across: Field, size: int, vary: float
) -> Field:
    """Albedo of the nut: brown with tip-to-base fibres, mottling and a pale scar at the base.

    Args:
        along, across: (H, W) nut-frame coordinates, the nut spanning [-1, 1] on each.

    Returns:
        albedo: (H, W, 3) float32.
    """
    brown = np.array([0.62, 0.39, 0.2], dtype=np.float32) * rng.uniform(0.92, 1.08)
    brown = brown * (1 + rng.normal(0.0, 0.03, 3)).astype(np.float32)
    meridian = across / np.sqrt(np.clip(1 - along**2, 0.05, None))
    texture = stretched_noise(rng, (size, size), along=0.19 * size, across=0.01 * size)
    rows = np.clip((meridian + 1.5) / 3, 0, 1) * (size - 1)
    cols = np.clip((along + 1) / 2, 0, 1) * (size - 1)
    fibres = ndimage.map_coordinates(texture, [rows, cols], order=1, mode="nearest")
    stripes = np.sin(2 * np.pi * rng.uniform(5, 7) * meridian + 1.5 * fibres)
    grain = value_noise(rng, (size, size), 1.0)
    mottle = value_noise(rng, (size, size), size / 10)
    tone = 1 - 0.12 * np.clip(stripes, 0, None) - 0.08 * fibres + 0.05 * mottle * vary
    tone = tone + 0.03 * grain
    albedo = brown * tone[..., None]
    scar_edge = 0.62 + 0.05 * value_noise(rng, (size, size), size / 12) + 0.1 * across**2
    scar = np.clip((along - scar_edge) * 12, 0, 1)
    pale = np.array([0.74, 0.62, 0.48], dtype=np.float32) * (1 + 0.08 * grain[..., None])
    return (albedo + scar[..., None] * (pale - albedo)).astype(np.float32)


def _shading(
    rng: np.random.Generator,
    along: Field,
    across: Field,
    radius: Field,
    angle: float,
    vary: float,
) -> Field:
    """Lambertian shading of the nut as a half-ellipsoid, a soft highlight and overall exposure.

    Returns:
        shade: (H, W) float32, multiplies the albedo.
    """
    normal_z = np.sqrt(np.clip(1 - radius**2, 0.0, 1.0))
    normal_x = along * np.cos(angle) - across * np.sin(angle)
    normal_y = along * np.sin(angle) + across * np.cos(angle)
    light = np.array([rng.normal(-0.4, 0.15), rng.normal(-0.4, 0.15), 1.0])  # (x, y, z)
    light = light / np.linalg.norm(light)
    facing = np.clip(normal_x * light[0] + normal_y * light[1] + normal_z * light[2], 0, 1)
    highlight = np.clip(facing, 0, 1) ** 12
    exposure = 1 + rng.uniform(-0.1, 0.1) * vary
    return ((0.25 + 0.85 * facing + 0.25 * highlight) * exposure).astype(np.float32)


def _background(rng: np.random.Generator, size: int, vary: float) -> Field:
    """A near-black, faintly textured background. Returns (H, W, 3) float32."""
    level = rng.uniform(0.025, 0.05) * (1 + 0.2 * vary * rng.normal())
    texture = 0.008 * value_noise(rng, (size, size), size / 20) + 0.006 * value_noise(
        rng, (size, size), 1.0
    )
    gray = np.clip(level + texture, 0.0, 1.0)
    return np.repeat(gray[..., None], 3, axis=2).astype(np.float32)


def _crack(
    image: Field, inner: Mask, rng: np.random.Generator, difficulty: float
) -> tuple[Mask, Field, float]:
    """A thin jagged dark line, sometimes branching."""
    size = image.shape[0]
    scale, contrast = defects.extent(rng, difficulty), defects.strength(rng, difficulty)
    width = max(1.2, 0.014 * size * scale * rng.uniform(0.8, 1.2))
    path = defects.walk(rng, defects.pick(rng, inner), 0.3 * size * scale, 14, 0.5, False)
    mask = defects.polyline(inner.shape, path, width)
    if rng.random() < 0.5:
        fork = path[int(rng.integers(3, len(path) - 3))]
        branch = defects.walk(rng, (fork[0], fork[1]), 0.1 * size * scale, 6, 0.5, False)
        mask |= defects.polyline(inner.shape, branch, width * 0.8)
    target = image * (1 - 0.8 * contrast)
    return mask, target.astype(np.float32), 0.6


def _cut(
    image: Field, inner: Mask, rng: np.random.Generator, difficulty: float
) -> tuple[Mask, Field, float]:
    """A narrow slit showing the pale kernel, with a dark lip."""
    size = image.shape[0]
    scale, contrast = defects.extent(rng, difficulty), defects.strength(rng, difficulty)
    centre = defects.pick(rng, inner)
    mask = defects.blob(inner.shape, centre, 0.1 * size * scale, rng, 0.1, rng.uniform(3.5, 5))
    lip = mask & ~ndimage.binary_erosion(mask, iterations=1)
    grain = value_noise(rng, inner.shape, 2.0)[..., None]
    kernel = np.array([0.86, 0.74, 0.55], dtype=np.float32) * (1 + 0.06 * grain)
    target = image + contrast * (kernel - image)
    target = np.where(lip[..., None], image * (1 - 0.6 * contrast), target)
    return mask, target.astype(np.float32), 0.7


def _hole(
    image: Field, inner: Mask, rng: np.random.Generator, difficulty: float
) -> tuple[Mask, Field, float]:
    """A small round pit: dark at its centre, lighter towards its rim."""
    size = image.shape[0]
    scale, contrast = defects.extent(rng, difficulty), defects.strength(rng, difficulty)
    centre = defects.pick(rng, inner)
    radius = 0.06 * size * scale
    mask = defects.blob(inner.shape, centre, radius, rng, 0.15, rng.uniform(1.0, 1.4))
    yy, xx = np.ogrid[: inner.shape[0], : inner.shape[1]]
    depth = np.clip(1 - np.hypot(yy - centre[0], xx - centre[1]) / (1.3 * radius), 0, 1)
    darkening = contrast * (0.25 + 0.6 * depth)
    target = image * (1 - darkening[..., None])
    return mask, target.astype(np.float32), 1.0


def _print(
    image: Field, inner: Mask, rng: np.random.Generator, difficulty: float
) -> tuple[Mask, Field, float]:
    """A few ink strokes, like a stamped character, in dark translucent ink."""
    size = image.shape[0]
    scale, contrast = defects.extent(rng, difficulty), defects.strength(rng, difficulty)
    centre = np.asarray(defects.pick(rng, inner), dtype=np.float32)
    box = 0.12 * size * scale
    width = max(1.2, 0.014 * size * rng.uniform(0.8, 1.2))
    mask = np.zeros(inner.shape, dtype=bool)
    for _ in range(int(rng.integers(3, 6))):
        ends = centre + rng.uniform(-box, box, (2, 2)).astype(np.float32)
        middle = ends.mean(axis=0) + rng.normal(0.0, 0.2 * box, 2).astype(np.float32)
        mask |= defects.polyline(inner.shape, np.stack([ends[0], middle, ends[1]]), width)
    ink = np.array([0.08, 0.07, 0.09], dtype=np.float32)
    target = image + 0.7 * contrast * (ink - image)
    return mask, target.astype(np.float32), 0.6


_DRAWERS = {"crack": _crack, "cut": _cut, "hole": _hole, "print": _print}
