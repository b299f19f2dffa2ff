"""Synthetic `zipper` (grayscale): interlocking teeth down the middle, woven tape on both sides.

Defects broken_teeth, fabric_interior, rough, split_teeth, squeezed_teeth. The teeth are drawn
from a layout (axis, tilt, pitch, phase), so geometric defects redraw them through a local
displacement and their mask is where the picture changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalsuite.data.synthetic import defects
from evalsuite.data.synthetic.defects import Field, Mask
from evalsuite.data.synthetic.noise import coordinates, fractal_noise, stretched_noise, value_noise

_BOOSTS = (1.0, 1.5, 2.0, 3.0, 5.0)
"""Strength factors tried in turn until a geometric defect visibly moves some teeth."""


@dataclass(frozen=True)
class _Zipper:
    """The layout of a drawn zipper, enough to redraw its teeth.

    Attributes:
        size: image side in pixels.
        axis: (H, W) signed horizontal distance of each pixel from the zipper's axis.
        yy: (H, W) row of each pixel.
        pitch: vertical distance between two teeth of one side, in pixels.
        phase: row of the first left tooth's centre.
        reach: how far a tooth extends from the axis into its tape, in pixels.
        overlap: how far a tooth extends past the axis into the other side, in pixels.
        tones: (2, 64) brightness of each tooth, left then right, by tooth index modulo 64.
        backdrop: (H, W) the picture without teeth (tapes, dark gap between them).
        fabric: (H, W) the tape's texture everywhere, for defects that spread fabric.
        exposure: overall brightness factor.
    """

    size: int
    axis: Field
    yy: Field
    pitch: float
    phase: float
    reach: float
    overlap: float
    tones: Field
    backdrop: Field
    fabric: Field
    exposure: float


def draw(
    base_rng: np.random.Generator,
    defect_rng: np.random.Generator,
    size: int,
    difficulty: float,
    defect: str | None,
) -> tuple[Field, Mask]:
    """Render one zipper image, with `defect` drawn from `defect_rng` unless it is None.

    Returns:
        image: (size, size) float32 in [0, 1].
        mask: (size, size) bool, all False without a defect.
    """
    zipper = _build(base_rng, size, difficulty)
    image = _picture(zipper, zipper.backdrop)
    if defect is None:
        return image, np.zeros((size, size), dtype=bool)
    mask, target, sigma = _DRAWERS[defect](zipper, image, defect_rng, difficulty)
    return defects.blend(image, target, defects.feather(mask, sigma)), mask


def _build(rng: np.random.Generator, size: int, difficulty: float) -> _Zipper:
    """Draw the layout and the tapes of a normal zipper."""
    vary = defects.variation(difficulty)
    yy, xx = coordinates(size)
    centre = size / 2 + rng.normal(0.0, 0.012 * size * vary)
    tilt = np.tan(np.deg2rad(rng.normal(0.0, 0.8 * vary)))
    axis = (xx - centre - tilt * (yy - size / 2)).astype(np.float32)
    pitch = 0.06 * size * (1 + rng.uniform(-0.03, 0.03) * vary)
    reach = 0.12 * size * (1 + rng.uniform(-0.03, 0.03) * vary)
    fabric = _fabric(rng, axis, yy, size, vary)
    gap = 0.1 + 0.04 * value_noise(rng, (size, size), size / 16)
    tape = np.clip(np.abs(axis) - 0.8 * reach, 0.0, 1.0)
    return _Zipper(
        size=size,
        axis=axis,
        yy=yy,
        pitch=pitch,
        phase=rng.uniform(0.0, pitch),
        reach=reach,
        overlap=0.035 * size,
        tones=(1 + rng.normal(0.0, 0.05, (2, 64))).astype(np.float32),
        backdrop=(gap + tape * (fabric - gap)).astype(np.float32),
        fabric=fabric,
        exposure=1 + rng.uniform(-0.08, 0.08) * vary,
    )


def _fabric(rng: np.random.Generator, axis: Field, yy: Field, size: int, vary: float) -> Field:
    """The woven tape: a fine plain weave, vertical fibres, mottling and a stitched seam.

    Returns:
        fabric: (H, W) float32.
    """
    weave = 0.02 * size * rng.uniform(0.95, 1.05)
    shift = 0.3 * weave * value_noise(rng, (size, size), size / 6)
    across = np.sin(2 * np.pi * (axis + shift) / weave)
    along = np.sin(2 * np.pi * (yy + shift) / weave)
    fibres = value_noise(rng, (size, size), 1.0)
    fibres = fibres + stretched_noise(rng, (size, size), along=6.0, across=1.2).T
    mottle = fractal_noise(rng, (size, size), size / 5, octaves=3)
    level = rng.uniform(0.4, 0.48)
    fabric = level + 0.05 * across * along + 0.025 * fibres + 0.02 * vary * mottle
    seam = 0.17 * size
    stitch = (np.abs(np.abs(axis) - seam) < 0.006 * size + 0.5) & (
        np.cos(2 * np.pi * yy / (0.035 * size)) > -0.2
    )
    return (fabric + 0.08 * stitch).astype(np.float32)


def _side(
    zipper: _Zipper,
    right: bool,
    offset: Field | float = 0.0,
    squeeze: tuple[Field, float] | None = None,
) -> tuple[Field, Field, Field, Field]:
    """One side's teeth.

    Args:
        zipper: the layout.
        right: the right side's teeth (else the left's).
        offset: (H, W) or scalar horizontal shift of the teeth away from the axis, in pixels.
        squeeze: (factor (H, W), pivot row): teeth shrink by `factor` (> 1 smaller, closer)
            towards the pivot row.

    Returns:
        coverage: (H, W) in [0, 1], how much of each pixel a tooth covers.
        tone: (H, W) the tooth's shading where covered.
        head: (H, W) position along the tooth, -1 at the tape to +1 at its head.
        index: (H, W) index of the nearest tooth.
    """
    lateral = (-zipper.axis if right else zipper.axis) + offset
    stretch, pivot = squeeze if squeeze is not None else (1.0, 0.0)
    rows = pivot + (zipper.yy - pivot) * stretch
    rows = rows - zipper.phase - (0.5 * zipper.pitch if right else 0.0)
    index = np.round(rows / zipper.pitch)
    dy = rows - index * zipper.pitch
    half_width = (zipper.reach + zipper.overlap) / 2
    head = (lateral * stretch + (zipper.reach - zipper.overlap) / 2) / half_width
    half_height = zipper.pitch * (0.36 - 0.12 * np.clip(head, 0.0, 1.0) ** 2)
    across = dy / half_height
    radius = (np.abs(head) ** 4 + np.abs(across) ** 4) ** 0.25
    coverage = np.clip((1 - radius) * half_height * 0.9 + 0.5, 0.0, 1.0)
    brightness = zipper.tones[int(right), index.astype(np.int64) % zipper.tones.shape[1]]
    rounded = np.clip(np.cos(np.clip(across, -1, 1) * np.pi / 2), 0.0, 1.0) ** 0.6
    rim = np.clip((radius - 0.78) / 0.22, 0.0, 1.0)
    tone = brightness * (0.45 + 0.4 * rounded + 0.12 * np.clip(-head, 0, 1)) * (1 - 0.45 * rim)
    return coverage, tone, head, index


def _picture(
    zipper: _Zipper,
    backdrop: Field,
    offset: Field | float = 0.0,
    squeeze: tuple[Field, float] | None = None,
    holes: tuple[Mask, Mask] | None = None,
) -> Field:
    """Lay both sides' teeth over `backdrop` and expose the result.

    Args:
        zipper: the layout.
        backdrop: (H, W) what lies under the teeth.
        offset, squeeze: passed to `_side`, to move or squeeze teeth.
        holes: (H, W) masks of tooth parts removed from the left and right side.

    Returns:
        image: (H, W) float32 in [0, 1].
    """
    image = backdrop
    for right in (False, True):
        coverage, tone, _, _ = _side(zipper, right, offset, squeeze)
        if holes is not None:
            coverage = np.where(holes[int(right)], 0.0, coverage)
        image = image + coverage * (tone - image)
    return np.clip(image * zipper.exposure, 0.0, 1.0).astype(np.float32)


def _window(zipper: _Zipper, centre: float, half: float) -> Field:
    """A raised-cosine bump over rows, 1 at `centre`, exactly 0 beyond `half` rows. (H, W)."""
    distance = np.clip(np.abs(zipper.yy - centre) / half, 0.0, 1.0)
    return (0.5 + 0.5 * np.cos(np.pi * distance)).astype(np.float32)


def _bridge(zipper: _Zipper) -> int:
    """Closing iterations that merge a geometric defect's changed teeth into one region."""
    return max(2, round(zipper.pitch / 3))


