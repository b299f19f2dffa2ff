"""Paired bootstrap differences: against a slow reference (an explicit loop over the same
resamples recomputing each metric with `evaluation.metrics`), and on constructed cases whose
difference is known."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.bootstrap import stratified_resamples
from evalsuite.evaluation.metrics import (
    aupro,
    image_auroc,
    pixel_auroc,
    pixel_f1,
    threshold_metrics,
)
from evalsuite.evaluation.paired import (
    Difference,
    bootstrap_p_value,
    holm,
    paired_image_difference,
    paired_pixel_difference,
    pool_differences,
)
from evalsuite.evaluation.pixel_evidence import PixelEvidence, pixel_evidence

BlobFactory = Callable[..., tuple[np.ndarray, np.ndarray]]


def _scores(n: int, seed: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3 == 0
    return rng.normal(size=n) + shift * labels, labels


def _reference(
    metric_a: Callable[[np.ndarray], float],
    metric_b: Callable[[np.ndarray], float],
    labels: np.ndarray,
    n: int,
    seed: int,
) -> tuple[float, tuple[float, float], float]:
    """Slow paired bootstrap: recompute both metrics on every resample's image indices."""
    deltas = np.array(
        [metric_b(idx) - metric_a(idx) for idx in stratified_resamples(labels, n, seed)]
    )
    low, high = np.quantile(deltas, [0.025, 0.975])
    below = (1 + np.sum(deltas <= 0)) / (n + 1)
    above = (1 + np.sum(deltas >= 0)) / (n + 1)
    everything = np.arange(labels.size)
    return (
        metric_b(everything) - metric_a(everything),
        (float(low), float(high)),
        min(1.0, 2 * min(below, above)),
    )


def _check(found: Difference, expected: tuple[float, tuple[float, float], float]) -> None:
    delta, ci, p = expected
    assert found.delta == pytest.approx(delta, abs=1e-12)
    assert found.ci95 == pytest.approx(ci, abs=1e-12)
    assert found.p_value == pytest.approx(p, abs=1e-12)


def test_image_auroc_matches_the_slow_reference_with_ties() -> None:
    sa, y = _scores(40, 0, 0.8)
    sb = np.round(sa + np.random.default_rng(1).normal(0, 0.7, 40), 1)  # ties
    found = paired_image_difference("image_auroc", y, sa, sb, n=200, seed=7)
    expected = _reference(
        lambda i: image_auroc(sa[i], y[i]), lambda i: image_auroc(sb[i], y[i]), y, 200, 7
    )
    _check(found, expected)
    assert (found.a, found.b) == pytest.approx((image_auroc(sa, y), image_auroc(sb, y)))
    assert (found.n_images, found.n_resamples, found.seed) == (40, 200, 7)


def test_image_f1_matches_the_slow_reference() -> None:
    sa, y = _scores(45, 2, 1.5)
    sb, _ = _scores(45, 3, 0.5)
    ta, tb = 0.6, 0.2

    def f1(s: np.ndarray, t: float) -> Callable[[np.ndarray], float]:
        return lambda i: float(threshold_metrics(s[i], y[i], t)["f1"])

    found = paired_image_difference("image_f1", y, sa, sb, thresholds=(ta, tb), n=150, seed=3)
    _check(found, _reference(f1(sa, ta), f1(sb, tb), y, 150, 3))


