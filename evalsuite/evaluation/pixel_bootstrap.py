"""Fast stratified bootstraps of pixel metrics: sort the pixels once, not once per resample.

Both wrappers draw the resamples of `evaluation.bootstrap.stratified_resamples` (whole images,
stratified by `mask.any()`), so for a seed they see the same resamples as
`bootstrap_ci(metric, maps, masks, labels=...)`; they turn each resample into per-image counts
c (N,) and evaluate the metric from per-image statistics computed once:

- pixel AUROC, exact: with M[i, j] = sum over defect pixels p of image i and normal pixels q of
  image j of [s_p > s_q] + [s_p == s_q] / 2, a resample's AUROC is
  c^T M c / ((c . n_defect) (c . n_normal)).
- AU-PRO, on a threshold grid: FP[i, k] (normal pixels of image i >= t_k) and R[i, k] (summed
  region overlap of image i at t_k) give a resample's curve FPR_k = c . FP[:, k] / (c . n_normal),
  PRO_k = c . R[:, k] / (c . n_regions). The grid is every distinct score when there are at most
  `max_thresholds` of them (then the result is exact); otherwise it is a subset of the exact
  thresholds spread evenly along the full-sample curve (arc length in FPR / fpr_limit + PRO up to
  FPR = 2 fpr_limit, then evenly in FPR to 1), which changes AU-PRO by well under 1e-3.
- pixel F1 at a fixed threshold t (from val; it stays fixed): per-image TP, FP, FN (N, 3) give a
  resample's 2 c.TP / (2 c.TP + c.FP + c.FN), exact (0 when c.TP = 0, as `metrics.pixel_f1`).
"""

from __future__ import annotations

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
from evalsuite.evaluation.pro import (
    ProCurve,
    check_limit,
    normalised_area,
    pro_curve,
    region_weights,
)


