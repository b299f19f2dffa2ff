"""Greedy coreset subsampling (paper Sec. 3.2, Algorithm 1) on a Johnson-Lindenstrauss projection.

Written for large banks: the projection is computed chunk by chunk into one preallocated
(N, k) array (anomalib's KCenterGreedy allocates an (N, k) difference and (N, 1) distance
tensors per iteration of its loop). `select_coreset` dispatches Algorithm 1 to the CPU loop
(`greedy.greedy_k_center`) or, on an accelerator, to the same loop in torch on the device
(`torch_ops.greedy_k_center_torch`), and can reuse a longer stored selection: with the same
features, seed, projection and start, the greedy selection of M points is the first M of any
longer one.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from evalsuite.detectors.patchcore.buffers import aligned_empty
from evalsuite.detectors.patchcore.greedy import Coreset, greedy_k_center

if TYPE_CHECKING:
    from evalsuite.detectors.patchcore.selection_store import SelectionStore

PROJECTION_CHUNK = 65536


def coreset_size(num_points: int, ratio: float) -> int:
    """M = int(N * ratio), at least 1 (the reference code's and anomalib's rounding)."""
    return max(1, int(num_points * ratio))


def random_projection(features: np.ndarray, dim: int, seed: int) -> np.ndarray:
    """Johnson-Lindenstrauss projection psi: R^D -> R^k with a seeded Gaussian matrix.

    psi(x) = x R with R_{d,j} ~ N(0, 1/k), so E||psi(x) - psi(y)||^2 = ||x - y||^2.

    Args:
        features: (N, D) float32.
        dim: k, the projected dimension.
        seed: seeds R; the same seed gives the same projection.

    Returns:
        (N, k) float32, computed in chunks of PROJECTION_CHUNK rows into one array.
    """
    generator = torch.Generator().manual_seed(seed)
    matrix = torch.randn(features.shape[1], dim, generator=generator) / math.sqrt(dim)
    projected_np = aligned_empty((features.shape[0], dim))
    projected = torch.from_numpy(projected_np)
    for start in range(0, features.shape[0], PROJECTION_CHUNK):
        stop = start + PROJECTION_CHUNK
        chunk = torch.from_numpy(np.ascontiguousarray(features[start:stop], dtype=np.float32))
        torch.matmul(chunk, matrix, out=projected[start:stop])
    return projected_np


def select_coreset(
    features: np.ndarray,
    ratio: float,
    projection_dim: int,
    seed: int,
    *,
    device: torch.device | None = None,
    selection: SelectionStore | None = None,
    selection_size: int | None = None,
) -> Coreset:
    """Greedy coreset of `features`: int(N * ratio) rows, deterministic for a seed.

    Distances are computed on the JL projection to `projection_dim` (paper: 128) when
    D > projection_dim, else on the features themselves. The start index and the projection
    both come from `seed`. A ratio of 1 keeps every row (radii all 0) without running Algorithm 1.

    With a `selection` store, a stored selection of at least M points (made from the same
    features, seed and projection dimension: the caller keys the store) is cut to its first
    M, which is exactly the selection Algorithm 1 makes for M; otherwise the greedy runs once
    to max(selection_size, M) points, the store keeps them, and the first M are returned.

    Args:
        features: (N, D) float32 patch features; not modified.
        ratio: fraction to keep, in (0, 1].
        projection_dim: k of the random projection.
        seed: the run's seed.
        device: where the greedy loop runs; None or CPU runs `greedy_k_center` (numpy and
            torch on the CPU), anything else `torch_ops.greedy_k_center_torch` on it (equal
            to the CPU selection within float tolerance: ties may break differently).
        selection: a store of longer selections shared by a coreset sweep, or None.
        selection_size: points to select when the store has too few, e.g. the largest M of
            the sweep; None or less than M means M.

    Returns:
        The selected rows (indices into `features`) and their covering radii.
    """
    num_points = features.shape[0]
    size = coreset_size(num_points, ratio)
    if size >= num_points:
        return Coreset(
            indices=np.arange(num_points, dtype=np.int64),
            radii=np.zeros(num_points, dtype=np.float32),
        )
    if selection is not None:
        stored = selection.load(size, num_points)
        if stored is not None:
            return stored
    target = min(max(selection_size or size, size), num_points)
    coreset = _run_greedy(features, target, projection_dim, seed, device)
    if selection is None:
        return coreset
    selection.save(coreset, num_points)
    return Coreset(indices=coreset.indices[:size].copy(), radii=coreset.radii[:size].copy())


def _run_greedy(
    features: np.ndarray, size: int, projection_dim: int, seed: int, device: torch.device | None
) -> Coreset:
    """Project (or copy) `features` and run Algorithm 1 for `size` points from the seeded start."""
    num_points = features.shape[0]
    if features.shape[1] > projection_dim:
        points = random_projection(features, projection_dim, seed)
    else:
        points = aligned_empty(features.shape)
        points[...] = features
    start = int(np.random.default_rng(seed).integers(num_points))
    if device is None or device.type == "cpu":
        return greedy_k_center(points, size, start)
    from evalsuite.detectors.patchcore.torch_ops import greedy_k_center_torch

    return greedy_k_center_torch(points, size, start, device)
