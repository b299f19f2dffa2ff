"""Stratified bootstrap intervals of the image AUPR and of the metrics at a fixed image threshold.

The resamples are those of `evaluation.bootstrap.stratified_resamples` (stratified by the image
label, seeded), so for a seed they are the image AUROC interval's resamples. Each resample is
read as per-image counts c (N,) (`bootstrap.resample_counts`) and every metric follows from
per-image statistics computed once, without re-sorting the scores:

- at a threshold t (chosen on validation data, never on the resampled test images: it stays
  fixed), TP = c . [s >= t & y], FP = c . [s >= t & ~y], FN = c . [s < t & y]; F1, precision,
  recall and FPR follow as in `metrics.threshold_metrics` (0 for a zero denominator);
- AUPR (average precision): with the scores sorted once, decreasing, and grouped by distinct
  value, TP_k and FP_k are cumulative sums of the counts up to group k, and
  AP = sum_k (TP_k - TP_{k-1}) / TP_K * TP_k / (TP_k + FP_k), as `metrics.image_aupr`.
"""

from __future__ import annotations

import numpy as np

from evalsuite.evaluation import _checks
from evalsuite.evaluation.bootstrap import (
    Interval,
    check_level,
    percentile_interval,
    resample_counts,
    stratified_resamples,
)

THRESHOLD_METRICS = ("f1", "precision", "recall", "fpr")
"""The metrics at the image threshold that get an interval."""


def threshold_cis(
    scores: np.ndarray,
    labels: np.ndarray,
    threshold: float,
    *,
    n: int = 1000,
    seed: int,
    level: float = 0.95,
) -> dict[str, Interval]:
    """Bootstrap intervals of F1, precision, recall and FPR at a fixed threshold.

    Args:
        scores: (N,) image scores; labels: (N,) 1 = anomalous image.
        threshold: the image threshold from val (fixed over the resamples).
        n: resamples; seed: resampling seed; level: confidence level.

    Returns:
        THRESHOLD_METRICS name -> (low, high).
    """
    check_level(level)
    s, y = _checks.scores_and_labels(scores, labels)
    counts = _counts(y, n, seed)
    pred = s >= threshold
    per_image = np.stack([pred & y, pred & ~y, ~pred & y], axis=1).astype(np.float64)
    tp, fp, fn = (np.einsum("bn,n->b", counts, per_image[:, k]) for k in range(3))
    n_pos, n_neg = float(np.count_nonzero(y)), float(np.count_nonzero(~y))
    values = {
        "f1": _ratio(2.0 * tp, 2.0 * tp + fp + fn),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, np.full_like(tp, n_pos)),
        "fpr": _ratio(fp, np.full_like(fp, n_neg)),
    }
    return {name: percentile_interval(values[name], level) for name in THRESHOLD_METRICS}


def aupr_ci(
    scores: np.ndarray, labels: np.ndarray, *, n: int = 1000, seed: int, level: float = 0.95
) -> Interval:
    """Bootstrap interval of the image AUPR (average precision), exact per resample.

    Args:
        scores: (N,) image scores; labels: (N,) 1 = anomalous image, both classes present.
        n: resamples; seed: resampling seed; level: confidence level.
    """
    check_level(level)
    s, y = _checks.scores_and_labels(scores, labels)
    _checks.both_classes(y, "image AUPR")
    counts = _counts(y, n, seed)
    order = np.argsort(-s, kind="stable")
    ends = np.flatnonzero(np.diff(s[order], append=-np.inf))  # last item of each score group
    tp = np.cumsum(counts[:, order] * y[order], axis=1)[:, ends]
    fp = np.cumsum(counts[:, order] * ~y[order], axis=1)[:, ends]
    precision = _ratio(tp, tp + fp)
    steps = np.diff(tp, axis=1, prepend=0.0)
    values = (steps * precision).sum(axis=1) / tp[:, -1]
    return percentile_interval(values, level)


def _counts(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """(n, N) per-image counts of the stratified resamples of labels y."""
    return resample_counts(stratified_resamples(y, n, seed), y.size)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0."""
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, 0.0)
