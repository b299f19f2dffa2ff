"""The greedy coreset's data type and its CPU loop (paper Sec. 3.2, Algorithm 1).

A leaf of the coreset code: the dispatcher (`coreset.select_coreset`), the selection store
(`selection_store`) and the device loop (`torch_ops.greedy_k_center_torch`) all import it, and
it imports none of them. The loop works in preallocated (N,) buffers, so an iteration allocates
nothing of size N; the big buffers are numpy allocations (`aligned_empty`): numpy asks the
kernel for transparent huge pages on large arrays and torch's CPU allocator does not, and the
memory-bound loop runs about 1.4x faster on them with identical results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from evalsuite import progress
from evalsuite.detectors.patchcore.buffers import ALIGNMENT, aligned_empty
from evalsuite.detectors.patchcore.greedy_pruned import greedy_k_center_pruned, usable


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
