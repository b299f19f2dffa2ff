"""Algorithm 1 with triangle-inequality pruning: the same selection, far fewer distances.

Each iteration of the greedy adds the point c farthest from the selected centres and lowers
every point's distance to its nearest centre, min_d, where ||x - c|| is smaller. A point x
whose nearest centre so far is a cannot get closer to c when ||c - a|| >= 2 ||x - a||
(triangle inequality: ||x - c|| >= ||c - a|| - ||x - a|| >= ||x - a||), so its distance to c
need not be computed. Per iteration this loop computes c's distance to the earlier centres
(M_so_far x k), compares it with each point's bound (two passes over N), and computes
||x - c||^2 only for the points that fail the test: on MVTec-scale patch features about 3% of
them (measured by `benchmarks/greedy_pruning.py`), where the full loop reads all N x k.

Identical results, not approximately equal ones:
- the test is made safe against float32 rounding: every computed squared distance is within
  `rounding_bound` of the true one, and the test uses true-distance bounds widened by it, so
  a skipped point's computed distance to c could not have lowered its min_d;
- the distances that are computed come from the same kernel as the full loop's, row for row:
  candidate rows are gathered into a 64-byte aligned buffer whose row count is a multiple of
  ROW_MULTIPLE, so BLAS's gemv treats every row as the full loop (N a multiple of
  ROW_MULTIPLE, rows of k % 16 == 0 floats) treats it. `usable` says when these hold; the
  tests compare selections and radii with the full loop bit for bit on real features.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from evalsuite import progress
from evalsuite.detectors.patchcore.buffers import aligned_empty

ROW_MULTIPLE = 16
"""Row counts of every gemv call: whole SIMD row groups, no tail handled differently."""
GATHER_CHUNK = 65536
"""Candidate rows gathered per gemv call (a multiple of ROW_MULTIPLE): a bounded buffer."""
MIN_POINTS = 32768
"""Below this the full loop is as fast (its passes are cheap and the bounds cost their own)."""
_UNIT_ROUNDOFF = 2.0**-24
_SAFETY = 1.0 + 2.0**-20  # float32 rounding of the bounds themselves, always outward


def usable(num_points: int, dim: int) -> bool:
    """Whether the pruned loop gives the full loop's bits for (N, k) points: N and k are
    multiples of ROW_MULTIPLE (aligned rows, no gemv tail) and N is large enough to gain."""
    return num_points >= MIN_POINTS and num_points % ROW_MULTIPLE == 0 and dim % 16 == 0


def rounding_bound(dim: int, max_squared_norm: float) -> float:
    """An upper bound on |computed - true| of ||x||^2 - 2 x.c + ||c||^2 in float32 for
    centred points of squared norm at most `max_squared_norm`: each of the three length-k
    terms errs by at most k u S (u = 2^-24), their sums by a few u S more; twice
    (3k + 4) u S, so the bound holds with room for any summation order."""
    return 2.0 * (3 * dim + 4) * _UNIT_ROUNDOFF * max_squared_norm


def greedy_k_center_pruned(
    points: np.ndarray, squared_norms: np.ndarray, size: int, start: int
) -> tuple[np.ndarray, np.ndarray]:
    """The greedy selection of `greedy.greedy_k_center`, computing only needed distances.

    Args:
        points: (N, k) float32 centred points, 64-byte aligned (`usable(N, k)` holds).
        squared_norms: (N,) float32 their squared norms, as `center_points` returns them.
        size: M, points to select, 1 <= M <= N.
        start: index of the first selected point.

    Returns:
        (M,) int64 indices in selection order and (M,) float32 covering radii after each.
    """
    num_points, dim = points.shape
    err = rounding_bound(dim, float(squared_norms.max()))
    x, norms = torch.from_numpy(points), torch.from_numpy(squared_norms)
    min_distances = aligned_empty((num_points,))
    nearest = np.zeros(num_points, dtype=np.int32)  # selection step of each point's centre
    twice_reach = np.full(num_points, np.inf, dtype=np.float32)  # >= 2 x true distance to it
    centres, centre_norms = aligned_empty((size, dim)), aligned_empty((size,))
    gathered = aligned_empty((min(GATHER_CHUNK, num_points), dim))
    gathered_norms = aligned_empty((gathered.shape[0],))
    gathered_distances = aligned_empty((gathered.shape[0],))
    indices = np.empty(size, dtype=np.int64)
    radii = np.empty(size, dtype=np.float32)
    index = start
    for step in progress.track(range(size), size, "coreset", "pt"):
        indices[step] = index
        centres[step], centre_norms[step] = points[index], squared_norms[index]
        if step == 0:
            rows = np.arange(num_points)
            min_distances.fill(np.inf)
        else:
            rows = _candidates(centres, centre_norms, step, nearest, twice_reach, err)
        for begin in range(0, rows.size, GATHER_CHUNK):
            chunk = rows[begin : begin + GATHER_CHUNK]
            distances = _distances(
                x, norms, index, chunk, gathered, gathered_norms, gathered_distances
            )
            lower = distances < min_distances[chunk]
            moved = chunk[lower]
            min_distances[moved] = distances[lower]
            nearest[moved] = step
            twice_reach[moved] = _twice_reach(distances[lower], err)
        min_distances[index] = 0.0  # a selected point covers itself exactly
        nearest[index] = step
        twice_reach[index] = _twice_reach(np.zeros(1, dtype=np.float32), err)[0]
        index = int(min_distances.argmax())
        radii[step] = math.sqrt(max(float(min_distances[index]), 0.0))
    return indices, radii


def _candidates(
    centres: np.ndarray,
    centre_norms: np.ndarray,
    step: int,
    nearest: np.ndarray,
    twice_reach: np.ndarray,
    err: float,
) -> np.ndarray:
    """(C,) rows whose distance to the newest centre (step `step`) may lower their min_d.

    A row x with nearest centre a is skipped when ||c - a|| >= 2 sqrt(min_d + err): with
    the true ||x - a|| <= sqrt(min_d + err) the true ||x - c|| is at least that again, so
    its computed squared distance is >= min_d + err - err. ||c - a|| is bounded below by
    sqrt(computed - err), rounded down."""
    earlier = torch.from_numpy(centres[:step])
    newest = torch.from_numpy(centres[step])
    computed = torch.addmv(torch.from_numpy(centre_norms[:step]), earlier, newest, alpha=-2.0)
    lowest = computed.numpy().astype(np.float64) + float(centre_norms[step]) - err
    reach = (np.sqrt(np.maximum(lowest, 0.0)) / _SAFETY).astype(np.float32)
    return np.flatnonzero(reach[nearest] < twice_reach)


def _twice_reach(distances: np.ndarray, err: float) -> np.ndarray:
    """2 sqrt(d + err) per computed squared distance d, rounded up to float32."""
    return (2.0 * np.sqrt(distances.astype(np.float64) + err) * _SAFETY).astype(np.float32)


def _distances(
    x: torch.Tensor,
    norms: torch.Tensor,
    index: int,
    rows: np.ndarray,
    gathered: np.ndarray,
    gathered_norms: np.ndarray,
    gathered_distances: np.ndarray,
) -> np.ndarray:
    """(R,) ||x_r||^2 - 2 x_r.c + ||c||^2 for `rows`, c = x[index], by one gemv over the
    rows gathered into an aligned buffer padded to a multiple of ROW_MULTIPLE rows."""
    count = rows.size
    padded = -(-count // ROW_MULTIPLE) * ROW_MULTIPLE
    take = np.empty(padded, dtype=np.int64)
    take[:count], take[count:] = rows, rows[-1]
    selected = torch.from_numpy(take)
    block = torch.from_numpy(gathered[:padded])
    block_norms = torch.from_numpy(gathered_norms[:padded])
    torch.index_select(x, 0, selected, out=block)
    torch.index_select(norms, 0, selected, out=block_norms)
    out = gathered_distances[:padded]
    torch.addmv(block_norms, block, x[index], alpha=-2.0, out=torch.from_numpy(out))
    result = out[:count]
    result += norms[index].item()
    return result