def test_pixel_metrics_match_the_slow_reference(blobs: BlobFactory) -> None:
    maps_a, masks = blobs(4, n=9, size=12, n_normal=4, ties=True)
    noise = np.random.default_rng(5).normal(0, 0.4, maps_a.shape)
    maps_b = maps_a + noise
    y = masks.reshape(9, -1).any(axis=1)
    ta, tb = 1.0, 1.1
    exact = 10**6  # a grid of every threshold up to 2 fpr_limit: AU-PRO exact per resample
    ea = pixel_evidence(maps_a, masks, ta, max_thresholds=exact)
    eb = pixel_evidence(maps_b, masks, tb, max_thresholds=exact)
    references: dict[str, Callable[[np.ndarray, float], Callable[[np.ndarray], float]]] = {
        "pixel_auroc": lambda m, t: lambda i: pixel_auroc(m[i], masks[i]),
        "aupro_0.3": lambda m, t: lambda i: aupro(m[i], masks[i], 0.3),
        "pixel_f1": lambda m, t: lambda i: pixel_f1(m[i], masks[i], t),
    }
    for metric, make in references.items():
        found = paired_pixel_difference(metric, y, ea, eb, n=120, seed=11)
        expected = _reference(make(maps_a, ta), make(maps_b, tb), y, 120, 11)
        delta, ci, p = expected
        assert found.delta == pytest.approx(delta, abs=1e-9), metric
        assert found.ci95 == pytest.approx(ci, abs=1e-9), metric
        assert found.p_value == pytest.approx(p, abs=1e-12), metric


def test_the_default_aupro_grid_stays_within_a_thousandth(blobs: BlobFactory) -> None:
    maps, masks = blobs(8, n=12, size=40, n_normal=5)
    y = masks.reshape(12, -1).any(axis=1)
    evidence = pixel_evidence(maps, masks, None)
    assert evidence.pro_fp is not None and evidence.pro_fp.shape[1] <= 300
    same = paired_pixel_difference("aupro_0.3", y, evidence, evidence, n=10, seed=0)
    assert same.a == pytest.approx(aupro(maps, masks, 0.3), abs=1e-3)


def test_identical_cells_differ_by_exactly_zero_with_p_one(blobs: BlobFactory) -> None:
    s, y = _scores(30, 4, 1.0)
    for metric in ("image_auroc", "image_f1"):
        d = paired_image_difference(metric, y, s, s.copy(), thresholds=(0.5, 0.5), seed=0)
        assert (d.delta, d.ci95, d.p_value) == (0.0, (0.0, 0.0), 1.0)
        assert not d.excludes_zero
    maps, masks = blobs(2, n=6, size=10, n_normal=2)
    e = pixel_evidence(maps, masks, 0.8)
    for metric in ("pixel_auroc", "aupro_0.3", "pixel_f1"):
        d = paired_pixel_difference(metric, masks.reshape(6, -1).any(1), e, e, n=50, seed=1)
        assert (d.delta, d.ci95, d.p_value) == (0.0, (0.0, 0.0), 1.0)


def test_a_clearly_better_cell_gives_an_interval_excluding_zero() -> None:
    rng = np.random.default_rng(9)
    y = np.arange(120) % 2 == 0
    chance = rng.normal(size=120)  # AUROC about 0.5
    perfect = chance + 10.0 * y  # AUROC 1
    d = paired_image_difference("image_auroc", y, chance, perfect, n=500, seed=2)
    assert d.b == 1.0 and d.delta == pytest.approx(1.0 - image_auroc(chance, y))
    assert 0.25 < d.ci95[0] <= d.delta <= d.ci95[1] < 0.75
    assert d.excludes_zero and d.p_value == pytest.approx(2 / 501)
    reverse = paired_image_difference("image_auroc", y, perfect, chance, n=500, seed=2)
    assert reverse.ci95 == pytest.approx((-d.ci95[1], -d.ci95[0]))


def test_pairing_narrows_the_interval_of_a_small_known_shift() -> None:
    """b = a + a constant on anomalous images: a small, consistent gain that a paired bootstrap
    detects though the two cells' single intervals overlap."""
    rng = np.random.default_rng(3)
    y = np.arange(200) % 2 == 0
    a = rng.normal(size=200) + 0.8 * y
    b = a + 0.15 * y
    d = paired_image_difference("image_auroc", y, a, b, n=1000, seed=4)
    assert 0 < d.ci95[0] < d.delta < d.ci95[1] < 0.1
    assert d.p_value < 0.01


def test_p_value_definition() -> None:
    assert bootstrap_p_value(np.array([1.0, 2.0, 3.0])) == pytest.approx(2 * 1 / 4)
    assert bootstrap_p_value(np.array([-1.0, 1.0, 1.0, 1.0])) == pytest.approx(2 * 2 / 5)
    assert bootstrap_p_value(np.zeros(10)) == 1.0


