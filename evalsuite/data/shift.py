"""MVTec-Shift: apply a drawn shift to an image and its mask; shift a whole tree.

Geometric transforms move the mask with the image through the same coordinate map (nearest
neighbour for the mask, so it stays binary). Borders are filled by reflection, for the image
and the mask alike, so reflected content keeps its labels.

Label rule for defects pushed out of frame: a defective image stays defective when at least
`MIN_VISIBLE_FRACTION` of its original defect area, and at least `MIN_VISIBLE_PIXELS` pixels,
remain visible after the warp; otherwise it is relabelled normal, its mask is dropped, and the
reason is recorded in the tree's `evalsuite-shift.json` (`relabelled`), which the reader applies.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from evalsuite.data.shift_params import ShiftParams

MIN_VISIBLE_FRACTION = 0.05
MIN_VISIBLE_PIXELS = 4


def homography(params: ShiftParams, width: int, height: int) -> np.ndarray:
    """The 3×3 matrix mapping source pixel (x, y, 1) to output pixel coordinates.

    Rotation and scale about the centre, then translation, then the corner displacements of
    the slight perspective, solved as the homography through the four moved corners.
    """
    source = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], float)
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    angle = np.deg2rad(params.rotation_deg)
    rotation = params.scale * np.array(
        [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    )
    shift = np.array(params.translation) * [width, height]
    moved = (source - centre) @ rotation.T + centre + shift
    moved = moved + np.array(params.corners) * [width, height]
    return _four_point(source, moved)


def _four_point(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    rows = []
    for (x, y), (u, v) in zip(source, target, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, v])
    system = np.array(rows, float)
    solution = np.linalg.solve(system[:, :8], system[:, 8])
    return np.append(solution, 1.0).reshape(3, 3)


def warp(
    image: np.ndarray, mask: np.ndarray | None, params: ShiftParams
) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply the geometric part of a shift.

    Args:
        image: (H, W, 3) or (H, W) float32 in [0, 1].
        mask: (H, W) bool or None.
        params: the drawn shift.

    Returns:
        the warped image (same shape) and mask (same shape, still binary).
    """
    height, width = image.shape[:2]
    inverse = np.linalg.inv(homography(params, width, height))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    points = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    src = inverse @ points
    src_x = (src[0] / src[2]).reshape(height, width)
    src_y = (src[1] / src[2]).reshape(height, width)
    coords = np.stack([src_y, src_x])

    def resample(plane: np.ndarray, order: int) -> np.ndarray:
        return ndimage.map_coordinates(plane, coords, order=order, mode="mirror")

    if image.ndim == 3:
        out = np.stack([resample(image[..., c], 1) for c in range(image.shape[2])], axis=2)
    else:
        out = resample(image, 1)
    warped_mask = None
    if mask is not None:
        warped_mask = resample(mask.astype(np.uint8), 0) > 0
    return out.astype(np.float32), warped_mask


def photometric(image: np.ndarray, params: ShiftParams) -> np.ndarray:
    """Apply the photometric part of a shift (defocus, lighting, sensor response, noise).

    Args:
        image: (H, W, 3) or (H, W) float32 in [0, 1]; colour temperature needs 3 channels and is
            skipped for grayscale images.

    Returns:
        the changed image, same shape, clipped to [0, 1].
    """
    height, width = image.shape[:2]
    sigma = (params.blur_sigma, params.blur_sigma, 0)[: image.ndim]
    out = (
        ndimage.gaussian_filter(image, sigma=sigma, mode="mirror")
        if params.blur_sigma > 0
        else image
    )
    out = (
        out * _illumination(params, width, height)[..., None]
        if out.ndim == 3
        else out * _illumination(params, width, height)
    )
    out = out * (2.0**params.exposure_stops)
    out = np.clip(out, 0.0, 1.0) ** params.gamma
    mean = float(out.mean())
    out = (out - mean) * params.contrast + mean
    if out.ndim == 3 and out.shape[2] == 3:
        out = out * np.array([1 + params.temperature, 1.0, 1 - params.temperature], np.float32)
    noise = np.random.default_rng(params.noise_seed).normal(0, params.noise_sigma, out.shape)
    return np.clip(out + noise, 0.0, 1.0).astype(np.float32)


def _illumination(params: ShiftParams, width: int, height: int) -> np.ndarray:
    """(H, W) multiplicative illumination field: a linear gradient times a spotlight."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    xs, ys = xs / max(width - 1, 1) - 0.5, ys / max(height - 1, 1) - 0.5
    angle = np.deg2rad(params.gradient_angle_deg)
    gradient = 1.0 + params.gradient * (np.cos(angle) * xs + np.sin(angle) * ys)
    cx, cy = params.spot_center[0] - 0.5, params.spot_center[1] - 0.5
    spot = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * params.spot_radius**2))
    return (gradient * (1.0 + params.spot * spot)).astype(np.float32)


def apply_shift(
    image: np.ndarray, mask: np.ndarray | None, params: ShiftParams
) -> tuple[np.ndarray, np.ndarray | None]:
    """Shift one image and its mask.

    Args:
        image: (H, W, 3) or (H, W) uint8.
        mask: (H, W) bool, or None for normal images.

    Returns:
        (H, W[, 3]) uint8 image and (H, W) bool mask (None when `mask` is None).
    """
    as_float = image.astype(np.float32) / 255.0
    warped, warped_mask = warp(as_float, mask, params)
    out = photometric(warped, params)
    return np.round(out * 255.0).astype(np.uint8), warped_mask


def still_defective(original: np.ndarray, warped: np.ndarray) -> bool:
    """The label rule: enough of the defect remains visible after the warp."""
    before, after = int(original.sum()), int(warped.sum())
    return after >= MIN_VISIBLE_PIXELS and after >= MIN_VISIBLE_FRACTION * before
