"""Paired stratified bootstrap of the difference of one metric between two cells.

Two cells evaluated on the same test images (clean and shifted test sets hold the same sample
ids; regimes, scopes and sweep values share their test set) are compared by resampling the image
ids jointly: each resample draws the same images, with replacement and stratified by the image
label (`evaluation.bootstrap.stratified_resamples`), for both cells, and the difference b - a is
computed on that resample. Every metric is a function of the per-image counts c (B, N) of the
resamples (`resample_counts`), so no score is re-sorted per resample:

- image AUROC: c_pos^T K c_neg / (sum c_pos sum c_neg), K[i, j] = [s_i > s_j] + [s_i = s_j] / 2
  over anomalous i and normal j (exact, ties as scikit-learn);
- image F1 at the cell's val threshold t: 2 TP / (2 TP + FP + FN) with TP = c . [s >= t & y]
  etc., 0 when TP = 0 (as `metrics.threshold_metrics`);
- pixel AUROC, AU-PRO and pixel F1 from a cell's `PixelEvidence` (see `pixel_evidence`).

The interval is the percentile interval of the resampled differences. The p-value is the
two-sided bootstrap p-value of delta != 0 with a +1 correction (Davison and Hinkley 1997, eq.
4.11): p = min(1, 2 min((1 + #{d* <= 0}) / (B + 1), (1 + #{d* >= 0}) / (B + 1))); it is never
0, equals 1 for identical cells, and is below 1 - level about when the interval excludes 0.
`holm` adjusts a family of p-values (Holm 1979, step-down).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation import _checks
from evalsuite.evaluation.bootstrap import (
    check_level,
    percentile_interval,
    resample_counts,
    stratified_resamples,
)
from evalsuite.evaluation.curves import areas_to_limit
from evalsuite.evaluation.pixel_evidence import PixelEvidence
from evalsuite.evaluation.pro import check_limit

IMAGE_METRICS = ("image_auroc", "image_f1")
PIXEL_METRICS = ("pixel_auroc", "aupro_0.3", "pixel_f1")

ValueOf = Callable[[np.ndarray], np.ndarray]
"""A metric as a function of per-image counts (B, N) -> values (B,)."""


@dataclass(frozen=True)
class Difference:
    """The paired difference b - a of one metric between a reference cell a and a cell b.

    Attributes:
        metric: e.g. "image_auroc".
        a: the metric of the reference cell (clean / none / per_class / baseline).
        b: the metric of the compared cell.
        delta: b - a.
        ci95: paired stratified percentile bootstrap interval of b - a (at `level`).
        p_value: two-sided bootstrap p-value of delta != 0 (see the module docstring).
        n_images: paired test images.
        n_resamples: bootstrap resamples.
        seed: resampling seed.
        deltas: (B,) the resampled differences (for pooling over seeds).
    """

    metric: str
    a: float
    b: float
    delta: float
    ci95: tuple[float, float]
    p_value: float
    n_images: int
    n_resamples: int
    seed: int
    deltas: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies entirely on one side of 0."""
        return self.ci95[0] > 0.0 or self.ci95[1] < 0.0


def paired_image_difference(
    metric: str,
    labels: np.ndarray,
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    *,
    thresholds: tuple[float, float] | None = None,
    n: int = 1000,
    seed: int,
    level: float = 0.95,
) -> Difference:
    """Paired difference of an image metric between two cells scored on the same images.

    Args:
        metric: "image_auroc" or "image_f1".
        labels: (N,) True = anomalous; the same images in the same order for a and b.
        scores_a: (N,) image scores of the reference cell; scores_b: (N,) of the compared cell.
        thresholds: (a, b) image thresholds from val, needed for image_f1.
        n: resamples; seed: resampling seed; level: confidence level.
    """
    if metric == "image_f1" and thresholds is None:
        raise EvaluationError("image_f1 needs the two cells' image thresholds (a, b)")
    threshold_a, threshold_b = thresholds or (None, None)
    value_a = image_value(metric, labels, scores_a, threshold_a)
    value_b = image_value(metric, labels, scores_b, threshold_b)
    y = _checks.as_bool(labels, "labels")
    return paired_difference(metric, y, value_a, value_b, n=n, seed=seed, level=level)


def image_value(
    metric: str, labels: np.ndarray, scores: np.ndarray, threshold: float | None
) -> ValueOf:
    """An image metric of one cell as a function of per-image counts (B, N) -> (B,).

    Args:
        metric: "image_auroc" or "image_f1".
        labels: (N,) True = anomalous; scores: (N,) the cell's image scores.
        threshold: the cell's image threshold from val (image_f1 only).
    """
    s, y = _checks.scores_and_labels(scores, labels)
    if metric == "image_auroc":
        _checks.both_classes(y, "image AUROC")
        return _auroc_of(s, y)
    if metric == "image_f1":
        if threshold is None:
            raise EvaluationError("image_f1 needs the cell's image threshold")
        return _f1_of(s, y, threshold)
    raise EvaluationError(f"unknown image metric {metric!r}; use one of {IMAGE_METRICS}")


