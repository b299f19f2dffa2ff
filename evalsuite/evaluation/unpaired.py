"""Unpaired stratified bootstrap of the difference of one metric between two cells evaluated on
different test sets (e.g. two versions of a dataset), where images cannot be paired.

Each cell's test images are resampled on their own, stratified by label, with its own stream
(seeds `seed` and `seed + 1`), and resample k of the difference is b's resample k minus a's:
the interval of a difference of two independent estimates, wider than a paired one on the same
images. Metric values, interval and p-value are as in `evaluation.paired` (functions of the
per-image counts, percentile interval, +1-corrected two-sided bootstrap p-value).
"""

from __future__ import annotations

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation import _checks
from evalsuite.evaluation.bootstrap import (
    check_level,
    resample_counts,
    stratified_resamples,
)
from evalsuite.evaluation.paired import (
    Difference,
    ValueOf,
    difference_of,
    image_value,
    pixel_value,
)
from evalsuite.evaluation.pixel_evidence import PixelEvidence


def unpaired_image_difference(
    metric: str,
    labels: tuple[np.ndarray, np.ndarray],
    scores: tuple[np.ndarray, np.ndarray],
    *,
    thresholds: tuple[float, float] | None = None,
    n: int = 1000,
    seed: int,
    level: float = 0.95,
) -> Difference:
    """Unpaired difference b - a of an image metric between two cells on their own test sets.

    Args:
        metric: "image_auroc" or "image_f1".
        labels: (N_a,) and (N_b,) True = anomalous, each cell's test images.
        scores: (N_a,) and (N_b,) their image scores.
        thresholds: (a, b) image thresholds from val, needed for image_f1.
        n: resamples; seed: resampling seed; level: confidence level.
    """
    if metric == "image_f1" and thresholds is None:
        raise EvaluationError("image_f1 needs the two cells' image thresholds (a, b)")
    limits = thresholds or (None, None)
    values = [image_value(metric, y, s, t) for y, s, t in zip(labels, scores, limits, strict=True)]
    return unpaired_difference(metric, labels, (values[0], values[1]), n=n, seed=seed, level=level)


def unpaired_pixel_difference(
    metric: str,
    labels: tuple[np.ndarray, np.ndarray],
    evidence: tuple[PixelEvidence, PixelEvidence],
    *,
    n: int = 1000,
    seed: int,
    level: float = 0.95,
) -> Difference:
    """Unpaired difference b - a of a pixel metric from each cell's own evidence.

    Args:
        metric: "pixel_auroc", "aupro_0.3" or "pixel_f1".
        labels: (N_a,) and (N_b,) True = anomalous image (the strata of each cell).
        evidence: each cell's, one row per image of its labels.
        n: resamples; seed: resampling seed; level: confidence level.
    """
    for y, e in zip(labels, evidence, strict=True):
        if e.n_images != np.asarray(y).size:
            raise EvaluationError(
                f"pixel evidence of {e.n_images} images does not match the {np.asarray(y).size} "
                "labels of its cell; give each cell's own labels"
            )
    values = (pixel_value(metric, evidence[0]), pixel_value(metric, evidence[1]))
    return unpaired_difference(metric, labels, values, n=n, seed=seed, level=level)


def unpaired_difference(
    metric: str,
    labels: tuple[np.ndarray, np.ndarray],
    values: tuple[ValueOf, ValueOf],
    *,
    n: int = 1000,
    seed: int,
    level: float = 0.95,
) -> Difference:
    """The unpaired bootstrap of two metrics given as functions of per-image counts.

    Args:
        metric: the metric's name, for the result.
        labels: (N_a,) and (N_b,) bool strata of each cell's resampling.
        values: counts (B, N_a) -> (B,) of cell a, counts (B, N_b) -> (B,) of cell b.
        n: resamples; seed: seed of a's resampling (b's is seed + 1); level: confidence level.

    Returns:
        a Difference with n_images N_a + N_b.
    """
    check_level(level)
    ya, yb = (_checks.as_bool(y, "labels") for y in labels)
    a, b = (float(v(np.ones((1, y.size)))[0]) for v, y in zip(values, (ya, yb), strict=True))
    counts_a = resample_counts(stratified_resamples(ya, n, seed), ya.size)
    counts_b = resample_counts(stratified_resamples(yb, n, seed + 1), yb.size)
    deltas = values[1](counts_b) - values[0](counts_a)
    return difference_of(metric, (a, b), deltas, int(ya.size + yb.size), seed, level, "an interval")
