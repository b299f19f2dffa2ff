"""PatchCore's two heavy loops in plain torch on any device: Algorithm 1 and exact search.

faiss-cpu has no GPU, so on an accelerator these replace `greedy.greedy_k_center` and the
faiss IndexFlatL2 of `memory_bank`. They take a device so they run (and are tested) on the CPU
as well: there the greedy selects exactly what the numpy loop does, and the search finds the
same neighbours as faiss. On a GPU both are equal within tolerance: float rounding (and hence
a near tie's winner) can differ from the CPU.
"""

from __future__ import annotations

import numpy as np
import torch

from evalsuite import progress
from evalsuite.detectors.patchcore.greedy import Coreset, center_points

QUERY_CHUNK = 4096
BANK_CHUNK = 32768


def greedy_k_center_torch(
    points: np.ndarray, size: int, start: int, device: torch.device
) -> Coreset:
    """Algorithm 1 (paper Sec. 3.2) with its buffers on `device`; `greedy.greedy_k_center`'s loop.

    m_i = argmax_{m in M \\ M_C} min_{n in M_C} ||psi(m) - psi(n)||, starting from `start`. The
    points are centred and their squared norms taken on the host (`center_points`, the same
    bits as the CPU loop), then every iteration runs on the device without a host sync:
    d = ||x||^2 - 2 x.c + ||c||^2 by one addmv into a preallocated (N,) buffer, the running
    minimum in place, the selected point's distance set to 0, argmax (first maximum on ties).

    Args:
        points: (N, k) float32 (projected) features; centred in place.
        size: M, points to select, 1 <= M <= N.
        start: index of the first selected point.
        device: where the loop runs.

    Returns:
        The selection and its covering radii (as `greedy_k_center`), on the host.
    """
    if not 1 <= size <= points.shape[0]:
        raise ValueError(f"size={size} must be in [1, N={points.shape[0]}]")
    squared_norms_host = center_points(points)
    x = torch.from_numpy(points).to(device)
    squared_norms = torch.from_numpy(squared_norms_host).to(device)
    num_points = points.shape[0]
    min_distances = torch.full((num_points,), float("inf"), device=device)
    distances = torch.empty(num_points, device=device)
    indices = torch.empty(size, dtype=torch.int64, device=device)
    squared_radii = torch.empty(size, device=device)
    index = torch.tensor([start], dtype=torch.int64, device=device)
    for step in progress.track(range(size), size, "coreset", "pt"):
        indices[step : step + 1] = index
        torch.addmv(squared_norms, x, x.index_select(0, index)[0], alpha=-2.0, out=distances)
        distances += squared_norms.index_select(0, index)
        torch.minimum(min_distances, distances, out=min_distances)
        min_distances.index_fill_(0, index, 0.0)  # a selected point covers itself exactly
        index = min_distances.argmax().view(1)
        squared_radii[step : step + 1] = min_distances.index_select(0, index)
    # numpy's float32 sqrt is correctly rounded, as the CPU loop's math.sqrt; torch's is not
    radii = np.sqrt(np.maximum(squared_radii.cpu().numpy(), np.float32(0.0)))
    return Coreset(indices=indices.cpu().numpy(), radii=radii.astype(np.float32, copy=False))


def exact_search_torch(
    bank: torch.Tensor,
    queries: np.ndarray,
    k: int,
    *,
    bank_squared_norms: torch.Tensor | None = None,
    query_chunk: int = QUERY_CHUNK,
    bank_chunk: int = BANK_CHUNK,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest bank rows of every query, by matmul on the bank's device.

    ||q - m||^2 = ||q||^2 - 2 q.m + ||m||^2 over (query chunk x bank chunk) blocks, keeping a
    running top-k per query across bank chunks; squared distances are clamped at 0 and
    square-rooted, as `MemoryBank.search` does with faiss's.

    Args:
        bank: (M, D) float32 on the device that computes.
        queries: (Q, D) float32 on the host.
        k: neighbours per query, 1 <= k <= M.
        bank_squared_norms: (M,) ||m||^2 on the bank's device, or None to compute them.
        query_chunk: queries per block.
        bank_chunk: bank rows per block.

    Returns:
        distances: (Q, k) float32 Euclidean distances, ascending.
        indices: (Q, k) int64 bank rows.
    """
    if not 1 <= k <= bank.shape[0]:
        raise ValueError(f"k={k} must be in [1, M={bank.shape[0]}]")
    if bank_squared_norms is None:
        bank_squared_norms = (bank * bank).sum(dim=1)
    distances = np.empty((queries.shape[0], k), dtype=np.float32)
    indices = np.empty((queries.shape[0], k), dtype=np.int64)
    for start in range(0, queries.shape[0], query_chunk):
        stop = start + query_chunk
        chunk = torch.from_numpy(np.ascontiguousarray(queries[start:stop], np.float32))
        query = chunk.to(bank.device)
        best, found = _chunk_top_k(bank, bank_squared_norms, query, k, bank_chunk)
        distances[start:stop] = best.cpu().numpy()
        indices[start:stop] = found.cpu().numpy()
    np.maximum(distances, 0.0, out=distances)
    np.sqrt(distances, out=distances)  # as MemoryBank does with faiss's squared distances
    return distances, indices


def _chunk_top_k(
    bank: torch.Tensor, bank_squared_norms: torch.Tensor, query: torch.Tensor, k: int, step: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distances (q, k) and bank rows (q, k) of the k nearest rows for a query block."""
    query_norms = (query * query).sum(dim=1, keepdim=True)  # (q, 1)
    best: torch.Tensor | None = None
    found: torch.Tensor | None = None
    for offset in range(0, bank.shape[0], step):
        rows = bank[offset : offset + step]
        squared = torch.addmm(
            query_norms + bank_squared_norms[offset : offset + step], query, rows.T, alpha=-2.0
        )  # (q, m): ||q||^2 + ||m||^2 - 2 q.m
        local = min(k, rows.shape[0])
        values, positions = squared.topk(local, dim=1, largest=False, sorted=True)
        positions += offset
        if best is None or found is None:
            best, found = values, positions
            continue
        merged = torch.cat([best, values], dim=1)
        order = merged.topk(min(k, merged.shape[1]), dim=1, largest=False, sorted=True).indices
        best = merged.gather(1, order)
        found = torch.cat([found, positions], dim=1).gather(1, order)
    assert best is not None and found is not None  # bank has >= 1 row
    return best, found
