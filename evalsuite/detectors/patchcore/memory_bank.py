"""The memory bank M: coreset patch features behind an exact faiss L2 index."""

from __future__ import annotations

import faiss
import numpy as np

SEARCH_CHUNK = 16384


class MemoryBank:
    """Exact nearest-neighbour search over the memory bank (`faiss.IndexFlatL2`).

    faiss's thread count is process-wide; set it around searches with `limit_threads`.

    Args:
        features: (M, D) patch features; copied to a contiguous float32 array.
    """

    def __init__(self, features: np.ndarray) -> None:
        if features.ndim != 2 or features.shape[0] == 0:
            raise ValueError(f"memory bank features must be (M, D), M >= 1; got {features.shape}")
        self.features = np.ascontiguousarray(features, dtype=np.float32)
        self._index = faiss.IndexFlatL2(self.features.shape[1])
        self._index.add(self.features)

    @property
    def size(self) -> int:
        """M, the number of patch features in the bank."""
        return int(self.features.shape[0])

    @property
    def dim(self) -> int:
        """D, the patch feature dimension."""
        return int(self.features.shape[1])

    def search(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest bank features of every query.

        Args:
            queries: (Q, D) float32.
            k: neighbours per query, clipped to the bank size.

        Returns:
            distances: (Q, k) float32 Euclidean distances ||q - m|| (faiss returns squared
                distances; they are clamped at 0 and square-rooted here), ascending.
            indices: (Q, k) int64 rows of `features`.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, self.size)
        distances = np.empty((queries.shape[0], k), dtype=np.float32)
        indices = np.empty((queries.shape[0], k), dtype=np.int64)
        for start in range(0, queries.shape[0], SEARCH_CHUNK):
            stop = start + SEARCH_CHUNK
            squared, found = self._index.search(queries[start:stop], k)
            distances[start:stop] = squared
            indices[start:stop] = found
        np.maximum(distances, 0.0, out=distances)
        np.sqrt(distances, out=distances)
        return distances, indices