def _band(zipper: _Zipper, margin: float) -> Mask:
    """Pixels within the teeth's reach of the axis, plus `margin` pixels. (H, W) bool."""
    mask: Mask = np.abs(zipper.axis) < zipper.reach + margin
    return mask


def _broken_teeth(
    zipper: _Zipper, image: Field, rng: np.random.Generator, difficulty: float
) -> tuple[Mask, Field, float]:
    """One or two teeth with part of their head broken off along a jagged line."""
    scale, contrast = defects.extent(rng, difficulty), defects.strength(rng, difficulty)
    right = bool(rng.integers(2))
    coverage, _, head, index = _side(zipper, right)
    row = rng.uniform(0.2, 0.8) * zipper.size
    first = np.round((row - zipper.phase - 0.5 * zipper.pitch * right) / zipper.pitch)
    chosen = (index >= first) & (index < first + rng.integers(1, 4))
    jagged = 0.15 * value_noise(rng, head.shape, 2.0)
    cut = 1 - 1.2 * np.clip(scale, 0.3, 1.2) + jagged
    broken = chosen & (coverage > 0.5) & (head > cut)
    holes = (broken & (not right), broken & right)
    altered = _picture(zipper, zipper.backdrop, holes=holes)
    target = image + (0.35 + 0.5 * contrast) * (altered - image)
    return broken, target, 0.6


