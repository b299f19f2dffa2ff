"""AUPIMO: the area under each anomalous image's per-image overlap (PIMO) curve.

Bertoldo et al., "AUPIMO: redefining visual anomaly detection benchmarks with high speed and
low tolerance" (arXiv 2401.01984, 2024). For a pixel threshold t:

- the shared FPR is the mean over the normal test images of the fraction of their pixels >= t
  (images of one size: the fraction of all normal-image pixels >= t);
- the PIMO of anomalous image i is its TPR_i(t), the fraction of its defect pixels >= t.

AUPIMO_i is the area under TPR_i against log(shared FPR) between the bounds (1e-5, 1e-4 by
default), divided by log(upper / lower) so that it lies in [0, 1]. Computed here exactly from
every distinct normal-pixel value: between two consecutive ones u_j > u_{j+1} the shared FPR
steps from F_j to F_{j+1} while TPR_i goes from TPR_i(> u_{j+1}) to TPR_i(>= u_{j+1}); the curve
joins these two points linearly in log FPR (the limit of a dense threshold grid, as anomalib's
`AUPIMO` integrates with its trapezoid), so ties are handled like an ROC curve's.
"""

from __future__ import annotations

import math

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation import _checks

FPR_BOUNDS = (1e-5, 1e-4)
"""The paper's default shared-FPR integration range."""


def aupimo(
    maps: np.ndarray, masks: np.ndarray, fpr_bounds: tuple[float, float] = FPR_BOUNDS
) -> np.ndarray:
    """AUPIMO of every test image; NaN for the normal ones (no defect pixel, no TPR).

    Args:
        maps: (N, H, W) pixel anomaly scores.
        masks: (N, H, W) 1 = defect pixel.
        fpr_bounds: (lower, upper) shared-FPR range, 0 < lower < upper <= 1.

    Returns:
        (N,) AUPIMO in [0, 1] for anomalous images, NaN for normal ones.

    Raises:
        EvaluationError: no normal or no anomalous image, bad bounds, or too few normal pixels
            for the shared FPR to reach the lower bound (it needs >= 1 / lower of them).
    """
    low, high = _check_bounds(fpr_bounds)
    m, g = _checks.maps_and_masks(maps, masks)
    flat_m = m.reshape(m.shape[0], -1).astype(np.float64)
    flat_g = g.reshape(g.shape[0], -1)
    anomalous = flat_g.any(axis=1)
    if anomalous.all() or not anomalous.any():
        raise EvaluationError(
            "AUPIMO needs normal and anomalous test images (with a mask); this cell has "
            f"{int((~anomalous).sum())} normal and {int(anomalous.sum())} anomalous"
        )
    values, fpr = _shared_fpr(flat_m[~anomalous].ravel())
    if fpr[0] > low:
        raise EvaluationError(
            f"the shared FPR of the normal test pixels cannot go below {fpr[0]:.3g} (ties or "
            f"fewer than {math.ceil(1 / low)} pixels), above AUPIMO's lower bound {low:g}"
        )
    scores = np.full(m.shape[0], np.nan)
    segments = _segments(values, fpr, low, high)
    for i in np.flatnonzero(anomalous):
        scores[i] = _area(np.sort(flat_m[i][flat_g[i]]), segments)
    return np.clip(scores / math.log(high / low), 0.0, 1.0)


def _check_bounds(fpr_bounds: tuple[float, float]) -> tuple[float, float]:
    low, high = float(fpr_bounds[0]), float(fpr_bounds[1])
    if not 0.0 < low < high <= 1.0:
        raise EvaluationError(f"AUPIMO's FPR bounds {fpr_bounds} must be 0 < lower < upper <= 1")
    return low, high


def _shared_fpr(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct normal-pixel values u (K,), decreasing, and F (K,): the fraction >= each."""
    values, counts = np.unique(normal, return_counts=True)
    values, counts = values[::-1], counts[::-1]
    return values, np.cumsum(counts) / normal.size


class _Segments:
    """The curve's pieces inside [log lower, log upper], clipped to it.

    Attributes:
        value: (S,) u_{j+1}, the threshold at the piece's right end.
        x0, x1: (S,) the piece's ends in log FPR before clipping.
        c0, c1: (S,) the clipped ends.
    """

    def __init__(self, value: np.ndarray, x0: np.ndarray, x1: np.ndarray, lo: float, hi: float):
        self.value, self.x0, self.x1 = value, x0, x1
        self.c0, self.c1 = np.maximum(x0, lo), np.minimum(x1, hi)


def _segments(values: np.ndarray, fpr: np.ndarray, low: float, high: float) -> _Segments:
    """The pieces F_j -> F_{j+1} of the curve that overlap [low, high] (F_j >= F_1 > 0)."""
    log_f = np.log(fpr)
    lo, hi = math.log(low), math.log(high)
    j = np.arange(values.size - 1)
    keep = (log_f[j + 1] > lo) & (log_f[j] < hi)
    j = j[keep]
    return _Segments(values[j + 1], log_f[j], log_f[j + 1], lo, hi)


def _area(defect: np.ndarray, s: _Segments) -> float:
    """Integral of one image's TPR over its clipped pieces (linear in log FPR on each).

    Args:
        defect: (P,) the image's defect-pixel scores, sorted increasingly.
        s: the pieces.
    """
    n = defect.size
    above = (n - np.searchsorted(defect, s.value, side="right")) / n  # TPR(> u_{j+1})
    at_least = (n - np.searchsorted(defect, s.value, side="left")) / n  # TPR(>= u_{j+1})
    slope = (at_least - above) / (s.x1 - s.x0)
    y0 = above + slope * (s.c0 - s.x0)
    y1 = above + slope * (s.c1 - s.x0)
    return float(np.sum((s.c1 - s.c0) * (y0 + y1) / 2.0))
