"""Evaluate one cell: test scores and maps plus the val thresholds in, a JSON-ready dict out.

Every metric is `{"value": float | None, "ci95": [low, high] | None, "reason": str | None}`; a
metric that cannot be computed has value None and says why (e.g. "dataset has no masks"). Only
`EvaluationError` becomes a reason; anything else is a bug and propagates. Every metric has a
stratified bootstrap 95% interval over the test images (`ci95`; None when `bootstrap_n` is 0);
the thresholds are the val ones, fixed over the resamples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation import _checks
from evalsuite.evaluation.bootstrap import Interval, image_auroc_ci
from evalsuite.evaluation.curves import roc_from_labels
from evalsuite.evaluation.image_bootstrap import aupr_ci, threshold_cis
from evalsuite.evaluation.metrics import (
    RocPoints,
    downsample_roc,
    image_aupr,
    image_auroc,
    pixel_f1,
    roc_points,
    threshold_metrics,
)
from evalsuite.evaluation.pixel_bootstrap import aupro_ci, pixel_auroc_ci, pixel_f1_ci
from evalsuite.evaluation.pro import ProCurve, check_limit, metric_name, normalised_area, pro_curve

CI_LEVEL = 0.95
NO_MASKS = "dataset has no masks"
NO_PIXEL_THRESHOLD = "no pixel threshold was computed"
AUPRO_LIMITS = (0.3, 0.05)
"""The default AU-PRO limits (`EvaluationSettings.aupro_limits`): MVTec AD's and MVTec AD 2's."""
PIXEL_METRICS = ("pixel_auroc", "aupro_0.3", "aupro_0.05", "pixel_f1")
"""The pixel metrics at the default AU-PRO limits."""

Metric = dict[str, object]
Outcome = tuple[float, tuple[float, float] | None]
T = TypeVar("T")


@dataclass(frozen=True)
class _Bootstrap:
    """Settings of the cell's bootstrap intervals."""

    n: int
    seed: int
    level: float

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of every interval function."""
        return {"n": self.n, "seed": self.seed, "level": self.level}


def _interval(boot: _Bootstrap, compute: Callable[[], Interval]) -> Interval | None:
    """`compute()`, or None without resamples (`bootstrap_n` 0: no intervals)."""
    return compute() if boot.n else None


def evaluate_cell(
    scores: np.ndarray,
    labels: np.ndarray,
    maps: np.ndarray,
    masks: np.ndarray | None,
    *,
    image_threshold: float,
    pixel_threshold: float | None,
    bootstrap_n: int = 1000,
    seed: int,
    roc_max_points: int = 200,
    aupro_limits: Sequence[float] = AUPRO_LIMITS,
) -> dict[str, object]:
    """All metrics of one cell on its test data.

    Args:
        scores: (N,) test image scores.
        labels: (N,) 1 = anomalous test image.
        maps: (N, H, W) test anomaly maps.
        masks: (N, H, W) test masks, or None when the dataset has none.
        image_threshold: image threshold from val.
        pixel_threshold: pixel threshold from val, or None.
        bootstrap_n: resamples of every metric's 95% interval.
        seed: bootstrap seed.
        roc_max_points: most points kept per ROC curve.
        aupro_limits: the FPR limits AU-PRO is integrated to, each in (0, 1], each reported as
            `aupro_<limit>` (`pro.metric_name`).

    Returns:
        {"metrics": name -> metric, "roc": {"image": points | None, "pixel": points | None},
        "bootstrap": {"n", "seed", "level"}}; only Python floats, ints, strings, lists, None.
    """
    s, y = _checks.scores_and_labels(scores, labels)
    if np.ndim(maps) != 3 or np.shape(maps)[0] != s.size:
        raise EvaluationError(
            f"maps {np.shape(maps)} do not match the {s.size} image scores; "
            "pass one (H, W) map per scored image"
        )
    limits = tuple(float(limit) for limit in aupro_limits)
    for limit in limits:
        check_limit(limit)
    boot = _Bootstrap(bootstrap_n, seed, CI_LEVEL)
    metrics = _image_metrics(s, y, image_threshold, boot)
    roc: dict[str, RocPoints | None] = {
        "image": _attempt(lambda: roc_points(s, y, roc_max_points))[0]
    }
    if masks is None:
        metrics.update({name: _missing(NO_MASKS) for name in pixel_metric_names(limits)})
        roc["pixel"] = None
    else:
        pixel, roc["pixel"] = _pixel_metrics(
            maps, masks, pixel_threshold, boot, roc_max_points, limits
        )
        metrics.update(pixel)
    return {"metrics": metrics, "roc": roc, "bootstrap": asdict(boot)}


def pixel_metric_names(limits: Sequence[float] = AUPRO_LIMITS) -> tuple[str, ...]:
    """The pixel metrics of a cell, in record order: pixel_auroc, one AU-PRO per limit,
    pixel_f1."""
    return ("pixel_auroc", *(metric_name(limit) for limit in limits), "pixel_f1")


def _image_metrics(
    s: np.ndarray, y: np.ndarray, threshold: float, boot: _Bootstrap
) -> dict[str, Metric]:
    """image_auroc, image_aupr and the metrics at the image threshold, with intervals."""
    at = threshold_metrics(s, y, threshold)
    cis = (
        threshold_cis(s, y, threshold, n=boot.n, seed=boot.seed, level=boot.level) if boot.n else {}
    )

    def auroc() -> Outcome:
        value = image_auroc(s, y)
        return value, _interval(boot, lambda: image_auroc_ci(s, y, **boot.kwargs))

    def aupr() -> Outcome:
        value = image_aupr(s, y)
        return value, _interval(boot, lambda: aupr_ci(s, y, **boot.kwargs))

    def thresholded(name: str) -> Callable[[], Outcome]:
        return lambda: (float(at[name]), cis.get(name))

    metrics = {"image_auroc": _metric(auroc), "image_aupr": _metric(aupr)}
    for name in ("f1", "precision", "recall", "fpr"):
        metrics[f"image_{name}"] = _metric(thresholded(name))
    return metrics


def _pixel_metrics(
    maps: np.ndarray,
    masks: np.ndarray,
    threshold: float | None,
    boot: _Bootstrap,
    max_points: int,
    limits: tuple[float, ...],
) -> tuple[dict[str, Metric], RocPoints | None]:
    """pixel_auroc, AU-PRO at each limit, pixel_f1 (each with its interval) and the pixel ROC.

    The ROC and PRO curves are each computed once (one sort of all pixels each), reduced to what
    the record keeps and released before the next, to bound memory (about 0.4 GB at peak for
    150 maps of 224 x 224).
    """
    m, g = _checks.maps_and_masks(maps, masks)
    roc, roc_reason = _attempt(lambda: _roc_summary(m, g, max_points))
    areas, pro_reason = _attempt(lambda: _pro_areas(m, g, boot, limits))

    def auroc() -> Outcome:
        if roc is None:
            raise EvaluationError(roc_reason)
        return roc[0], _interval(boot, lambda: pixel_auroc_ci(m, g, **boot.kwargs))

    def area(limit: float) -> Callable[[], Outcome]:
        def compute() -> Outcome:
            if areas is None:
                raise EvaluationError(pro_reason)
            return areas[limit]()

        return compute

    def f1() -> Outcome:
        if threshold is None:
            raise EvaluationError(NO_PIXEL_THRESHOLD)
        value = pixel_f1(m, g, threshold)
        return value, _interval(boot, lambda: pixel_f1_ci(m, g, threshold, **boot.kwargs))

    metrics = {"pixel_auroc": _metric(auroc)}
    metrics.update({metric_name(limit): _metric(area(limit)) for limit in limits})
    metrics["pixel_f1"] = _metric(f1)
    return metrics, None if roc is None else roc[1]


def _roc_summary(m: np.ndarray, g: np.ndarray, max_points: int) -> tuple[float, RocPoints]:
    """Pixel AUROC and the downsampled pixel ROC, from one exact curve over all pixels."""
    _checks.both_classes(g.ravel(), "pixel AUROC")
    fpr, tpr, thresholds = roc_from_labels(m.ravel(), g.ravel())
    return float(np.trapezoid(tpr, fpr)), downsample_roc(fpr, tpr, thresholds, max_points)


def _pro_areas(
    m: np.ndarray, g: np.ndarray, boot: _Bootstrap, limits: tuple[float, ...]
) -> dict[float, Callable[[], Outcome]]:
    """AU-PRO at each limit with its interval, from one exact PRO curve (its intervals
    computed here, while the curve is held; an interval's error stays its metric's)."""
    curve = pro_curve(m, g)
    return {limit: _area_outcome(m, g, curve, limit, boot) for limit in limits}


def _area_outcome(
    m: np.ndarray, g: np.ndarray, curve: ProCurve, limit: float, boot: _Bootstrap
) -> Callable[[], Outcome]:
    """The outcome of one AU-PRO: a thunk returning it or raising the interval's error."""
    value = normalised_area(curve.fpr, curve.pro, limit)
    ci, reason = _attempt(
        lambda: _interval(boot, lambda: aupro_ci(m, g, limit, curve=curve, **boot.kwargs))
    )

    def outcome() -> Outcome:
        if reason:
            raise EvaluationError(reason)
        return value, ci

    return outcome


def _metric(compute: Callable[[], Outcome]) -> Metric:
    """Run a metric; an EvaluationError becomes value None with its message as reason."""
    try:
        value, ci = compute()
    except EvaluationError as err:
        return _missing(str(err))
    return {"value": float(value), "ci95": None if ci is None else [ci[0], ci[1]], "reason": None}


def _missing(reason: str) -> Metric:
    return {"value": None, "ci95": None, "reason": reason}


def _attempt(compute: Callable[[], T]) -> tuple[T | None, str]:
    """(result, "") of `compute`, or (None, reason) when it raises an EvaluationError."""
    try:
        return compute(), ""
    except EvaluationError as err:
        return None, str(err)
