"""Greedy coreset subsampling (paper Sec. 3.2, Algorithm 1) on a Johnson-Lindenstrauss projection.

Written for large banks: the projection is computed chunk by chunk into one preallocated
(N, k) array, and the greedy loop works in preallocated (N,) buffers, so an iteration
allocates nothing of size N (anomalib's KCenterGreedy allocates an (N, k) difference and
(N, 1) distance tensors per iteration).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from evalsuite import progress

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
    projected = torch.empty(features.shape[0], dim)
    for start in range(0, features.shape[0], PROJECTION_CHUNK):
        stop = start + PROJECTION_CHUNK
        chunk = torch.from_numpy(np.ascontiguousarray(features[start:stop], dtype=np.float32))
        torch.matmul(chunk, matrix, out=projected[start:stop])
    return projected.numpy()


def greedy_k_center(points: np.ndarray, size: int, start: int) -> Coreset:
    """Algorithm 1: repeatedly add the point farthest from the points selected so far.

    m_i = argmax_{m in M \\ M_C} min_{n in M_C} ||psi(m) - psi(n)||, starting from `start`.
    Squared distances to the newest centre c come from ||x||^2 - 2 x.c + ||c||^2, one
    matrix-vector product (torch.addmv, the only multi-threaded step) plus single-threaded
    numpy passes over (N,) buffers. The points are centred first, which leaves distances
    unchanged and keeps that expansion accurate in float32.

    Args:
        points: (N, k) float32, the (projected) features; centred in place.
        size: M, the number of points to select, 1 <= M <= N.
        start: index of the first selected point.

    Returns:
        The selection and its covering radii.
    """
    points -= points.mean(axis=0)
    x = torch.from_numpy(points)
    squared_norms = torch.from_numpy(np.einsum("nk,nk->n", points, points))
    min_distances = np.full(points.shape[0], np.inf, dtype=np.float32)
    distances = torch.empty(points.shape[0])
    distances_np = distances.numpy()
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


def select_coreset(features: np.ndarray, ratio: float, projection_dim: int, seed: int) -> Coreset:
    """Greedy coreset of `features`: int(N * ratio) rows, deterministic for a seed.

    Distances are computed on the JL projection to `projection_dim` (paper: 128) when
    D > projection_dim, else on the features themselves. The start index and the projection
    both come from `seed`. A ratio of 1 keeps every row (radii all 0) without running Algorithm 1.

    Args:
        features: (N, D) float32 patch features; not modified.
        ratio: fraction to keep, in (0, 1].
        projection_dim: k of the random projection.
        seed: the run's seed.

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
    if features.shape[1] > projection_dim:
        points = random_projection(features, projection_dim, seed)
    else:
        points = np.array(features, dtype=np.float32, copy=True)
    start = int(np.random.default_rng(seed).integers(num_points))
    return greedy_k_center(points, size, start)
