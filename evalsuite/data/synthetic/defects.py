"""Shapes and blending shared by the categories' defects.

A defect is drawn in three steps: a binary `mask` (H, W) bool saying where it is, an `alpha`
(H, W) float32 that is the mask with a feathered edge (zero farther than `EDGE_PX` outside the
mask), and a blend of the defect's look into the image through `alpha`. So a defective image
equals its defect-free base everywhere except inside the mask dilated by `EDGE_PX` pixels.

`strength` and `extent` turn the dataset's `difficulty` into per-sample contrast and size.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from evalsuite.errors import EvalsuiteError

Mask = NDArray[np.bool_]
Field = NDArray[np.float32]
Points = NDArray[np.float32]

EDGE_PX = 2
"""How far a defect's feathered edge may reach outside its mask, in pixels."""
MIN_RADIUS_PX = 2.0


def _easy(difficulty: float) -> float:
    """How far below 0.5 the difficulty is, in [0, 0.5]: the easy half is calibrated apart,
    so that difficulties from 0.5 up draw what they always drew."""
    return max(0.0, 0.5 - difficulty)


def strength(rng: np.random.Generator, difficulty: float) -> float:
    """Per-sample contrast factor in (0, 1]: log-uniform, lower and wider as difficulty grows.

    At difficulty 0 it lies in [0.8, 1]; at 0.5 in [0.25, 0.75]; at 1 in [0.1, 0.5].
    """
    high = 1.0 - 0.5 * difficulty
    low = high * (0.5 - 0.3 * difficulty + 0.6 * _easy(difficulty))
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def extent(rng: np.random.Generator, difficulty: float) -> float:
    """Per-sample size factor around 1: uniform, smaller as difficulty grows.

    At difficulty 0 it lies in [1.2, 1.8]; at 0.5 in [0.7, 1.2]; at 1 in [0.5, 0.9].
    """
    centre = 1.2 - 0.5 * difficulty + 0.6 * _easy(difficulty)
    half = 0.3 - 0.1 * difficulty
    return float(rng.uniform(centre - half, centre + half))


def variation(difficulty: float) -> float:
    """How much normal images vary (lighting, noise, pose), relative to difficulty 0.5's 1.0.

    0.3 at difficulty 0, 1.0 at 0.5, 1.4 at 1.
    """
    return 0.6 + 0.8 * difficulty - 0.6 * _easy(difficulty)


def blob(
    shape: tuple[int, int],
    centre: tuple[float, float],
    radius: float,
    rng: np.random.Generator,
    roughness: float = 0.25,
    aspect: float = 1.0,
    angle: float | None = None,
) -> Mask:
    """An irregular closed blob: a randomly oriented ellipse with a wavy edge.

    Args:
        shape: (H, W) of the mask.
        centre: (y, x) of the blob in pixels.
        radius: mean radius in pixels (along the long axis when `aspect` > 1); at least
            `MIN_RADIUS_PX` is used, so that a blob covers a few pixels at any image size.
        rng: random stream for the orientation and the edge's harmonics.
        roughness: relative amplitude of the edge's waves (0 gives an ellipse).
        aspect: long axis / short axis.
        angle: direction of the long axis in radians from the x axis; random when None.

    Returns:
        mask: (H, W) bool.
    """
    radius = max(radius, MIN_RADIUS_PX)
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    angle = rng.uniform(0.0, np.pi) if angle is None else angle
    dy = (yy - centre[0]).astype(np.float32)
    dx = (xx - centre[1]).astype(np.float32)
    along = dx * np.cos(angle) + dy * np.sin(angle)
    across = (-dx * np.sin(angle) + dy * np.cos(angle)) * aspect
    rho = np.hypot(along, across)
    theta = np.arctan2(across, along)
    edge = np.ones_like(rho)
    for k in range(2, 7):
        amplitude = roughness * rng.uniform(0.2, 1.0) / k
        edge = edge + amplitude * np.cos(k * theta + rng.uniform(0.0, 2 * np.pi))
    mask: Mask = rho < radius * edge
    return mask