def paired_pixel_difference(
    metric: str,
    labels: np.ndarray,
    evidence_a: PixelEvidence,
    evidence_b: PixelEvidence,
    *,
    n: int = 1000,
    seed: int,
    level: float = 0.95,
) -> Difference:
    """Paired difference of a pixel metric between two cells from their per-image evidence.

    Args:
        metric: "pixel_auroc", "aupro_0.3" or "pixel_f1".
        labels: (N,) True = anomalous image (the strata); the same images as both evidences.
        evidence_a: the reference cell's; evidence_b: the compared cell's (each with its own
            masks: a shifted test image's mask may be transformed with the image).
        n: resamples; seed: resampling seed; level: confidence level.
    """
    y = _checks.as_bool(labels, "labels")
    for evidence in (evidence_a, evidence_b):
        if evidence.n_images != y.size:
            raise EvaluationError(
                f"pixel evidence of {evidence.n_images} images does not match the {y.size} "
                "labels; pair the two cells on the same test images"
            )
    value_a, value_b = (pixel_value(metric, e) for e in (evidence_a, evidence_b))
    return paired_difference(metric, y, value_a, value_b, n=n, seed=seed, level=level)


def paired_difference(
    metric: str,
    labels: np.ndarray,
    value_a: ValueOf,
    value_b: ValueOf,
    *,
    n: int = 1000,
    seed: int,
    level: float = 0.95,
) -> Difference:
    """The paired bootstrap of any two metrics given as functions of per-image counts.

    Args:
        metric: the metric's name, for the result.
        labels: (N,) bool strata of the resampling.
        value_a, value_b: counts (B, N) -> metric values (B,) of each cell.
        n: resamples; seed: resampling seed; level: confidence level.
    """
    check_level(level)
    y = _checks.as_bool(labels, "labels")
    full = np.ones((1, y.size))
    a, b = float(value_a(full)[0]), float(value_b(full)[0])
    counts = resample_counts(stratified_resamples(y, n, seed), y.size)
    deltas = value_b(counts) - value_a(counts)
    return difference_of(metric, (a, b), deltas, int(y.size), seed, level, "a paired interval")


def difference_of(
    metric: str,
    values: tuple[float, float],
    deltas: np.ndarray,
    n_images: int,
    seed: int,
    level: float,
    what: str,
) -> Difference:
    """The `Difference` of the full-sample values (a, b) and the resampled deltas (n,).

    Raises:
        EvaluationError: a delta is undefined (a class missing from a resample); `what` names
            the interval in the message, e.g. "a paired interval".
    """
    if not np.isfinite(deltas).all():
        raise EvaluationError(
            f"{metric} is undefined on some resamples (a class missing from them); "
            f"{what} needs both classes in every resample"
        )
    a, b = values
    return Difference(
        metric=metric,
        a=a,
        b=b,
        delta=b - a,
        ci95=percentile_interval(deltas, level),
        p_value=bootstrap_p_value(deltas),
        n_images=n_images,
        n_resamples=int(deltas.size),
        seed=seed,
        deltas=deltas,
    )


def pool_differences(differences: Sequence[Difference], level: float = 0.95) -> Difference:
    """The difference of the mean over seeds, its interval from the seeds' resamples averaged.

    Each seed has its own test images and resamples; resample k of the pooled difference is the
    mean over seeds of each seed's resample k, so the interval reflects the test images of
    every seed (not the seed-to-seed spread, which `mean ± sd` over seeds shows).

    Args:
        differences: one per seed, of one metric, each with its `deltas` and the same B.
        level: confidence level.

    Returns:
        a Difference whose a, b, delta are means over seeds, n_images the sum, seed the first.
    """
    check_level(level)
    if not differences:
        raise EvaluationError("pooling needs at least one difference")
    if len(differences) == 1:
        return differences[0]
    stacked = [d.deltas for d in differences if d.deltas is not None]
    if len(stacked) != len(differences) or len({d.size for d in stacked}) != 1:
        raise EvaluationError(
            "pooling needs the resampled differences of every seed with the same resample count"
        )
    deltas = np.mean(np.stack(stacked), axis=0)
    a = float(np.mean([d.a for d in differences]))
    b = float(np.mean([d.b for d in differences]))
    return Difference(
        metric=differences[0].metric,
        a=a,
        b=b,
        delta=float(np.mean([d.delta for d in differences])),
        ci95=percentile_interval(deltas, level),
        p_value=bootstrap_p_value(deltas),
        n_images=sum(d.n_images for d in differences),
        n_resamples=differences[0].n_resamples,
        seed=differences[0].seed,
        deltas=deltas,
    )


