"""Greedy coreset (Algorithm 1): determinism, covering radii against brute force, JL projection,
the numpy-buffer loop against a copy of the old loop, the torch loop against the numpy one."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from evalsuite.detectors.patchcore.buffers import ALIGNMENT, aligned_empty
from evalsuite.detectors.patchcore.coreset import coreset_size, random_projection, select_coreset
from evalsuite.detectors.patchcore.greedy import greedy_bytes_per_iteration, greedy_k_center
from evalsuite.detectors.patchcore.torch_ops import greedy_k_center_torch


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


def _old_random_projection(features: np.ndarray, dim: int, seed: int) -> np.ndarray:
    """random_projection as it was before numpy buffers: torch-allocated output."""
    generator = torch.Generator().manual_seed(seed)
    matrix = torch.randn(features.shape[1], dim, generator=generator) / math.sqrt(dim)
    projected = torch.empty(features.shape[0], dim)
    for start in range(0, features.shape[0], 65536):
        chunk = torch.from_numpy(np.ascontiguousarray(features[start : start + 65536]))
        torch.matmul(chunk, matrix, out=projected[start : start + 65536])
    return projected.numpy()


def _old_greedy_k_center(points: np.ndarray, size: int, start: int) -> tuple[np.ndarray, ...]:
    """greedy_k_center as it was before numpy buffers (torch-allocated distances)."""
    points -= points.mean(axis=0)
    x = torch.from_numpy(points)
    squared_norms = torch.from_numpy(np.einsum("nk,nk->n", points, points))
    min_distances = np.full(points.shape[0], np.inf, dtype=np.float32)
    distances = torch.empty(points.shape[0])
    distances_np = distances.numpy()
    indices = np.empty(size, dtype=np.int64)
    radii = np.empty(size, dtype=np.float32)
    index = start
    for step in range(size):
        indices[step] = index
        torch.addmv(squared_norms, x, x[index], alpha=-2.0, out=distances)
        distances_np += squared_norms[index].item()
        np.minimum(min_distances, distances_np, out=min_distances)
        min_distances[index] = 0.0
        index = int(min_distances.argmax())
        radii[step] = math.sqrt(max(float(min_distances[index]), 0.0))
    return indices, radii


def _old_select_coreset(features: np.ndarray, ratio: float, dim: int, seed: int) -> tuple:
    size = coreset_size(features.shape[0], ratio)
    if features.shape[1] > dim:
        points = _old_random_projection(features, dim, seed)
    else:
        points = np.array(features, dtype=np.float32, copy=True)
    start = int(np.random.default_rng(seed).integers(features.shape[0]))
    return _old_greedy_k_center(points, size, start)


@pytest.mark.parametrize(("n", "d"), [(3000, 256), (2000, 64)])
def test_numpy_buffers_give_the_old_selection_bit_for_bit(n: int, d: int) -> None:
    features = _features(n=n, d=d, seed=11)
    old_indices, old_radii = _old_select_coreset(features, 0.1, 128, seed=5)
    new = select_coreset(features, 0.1, 128, seed=5)
    np.testing.assert_array_equal(new.indices, old_indices)
    np.testing.assert_array_equal(new.radii, old_radii)
    np.testing.assert_array_equal(
        random_projection(features, 32, seed=2), _old_random_projection(features, 32, seed=2)
    )


def test_aligned_empty_is_aligned_and_shaped() -> None:
    for count in (1, 7, 1000):
        array = aligned_empty((count, 3))
        assert array.shape == (count, 3) and array.dtype == np.float32
        assert array.ctypes.data % ALIGNMENT == 0 and array.flags.c_contiguous


def test_greedy_bytes_per_iteration_counts_points_once_and_the_buffers() -> None:
    assert greedy_bytes_per_iteration(200_000, 128) == 4 * 200_000 * 128 + 32 * 200_000
    assert greedy_bytes_per_iteration(0, 128) == 0
    with pytest.raises(ValueError, match="num_points=-1"):
        greedy_bytes_per_iteration(-1, 128)


def test_torch_greedy_on_cpu_selects_exactly_what_the_numpy_loop_does() -> None:
    points = _features(n=1500, d=32, seed=4)
    numpy_result = greedy_k_center(points.copy(), size=150, start=17)
    torch_result = greedy_k_center_torch(points.copy(), 150, 17, torch.device("cpu"))
    np.testing.assert_array_equal(torch_result.indices, numpy_result.indices)
    np.testing.assert_array_equal(torch_result.radii, numpy_result.radii)
    via_select = select_coreset(_features(), 0.1, 128, seed=7, device=torch.device("cpu"))
    np.testing.assert_array_equal(
        via_select.indices, select_coreset(_features(), 0.1, 128, 7).indices
    )


def test_selection_is_a_prefix_of_any_longer_one() -> None:
    features = _features(n=600, d=200, seed=9)
    short = select_coreset(features, 0.05, 128, seed=1)
    long = select_coreset(features, 0.25, 128, seed=1)
    np.testing.assert_array_equal(long.indices[: short.indices.shape[0]], short.indices)
    np.testing.assert_array_equal(long.radii[: short.radii.shape[0]], short.radii)