def test_holm_adjusts_step_down_in_input_order() -> None:
    adjusted = holm([0.01, 0.04, 0.03, 0.005, float("nan")])
    assert adjusted[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert np.isnan(adjusted[4])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]).size == 0


def test_evidence_round_trips_through_float32_arrays(blobs: BlobFactory) -> None:
    maps, masks = blobs(3, n=5, size=10, n_normal=2)
    e = pixel_evidence(maps, masks, None)
    back = PixelEvidence.from_arrays(e.to_arrays())
    assert back.f1_counts is None and back.pairs is not None and e.pairs is not None
    assert np.allclose(back.pairs, e.pairs) and back.fpr_limit == pytest.approx(0.3)
    no_defect = pixel_evidence(maps, np.zeros_like(masks), 0.5)
    assert no_defect.pairs is None and no_defect.pro_fp is None
    with pytest.raises(EvaluationError, match="lacks a defect region"):
        paired_pixel_difference("aupro_0.3", np.zeros(5, bool), no_defect, no_defect, seed=0)


def test_bad_inputs_are_refused(blobs: BlobFactory) -> None:
    s, y = _scores(12, 0, 1.0)
    with pytest.raises(EvaluationError, match="thresholds"):
        paired_image_difference("image_f1", y, s, s, seed=0)
    with pytest.raises(EvaluationError, match="unknown image metric"):
        paired_image_difference("aupr", y, s, s, seed=0)
    with pytest.raises(EvaluationError, match="same length"):
        paired_image_difference("image_auroc", y, s, s[:-1], seed=0)
    maps, masks = blobs(0, n=4, size=8)
    e = pixel_evidence(maps, masks, 0.5)
    with pytest.raises(EvaluationError, match="does not match"):
        paired_pixel_difference("pixel_auroc", np.ones(3, bool), e, e, seed=0)
    with pytest.raises(EvaluationError, match="unknown pixel metric"):
        paired_pixel_difference("aupro_0.05", masks.reshape(4, -1).any(1), e, e, seed=0)


def test_pooling_over_seeds_averages_resample_by_resample() -> None:
    first = paired_image_difference("image_auroc", *_two(0), n=300, seed=1)
    second = paired_image_difference("image_auroc", *_two(1), n=300, seed=2)
    pooled = pool_differences([first, second])
    assert pooled.delta == pytest.approx((first.delta + second.delta) / 2)
    assert pooled.a == pytest.approx((first.a + second.a) / 2)
    assert first.deltas is not None and second.deltas is not None
    mean = (first.deltas + second.deltas) / 2
    assert pooled.ci95 == pytest.approx(tuple(np.quantile(mean, [0.025, 0.975])))
    assert pooled.p_value == pytest.approx(bootstrap_p_value(mean))
    assert pooled.n_images == first.n_images + second.n_images
    assert pool_differences([first]) is first
    short = paired_image_difference("image_auroc", *_two(1), n=100, seed=2)
    with pytest.raises(EvaluationError, match="same resample count"):
        pool_differences([first, short])


def _two(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, y = _scores(60, seed, 1.0)
    return y, a, a + 0.5 * y


def test_subset_evidence_equals_evidence_of_the_subset(blobs: BlobFactory) -> None:
    maps, masks = blobs(6, n=8, size=12, n_normal=3, ties=True)
    index = np.array([6, 0, 2, 7, 3])
    whole = pixel_evidence(maps, masks, 0.9, max_thresholds=10**6).subset(index)
    part = pixel_evidence(maps[index], masks[index], 0.9, max_thresholds=10**6)
    assert whole.pairs is not None and part.pairs is not None
    assert np.array_equal(whole.pairs, part.pairs)
    y = masks[index].reshape(5, -1).any(axis=1)
    for metric in ("pixel_auroc", "pixel_f1"):
        d = paired_pixel_difference(metric, y, whole, part, n=50, seed=0)
        assert d.delta == 0.0 and d.ci95 == (0.0, 0.0)
