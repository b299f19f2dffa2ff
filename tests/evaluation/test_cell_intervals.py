"""Intervals of every per-cell metric: the fast count-based bootstraps (image AUPR, the metrics
at the image threshold, pixel F1) against the generic resample-and-recompute bootstrap on the
same resamples, and a cell record where every metric carries its interval."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from evalsuite.evaluation.bootstrap import bootstrap_ci
from evalsuite.evaluation.cell import evaluate_cell
from evalsuite.evaluation.image_bootstrap import aupr_ci, threshold_cis
from evalsuite.evaluation.metrics import image_aupr, pixel_f1, threshold_metrics
from evalsuite.evaluation.pixel_bootstrap import pixel_f1_ci
from evalsuite.site.read.records import METRICS

BlobFactory = Callable[..., tuple[np.ndarray, np.ndarray]]


def _scores(n: int, seed: int, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3 == 0
    scores = rng.normal(size=n) + 1.0 * labels
    return (np.round(scores, 1) if ties else scores), labels


@pytest.mark.parametrize("ties", [False, True])
def test_aupr_interval_equals_the_generic_bootstrap(ties: bool) -> None:
    scores, labels = _scores(48, 4, ties)
    generic = bootstrap_ci(image_aupr, scores, labels, labels=labels, n=150, seed=5)
    assert aupr_ci(scores, labels, n=150, seed=5) == pytest.approx(generic, abs=1e-12)


def test_threshold_intervals_equal_the_generic_bootstrap_at_the_fixed_threshold() -> None:
    scores, labels = _scores(45, 7)
    threshold = float(np.quantile(scores, 0.6))
    fast = threshold_cis(scores, labels, threshold, n=120, seed=3, level=0.9)
    for name in ("f1", "precision", "recall", "fpr"):
        generic = bootstrap_ci(
            lambda s, y, k=name: float(threshold_metrics(s, y, threshold)[k]),
            scores,
            labels,
            labels=labels,
            n=120,
            seed=3,
            level=0.9,
        )
        assert fast[name] == pytest.approx(generic, abs=1e-12), name
    assert fast["f1"][0] < fast["f1"][1]  # a real spread, not a degenerate interval


def test_pixel_f1_interval_equals_the_generic_bootstrap(blobs: BlobFactory) -> None:
    maps, masks = blobs(5, n=10, size=12, n_normal=3)
    labels = masks.reshape(masks.shape[0], -1).any(axis=1)
    threshold = float(np.quantile(maps, 0.9))
    generic = bootstrap_ci(
        lambda m, g: pixel_f1(m, g, threshold), maps, masks, labels=labels, n=80, seed=1
    )
    assert pixel_f1_ci(maps, masks, threshold, n=80, seed=1) == pytest.approx(generic, abs=1e-12)


def _cell_record(maps: np.ndarray, masks: np.ndarray, bootstrap_n: int) -> dict[str, object]:
    """The record of a cell scoring each image by its map's maximum, thresholds at the median
    score and the maps' 95th percentile."""
    labels = masks.reshape(masks.shape[0], -1).any(axis=1)
    scores = maps.reshape(maps.shape[0], -1).max(axis=1)
    return evaluate_cell(
        scores,
        labels,
        maps,
        masks,
        image_threshold=float(np.median(scores)),
        pixel_threshold=float(np.quantile(maps, 0.95)),
        bootstrap_n=bootstrap_n,
        seed=0,
    )


def test_every_metric_of_a_cell_has_an_interval_around_its_value(blobs: BlobFactory) -> None:
    maps, masks = blobs(2, n=16, size=16, n_normal=6)
    metrics = _cell_record(maps, masks, bootstrap_n=200)["metrics"]
    assert isinstance(metrics, dict) and set(metrics) == set(METRICS)
    for name, metric in metrics.items():
        assert metric["reason"] is None, name
        low, high = metric["ci95"]
        assert 0.0 <= low <= high <= 1.0, name
        assert low - 1e-9 <= metric["value"] <= high + 1e-9, name


def test_no_resamples_means_no_intervals_but_every_value(blobs: BlobFactory) -> None:
    maps, masks = blobs(2, n=10, size=12, n_normal=4)
    metrics = _cell_record(maps, masks, bootstrap_n=0)["metrics"]  # the configuration's 0 = none
    assert isinstance(metrics, dict)
    for name, metric in metrics.items():
        assert metric["value"] is not None and metric["ci95"] is None, (name, metric)
