"""Greedy coreset (Algorithm 1): determinism, covering radii against brute force, JL projection."""

from __future__ import annotations

import numpy as np
import torch

from evalsuite.detectors.patchcore.coreset import (
    coreset_size,
    greedy_k_center,
    random_projection,
    select_coreset,
)


def _features(n: int = 400, d: int = 256, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def test_same_seed_same_coreset_and_seed_changes_it() -> None:
    features = _features()
    first = select_coreset(features, 0.1, 128, seed=7)
    again = select_coreset(features, 0.1, 128, seed=7)
    other = select_coreset(features, 0.1, 128, seed=8)
    np.testing.assert_array_equal(first.indices, again.indices)
    np.testing.assert_array_equal(first.radii, again.radii)
    assert not np.array_equal(first.indices, other.indices)


def test_size_and_distinct_indices() -> None:
    features = _features()
    coreset = select_coreset(features, 0.25, 128, seed=0)
    assert coreset.indices.shape == (coreset_size(400, 0.25),) == (100,)
    assert len(np.unique(coreset.indices)) == 100
    assert select_coreset(features, 0.001, 128, seed=0).indices.shape == (1,)


def test_ratio_one_keeps_everything() -> None:
    coreset = select_coreset(_features(n=50), 1.0, 128, seed=0)
    np.testing.assert_array_equal(coreset.indices, np.arange(50))


def test_input_is_not_modified() -> None:
    features = _features(n=100, d=64)
    copy = features.copy()
    select_coreset(features, 0.2, 128, seed=0)  # D <= k: runs on a copy of the features
    np.testing.assert_array_equal(features, copy)


def test_covering_radii_match_brute_force_and_never_increase() -> None:
    points = _features(n=300, d=16, seed=3)
    coreset = greedy_k_center(points.copy(), size=40, start=5)
    assert coreset.indices[0] == 5
    exact = torch.cdist(torch.from_numpy(points).double(), torch.from_numpy(points).double())
    for step in range(40):
        selected = torch.from_numpy(coreset.indices[: step + 1])
        nearest_selected = exact[:, selected].min(dim=1).values  # (N,)
        # covering radius after step + 1 selections, by brute force
        np.testing.assert_allclose(coreset.radii[step], nearest_selected.max().item(), rtol=1e-4)
        if step + 1 < 40:  # Algorithm 1: the next point is the farthest from the selection
            assert coreset.indices[step + 1] == int(nearest_selected.argmax())
    assert np.all(np.diff(coreset.radii) <= 0)


def test_one_point_per_well_separated_cluster() -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(scale=50.0, size=(6, 8))
    points = (np.repeat(centres, 30, axis=0) + rng.normal(size=(180, 8))).astype(np.float32)
    coreset = greedy_k_center(points, size=6, start=0)
    assert sorted(coreset.indices // 30) == list(range(6))


def test_random_projection_preserves_distances_and_is_seeded() -> None:
    features = _features(n=200, d=1024, seed=2)
    projected = random_projection(features, 128, seed=4)
    assert projected.shape == (200, 128)
    assert projected.dtype == np.float32
    np.testing.assert_array_equal(projected, random_projection(features, 128, seed=4))
    original = torch.pdist(torch.from_numpy(features).double())
    reduced = torch.pdist(torch.from_numpy(projected).double())
    ratio = (reduced / original).numpy()
    assert abs(ratio.mean() - 1.0) < 0.05  # Johnson-Lindenstrauss: distances kept on average
    assert ratio.min() > 0.6 and ratio.max() < 1.4
