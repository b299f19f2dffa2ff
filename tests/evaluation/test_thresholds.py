"""Threshold strategies: values on hand-made data, brute-force F1 optimum, val-only inputs."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from evalsuite.errors import ConfigError, EvaluationError
from evalsuite.evaluation.thresholds import (
    STRATEGIES,
    ValScores,
    f1_optimal,
    threshold_from_val,
)


def _val(scores: list[float], labels: list[int], split: str = "val") -> ValScores:
    return ValScores(split, np.array(scores), np.array(labels))


def _brute_force_f1(scores: np.ndarray, labels: np.ndarray) -> float:
    """Try every score as threshold; exact F1 as a fraction; the highest threshold on ties."""
    best, best_t = Fraction(-1), 0.0
    for t in sorted(set(scores.tolist()), reverse=True):
        pred = scores >= t
        tp = int(np.sum(pred & labels))
        f1 = Fraction(2 * tp, int(pred.sum()) + int(labels.sum()))
        if f1 > best:
            best, best_t = f1, t
    return best_t


def test_f1_strategy_on_hand_made_scores() -> None:
    val = _val([0.1, 0.2, 0.3, 0.4, 0.5], [0, 0, 1, 0, 1])
    # F1 at 0.5: 2/3, 0.4: 1/2, 0.3: 4/5, 0.2: 2/3, 0.1: 4/7
    threshold = threshold_from_val(val, "f1")
    assert (threshold.value, threshold.strategy, threshold.level) == (0.3, "f1", "image")
    assert (threshold.split, dict(threshold.params)) == ("val", {})


@pytest.mark.parametrize("seed", range(6))
def test_f1_optimum_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.random(60) < 0.3
    labels[0] = True
    scores = np.round(rng.normal(size=60) + labels, 1)  # many ties
    assert f1_optimal(scores, labels) == _brute_force_f1(scores, labels)


def test_f1_prefers_the_highest_of_equal_optima() -> None:
    # thresholds 0.9 (tp=1, fp=0) and 0.2 (tp=2, fp=2, fn=0) both give F1 = 2/3
    scores, labels = np.array([0.9, 0.5, 0.4, 0.2]), np.array([1, 0, 0, 1])
    assert f1_optimal(scores, labels) == 0.9 == _brute_force_f1(scores, labels.astype(bool))


def test_quantile_strategy_uses_normal_scores_only() -> None:
    normal = list(range(101))
    val = _val([*map(float, normal), 500.0, 900.0], [0] * 101 + [1, 1])
    assert threshold_from_val(val, "quantile").value == pytest.approx(99.0)
    half = threshold_from_val(val, "quantile", q=0.5)
    assert (half.value, dict(half.params)) == (50.0, {"q": 0.5})


def test_mean_std_strategy() -> None:
    val = _val([1.0, 2.0, 3.0, 4.0, 5.0, 100.0], [0, 0, 0, 0, 0, 1])
    threshold = threshold_from_val(val, "mean_std")
    assert threshold.value == pytest.approx(3.0 + 3.0 * np.sqrt(2.5))
    assert dict(threshold.params) == {"k": 3.0}
    assert threshold_from_val(val, "mean_std", k=1.0).value == pytest.approx(3.0 + np.sqrt(2.5))


@pytest.mark.parametrize("split", ["test", "train", "VAL", ""])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_non_val_data_is_refused(split: str, strategy: str) -> None:
    data = _val([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], split=split)
    with pytest.raises(EvaluationError, match="val split only"):
        threshold_from_val(data, strategy)
    with pytest.raises(EvaluationError, match="val split only"):
        threshold_from_val(data, strategy, level="pixel")


def test_unknown_strategy_or_level_lists_the_known_ones() -> None:
    val = _val([0.1, 0.9], [0, 1])
    with pytest.raises(ConfigError, match="f1, quantile, mean_std"):
        threshold_from_val(val, "otsu")
    with pytest.raises(ConfigError, match="image, pixel"):
        threshold_from_val(val, "f1", level="region")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"\(0, 1\]"):
        threshold_from_val(val, "quantile", q=1.5)


def test_f1_without_anomalies_points_to_the_other_strategies() -> None:
    with pytest.raises(EvaluationError, match="use the quantile or mean_std"):
        threshold_from_val(_val([0.1, 0.2, 0.3], [0, 0, 0]), "f1")


def test_normal_strategies_need_normal_val_data() -> None:
    with pytest.raises(EvaluationError, match="normal"):
        threshold_from_val(_val([0.1, 0.2], [1, 1]), "quantile")
    with pytest.raises(EvaluationError, match="at least 2"):
        threshold_from_val(_val([0.1, 0.2], [0, 1]), "mean_std")


def _pixel_val(masks: bool = True) -> ValScores:
    rng = np.random.default_rng(0)
    maps = rng.random((4, 8, 8))
    gt = np.zeros((4, 8, 8), dtype=bool)
    gt[2, 2:5, 2:5] = gt[3, :2, :3] = True
    maps[2:] += 5.0  # anomalous images score high everywhere, defects included
    maps += gt * 1.0
    return ValScores(
        "val", maps.max(axis=(1, 2)), np.array([0, 0, 1, 1]), maps, gt if masks else None
    )


def test_pixel_quantile_and_mean_std_use_pixels_of_normal_images() -> None:
    val = _pixel_val(masks=False)
    assert val.maps is not None
    normal_pixels = val.maps[:2].ravel()
    top = threshold_from_val(val, "quantile", level="pixel", q=1.0)
    assert (top.value, top.level) == (normal_pixels.max(), "pixel")
    spread = threshold_from_val(val, "mean_std", level="pixel")
    assert spread.value == pytest.approx(normal_pixels.mean() + 3 * normal_pixels.std(ddof=0))


def test_pixel_f1_equals_brute_force_and_needs_masks() -> None:
    val = _pixel_val()
    assert val.maps is not None and val.masks is not None
    expected = _brute_force_f1(val.maps.ravel(), val.masks.ravel())
    assert threshold_from_val(val, "f1", level="pixel").value == expected
    with pytest.raises(EvaluationError, match="no masks"):
        threshold_from_val(_pixel_val(masks=False), "f1", level="pixel")


def test_threshold_record_is_json_ready() -> None:
    threshold = threshold_from_val(_val([0.1, 0.2, 0.3, 0.9], [0, 0, 0, 1]), "quantile", q=0.9)
    record = json.loads(json.dumps(threshold.to_dict()))
    assert record == {
        "strategy": "quantile",
        "value": threshold.value,
        "level": "image",
        "split": "val",
        "params": {"q": 0.9},
    }
