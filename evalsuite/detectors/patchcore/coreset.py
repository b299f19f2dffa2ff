"""Greedy coreset subsampling (paper Sec. 3.2, Algorithm 1) on a Johnson-Lindenstrauss projection.

Written for large banks: the projection is computed chunk by chunk into one preallocated
(N, k) array, and the greedy loop works in preallocated (N,) buffers, so an iteration
allocates nothing of size N (anomalib's KCenterGreedy allocates an (N, k) difference and
(N, 1) distance tensors per iteration). The big buffers are numpy allocations (`aligned_empty`):
numpy asks the kernel for transparent huge pages on large arrays and torch's CPU allocator
does not, and the memory-bound loop runs about 1.4x faster on them with identical results.

On an accelerator the same loop runs in torch on the device (`torch_ops.greedy_k_center_torch`),
and `select_coreset` can reuse a longer stored selection: with the same features, seed,
projection and start, the greedy selection of M points is the first M of any longer one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from evalsuite import progress
from evalsuite.detectors.patchcore.buffers import ALIGNMENT, aligned_empty
from evalsuite.detectors.patchcore.greedy_pruned import greedy_k_center_pruned, usable

if TYPE_CHECKING:
    from evalsuite.detectors.patchcore.selection_store import SelectionStore

PROJECTION_CHUNK = 65536


@dataclass(frozen=True)
class Coreset:
    """The selected points, in selection order.

    Attributes:
        indices: (M,) int64 row indices into the features, distinct, in the order chosen.
        radii: (M,) float32 covering radius after each selection, in the space the selection
            ran in: radii[i] = max_n min_{j <= i} ||x_n - x_{indices[j]}||; non-increasing.
    """

    indices: np.ndarray
    radii: np.ndarray


def greedy_bytes_per_iteration(num_points: int, dim: int) -> int:
    """Bytes one iteration of `greedy_k_center` must move through memory, at least.

    The (N, k) float32 points are read once (the addmv), 4 N k bytes; the (N,) float32
    buffers are touched in four passes: addmv reads the squared norms and writes the
    distances (8 N), adding ||c||^2 reads and writes the distances (8 N), the running minimum
    reads both buffers and writes min_distances (12 N), argmax reads min_distances (4 N);
    32 N bytes. Divide by the measured seconds per iteration for the bandwidth reached.

    Args:
        num_points: N, rows of the points.
        dim: k, their dimension.

    Returns:
        4 N k + 32 N.
    """
    if num_points < 0 or dim < 0:
        raise ValueError(f"num_points={num_points} and dim={dim} must both be >= 0")
    return 4 * num_points * dim + 32 * num_points


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


def center_points(points: np.ndarray) -> np.ndarray:
    """Centre `points` in place and return their squared norms, the greedy loop's inputs.

    Centring leaves distances unchanged and keeps ||x||^2 - 2 x.c + ||c||^2 accurate in
    float32. Shared by the CPU and the device loop, so both start from the same bits.

    Args:
        points: (N, k) float32, modified in place.

    Returns:
        (N,) float32 ||x_n||^2 of the centred points (64-byte aligned numpy).
    """
    points -= points.mean(axis=0)
    squared_norms = aligned_empty((points.shape[0],))
    np.einsum("nk,nk->n", points, points, out=squared_norms)
    return squared_norms


def greedy_k_center(points: np.ndarray, size: int, start: int, *, prune: bool = True) -> Coreset:
    """Algorithm 1: repeatedly add the point farthest from the points selected so far.

    m_i = argmax_{m in M \\ M_C} min_{n in M_C} ||psi(m) - psi(n)||, starting from `start`.
    Squared distances to the newest centre c come from ||x||^2 - 2 x.c + ||c||^2, one
    matrix-vector product (torch.addmv, the only multi-threaded step) plus single-threaded
    numpy passes over (N,) buffers. The points are centred first, which leaves distances
    unchanged and keeps that expansion accurate in float32. Where `greedy_pruned.usable`
    holds (N >= 32768, N and k multiples of 16) and `prune` is true, the same selection is
    made computing only the distances the triangle inequality cannot rule out
    (`greedy_pruned.greedy_k_center_pruned`; identical indices and radii).

    Args:
        points: (N, k) float32, the (projected) features; centred in place.
        size: M, the number of points to select, 1 <= M <= N.
        start: index of the first selected point.
        prune: use the pruned loop where it applies; False always runs the full loop.

    Returns:
        The selection and its covering radii.
    """
    squared_norms_np = center_points(points)
    if prune and usable(*points.shape) and points.ctypes.data % ALIGNMENT == 0:
        indices, radii = greedy_k_center_pruned(points, squared_norms_np, size, start)
        return Coreset(indices=indices, radii=radii)
    x = torch.from_numpy(points)
    squared_norms = torch.from_numpy(squared_norms_np)
    min_distances = aligned_empty((points.shape[0],))
    min_distances.fill(np.inf)
    distances_np = aligned_empty((points.shape[0],))
    distances = torch.from_numpy(distances_np)
    indices = np.empty(size, dtype=np.int64)
    radii = np.empty(size, dtype=np.float32)
    index = start
    for step in progress.track(range(size), size, "coreset", "pt"):
        indices[step] = index
        torch.addmv(squared_norms, x, x[index], alpha=-2.0, out=distances)
        distances_np += squared_norms[index].item()
        np.minimum(min_distances, distances_np, out=min_distances)
        min_distances[index] = 0.0  # a selected point covers itself exactly
        index = int(min_distances.argmax())
        radii[step] = math.sqrt(max(float(min_distances[index]), 0.0))
    return Coreset(indices=indices, radii=radii)


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
