"""The mean over categories of a metric, and of a paired difference, with stratified intervals.

Papers report one number per detector: the mean over categories of a per-category metric. Its
interval resamples test images WITHIN each category (a stratified bootstrap whose strata are
the categories and, within each, the image label): resample k of the mean averages, over the
categories, the metric of each category on that category's own resample k, drawn exactly as
the category's own interval draws it (`bootstrap.stratified_resamples` of the category's
labels with the cell's seed and resample count). The interval is the percentile interval of
the B resampled means; images never move between categories, so every category keeps its
weight 1 / (number of categories) in every resample.

Each metric is evaluated on a resample as a function of per-image counts, the functions of
`evaluation.paired` (image AUROC and image F1 from scores, pixel AUROC, AU-PRO and pixel F1
from a cell's `PixelEvidence`); the strata are the image labels for image metrics and
"the image holds a defect pixel" for pixel metrics, as in `bootstrap` and `pixel_bootstrap`.

The mean of paired differences b - a averages the categories' resampled differences in the
same way (each category's paired resamples, `paired.paired_difference`), which gives its
interval and its bootstrap p-value (`paired.bootstrap_p_value`): the same average that
`paired.pool_differences` takes over seeds, taken over categories (with several seeds, each
category's resamples are first averaged over its seeds).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation import _checks
from evalsuite.evaluation.bootstrap import (
    Interval,
    check_level,
    percentile_interval,
    resample_counts,
    stratified_resamples,
)
from evalsuite.evaluation.paired import (
    Difference,
    ValueOf,
    image_value,
    pixel_value,
    pool_differences,
)
from evalsuite.evaluation.pixel_evidence import PixelEvidence

MEAN_METRICS = ("image_auroc", "image_f1", "pixel_auroc", "aupro_0.3", "pixel_f1")
"""The metrics whose mean over categories has an interval (those with a resampled value)."""


@dataclass(frozen=True)
class CategoryMean:
    """The mean over categories of one metric.

    Attributes:
        value: the mean of the categories' values.
        ci95: the stratified percentile bootstrap interval (at `level`).
        n_categories: how many categories are averaged.
        n_resamples: B.
        resampled: (B,) the mean over categories on each resample.
    """

    value: float
    ci95: Interval
    n_categories: int
    n_resamples: int
    resampled: np.ndarray = field(repr=False, compare=False)


def resampled_values(value: ValueOf, strata: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A metric on each of a cell's own stratified resamples.

    Args:
        value: the metric as a function of per-image counts (B, N) -> (B,).
        strata: (N,) bool, True = anomalous image (the resampling's strata).
        n: resamples; seed: the cell's bootstrap seed.

    Returns:
        (n,) the metric on resample k, k = 0 .. n - 1 (the resamples of the cell's interval).
    """
    y = _checks.as_bool(strata, "labels")
    counts = resample_counts(stratified_resamples(y, n, seed), y.size)
    return np.asarray(value(counts), dtype=np.float64)


def image_resamples(
    metric: str,
    labels: np.ndarray,
    scores: np.ndarray,
    threshold: float | None,
    *,
    n: int,
    seed: int,
) -> np.ndarray:
    """An image metric ("image_auroc" or "image_f1") of one cell on its resamples (n,).

    Args:
        labels: (N,) True = anomalous; scores: (N,) image scores.
        threshold: the cell's image threshold from val (image_f1 only).
        n: resamples; seed: the cell's bootstrap seed.
    """
    value = image_value(metric, labels, scores, threshold)
    return resampled_values(value, labels, n, seed)


def pixel_resamples(metric: str, evidence: PixelEvidence, *, n: int, seed: int) -> np.ndarray:
    """A pixel metric ("pixel_auroc", "aupro_0.3", "pixel_f1") of one cell on its resamples
    (n,), stratified by whether an image holds a defect pixel (as `pixel_bootstrap`)."""
    return resampled_values(pixel_value(metric, evidence), evidence.n_defect > 0, n, seed)


def category_mean(
    values: Sequence[float], resampled: Sequence[np.ndarray], level: float = 0.95
) -> CategoryMean:
    """The mean over categories with its stratified bootstrap interval.

    Args:
        values: one value per category (as the category rows show it).
        resampled: one (B,) array per category, the category's metric on its resamples (same
            B for all; with several seeds, the mean over seeds of each seed's resamples).
        level: confidence level.

    Returns:
        value: `statistics.fmean(values)`; ci95 from the B means over categories.

    Raises:
        EvaluationError: no category, mismatched lengths, or an undefined resample.
    """
    check_level(level)
    if not values or len(values) != len(resampled):
        raise EvaluationError(
            f"a mean over categories needs one value and one resampled array per category "
            f"(got {len(values)} values, {len(resampled)} arrays)"
        )
    if len({np.shape(r) for r in resampled}) != 1 or np.ndim(resampled[0]) != 1:
        raise EvaluationError(
            "the categories' resamples differ in count; evaluate every category with the same "
            "evaluation.bootstrap"
        )
    means = np.mean(np.stack([np.asarray(r, dtype=np.float64) for r in resampled]), axis=0)
    if not np.isfinite(means).all():
        raise EvaluationError(
            "the metric is undefined on some resamples of a category (a class missing from "
            "them); the mean over categories needs every resample defined"
        )
    return CategoryMean(
        value=statistics.fmean(values),
        ci95=percentile_interval(means, level),
        n_categories=len(values),
        n_resamples=int(means.size),
        resampled=means,
    )


def mean_difference(differences: Sequence[Difference], level: float = 0.95) -> Difference:
    """The mean over categories of paired differences b - a, with its stratified interval.

    Resample k averages each category's paired resample k (`Difference.deltas`), so images are
    resampled within their category; a, b and delta are the means of the categories' (exactly
    the mean of the category rows), the p-value is `bootstrap_p_value` of the averaged
    resamples and n_images the categories' total. One category gives that category's
    difference unchanged.

    Args:
        differences: one per category, of one metric, each with its `deltas` and the same B.
        level: confidence level.
    """
    if not differences:
        raise EvaluationError("a mean over categories needs at least one category")
    return pool_differences(differences, level)  # the same average, over categories
