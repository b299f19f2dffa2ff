"""CPU thread limits for PatchCore's and PaDiM's compute (torch and faiss), scoped to a block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import faiss
import torch

DETECTOR_THREADS = 1
"""A run's fits and scores (and the estimate's samples of them) run on one thread: BLAS
reductions (exact searches, covariance sums) then give the same bits in every executor (Dask
workers run with OMP_NUM_THREADS=1), and on a shared machine one thread per process is also
the faster choice. Parallelism comes from
`--workers` (units side by side); feature extraction keeps every thread."""


@contextmanager
def limit_threads(threads: int | None) -> Iterator[None]:
    """Run a block with torch's intra-op and faiss's OpenMP thread counts set to `threads`.

    Both settings are process-wide; they are restored on exit. None leaves them as they are.
    One thread per process is the robust choice when processes share the cores (a process
    pool, a busy machine): the coreset loop runs thousands of short parallel sections, and a
    thread waiting at their barriers for a descheduled sibling costs more than it gains.
    Exact search and the coreset give the same results for any thread count, up to ties.
    """
    if threads is None:
        yield
        return
    previous_torch, previous_faiss = torch.get_num_threads(), faiss.omp_get_max_threads()
    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous_torch)
        faiss.omp_set_num_threads(previous_faiss)
