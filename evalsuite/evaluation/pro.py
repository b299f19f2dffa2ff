"""AU-PRO, the per-region overlap curve of MVTec AD (Bergmann et al., CVPR 2019; IJCV 2021).

Definition, as in the MVTec AD reference evaluation (`compute_pro` and `trapezoid`):

- regions: the connected components of each ground-truth mask, found with
  `scipy.ndimage.label` and a 3x3 block of ones as structuring element, i.e. 8-connectivity
  (pixels touching at a corner belong to the same region);
- at a threshold t, PRO(t) = mean over all regions of all images of the fraction of the region's
  pixels with score >= t, and FPR(t) = normal pixels with score >= t / all normal pixels, both
  pooled over all images (images without defects contribute normal pixels only);
- the curve (FPR, PRO) over all distinct thresholds starts at (0, 0), is cut at `fpr_limit` with
  linear interpolation of the crossing segment, integrated with the trapezoid rule and divided by
  `fpr_limit`; the result lies in [0, 1].

The sweep is exact: one sort of all pixels, each pixel adding 1 to the false positives (normal
pixel) or 1 / |region| to the summed overlap (defect pixel).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage

from evalsuite.errors import EvaluationError
from evalsuite.evaluation import _checks
from evalsuite.evaluation.curves import area_to_limit, sweep

CONNECTIVITY = np.ones((3, 3), dtype=int)
"""Structuring element for the ground-truth regions: 8-connectivity, as MVTec's reference."""


class ProCurve(NamedTuple):
    """The PRO curve over all distinct thresholds, starting at (0, 0).

    Attributes:
        fpr: (T + 1,) non-decreasing false positive rate of normal pixels.
        pro: (T + 1,) non-decreasing mean per-region overlap, <= 1.
        thresholds: (T + 1,) decreasing; +inf for the (0, 0) point.
    """

    fpr: np.ndarray
    pro: np.ndarray
    thresholds: np.ndarray


def region_weights(masks: np.ndarray) -> tuple[np.ndarray, int]:
    """Per-pixel weight 1 / |region| for defect pixels (0 elsewhere) and the region count.

    Args:
        masks: (N, H, W) bool ground truth.

    Returns:
        weights: (N, H, W) float64; n_regions: regions over all images.
    """
    weights = np.zeros(masks.shape, dtype=np.float64)
    n_regions = 0
    for i, mask in enumerate(masks):
        if not mask.any():
            continue
        labelled, count = ndimage.label(mask, structure=CONNECTIVITY)
        sizes = np.bincount(labelled.ravel())
        inv = np.zeros(sizes.size, dtype=np.float64)
        inv[1:] = 1.0 / sizes[1:]
        weights[i] = inv[labelled]
        n_regions += int(count)
    return weights, n_regions


def pro_curve(maps: np.ndarray, masks: np.ndarray) -> ProCurve:
    """The exact (FPR, PRO) curve over all distinct thresholds of `maps`.

    Args:
        maps: (N, H, W) pixel anomaly scores.
        masks: (N, H, W) 1 = defect pixel; at least one defect and one normal pixel.

    Returns:
        the curve, from (0, 0) (threshold above every score) to (1, 1).
    """
    m, g = _checks.maps_and_masks(maps, masks)
    weights, n_regions = region_weights(g)
    if n_regions == 0:
        raise EvaluationError(
            "AU-PRO is undefined: the masks hold no defect region; "
            "evaluate it on a test set with annotated anomalous images"
        )
    normal = ~g
    n_normal = int(np.count_nonzero(normal))
    if n_normal == 0:
        raise EvaluationError("AU-PRO is undefined: every pixel of the masks is a defect pixel")
    sw = sweep(m.ravel(), weights.ravel(), normal.ravel())
    fpr = np.concatenate(([0.0], sw.neg / n_normal))
    pro = np.concatenate(([0.0], np.minimum(sw.pos / n_regions, 1.0)))  # cumsum rounding
    return ProCurve(fpr, pro, np.concatenate(([np.inf], sw.thresholds)))


def normalised_area(fpr: np.ndarray, pro: np.ndarray, fpr_limit: float) -> float:
    """Area under a PRO curve up to `fpr_limit`, divided by `fpr_limit`.

    Args:
        fpr: (T,) non-decreasing, first 0; pro: (T,) the PRO at each point. Any monotone subset
            of the exact points that keeps (0, 0) and (1, 1) is accepted.
        fpr_limit: integration limit in (0, 1].
    """
    check_limit(fpr_limit)
    return min(area_to_limit(fpr, pro, fpr_limit) / fpr_limit, 1.0)


def aupro(maps: np.ndarray, masks: np.ndarray, fpr_limit: float = 0.3) -> float:
    """Normalised area under the PRO curve up to `fpr_limit` (AU-PRO@0.3 by default).

    Args:
        maps: (N, H, W) pixel anomaly scores.
        masks: (N, H, W) 1 = defect pixel.
        fpr_limit: integration limit in (0, 1]; MVTec AD uses 0.3, MVTec AD 2 uses 0.05.

    Returns:
        AU-PRO in [0, 1]: 1 when every defect pixel outranks every normal pixel.

    Raises:
        EvaluationError: when the masks hold no defect region (the runner records null with the
            message as reason) or no normal pixel.
    """
    check_limit(fpr_limit)
    curve = pro_curve(maps, masks)
    return normalised_area(curve.fpr, curve.pro, fpr_limit)


def metric_name(fpr_limit: float) -> str:
    """The record name of AU-PRO at `fpr_limit`: `aupro_0.3`, `aupro_0.05`, `aupro_0.1`."""
    return f"aupro_{fpr_limit:g}"


def check_limit(fpr_limit: float) -> None:
    """Raise unless `fpr_limit` is in (0, 1]."""
    if not 0.0 < fpr_limit <= 1.0:
        raise EvaluationError(f"fpr_limit={fpr_limit} is outside (0, 1]; use e.g. 0.3 or 0.05")
