"""Threshold strategies, computed from `val` data only.

Strategies (an item is predicted anomalous when its score >= the threshold):

- `f1`: the threshold maximising F1 on labelled val data, searched over every distinct val score;
  among equal maxima the highest threshold (fewest alarms) wins. Needs anomalous val items.
- `quantile`: the q-quantile (default 0.99, linear interpolation) of normal val scores.
- `mean_std`: mean + k * sigma (default k = 3) of normal val scores. At the pixel level it is
  MVTec AD 2's baseline exactly: the mean and the population standard deviation (ddof = 0, as
  `np.std`) of every pixel of the normal validation maps, pooled (the official upload checker
  suggests `np.mean(anomaly_scores_val) + 3 * np.std(anomaly_scores_val)`). At the image level
  sigma is the sample standard deviation (ddof = 1) of the few normal val image scores, as it
  always was.

At `level="image"` the items are val images (their scores and labels). At `level="pixel"` they
are pixels of the val maps: `f1` uses every pixel with its mask label; `quantile` and `mean_std`
use the pixels of normal val images only, as MVTec AD 2 calibrates on a normal-only validation
set (pixels next to a defect in an anomalous image are blurred into by the smoothed maps), and so
need no masks.

The input is a `ValScores`, and every strategy refuses one whose `split` is not "val", so test
data cannot be used to set a threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from evalsuite.errors import ConfigError, EvaluationError
from evalsuite.evaluation import _checks
from evalsuite.evaluation.curves import sweep

Level = Literal["image", "pixel"]
STRATEGIES = ("f1", "quantile", "mean_std")
LEVELS = ("image", "pixel")
MEAN_STD_DDOF: dict[str, int] = {"image": 1, "pixel": 0}
"""Delta degrees of freedom of `mean_std`'s sigma per level: the pixel level pools every
normal val pixel as MVTec AD 2's baseline does (`np.std`, ddof 0)."""


@dataclass(frozen=True)
class ValScores:
    """Detector output on the samples of one split, tagged with that split.

    Attributes:
        split: the split the samples come from; thresholds accept only "val".
        scores: (N,) image anomaly scores.
        labels: (N,) 1 = anomalous image.
        maps: (N, H, W) pixel anomaly scores, or None.
        masks: (N, H, W) 1 = defect pixel, or None (datasets without masks).
    """

    split: str
    scores: np.ndarray
    labels: np.ndarray
    maps: np.ndarray | None = None
    masks: np.ndarray | None = None


@dataclass(frozen=True)
class Threshold:
    """A threshold and how it was obtained.

    Attributes:
        strategy: one of STRATEGIES.
        value: the threshold; predict anomalous when score >= value.
        level: "image" or "pixel".
        split: the split it was computed on (always "val").
        params: the strategy's parameters, e.g. {"q": 0.99} or {"k": 3.0}; {} for f1.
    """

    strategy: str
    value: float
    level: Level
    split: str = "val"
    params: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "strategy": self.strategy,
            "value": self.value,
            "level": self.level,
            "split": self.split,
            "params": dict(self.params),
        }


def threshold_from_val(
    val: ValScores, strategy: str, *, level: Level = "image", q: float = 0.99, k: float = 3.0
) -> Threshold:
    """Compute a threshold from val data.

    Args:
        val: detector output on the val split.
        strategy: "f1", "quantile" or "mean_std".
        level: "image" (image scores) or "pixel" (maps).
        q: quantile of the `quantile` strategy, in (0, 1].
        k: number of standard deviations of the `mean_std` strategy.

    Returns:
        the threshold record.
    """
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"unknown threshold strategy {strategy!r}; known: {', '.join(STRATEGIES)}"
        )
    if level not in LEVELS:
        raise ConfigError(f"unknown threshold level {level!r}; known: {', '.join(LEVELS)}")
    if val.split != "val":
        raise EvaluationError(
            f"thresholds come from the val split only, got data of split {val.split!r}; "
            "pass the detector's scores on val samples"
        )
    if strategy == "f1":
        scores, labels = _labelled_items(val, level)
        return Threshold("f1", f1_optimal(scores, labels), level)
    normal = _normal_items(val, level)
    if strategy == "quantile":
        if not 0.0 < q <= 1.0:
            raise ConfigError(f"quantile q={q} is outside (0, 1]; use e.g. 0.99")
        return Threshold("quantile", float(np.quantile(normal, q)), level, params={"q": q})
    if normal.size < 2:
        raise EvaluationError(
            f"mean_std needs at least 2 normal val {level} scores, got {normal.size}; "
            "add normal images to val"
        )
    value = float(normal.mean() + k * normal.std(ddof=MEAN_STD_DDOF[level]))
    return Threshold("mean_std", value, level, params={"k": k})


def f1_optimal(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score threshold with the highest F1; the highest such threshold on ties.

    Args:
        scores: (P,) scores; labels: (P,) 1 = anomalous, at least one anomalous item.

    Returns:
        one of the scores.
    """
    s, y = _checks.scores_and_labels(scores, labels)
    if not y.any():
        raise EvaluationError(
            "the f1 threshold strategy needs anomalous val data, and val holds none; "
            "use the quantile or mean_std strategy (normal val data only)"
        )
    sw = sweep(s, y, ~y)
    f1 = 2.0 * sw.pos / (sw.pos + sw.neg + sw.pos[-1])  # 2TP / (2TP + FP + FN)
    return float(sw.thresholds[int(np.argmax(f1))])  # argmax: first = highest threshold


def _labelled_items(val: ValScores, level: Level) -> tuple[np.ndarray, np.ndarray]:
    """Image scores and labels, or all val pixels and their mask labels."""
    if level == "image":
        return val.scores, val.labels
    if val.maps is None or val.masks is None:
        raise EvaluationError(
            "the pixel-level f1 threshold needs val maps and masks; this dataset has no masks, "
            "use the quantile or mean_std strategy"
        )
    maps, masks = _checks.maps_and_masks(val.maps, val.masks)
    return maps.ravel(), masks.ravel()


def _normal_items(val: ValScores, level: Level) -> np.ndarray:
    """Scores of normal val images, or all pixels of normal val images."""
    scores, labels = _checks.scores_and_labels(val.scores, val.labels)
    if level == "image":
        normal = scores[~labels]
    else:
        if val.maps is None:
            raise EvaluationError("a pixel-level threshold needs val maps; the detector gave none")
        maps = np.asarray(val.maps)
        if maps.ndim != 3 or maps.shape[0] != labels.size:
            raise EvaluationError(
                f"val maps {maps.shape} do not match {labels.size} val images; pass (N, H, W) maps"
            )
        normal = maps[~labels].ravel()
        _checks.finite(normal, "val maps")
    if normal.size == 0:
        raise EvaluationError(
            f"no normal val images to calibrate a {level} threshold on; val needs normal images"
        )
    return normal.astype(np.float64)