def pixel_auroc_ci(
    maps: np.ndarray, masks: np.ndarray, *, n: int = 1000, seed: int, level: float = 0.95
) -> Interval:
    """Bootstrap interval of the pixel AUROC, resampling whole images (exact per resample).

    Args:
        maps: (N, H, W) pixel anomaly scores.
        masks: (N, H, W) 1 = defect pixel.
        n: number of resamples; seed: resampling seed; level: confidence level.
    """
    check_level(level)
    m, g = _checks.maps_and_masks(maps, masks)
    _checks.both_classes(g.ravel(), "pixel AUROC")
    flat_m, flat_g = m.reshape(m.shape[0], -1), g.reshape(g.shape[0], -1)
    n_defect = flat_g.sum(axis=1).astype(np.float64)
    n_normal = flat_g.shape[1] - n_defect
    pairs = _pair_matrix(flat_m, flat_g)
    counts = _counts(n_defect > 0, n, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = ((counts @ pairs) * counts).sum(axis=1) / (
            (counts @ n_defect) * (counts @ n_normal)
        )
    return percentile_interval(_defined(values), level)


def aupro_ci(
    maps: np.ndarray,
    masks: np.ndarray,
    fpr_limit: float = 0.3,
    *,
    n: int = 1000,
    seed: int,
    level: float = 0.95,
    max_thresholds: int = 3000,
    curve: ProCurve | None = None,
) -> Interval:
    """Bootstrap interval of AU-PRO, resampling whole images.

    Args:
        maps: (N, H, W) pixel anomaly scores.
        masks: (N, H, W) 1 = defect pixel; at least one defect region.
        fpr_limit: integration limit in (0, 1].
        n: number of resamples; seed: resampling seed; level: confidence level.
        max_thresholds: size of the threshold grid (see the module docstring), >= 10.
        curve: `pro_curve(maps, masks)` when the caller has it (else computed here).
    """
    check_level(level)
    check_limit(fpr_limit)
    if max_thresholds < 10:
        raise EvaluationError(f"max_thresholds={max_thresholds} is too small; use at least 10")
    m, g = _checks.maps_and_masks(maps, masks)
    grid = _grid(pro_curve(m, g) if curve is None else curve, fpr_limit, max_thresholds)
    fp, overlap, n_normal, n_regions = _per_image_curves(m, g, grid)
    counts = _counts(n_regions > 0, n, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        fpr = (counts @ fp) / (counts @ n_normal)[:, None]
        pro = np.minimum((counts @ overlap) / (counts @ n_regions)[:, None], 1.0)
    zeros, ones = np.zeros((n, 1)), np.ones((n, 1))
    fpr = np.hstack((zeros, fpr, ones))
    pro = np.hstack((zeros, pro, ones))
    values = np.array(
        [
            normalised_area(f, p, fpr_limit) if np.isfinite(f).all() else np.nan
            for f, p in zip(fpr, pro, strict=True)
        ]
    )
    return percentile_interval(_defined(values), level)


def pixel_f1_ci(
    maps: np.ndarray,
    masks: np.ndarray,
    threshold: float,
    *,
    n: int = 1000,
    seed: int,
    level: float = 0.95,
) -> Interval:
    """Bootstrap interval of the pixel F1 at a fixed threshold, resampling whole images.

    Args:
        maps: (N, H, W) pixel anomaly scores; masks: (N, H, W) 1 = defect pixel.
        threshold: the pixel threshold from val (fixed over the resamples).
        n: number of resamples; seed: resampling seed; level: confidence level.
    """
    check_level(level)
    m, g = _checks.maps_and_masks(maps, masks)
    pred = m >= threshold
    tp = np.count_nonzero(pred & g, axis=(1, 2)).astype(np.float64)
    fp = np.count_nonzero(pred, axis=(1, 2)) - tp
    fn = np.count_nonzero(g, axis=(1, 2)) - tp
    counts = _counts(np.asarray(g.reshape(g.shape[0], -1).any(axis=1)), n, seed)
    c_tp, c_fp, c_fn = counts @ tp, counts @ fp, counts @ fn
    denominator = np.where(c_tp > 0, 2.0 * c_tp + c_fp + c_fn, 1.0)
    return percentile_interval(np.where(c_tp > 0, 2.0 * c_tp / denominator, 0.0), level)


def _counts(image_labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """(n, N) per-image counts of the stratified resamples."""
    return resample_counts(stratified_resamples(image_labels, n, seed), image_labels.size)


def _defined(values: np.ndarray) -> np.ndarray:
    """Refuse resamples where the metric is undefined (no normal pixel drawn)."""
    if not np.isfinite(values).all():
        raise EvaluationError(
            "some bootstrap resamples hold no normal pixel; a pixel-level interval needs "
            "normal test images (or defect images with normal pixels) in every resample"
        )
    return values


def _pair_matrix(flat_m: np.ndarray, flat_g: np.ndarray) -> np.ndarray:
    """M[i, j]: correctly ranked (defect of image i, normal of image j) pixel pairs, ties 1/2.

    Args:
        flat_m: (N, P) pixel scores; flat_g: (N, P) bool defect pixels.

    Returns:
        (N, N) float64. Loops over whichever side is cheaper: images for the defect pixels as
        queries, or defect images for the normal pixels as queries.
    """
    n_img = flat_m.shape[0]
    img = np.broadcast_to(np.arange(n_img)[:, None], flat_m.shape)
    pos_v, pos_i = _sorted(flat_m[flat_g], img[flat_g])
    neg_v, neg_i = _sorted(flat_m[~flat_g], img[~flat_g])
    anomalous = np.flatnonzero(flat_g.any(axis=1))
    pairs = np.zeros((n_img, n_img))
    if n_img * pos_v.size <= anomalous.size * neg_v.size:
        for j in range(n_img):
            normal_j = np.sort(flat_m[j][~flat_g[j]])
            below = _below(normal_j, pos_v)  # for each defect pixel: normal_j pixels below it
            pairs[:, j] = np.bincount(pos_i, weights=below, minlength=n_img)
    else:
        for i in anomalous:
            defect_i = np.sort(flat_m[i][flat_g[i]])
            above = defect_i.size - _below(defect_i, neg_v)  # defect_i pixels above, ties 1/2
            pairs[i, :] = np.bincount(neg_i, weights=above, minlength=n_img)
    return pairs


def _sorted(values: np.ndarray, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values sorted ascending with their image indices (sorted queries search faster)."""
    order = np.argsort(values, kind="stable")
    return values[order], images[order]


def _below(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """For each query: reference values strictly below it plus half of those equal to it."""
    lo = np.searchsorted(reference, queries, side="left")
    hi = np.searchsorted(reference, queries, side="right")
    return (lo + hi) / 2.0


def _grid(curve: ProCurve, fpr_limit: float, size: int) -> np.ndarray:
    """Decreasing threshold grid: every distinct score, or `size` picked along the curve."""
    thresholds = curve.thresholds[1:]
    if thresholds.size <= size:
        return thresholds
    fpr, pro = curve.fpr[1:], curve.pro[1:]
    head = np.minimum(fpr, 2.0 * fpr_limit) / fpr_limit + pro  # non-decreasing arc length
    main = np.searchsorted(head, np.linspace(0.0, head[-1], size - size // 4))
    tail = np.searchsorted(fpr, np.linspace(0.0, 1.0, size // 4))
    picks = np.union1d(np.clip(main, 0, fpr.size - 1), np.clip(tail, 0, fpr.size - 1))
    return thresholds[np.union1d(picks, [fpr.size - 1])]


def _per_image_curves(
    m: np.ndarray, g: np.ndarray, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-image false positives and summed region overlap at each grid threshold.

    Returns:
        fp: (N, K) normal pixels >= t_k; overlap: (N, K) sum over the image's regions of the
        fraction of the region >= t_k; n_normal: (N,); n_regions: (N,).
    """
    weights, _ = region_weights(g)
    n_img, k = m.shape[0], grid.size
    fp, overlap = np.zeros((n_img, k)), np.zeros((n_img, k))
    n_normal, n_regions = np.zeros(n_img), np.zeros(n_img)
    for i in range(n_img):
        normal = np.sort(m[i][~g[i]])
        fp[i] = normal.size - np.searchsorted(normal, grid, side="left")
        n_normal[i] = normal.size
        scores, w = m[i][g[i]], weights[i][g[i]]
        order = np.argsort(scores, kind="stable")
        defect, w = scores[order], w[order]
        cum = np.concatenate(([0.0], np.cumsum(w)))
        overlap[i] = cum[-1] - cum[np.searchsorted(defect, grid, side="left")]
        n_regions[i] = np.rint(cum[-1])
    return fp, overlap, n_normal, n_regions
