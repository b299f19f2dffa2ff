"""Image and pixel metrics against scikit-learn, hand-made cases and the zero-division rules."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.metrics import (
    RocPoints,
    image_aupr,
    image_auroc,
    pixel_auroc,
    pixel_f1,
    roc_points,
    threshold_metrics,
)

BlobFactory = Callable[..., tuple[np.ndarray, np.ndarray]]


def _random_scores(seed: int, ties: bool, n: int = 80) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.4
    labels[:2] = [False, True]
    scores = rng.normal(size=n) + labels * 0.8
    if ties:
        scores = np.round(scores * 2) / 2
    return scores, labels


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ties", [False, True])
def test_image_ranking_metrics_equal_sklearn(seed: int, ties: bool) -> None:
    scores, labels = _random_scores(seed, ties)
    assert image_auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-9)
    assert image_aupr(scores, labels) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-9
    )


def test_image_metrics_all_tied_scores() -> None:
    scores, labels = np.zeros(6), np.array([0, 1, 0, 1, 1, 0])
    assert image_auroc(scores, labels) == 0.5
    assert image_aupr(scores, labels) == pytest.approx(average_precision_score(labels, scores))


@pytest.mark.parametrize("labels", [np.zeros(5), np.ones(5)])
def test_one_class_is_refused_with_a_clear_message(labels: np.ndarray) -> None:
    with pytest.raises(EvaluationError, match="both normal and anomalous images"):
        image_auroc(np.arange(5.0), labels)
    with pytest.raises(EvaluationError, match="both normal and anomalous"):
        image_aupr(np.arange(5.0), labels)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(EvaluationError, match="same length"):
        image_auroc(np.arange(4.0), np.array([0, 1, 1]))
    with pytest.raises(EvaluationError, match="non-finite"):
        image_auroc(np.array([0.0, np.nan, 1.0]), np.array([0, 1, 1]))
    with pytest.raises(EvaluationError, match="0/1"):
        image_auroc(np.arange(3.0), np.array([0, 2, 1]))


def test_threshold_metrics_hand_made() -> None:
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    labels = np.array([0, 0, 1, 1])
    m = threshold_metrics(scores, labels, 0.35)  # predicted: 0, 1, 1, 1
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (2, 1, 1, 0)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == m["tpr"] == 1.0
    assert m["f1"] == pytest.approx(0.8)
    assert m["accuracy"] == 0.75
    assert m["fpr"] == 0.5


@pytest.mark.parametrize("seed", range(3))
def test_threshold_metrics_equal_sklearn(seed: int) -> None:
    scores, labels = _random_scores(seed, ties=True)
    threshold = float(np.median(scores))
    m = threshold_metrics(scores, labels, threshold)
    pred = scores >= threshold
    assert m["f1"] == pytest.approx(f1_score(labels, pred))
    assert m["precision"] == pytest.approx(precision_score(labels, pred))
    assert m["recall"] == pytest.approx(recall_score(labels, pred))
    assert m["fpr"] == pytest.approx(np.mean(pred[~labels]))


def test_threshold_metrics_zero_denominators() -> None:
    nothing_flagged = threshold_metrics(np.array([0.1, 0.2]), np.array([0, 1]), 5.0)
    assert nothing_flagged["precision"] == 0.0
    assert nothing_flagged["f1"] == 0.0
    assert nothing_flagged["fpr"] == 0.0
    no_anomaly = threshold_metrics(np.array([0.1, 0.9]), np.array([0, 0]), 0.5)
    assert no_anomaly["recall"] == no_anomaly["tpr"] == 0.0
    assert no_anomaly["fpr"] == 0.5
    no_normal = threshold_metrics(np.array([0.1, 0.9]), np.array([1, 1]), 0.5)
    assert no_normal["fpr"] == 0.0
    assert no_normal["recall"] == 0.5


@pytest.mark.parametrize("ties", [False, True])
def test_pixel_auroc_equals_sklearn_on_flattened_pixels(blobs: BlobFactory, ties: bool) -> None:
    maps, masks = blobs(3, n=5, size=20, ties=ties)
    expected = roc_auc_score(masks.ravel(), maps.ravel())
    assert pixel_auroc(maps, masks) == pytest.approx(expected, abs=1e-9)
    assert pixel_auroc(maps.astype(np.float32), masks) == pytest.approx(
        roc_auc_score(masks.ravel(), maps.astype(np.float32).ravel()), abs=1e-9
    )


def test_pixel_auroc_refuses_masks_without_defects() -> None:
    with pytest.raises(EvaluationError, match="both normal and anomalous pixels"):
        pixel_auroc(np.random.default_rng(0).random((2, 4, 4)), np.zeros((2, 4, 4), bool))
    with pytest.raises(EvaluationError, match=r"\(N, H, W\)"):
        pixel_auroc(np.zeros((2, 4, 4)), np.zeros((2, 4, 5), bool))


def test_pixel_f1_equals_sklearn(blobs: BlobFactory) -> None:
    maps, masks = blobs(4, n=4, size=16)
    for threshold in (0.5, 0.9, 1.3):
        expected = f1_score(masks.ravel(), maps.ravel() >= threshold)
        assert pixel_f1(maps, masks, threshold) == pytest.approx(expected)
    assert pixel_f1(maps, masks, 10.0) == 0.0


def _on_exact_curve(points: RocPoints, scores: np.ndarray, labels: np.ndarray) -> bool:
    """Every (fpr, tpr, threshold) point is one of scikit-learn's full ROC curve."""
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    exact = set(zip(np.round(fpr, 12), np.round(tpr, 12), thresholds, strict=True))
    got_thresholds = [np.inf if t is None else t for t in points["thresholds"]]
    got = zip(np.round(points["fpr"], 12), np.round(points["tpr"], 12), got_thresholds, strict=True)
    return all(p in exact for p in got)


@pytest.mark.parametrize("ties", [False, True])
def test_roc_points_keep_the_curve(ties: bool) -> None:
    scores, labels = _random_scores(7, ties, n=400)
    full = roc_points(scores, labels, max_points=10_000)
    assert np.trapezoid(full["tpr"], full["fpr"]) == pytest.approx(roc_auc_score(labels, scores))
    for max_points in (2, 5, 50):
        points = roc_points(scores, labels, max_points=max_points)
        assert 2 <= len(points["fpr"]) <= max_points
        assert (points["fpr"][0], points["tpr"][0], points["thresholds"][0]) == (0.0, 0.0, None)
        assert (points["fpr"][-1], points["tpr"][-1]) == (1.0, 1.0)
        assert np.all(np.diff(points["fpr"]) >= 0) and np.all(np.diff(points["tpr"]) >= 0)
        assert np.all(np.diff(np.array(points["thresholds"][1:], dtype=float)) < 0)
        assert _on_exact_curve(points, scores, labels)
    points = roc_points(scores, labels, 50)
    area_50 = np.trapezoid(points["tpr"], points["fpr"])
    assert area_50 == pytest.approx(roc_auc_score(labels, scores), abs=0.01)


def test_roc_points_refuse_too_few_points() -> None:
    with pytest.raises(EvaluationError, match="at least 2"):
        roc_points(np.arange(4.0), np.array([0, 1, 0, 1]), max_points=1)
