"""Stratified percentile bootstrap confidence intervals.

A resample draws, with replacement, as many normal items from the normal items and as many
anomalous items from the anomalous items as the data holds, so every resample keeps both class
counts (and both classes). Items are images: for pixel metrics whole images are resampled, an
image being anomalous when its mask holds a defect pixel. Resamples come from
`numpy.random.default_rng(seed)`; the interval is the (1 - level) / 2 and (1 + level) / 2
percentiles of the metric over the resamples.

`bootstrap_ci` evaluates any metric on every resample. The pixel wrappers in
`evalsuite.evaluation.pixel_bootstrap` draw the same resamples but avoid re-sorting pixels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation import _checks
from evalsuite.evaluation.metrics import image_auroc

Interval = tuple[float, float]


def stratified_resamples(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of `n` stratified bootstrap resamples.

    Args:
        labels: (N,) bool, True = anomalous item.
        n: number of resamples, >= 1.
        seed: seed of `numpy.random.default_rng`.

    Returns:
        (n, N) int64 indices; in every row the first (labels == 0).sum() entries are normal
        items, the rest anomalous ones.
    """
    if n < 1:
        raise EvaluationError(f"bootstrap n={n} must be at least 1; the default is 1000")
    rng = np.random.default_rng(seed)
    rows = []
    for stratum in (False, True):
        members = np.flatnonzero(labels == stratum)
        if members.size:
            rows.append(members[rng.integers(0, members.size, size=(n, members.size))])
    return np.concatenate(rows, axis=1)


def resample_counts(resamples: np.ndarray, n_items: int) -> np.ndarray:
    """How often each item appears in each resample.

    Args:
        resamples: (B, N) indices from `stratified_resamples`.
        n_items: N, the number of items.

    Returns:
        (B, N) float64 counts; each row sums to N.
    """
    rows = np.repeat(np.arange(resamples.shape[0]), resamples.shape[1])
    flat = np.bincount(rows * n_items + resamples.ravel(), minlength=resamples.shape[0] * n_items)
    return flat.reshape(resamples.shape[0], n_items).astype(np.float64)


def percentile_interval(values: np.ndarray, level: float) -> Interval:
    """The percentile interval of bootstrap values at confidence `level`.

    Args:
        values: (B,) metric values over resamples.
        level: confidence level in (0, 1), e.g. 0.95.
    """
    check_level(level)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def check_level(level: float) -> None:
    """Raise unless `level` is in (0, 1)."""
    if not 0.0 < level < 1.0:
        raise EvaluationError(f"confidence level={level} is outside (0, 1); use e.g. 0.95")


def bootstrap_ci(
    metric: Callable[..., float],
    *arrays: np.ndarray,
    labels: np.ndarray,
    n: int = 1000,
    seed: int,
    level: float = 0.95,
) -> Interval:
    """Stratified percentile bootstrap interval of `metric(*arrays)`.

    Args:
        metric: called as `metric(*resampled_arrays)`, returns a float.
        *arrays: arrays indexed by item along axis 0, e.g. scores (N,) and labels (N,), or
            maps (N, H, W) and masks (N, H, W).
        labels: (N,) 1 = anomalous item (for pixel metrics: `masks.reshape(N, -1).any(1)`).
        n: number of resamples.
        seed: seed of the resampling.
        level: confidence level.

    Returns:
        (low, high).
    """
    check_level(level)
    y = _checks.as_bool(labels, "labels")
    for a in arrays:
        if np.shape(a)[0] != y.size:
            raise EvaluationError(
                f"an array of length {np.shape(a)[0]} does not match the {y.size} labels; "
                "index every array by item along axis 0"
            )
    resamples = stratified_resamples(y, n, seed)
    values = np.array([metric(*(np.asarray(a)[idx] for a in arrays)) for idx in resamples])
    return percentile_interval(values, level)


def image_auroc_ci(
    scores: np.ndarray, labels: np.ndarray, *, n: int = 1000, seed: int, level: float = 0.95
) -> Interval:
    """Bootstrap interval of the image AUROC.

    Args:
        scores: (N,) image scores.
        labels: (N,) 1 = anomalous image.
        n: number of resamples; seed: resampling seed; level: confidence level.
    """
    s, y = _checks.scores_and_labels(scores, labels)
    _checks.both_classes(y, "image AUROC")
    return bootstrap_ci(image_auroc, s, y, labels=y, n=n, seed=seed, level=level)