def bootstrap_p_value(deltas: np.ndarray) -> float:
    """Two-sided p-value of delta != 0 from resampled differences (B,), +1 corrected."""
    b = deltas.size
    below = (1 + np.count_nonzero(deltas <= 0.0)) / (b + 1)
    above = (1 + np.count_nonzero(deltas >= 0.0)) / (b + 1)
    return float(min(1.0, 2.0 * min(below, above)))


def holm(p_values: np.ndarray | list[float]) -> np.ndarray:
    """Holm step-down adjusted p-values, in the input order; NaN entries stay NaN, uncounted.

    Args:
        p_values: (M,) raw p-values of one family of comparisons.

    Returns:
        (M,) adjusted: p_(j) * (m - j + 1) for the j-th smallest, made monotone, capped at 1.
    """
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    scaled = p[order] * (m - np.arange(m))
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def _auroc_of(s: np.ndarray, y: np.ndarray) -> ValueOf:
    """Image AUROC as a function of counts, from the (anomalous x normal) pair matrix."""
    pos, neg = s[y], s[~y]
    pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])

    def value(c: np.ndarray) -> np.ndarray:
        cp, cn = c[:, y], c[:, ~y]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray((_dot(cp, pairs) * cn).sum(axis=1) / (cp.sum(1) * cn.sum(1)))

    return value


def _f1_of(s: np.ndarray, y: np.ndarray, threshold: float) -> ValueOf:
    """Image F1 at `threshold` as a function of counts."""
    pred = s >= threshold
    per_image = np.stack([pred & y, pred & ~y, ~pred & y], axis=1).astype(np.float64)
    return lambda c: _f1(_dot(c, per_image))


def _f1(counts: np.ndarray) -> np.ndarray:
    """F1 from (B, 3) TP, FP, FN; 0 where TP = 0."""
    tp, fp, fn = counts[:, 0], counts[:, 1], counts[:, 2]
    return np.where(tp > 0, 2.0 * tp / np.maximum(2.0 * tp + fp + fn, 1e-300), 0.0)


def pixel_value(metric: str, e: PixelEvidence) -> ValueOf:
    """A pixel metric of one cell as a function of per-image counts (B, N) -> (B,), from its
    evidence."""
    if metric == "pixel_auroc":
        pairs = _need(e.pairs, metric, "both defect and normal pixels")

        def auroc(c: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.asarray(
                    (_dot(c, pairs) * c).sum(axis=1) / (_dot(c, e.n_defect) * _dot(c, e.n_normal))
                )

        return auroc
    if metric == "aupro_0.3":
        fp = _need(e.pro_fp, metric, "a defect region")
        overlap = _need(e.pro_overlap, metric, "a defect region")
        if abs(e.fpr_limit - 0.3) > 1e-6:
            raise EvaluationError(f"pixel evidence was built for AU-PRO@{e.fpr_limit}, not 0.3")
        return lambda c: _aupro(c, fp, overlap, e)
    if metric == "pixel_f1":
        f1_counts = _need(e.f1_counts, metric, "a pixel threshold")
        return lambda c: _f1(_dot(c, f1_counts))
    raise EvaluationError(f"unknown pixel metric {metric!r}; use one of {PIXEL_METRICS}")


def _aupro(c: np.ndarray, fp: np.ndarray, overlap: np.ndarray, e: PixelEvidence) -> np.ndarray:
    """AU-PRO of each resample from the grid statistics, the curve closed with (1, 1)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        fpr = _dot(c, fp) / _dot(c, e.n_normal)[:, None]
        # grid points past the limit in every resample (beyond the first) add no area
        past = np.flatnonzero((fpr >= e.fpr_limit).all(axis=0))
        kept = int(past[0]) + 1 if past.size else fpr.shape[1]
        fpr = fpr[:, :kept]
        pro = np.minimum(_dot(c, overlap[:, :kept]) / _dot(c, e.n_regions)[:, None], 1.0)
    zeros, ones = np.zeros((c.shape[0], 1)), np.ones((c.shape[0], 1))
    fpr, pro = np.hstack((zeros, fpr, ones)), np.hstack((zeros, pro, ones))
    check_limit(e.fpr_limit)
    area = np.minimum(areas_to_limit(fpr, pro, e.fpr_limit) / e.fpr_limit, 1.0)
    return np.where(np.isfinite(fpr).all(axis=1), area, np.nan)


def _dot(counts: np.ndarray, per_image: np.ndarray) -> np.ndarray:
    """counts (B, N) times per-image statistics (N,) or (N, K): a single-threaded product
    (`einsum` without BLAS: the matrices are small, and BLAS threads on a busy machine cost
    several times the work; the sums are also the same bits on every machine)."""
    return np.einsum("bn,n...->b...", counts, per_image)


def _need(part: np.ndarray | None, metric: str, what: str) -> np.ndarray:
    if part is None:
        raise EvaluationError(f"{metric} is undefined for this cell: its test set lacks {what}")
    return part