def _split_teeth(
    zipper: _Zipper, image: Field, rng: np.random.Generator, difficulty: float
) -> tuple[Mask, Field, float]:
    """Over a stretch of rows the two sides drift apart, opening a gap between the teeth."""
    scale, contrast = defects.extent(rng, difficulty), defects.strength(rng, difficulty)
    half = max(0.14 * zipper.size * scale, 1.5 * zipper.pitch)
    window = _window(zipper, rng.uniform(0.25, 0.75) * zipper.size, half)
    for boost in _BOOSTS:
        offset = window * zipper.overlap * (0.3 + 0.8 * contrast) * boost
        altered = _picture(zipper, zipper.backdrop, offset=offset)
        mask = _moved(zipper, image, altered)
        if mask.any():
            break
    return mask, altered, 0.7


def _squeezed_teeth(
    zipper: _Zipper, image: Field, rng: np.random.Generator, difficulty: float
) -> tuple[Mask, Field, float]:
    """Over a stretch of rows the teeth are pressed smaller and closer together."""
    scale, contrast = defects.extent(rng, difficulty), defects.strength(rng, difficulty)
    pivot = rng.uniform(0.25, 0.75) * zipper.size
    window = _window(zipper, pivot, max(0.1 * zipper.size * scale, 1.5 * zipper.pitch))
    for boost in _BOOSTS:
        stretch = 1 + window * (0.06 + 0.25 * contrast) * boost
        altered = _picture(zipper, zipper.backdrop, squeeze=(stretch, pivot))
        mask = _moved(zipper, image, altered)
        if mask.any():
            break
    return mask, altered, 0.7


def _moved(zipper: _Zipper, image: Field, altered: Field) -> Mask:
    """The mask of a geometric defect: changed teeth, merged into one region. (H, W) bool."""
    return defects.changed(image, altered, 0.04, _band(zipper, 2.0), _bridge(zipper))


def _fabric_interior(
    zipper: _Zipper, image: Field, rng: np.random.Generator, difficulty: float
) -> tuple[Mask, Field, float]:
    """A fold of tape caught between the teeth: fabric texture over part of the teeth."""
    scale, contrast = defects.extent(rng, difficulty), defects.strength(rng, difficulty)
    side = rng.choice([-1.0, 1.0])
    row = rng.uniform(0.2, 0.8) * zipper.size
    column = _column(zipper, row) + side * zipper.reach * rng.uniform(0.2, 0.7)
    radius = 0.07 * zipper.size * scale
    mask = defects.blob(
        image.shape, (row, column), radius, rng, 0.3, rng.uniform(1.3, 2.2), np.pi / 2
    )
    folds = 1 + 0.12 * stretched_noise(rng, image.shape, along=2.0, across=6.0)
    target = image + (0.3 + 0.5 * contrast) * (zipper.fabric * folds - image)
    return mask, target.astype(np.float32), 1.0


def _rough(
    zipper: _Zipper, image: Field, rng: np.random.Generator, difficulty: float
) -> tuple[Mask, Field, float]:
    """Frayed tape along the teeth: coarse, fibrous, uneven texture."""
    scale, contrast = defects.extent(rng, difficulty), defects.strength(rng, difficulty)
    side = rng.choice([-1.0, 1.0])
    row = rng.uniform(0.2, 0.8) * zipper.size
    column = _column(zipper, row) + side * (zipper.reach + 0.035 * zipper.size)
    radius = 0.09 * zipper.size * scale
    mask = defects.blob(
        image.shape, (row, column), radius, rng, 0.35, rng.uniform(2.0, 3.0), np.pi / 2
    )
    fibres = stretched_noise(rng, image.shape, along=1.5, across=5.0).T
    grit = value_noise(rng, image.shape, 1.0)
    target = image * (1 + contrast * (0.25 * fibres + 0.15 * grit)) + 0.03 * contrast
    return mask, target.astype(np.float32), 1.0


def _column(zipper: _Zipper, row: float) -> float:
    """Column of the zipper's axis at `row`."""
    line = int(np.clip(round(row), 0, zipper.size - 1))
    return float(np.argmin(np.abs(zipper.axis[line])))


_DRAWERS = {
    "broken_teeth": _broken_teeth,
    "fabric_interior": _fabric_interior,
    "rough": _rough,
    "split_teeth": _split_teeth,
    "squeezed_teeth": _squeezed_teeth,
}
