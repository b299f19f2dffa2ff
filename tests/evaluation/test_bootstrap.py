"""Stratified bootstrap intervals: determinism, stratification, coverage, and the fast pixel
paths against the generic resample-and-recompute bootstrap."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.bootstrap import (
    bootstrap_ci,
    image_auroc_ci,
    resample_counts,
    stratified_resamples,
)
from evalsuite.evaluation.metrics import aupro, image_auroc, pixel_auroc
from evalsuite.evaluation.pixel_bootstrap import aupro_ci, pixel_auroc_ci

BlobFactory = Callable[..., tuple[np.ndarray, np.ndarray]]


def _separable(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3 == 0
    return rng.normal(size=n) + 1.2 * labels, labels


def _image_labels(masks: np.ndarray) -> np.ndarray:
    return np.asarray(masks.reshape(masks.shape[0], -1).any(axis=1))


def test_resamples_keep_class_counts_and_draw_within_each_class() -> None:
    labels = np.array([0, 1, 0, 0, 1, 0, 1], dtype=bool)
    resamples = stratified_resamples(labels, n=200, seed=3)
    assert resamples.shape == (200, 7)
    assert np.all(labels[resamples].sum(axis=1) == 3)
    assert not labels[resamples[:, :4]].any() and labels[resamples[:, 4:]].all()
    assert len({tuple(row) for row in resamples}) > 150  # genuinely random rows
    counts = resample_counts(resamples, 7)
    assert np.all(counts.sum(axis=1) == 7)
    assert np.array_equal(counts[5], np.bincount(resamples[5], minlength=7))


def test_same_seed_same_interval_other_seed_other_interval() -> None:
    scores, labels = _separable(60, 0)
    first = image_auroc_ci(scores, labels, n=300, seed=11)
    assert image_auroc_ci(scores, labels, n=300, seed=11) == first
    assert image_auroc_ci(scores, labels, n=300, seed=12) != first


def test_interval_contains_the_estimate_and_narrows_with_more_data() -> None:
    widths = []
    for n_items in (45, 450):
        scores, labels = _separable(n_items, 1)
        low, high = image_auroc_ci(scores, labels, n=400, seed=0)
        assert low <= image_auroc(scores, labels) <= high
        assert 0.0 <= low < high <= 1.0
        widths.append(high - low)
    assert widths[1] < widths[0] / 2


def test_generic_bootstrap_matches_a_hand_loop() -> None:
    scores, labels = _separable(30, 2)
    low, high = bootstrap_ci(image_auroc, scores, labels, labels=labels, n=100, seed=5, level=0.9)
    values = [image_auroc(scores[i], labels[i]) for i in stratified_resamples(labels, 100, 5)]
    assert (low, high) == pytest.approx(tuple(np.quantile(values, [0.05, 0.95])))


def test_bad_settings_are_refused() -> None:
    scores, labels = _separable(12, 0)
    with pytest.raises(EvaluationError, match="level"):
        image_auroc_ci(scores, labels, n=10, seed=0, level=1.0)
    with pytest.raises(EvaluationError, match="at least 1"):
        image_auroc_ci(scores, labels, n=0, seed=0)
    with pytest.raises(EvaluationError, match="does not match"):
        bootstrap_ci(image_auroc, scores[:5], labels, labels=labels, seed=0)


@pytest.mark.parametrize("coverage", ["small", "large"])
def test_fast_pixel_auroc_ci_equals_generic_bootstrap(blobs: BlobFactory, coverage: str) -> None:
    maps, masks = blobs(4, n=6, size=12, n_normal=2, ties=True)
    if coverage == "large":  # defects cover most pixels: the other loop of the pair matrix
        masks[:4] |= ~np.eye(12, dtype=bool)[None]
        maps = maps + masks * 0.3
    generic = bootstrap_ci(
        pixel_auroc, maps, masks, labels=_image_labels(masks), n=60, seed=9, level=0.8
    )
    fast = pixel_auroc_ci(maps, masks, n=60, seed=9, level=0.8)
    assert fast == pytest.approx(generic, abs=1e-12)


def test_fast_aupro_ci_equals_generic_bootstrap_on_an_exact_grid(blobs: BlobFactory) -> None:
    maps, masks = blobs(6, n=5, size=10, n_normal=1)
    labels = _image_labels(masks)
    for limit in (0.3, 0.05):
        generic = bootstrap_ci(
            lambda m, g, lim=limit: aupro(m, g, lim), maps, masks, labels=labels, n=40, seed=2
        )
        assert aupro_ci(maps, masks, limit, n=40, seed=2) == pytest.approx(generic, abs=1e-9)


def test_fast_aupro_ci_on_a_reduced_grid_stays_close(blobs: BlobFactory) -> None:
    maps, masks = blobs(7, n=8, size=24, n_normal=2)  # 4608 distinct scores
    labels = _image_labels(masks)
    generic = bootstrap_ci(aupro, maps, masks, labels=labels, n=40, seed=1)
    reduced = aupro_ci(maps, masks, n=40, seed=1, max_thresholds=400)
    assert reduced == pytest.approx(generic, abs=3e-3)


def test_pixel_intervals_contain_their_estimates(blobs: BlobFactory) -> None:
    maps, masks = blobs(3, n=12, size=16, n_normal=4)
    low, high = pixel_auroc_ci(maps, masks, n=200, seed=0)
    assert low <= pixel_auroc(maps, masks) <= high
    low, high = aupro_ci(maps, masks, n=200, seed=0)
    assert low <= aupro(maps, masks) <= high
