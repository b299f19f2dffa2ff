"""Spearman rank correlation of two per-image quantities with a stratified bootstrap interval.

The correlation of x and y over N images is Pearson's correlation of their ranks (ties get
their average rank, as `scipy.stats.spearmanr`). Its interval resamples the images exactly as
the paired differences do (`bootstrap.stratified_resamples`: with replacement, stratified by
label, n and seed given), the correlation is computed on each resample (a repeated image
keeps its values; ties among repeats are averaged like any tie), and the interval is the
percentile interval of the resampled correlations; the p-value is the two-sided bootstrap
p-value of rho != 0 of `paired.bootstrap_p_value`. Several seeds are pooled as
`paired.pool_differences` pools differences: resample k of the pooled value is the mean over
seeds of each seed's resample k.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation import _checks
from evalsuite.evaluation.bootstrap import check_level, percentile_interval, stratified_resamples
from evalsuite.evaluation.paired import bootstrap_p_value

MIN_IMAGES = 3
"""The fewest paired images a correlation is computed on."""


@dataclass(frozen=True)
class Correlation:
    """Spearman's rho of two per-image quantities with its bootstrap interval.

    Attributes:
        rho: the correlation over all the images (mean over seeds when pooled).
        ci95: the percentile bootstrap interval (at `level`).
        p_value: two-sided bootstrap p-value of rho != 0.
        n_images: the paired images (summed over seeds when pooled).
        n_resamples: bootstrap resamples.
        seed: resampling seed (the first seed's when pooled).
        resampled: (B,) the resampled correlations (for pooling over seeds).
    """

    rho: float
    ci95: tuple[float, float]
    p_value: float
    n_images: int
    n_resamples: int
    seed: int
    resampled: np.ndarray | None = field(default=None, repr=False, compare=False)


def spearman(
    x: np.ndarray,
    y: np.ndarray,
    labels: np.ndarray,
    *,
    n: int = 1000,
    seed: int,
    level: float = 0.95,
) -> Correlation:
    """Spearman's rho of x and y with its stratified bootstrap interval.

    Args:
        x: (N,) one quantity per image, e.g. the score change under one shift.
        y: (N,) the other, for the same images in the same order.
        labels: (N,) True = anomalous image (the strata of the resampling).
        n: resamples; seed: resampling seed; level: confidence level.

    Raises:
        EvaluationError: fewer than `MIN_IMAGES` images, arrays of other lengths, or a
            correlation undefined (a constant quantity) on the images or on a resample.
    """
    check_level(level)
    y_labels = _checks.as_bool(labels, "labels")
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xs.shape != y_labels.shape or ys.shape != y_labels.shape:
        raise EvaluationError(
            f"x ({xs.size}), y ({ys.size}) and labels ({y_labels.size}) differ in length; "
            "give one value of each per image"
        )
    if y_labels.size < MIN_IMAGES:
        raise EvaluationError(
            f"{y_labels.size} paired images; a rank correlation needs at least {MIN_IMAGES}"
        )
    rho = float(rank_correlation(xs[None, :], ys[None, :])[0])
    resamples = stratified_resamples(y_labels, n, seed)
    resampled = rank_correlation(xs[resamples], ys[resamples])
    if not (np.isfinite(rho) and np.isfinite(resampled).all()):
        raise EvaluationError(
            "Spearman's rho is undefined: a score change is constant on the images or on "
            "some resamples"
        )
    return Correlation(
        rho=rho,
        ci95=percentile_interval(resampled, level),
        p_value=bootstrap_p_value(resampled),
        n_images=int(y_labels.size),
        n_resamples=int(resampled.size),
        seed=seed,
        resampled=resampled,
    )


def rank_correlation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row: x, y (B, N) -> (B,), NaN where a row is constant."""
    from scipy.stats import rankdata  # lazily: `evalsuite site` starts without scipy.stats

    rx = rankdata(x, axis=1)
    ry = rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(
            (rx * ry).sum(axis=1) / np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
        )


def pool_correlations(found: Sequence[Correlation], level: float = 0.95) -> Correlation:
    """The mean correlation over seeds, its interval from the seeds' resamples averaged.

    Args:
        found: one per seed, each with its `resampled` values and the same B.
        level: confidence level.
    """
    check_level(level)
    if not found:
        raise EvaluationError("pooling needs at least one correlation")
    if len(found) == 1:
        return found[0]
    stacked = [c.resampled for c in found if c.resampled is not None]
    if len(stacked) != len(found) or len({s.size for s in stacked}) != 1:
        raise EvaluationError(
            "pooling needs the resampled correlations of every seed with the same resample count"
        )
    resampled = np.mean(np.stack(stacked), axis=0)
    return Correlation(
        rho=float(np.mean([c.rho for c in found])),
        ci95=percentile_interval(resampled, level),
        p_value=bootstrap_p_value(resampled),
        n_images=sum(c.n_images for c in found),
        n_resamples=found[0].n_resamples,
        seed=found[0].seed,
        resampled=resampled,
    )
