"""The mean over categories and its interval: against a slow stratified bootstrap written here
(an explicit loop over the resamples, each category drawn as its own interval draws it, the
metric from scikit-learn), against the per-cell intervals with one category, and on a planted
shift shared by every category."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.bootstrap import image_auroc_ci
from evalsuite.evaluation.category_mean import (
    category_mean,
    image_resamples,
    mean_difference,
    pixel_resamples,
)
from evalsuite.evaluation.metrics import image_auroc
from evalsuite.evaluation.paired import paired_image_difference
from evalsuite.evaluation.pixel_bootstrap import aupro_ci, pixel_auroc_ci
from evalsuite.evaluation.pixel_evidence import pixel_evidence

BlobFactory = Callable[..., tuple[np.ndarray, np.ndarray]]


def _category(n_good: int, n_bad: int, seed: int, shift: float = 1.0) -> tuple[np.ndarray, ...]:
    """Scores and labels of one category: normal images first, then anomalous ones."""
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(n_good, bool), np.ones(n_bad, bool)]
    return rng.normal(size=labels.size) + shift * labels, labels


def _slow_resamples(labels: np.ndarray, n: int, seed: int) -> list[np.ndarray]:
    """The seed scheme of a cell's interval, drawn here: one generator per cell, all normal
    images' draws (n x normals) first, then the anomalous images' (n x anomalous)."""
    rng = np.random.default_rng(seed)
    normal, anomalous = np.flatnonzero(~labels), np.flatnonzero(labels)
    draws_normal = normal[rng.integers(0, normal.size, size=(n, normal.size))]
    draws_anomalous = anomalous[rng.integers(0, anomalous.size, size=(n, anomalous.size))]
    return [np.r_[draws_normal[k], draws_anomalous[k]] for k in range(n)]


def _slow_mean_interval(
    categories: list[tuple[np.ndarray, np.ndarray]],
    metric: Callable[[np.ndarray, np.ndarray], float],
    n: int,
    seed: int,
) -> tuple[float, float]:
    per_category = []
    for scores, labels in categories:
        values = [metric(labels[idx], scores[idx]) for idx in _slow_resamples(labels, n, seed)]
        per_category.append(values)
    means = [sum(column) / len(column) for column in zip(*per_category, strict=True)]
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


CATEGORIES = [_category(5, 9, 1), _category(7, 4, 2, shift=0.5), _category(12, 20, 3, shift=2.0)]


def test_mean_interval_equals_a_slow_stratified_bootstrap_within_categories() -> None:
    n, seed = 300, 7
    resampled = [image_resamples("image_auroc", y, s, None, n=n, seed=seed) for s, y in CATEGORIES]
    values = [image_auroc(s, y) for s, y in CATEGORIES]
    found = category_mean(values, resampled)
    expected = _slow_mean_interval(CATEGORIES, roc_auc_score, n, seed)
    assert found.ci95 == pytest.approx(expected, abs=1e-12)
    assert found.value == sum(values) / 3
    assert found.n_categories == 3 and found.n_resamples == n


def test_mean_f1_interval_equals_a_slow_bootstrap_at_the_val_threshold() -> None:
    n, seed, threshold = 200, 3, 0.6

    def f1(y: np.ndarray, s: np.ndarray) -> float:
        return float(f1_score(y, s >= threshold, zero_division=0.0))

    resampled = [
        image_resamples("image_f1", y, s, threshold, n=n, seed=seed) for s, y in CATEGORIES
    ]
    found = category_mean([f1(y, s) for s, y in CATEGORIES], resampled)
    assert found.ci95 == pytest.approx(_slow_mean_interval(CATEGORIES, f1, n, seed), abs=1e-12)


def test_one_category_gives_the_cells_own_image_and_pixel_intervals(blobs: BlobFactory) -> None:
    scores, labels = CATEGORIES[0]
    resampled = image_resamples("image_auroc", labels, scores, None, n=400, seed=5)
    found = category_mean([image_auroc(scores, labels)], [resampled])
    assert found.ci95 == pytest.approx(image_auroc_ci(scores, labels, n=400, seed=5), abs=1e-12)
    maps, masks = blobs(11, n=6, n_normal=2)
    evidence = pixel_evidence(maps, masks, 0.8)
    pixel = category_mean([0.0], [pixel_resamples("pixel_auroc", evidence, n=200, seed=5)])
    assert pixel.ci95 == pytest.approx(pixel_auroc_ci(maps, masks, n=200, seed=5), abs=1e-6)
    pro = category_mean([0.0], [pixel_resamples("aupro_0.3", evidence, n=200, seed=5)])
    assert pro.ci95 == pytest.approx(aupro_ci(maps, masks, n=200, seed=5), abs=3e-3)


def test_one_category_mean_difference_is_that_categorys_difference() -> None:
    scores, labels = CATEGORIES[1]
    other = scores + np.random.default_rng(4).normal(scale=0.5, size=scores.size)
    one = paired_image_difference("image_auroc", labels, scores, other, n=100, seed=0)
    assert mean_difference([one]) is one


def test_a_shift_shared_by_every_category_has_a_narrower_mean_interval() -> None:
    """Every category loses the same separation; the mean's interval, averaging the categories'
    resamples (one seed for all, as a study's cells have), is narrower than any category's."""
    differences = []
    for seed in range(6):
        scores, labels = _category(15, 15, seed, shift=1.5)
        noise = np.random.default_rng(100 + seed).normal(scale=0.3, size=scores.size)
        shifted = scores - 0.8 * labels + noise
        found = paired_image_difference("image_auroc", labels, scores, shifted, n=500, seed=0)
        differences.append(found)
    mean = mean_difference(differences)

    def width(d: object) -> float:
        low, high = d.ci95  # type: ignore[attr-defined]
        return float(high - low)

    assert all(d.delta < 0 for d in differences)
    assert mean.delta == pytest.approx(np.mean([d.delta for d in differences]), abs=0)
    assert width(mean) < min(width(d) for d in differences)
    assert mean.ci95[1] < 0 and mean.p_value < 0.05
    assert mean.n_images == 6 * 30


def test_mismatched_or_undefined_resamples_are_refused() -> None:
    resampled = image_resamples(
        "image_auroc", CATEGORIES[0][1], CATEGORIES[0][0], None, n=50, seed=0
    )
    with pytest.raises(EvaluationError, match="one value and one resampled array"):
        category_mean([0.5, 0.6], [resampled])
    with pytest.raises(EvaluationError, match="differ in count"):
        category_mean([0.5, 0.6], [resampled, resampled[:10]])
    with pytest.raises(EvaluationError, match="undefined on some resamples"):
        category_mean([0.5], [np.r_[resampled[:-1], np.nan]])
    with pytest.raises(EvaluationError, match="at least one category"):
        mean_difference([])
