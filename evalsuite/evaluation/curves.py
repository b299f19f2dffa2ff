"""Threshold sweeps by sorting: every metric curve here is exact over all distinct thresholds.

A sweep sorts the scores once, in decreasing order, and accumulates per-item weights; the
cumulative sums at the last item of each run of equal scores are the counts at the threshold
equal to that score (an item is predicted anomalous when its score >= the threshold).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Sweep(NamedTuple):
    """Cumulative weights at every distinct threshold, thresholds decreasing.

    Attributes:
        thresholds: (T,) distinct scores, decreasing.
        pos: (T,) summed positive weight of the items with score >= threshold.
        neg: (T,) summed negative weight of the items with score >= threshold.
    """

    thresholds: np.ndarray
    pos: np.ndarray
    neg: np.ndarray


def sweep(scores: np.ndarray, pos_weight: np.ndarray, neg_weight: np.ndarray) -> Sweep:
    """Sweep a threshold over all distinct values of `scores`.

    Args:
        scores: (P,) item scores (any float dtype; image scores or flattened pixels).
        pos_weight: (P,) what an item adds to the positive count (e.g. its label).
        neg_weight: (P,) what an item adds to the negative count (e.g. 1 - label).

    Returns:
        the cumulative sums at each distinct threshold, highest threshold first.
    """
    order = np.argsort(scores, kind="stable")[::-1]
    ranked = scores[order]
    # last item of each run of equal scores (ranked is decreasing)
    ends = np.flatnonzero(ranked[1:] != ranked[:-1])
    ends = np.append(ends, ranked.size - 1)
    pos = np.cumsum(pos_weight[order], dtype=np.float64)[ends]
    neg = np.cumsum(neg_weight[order], dtype=np.float64)[ends]
    return Sweep(ranked[ends].astype(np.float64), pos, neg)


def roc_from_labels(
    scores: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The full ROC curve, starting at (0, 0).

    Args:
        scores: (P,) scores; labels: (P,) bool, both classes present.

    Returns:
        fpr: (T + 1,), tpr: (T + 1,), thresholds: (T + 1,) with +inf for the (0, 0) point.
    """
    sw = sweep(scores, labels, ~labels)
    fpr = np.concatenate(([0.0], sw.neg / sw.neg[-1]))
    tpr = np.concatenate(([0.0], sw.pos / sw.pos[-1]))
    thresholds = np.concatenate(([np.inf], sw.thresholds))
    return fpr, tpr, thresholds


def area_to_limit(x: np.ndarray, y: np.ndarray, limit: float) -> float:
    """Trapezoid area under a curve with non-decreasing `x`, cut at `x = limit`.

    The segment that crosses the limit is interpolated linearly at the limit, as in the MVTec AD
    reference evaluation. Points beyond the limit are ignored.

    Args:
        x: (T,) non-decreasing, starting at 0.
        y: (T,) curve values.
        limit: upper end of the integration, > 0.

    Returns:
        the area between x = 0 and x = limit (not normalised).
    """
    inside = int(np.searchsorted(x, limit, side="right"))  # points with x <= limit
    xs, ys = x[:inside], y[:inside]
    area = float(np.sum(0.5 * (ys[1:] + ys[:-1]) * np.diff(xs)))
    if inside < x.size and xs[-1] < limit:
        x0, x1, y0, y1 = xs[-1], x[inside], ys[-1], y[inside]
        y_limit = y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
        area += 0.5 * (y0 + y_limit) * (limit - x0)
    return area


def areas_to_limit(x: np.ndarray, y: np.ndarray, limit: float) -> np.ndarray:
    """`area_to_limit` of many curves at once (the same value per row, vectorised).

    Args:
        x: (B, T) rows non-decreasing, each starting at 0.
        y: (B, T) curve values.
        limit: upper end of the integration, > 0.

    Returns:
        (B,) the area of each row between x = 0 and x = limit (not normalised).
    """
    x0, x1, y0, y1 = x[:, :-1], x[:, 1:], y[:, :-1], y[:, 1:]
    inside = x1 <= limit
    full = np.where(inside, 0.5 * (y1 + y0) * (x1 - x0), 0.0)
    crossing = (x0 < limit) & ~inside  # the one segment the limit cuts, if any
    with np.errstate(invalid="ignore", divide="ignore"):
        y_limit = y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
    cut = np.where(crossing, 0.5 * (y0 + y_limit) * (limit - x0), 0.0)
    return np.asarray(full.sum(axis=1) + cut.sum(axis=1))
