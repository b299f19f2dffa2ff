"""Image- and pixel-level metrics: numpy arrays in, Python floats and small dicts out.

Conventions: higher scores mean more anomalous; an item is predicted anomalous when its score is
>= the threshold; labels and masks are 1 (or True) for anomalous images / defect pixels. Ranking
metrics are exact over all distinct thresholds and treat ties as scikit-learn does. AU-PRO lives in
`evalsuite.evaluation.pro` and is re-exported here.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation import _checks
from evalsuite.evaluation.curves import roc_from_labels, sweep
from evalsuite.evaluation.pro import aupro

__all__ = [
    "RocPoints",
    "aupro",
    "downsample_roc",
    "image_aupr",
    "image_auroc",
    "pixel_auroc",
    "pixel_f1",
    "roc_points",
    "threshold_metrics",
]


class RocPoints(TypedDict):
    """ROC curve points; the threshold of the (0, 0) point is None."""

    fpr: list[float]
    tpr: list[float]
    thresholds: list[float | None]


def image_auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of image scores.

    Args:
        scores: (N,) image anomaly scores.
        labels: (N,) 1 = anomalous image; both classes must be present.

    Returns:
        the AUROC in [0, 1]; tied scores count one half, as in scikit-learn.
    """
    s, y = _checks.scores_and_labels(scores, labels)
    _checks.both_classes(y, "image AUROC")
    return _auroc(s, y)


def image_aupr(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision of image scores: sum over thresholds of (R_k - R_{k-1}) * P_k.

    Equal to scikit-learn's `average_precision_score` (a step sum, not a trapezoid).

    Args:
        scores: (N,) image anomaly scores.
        labels: (N,) 1 = anomalous image; both classes must be present.
    """
    s, y = _checks.scores_and_labels(scores, labels)
    _checks.both_classes(y, "image AUPR")
    sw = sweep(s, y, ~y)
    precision = sw.pos / (sw.pos + sw.neg)
    recall = sw.pos / sw.pos[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def threshold_metrics(
    scores: np.ndarray, labels: np.ndarray, threshold: float
) -> dict[str, float | int]:
    """Confusion-matrix metrics of the decision `score >= threshold`.

    Zero-denominator cases are defined, not NaN: precision is 0 when nothing is predicted
    anomalous, recall (= tpr) is 0 when there is no anomalous item, fpr is 0 when there is no
    normal item, and f1 is 0 when precision + recall is 0 (scikit-learn's `zero_division=0`).

    Args:
        scores: (N,) anomaly scores (images, or flattened pixels).
        labels: (N,) 1 = anomalous.
        threshold: decision threshold, from val.

    Returns:
        f1, precision, recall, accuracy, fpr, tpr (floats) and tp, fp, tn, fn (ints).
    """
    s, y = _checks.scores_and_labels(scores, labels)
    pred = s >= threshold
    tp = int(np.count_nonzero(pred & y))
    fp = int(np.count_nonzero(pred & ~y))
    return _from_counts(tp, fp, n_pos=int(np.count_nonzero(y)), n=y.size)


def pixel_auroc(maps: np.ndarray, masks: np.ndarray) -> float:
    """Area under the ROC curve over all pixels of all images.

    Args:
        maps: (N, H, W) pixel anomaly scores.
        masks: (N, H, W) 1 = defect pixel; both classes must be present.

    Returns:
        the AUROC in [0, 1], equal to `roc_auc_score(masks.ravel(), maps.ravel())`.
    """
    m, g = _checks.maps_and_masks(maps, masks)
    flat = g.ravel()
    _checks.both_classes(flat, "pixel AUROC")
    return _auroc(m.ravel(), flat)


def pixel_f1(maps: np.ndarray, masks: np.ndarray, threshold: float) -> float:
    """F1 of the predicted defect mask `maps >= threshold` against `masks`, over all pixels.

    Args:
        maps: (N, H, W) pixel anomaly scores.
        masks: (N, H, W) 1 = defect pixel.
        threshold: pixel threshold, from val.

    Returns:
        2 TP / (2 TP + FP + FN); 0 when there is neither a defect nor a predicted defect pixel.
    """
    m, g = _checks.maps_and_masks(maps, masks)
    pred = m >= threshold
    tp = int(np.count_nonzero(pred & g))
    fp = int(np.count_nonzero(pred)) - tp
    fn = int(np.count_nonzero(g)) - tp
    return 0.0 if tp == 0 else 2.0 * tp / (2.0 * tp + fp + fn)


def roc_points(scores: np.ndarray, labels: np.ndarray, max_points: int = 200) -> RocPoints:
    """ROC curve points for plotting, at most `max_points` of them.

    Collinear intermediate points are dropped first (no change to the curve). If more than
    `max_points` remain, points are picked evenly along the curve's length (fpr + tpr, which grows
    monotonically from 0 to 2); the first (0, 0) and last (1, 1) points are always kept, so the
    result is a monotone sub-sequence of the exact curve.

    Args:
        scores: (P,) scores (images, or flattened pixel maps).
        labels: (P,) 1 = anomalous; both classes must be present.
        max_points: at least 2.

    Returns:
        fpr, tpr and thresholds lists of equal length; the threshold of the (0, 0) point is None
        (nothing predicted anomalous; JSON has no infinity).
    """
    s, y = _checks.scores_and_labels(scores, labels)
    _checks.both_classes(y, "ROC curve")
    return downsample_roc(*roc_from_labels(s, y), max_points=max_points)


def downsample_roc(
    fpr: np.ndarray, tpr: np.ndarray, thresholds: np.ndarray, max_points: int = 200
) -> RocPoints:
    """Reduce an exact ROC curve to at most `max_points` points, as `roc_points` describes.

    Args:
        fpr: (T,), tpr: (T,), thresholds: (T,) from `curves.roc_from_labels`.
        max_points: at least 2.
    """
    if max_points < 2:
        raise EvaluationError(f"max_points={max_points} is too small; use at least 2")
    keep = _corners(fpr, tpr)
    if keep.size > max_points:
        length = fpr[keep] + tpr[keep]
        picks = np.searchsorted(length, np.linspace(0.0, 2.0, max_points), side="left")
        picks = np.unique(np.clip(picks, 0, keep.size - 1))
        keep = keep[np.union1d(picks, [0, keep.size - 1])]
    kept: list[float | None] = [None if np.isinf(t) else float(t) for t in thresholds[keep]]
    return {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist(), "thresholds": kept}


def _auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """AUROC by trapezoid over the exact ROC curve; both classes assumed present."""
    fpr, tpr, _ = roc_from_labels(scores, labels)
    return float(np.trapezoid(tpr, fpr))


def _corners(fpr: np.ndarray, tpr: np.ndarray) -> np.ndarray:
    """Indices of the points where the ROC curve changes direction, ends included."""
    if fpr.size <= 2:
        return np.arange(fpr.size)
    bends = np.flatnonzero(np.logical_or(np.diff(fpr, 2), np.diff(tpr, 2))) + 1
    return np.concatenate(([0], bends, [fpr.size - 1]))


def _from_counts(tp: int, fp: int, n_pos: int, n: int) -> dict[str, float | int]:
    """Metrics of a confusion matrix given TP, FP, the positive count and the total count."""
    fn, n_neg = n_pos - tp, n - n_pos
    tn = n_neg - fp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / n_pos if n_pos else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "accuracy": (tp + tn) / n,
        "fpr": fp / n_neg if n_neg else 0.0,
        "tpr": recall,
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
    }