def polyline(shape: tuple[int, int], points: Points, width: float) -> Mask:
    """Pixels within `width / 2` of a polyline.

    Args:
        shape: (H, W) of the mask.
        points: (N, 2) vertices as (y, x) pixels, N >= 2.
        width: stroke width in pixels.

    Returns:
        mask: (H, W) bool.
    """
    if len(points) < 2:
        raise EvalsuiteError(f"a polyline needs at least 2 points, got {len(points)}")
    mask = np.zeros(shape, dtype=bool)
    half = width / 2.0
    for start, stop in itertools.pairwise(points):
        top = max(0, int(np.floor(min(start[0], stop[0]) - half - 1)))
        bottom = min(shape[0], int(np.ceil(max(start[0], stop[0]) + half + 2)))
        left = max(0, int(np.floor(min(start[1], stop[1]) - half - 1)))
        right = min(shape[1], int(np.ceil(max(start[1], stop[1]) + half + 2)))
        if top >= bottom or left >= right:
            continue
        yy, xx = np.mgrid[top:bottom, left:right].astype(np.float32)
        segment = stop - start
        length2 = max(float(segment @ segment), 1e-6)
        t = ((yy - start[0]) * segment[0] + (xx - start[1]) * segment[1]) / length2
        t = np.clip(t, 0.0, 1.0)
        distance = np.hypot(yy - start[0] - t * segment[0], xx - start[1] - t * segment[1])
        mask[top:bottom, left:right] |= distance <= half
    return mask


def walk(
    rng: np.random.Generator,
    start: tuple[float, float],
    length: float,
    steps: int,
    wiggle: float,
    smooth: bool,
) -> Points:
    """A random path: a crack (`smooth=False`, jagged turns) or a thread (`smooth=True`).

    Args:
        rng: random stream.
        start: (y, x) of the first vertex.
        length: total length in pixels.
        steps: number of segments.
        wiggle: standard deviation of the turn per step, in radians.
        smooth: whether turns are correlated (a curve) rather than independent (a zigzag).

    Returns:
        points: (steps + 1, 2) float32 vertices as (y, x).
    """
    turns = rng.normal(0.0, wiggle, steps)
    if smooth:
        turns = ndimage.gaussian_filter1d(turns, sigma=2.0, mode="nearest")
        turns = np.cumsum(turns)
    heading = rng.uniform(0.0, 2 * np.pi) + turns
    step = length / steps
    moves = np.stack([np.sin(heading), np.cos(heading)], axis=1) * step
    points = np.vstack([np.asarray(start, dtype=np.float64)[None, :], start + np.cumsum(moves, 0)])
    return points.astype(np.float32)


def feather(mask: Mask, sigma: float) -> Field:
    """Alpha for blending a defect: the mask blurred by `sigma`, zero beyond `EDGE_PX` outside.

    Inside the mask alpha is at least 0.6, so the whole mask is visibly changed.

    Returns:
        alpha: (H, W) float32 in [0, 1].
    """
    alpha = ndimage.gaussian_filter(mask.astype(np.float32), sigma=sigma)
    alpha = np.where(mask, np.maximum(alpha, 0.6), alpha)
    reach = ndimage.binary_dilation(mask, iterations=EDGE_PX)
    return np.where(reach, alpha, 0.0).astype(np.float32)


def blend(image: Field, target: Field, alpha: Field) -> Field:
    """Mix `target` into `image` by `alpha`; pixels where alpha is 0 keep their exact value.

    Args:
        image: (H, W) or (H, W, C) float32 base.
        target: same shape, the defect's look.
        alpha: (H, W) float32 in [0, 1].

    Returns:
        image: same shape as `image`.
    """
    weight = alpha if image.ndim == 2 else alpha[..., None]
    mixed = image + weight * (target - image)
    return np.where(weight > 0, mixed, image).astype(np.float32)


def pick(rng: np.random.Generator, allowed: Mask) -> tuple[float, float]:
    """A uniformly random pixel (y, x) of `allowed`, which must not be empty."""
    rows, cols = np.nonzero(allowed)
    if rows.size == 0:
        raise EvalsuiteError("no pixel left to place a synthetic defect; enlarge the image size")
    index = int(rng.integers(rows.size))
    return float(rows[index]), float(cols[index])


def changed(base: Field, altered: Field, threshold: float, allowed: Mask, closing: int = 2) -> Mask:
    """The mask of a geometric defect: where `altered` differs from `base`, closed and filled.

    Args:
        base: (H, W) or (H, W, C) defect-free image.
        altered: same shape, the image after the geometric change.
        threshold: smallest absolute change that counts.
        allowed: (H, W) region the mask is kept to.
        closing: iterations of the morphological closing that joins nearby changes into one
            region, about half the gap to bridge in pixels.

    Returns:
        mask: (H, W) bool.
    """
    difference = np.abs(altered - base)
    if difference.ndim == 3:
        difference = difference.max(axis=2)
    mask = (difference > threshold) & allowed
    mask = ndimage.binary_closing(mask, iterations=closing)
    mask = ndimage.binary_fill_holes(mask) & allowed
    result: Mask = ndimage.binary_opening(mask, iterations=1)
    return result
