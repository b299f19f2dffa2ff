"""Unpaired bootstrap differences (two cells on different test sets): against a slow reference
that resamples each cell's images on its own and recomputes each metric with
`evaluation.metrics`, and on cases whose answer is known."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.bootstrap import stratified_resamples
from evalsuite.evaluation.metrics import aupro, image_auroc, pixel_auroc, threshold_metrics
from evalsuite.evaluation.paired import paired_image_difference
from evalsuite.evaluation.pixel_evidence import pixel_evidence
from evalsuite.evaluation.unpaired import unpaired_image_difference, unpaired_pixel_difference

BlobFactory = Callable[..., tuple[np.ndarray, np.ndarray]]
Metric = Callable[[np.ndarray], float]


def _scores(n: int, seed: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3 == 0
    return rng.normal(size=n) + shift * labels, labels


def _reference(
    metrics: tuple[Metric, Metric], labels: tuple[np.ndarray, np.ndarray], n: int, seed: int
) -> tuple[float, tuple[float, float], float]:
    """Slow unpaired bootstrap: a's resample k (seed) and b's (seed + 1), metrics recomputed."""
    pairs = zip(
        stratified_resamples(labels[0], n, seed),
        stratified_resamples(labels[1], n, seed + 1),
        strict=True,
    )
    deltas = np.array([metrics[1](ib) - metrics[0](ia) for ia, ib in pairs])
    low, high = np.quantile(deltas, [0.025, 0.975])
    below = (1 + np.sum(deltas <= 0)) / (n + 1)
    above = (1 + np.sum(deltas >= 0)) / (n + 1)
    every = [np.arange(y.size) for y in labels]
    delta = metrics[1](every[1]) - metrics[0](every[0])
    return delta, (float(low), float(high)), min(1.0, 2 * min(below, above))


def test_image_metrics_match_the_slow_reference_on_test_sets_of_other_sizes() -> None:
    sa, ya = _scores(40, 0, 0.8)
    sb, yb = _scores(31, 1, 1.5)
    sb = np.round(sb, 1)  # ties
    auroc = unpaired_image_difference("image_auroc", (ya, yb), (sa, sb), n=200, seed=7)
    delta, ci, p = _reference(
        (lambda i: image_auroc(sa[i], ya[i]), lambda i: image_auroc(sb[i], yb[i])),
        (ya, yb),
        200,
        7,
    )
    assert auroc.delta == pytest.approx(delta, abs=1e-12)
    assert auroc.ci95 == pytest.approx(ci, abs=1e-12) and auroc.p_value == pytest.approx(p)
    assert auroc.n_images == 71
    f1 = unpaired_image_difference(
        "image_f1", (ya, yb), (sa, sb), thresholds=(0.6, 0.2), n=150, seed=3
    )
    expected = _reference(
        (
            lambda i: float(threshold_metrics(sa[i], ya[i], 0.6)["f1"]),
            lambda i: float(threshold_metrics(sb[i], yb[i], 0.2)["f1"]),
        ),
        (ya, yb),
        150,
        3,
    )
    assert (f1.delta, *f1.ci95) == pytest.approx((expected[0], *expected[1]), abs=1e-12)
    # resamples whose two F1 are equal give a difference of +-1e-17 in one of the computations,
    # which moves them across 0 in the p-value's counts: a few of the 150 at most
    assert f1.p_value == pytest.approx(expected[2], abs=5 / 151)


def test_pixel_metrics_match_the_slow_reference(blobs: BlobFactory) -> None:
    maps_a, masks_a = blobs(4, n=9, size=12, n_normal=4, ties=True)
    maps_b, masks_b = blobs(6, n=7, size=12, n_normal=3)
    ya, yb = (m.reshape(m.shape[0], -1).any(axis=1) for m in (masks_a, masks_b))
    exact = 10**6  # every threshold up to 2 fpr_limit: AU-PRO exact per resample
    ea = pixel_evidence(maps_a, masks_a, None, max_thresholds=exact)
    eb = pixel_evidence(maps_b, masks_b, None, max_thresholds=exact)
    references = {
        "pixel_auroc": lambda m, g: lambda i: pixel_auroc(m[i], g[i]),
        "aupro_0.3": lambda m, g: lambda i: aupro(m[i], g[i], 0.3),
    }
    for metric, make in references.items():
        found = unpaired_pixel_difference(metric, (ya, yb), (ea, eb), n=100, seed=11)
        delta, ci, p = _reference((make(maps_a, masks_a), make(maps_b, masks_b)), (ya, yb), 100, 11)
        assert found.delta == pytest.approx(delta, abs=1e-9), metric
        assert found.ci95 == pytest.approx(ci, abs=1e-9), metric
        assert found.p_value == pytest.approx(p, abs=1e-12), metric


def test_one_cell_against_itself_unpaired_is_wider_than_paired() -> None:
    """The same scores twice: paired, exactly 0; unpaired, an interval around 0 that is not a
    point (two independent resamplings), and no verdict-worthy p-value."""
    s, y = _scores(60, 4, 1.0)
    paired = paired_image_difference("image_auroc", y, s, s.copy(), seed=0)
    unpaired = unpaired_image_difference("image_auroc", (y, y), (s, s.copy()), seed=0)
    assert paired.ci95 == (0.0, 0.0) and unpaired.delta == 0.0
    assert unpaired.ci95[0] < 0.0 < unpaired.ci95[1] and unpaired.p_value > 0.5


def test_bad_inputs_are_refused(blobs: BlobFactory) -> None:
    s, y = _scores(30, 4, 1.0)
    with pytest.raises(EvaluationError, match="thresholds"):
        unpaired_image_difference("image_f1", (y, y), (s, s), seed=0)
    with pytest.raises(EvaluationError, match="undefined"):
        unpaired_image_difference("image_auroc", (y, np.zeros(30, bool)), (s, s), seed=0)
    maps, masks = blobs(1, n=5, size=10, n_normal=2)
    evidence = pixel_evidence(maps, masks, None)
    with pytest.raises(EvaluationError, match="does not match"):
        unpaired_pixel_difference("pixel_auroc", (y, y), (evidence, evidence), seed=0)
