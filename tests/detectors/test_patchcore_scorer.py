"""Image score (Eq. 6-7) and anomaly maps."""

from __future__ import annotations

import math

import numpy as np

from evalsuite.detectors.patchcore.memory_bank import MemoryBank
from evalsuite.detectors.patchcore.scorer import anomaly_maps, image_scores, reweighted_scores


def _score_one_dimensional(bank_values: list[float], patches: list[float], b: int) -> float:
    """Score one image whose patches are 1-d features, through search and image_scores."""
    bank = MemoryBank(np.array(bank_values, np.float32)[:, None])
    queries = np.array(patches, np.float32)[:, None]
    distances, indices = bank.search(queries, k=1)
    score = image_scores(distances.T, indices.T, queries[None], bank, b)
    return float(score[0])


def test_one_neighbour_gives_the_plain_maximum() -> None:
    rng = np.random.default_rng(0)
    bank = MemoryBank(rng.normal(size=(50, 4)).astype(np.float32))
    patches = rng.normal(size=(3, 20, 4)).astype(np.float32)
    distances, indices = bank.search(patches.reshape(-1, 4), k=1)
    scores = image_scores(distances.reshape(3, 20), indices.reshape(3, 20), patches, bank, 1)
    np.testing.assert_array_equal(scores, distances.reshape(3, 20).max(axis=1))


def test_eq7_hand_computed_example() -> None:
    # Memory bank {0, 1, 3}; the image's patches 0, 1 and 2.2. m^{test,*} = 2.2 (largest NN
    # distance), m* = 3, s* = 0.8. N_2(m*) = {3, 1} (m* itself, then 1 at distance 2).
    # w = 1 - e^{0.8} / (e^{0.8} + e^{1.2}); s = w s*.
    expected = (1 - math.exp(0.8) / (math.exp(0.8) + math.exp(1.2))) * 0.8
    score = _score_one_dimensional([0.0, 1.0, 3.0], [0.0, 1.0, 2.2], b=2)
    assert math.isclose(score, expected, rel_tol=1e-5)
    assert math.isclose(expected, 0.47895, rel_tol=1e-4)


def test_eq7_with_three_neighbours() -> None:
    # N_3(m* = 3) = {3, 1, 0}: distances from 2.2 are 0.8, 1.2, 2.2.
    exps = [math.exp(0.8), math.exp(1.2), math.exp(2.2)]
    expected = (1 - exps[0] / sum(exps)) * 0.8
    score = _score_one_dimensional([0.0, 1.0, 3.0], [0.0, 1.0, 2.2], b=3)
    assert math.isclose(score, expected, rel_tol=1e-5)


def test_eq7_is_stable_for_large_distances() -> None:
    # Naive exp(800) overflows; the max-shifted form gives w = 1 - 1 / (1 + e^{400}) ~ 1.
    bank = MemoryBank(np.array([[0.0], [1000.0], [3000.0]], np.float32))
    score = reweighted_scores(
        np.array([[2200.0]], np.float32), np.array([800.0], np.float32), np.array([2]), bank, 2
    )
    assert np.isfinite(score).all()
    assert math.isclose(float(score[0]), 800.0, rel_tol=1e-6)


def test_reweighting_lowers_the_score_below_s_star() -> None:
    assert _score_one_dimensional([0.0, 1.0, 3.0], [0.0, 1.0, 2.2], b=2) < 0.8


def test_constant_patch_scores_give_a_constant_map() -> None:
    maps = anomaly_maps(np.full((2, 4, 4), 3.0, np.float32), (32, 32), sigma=4.0)
    assert maps.shape == (2, 32, 32)
    assert maps.dtype == np.float32
    np.testing.assert_allclose(maps, 3.0, rtol=1e-5)


def test_hot_patch_peaks_in_its_pixels_and_smoothing_spreads_it() -> None:
    grid = np.zeros((1, 4, 4), np.float32)
    grid[0, 1, 2] = 1.0  # patch row 1, column 2 covers pixels rows 8-15, columns 16-23
    sharp = anomaly_maps(grid, (32, 32), sigma=0.0)
    smooth = anomaly_maps(grid, (32, 32), sigma=4.0)
    for array in (sharp, smooth):
        row, column = np.unravel_index(array[0].argmax(), (32, 32))
        assert 8 <= row < 16 and 16 <= column < 24
    assert smooth.max() < sharp.max()
    assert smooth[0, 0, 0] > sharp[0, 0, 0] == 0.0
    np.testing.assert_allclose(smooth.sum(), sharp.sum(), rtol=0.05)  # reflect keeps the mass
