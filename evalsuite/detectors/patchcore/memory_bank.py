"""The memory bank M: coreset patch features behind a nearest-neighbour index.

Exact search (the default, the paper's) is faiss's IndexFlatL2 on the CPU and a chunked torch
matmul (`torch_ops.exact_search_torch`) on an accelerator; the opt-in approximate search is
faiss's IndexHNSWFlat, on the CPU whatever the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import faiss
import numpy as np
import torch

from evalsuite.detectors.patchcore.params import PatchCoreParams
from evalsuite.detectors.patchcore.torch_ops import exact_search_torch

SEARCH_CHUNK = 16384


@dataclass(frozen=True)
class SearchSettings:
    """How the bank is searched (PatchCoreParams' search fields; see `SearchSettings.of`).

    Attributes:
        method: "exact" (IndexFlatL2 or torch) or "hnsw" (IndexHNSWFlat, approximate).
        hnsw_m: M of HNSW, graph neighbours per node.
        hnsw_ef_search: efSearch, the candidate list of a search (>= k is used).
        hnsw_ef_construction: efConstruction, the candidate list while building.
    """

    method: Literal["exact", "hnsw"] = "exact"
    hnsw_m: int = 32
    hnsw_ef_search: int = 64
    hnsw_ef_construction: int = 80

    @classmethod
    def of(cls, params: PatchCoreParams) -> SearchSettings:
        """The search settings of `params` (its fields in PatchCore.SEARCH_PARAMS)."""
        return cls(
            method=params.search,
            hnsw_m=params.hnsw_m,
            hnsw_ef_search=params.hnsw_ef_search,
            hnsw_ef_construction=params.hnsw_ef_construction,
        )


class MemoryBank:
    """Nearest-neighbour search over the memory bank.

    faiss's thread count is process-wide; set it around searches with `limit_threads`. The
    indexes are built on first use: IndexFlatL2 for exact search on the CPU, the bank's copy
    on `device` for exact search there, IndexHNSWFlat per (M, efConstruction) for "hnsw".
    HNSW is built on one faiss thread whatever the setting (insertion order is then fixed, so
    two builds give the same graph and the same results); searching it is deterministic for
    any thread count.

    Args:
        features: (M, D) patch features; copied to a contiguous float32 array (kept on the
            host: saving reads it, and Eq. 7 recomputes distances from it).
        device: where exact search runs; None or CPU means faiss.
        settings: the search used when `search` is given none; None means exact.
    """

    def __init__(
        self,
        features: np.ndarray,
        *,
        device: torch.device | None = None,
        settings: SearchSettings | None = None,
    ) -> None:
        if features.ndim != 2 or features.shape[0] == 0:
            raise ValueError(f"memory bank features must be (M, D), M >= 1; got {features.shape}")
        self.features = np.ascontiguousarray(features, dtype=np.float32)
        self.device = device if device is not None else torch.device("cpu")
        self.settings = settings if settings is not None else SearchSettings()
        self._flat: faiss.IndexFlatL2 | None = None
        self._hnsw: dict[tuple[int, int], faiss.IndexHNSWFlat] = {}
        self._device_features: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def size(self) -> int:
        """M, the number of patch features in the bank."""
        return int(self.features.shape[0])

    @property
    def dim(self) -> int:
        """D, the patch feature dimension."""
        return int(self.features.shape[1])

    def search(
        self, queries: np.ndarray, k: int = 1, settings: SearchSettings | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest bank features of every query.

        Args:
            queries: (Q, D) float32.
            k: neighbours per query, clipped to the bank size.
            settings: exact or HNSW search; None means the bank's own `settings`.

        Returns:
            distances: (Q, k) float32 Euclidean distances ||q - m|| (the indexes give squared
                distances; they are clamped at 0 and square-rooted here), ascending.
            indices: (Q, k) int64 rows of `features`.
        """
        settings = settings if settings is not None else self.settings
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, self.size)
        if settings.method == "exact" and self.device.type != "cpu":
            bank, squared_norms = self._on_device()
            return exact_search_torch(bank, queries, k, bank_squared_norms=squared_norms)
        index = self._flat_index() if settings.method == "exact" else self._hnsw_index(settings)
        distances = np.empty((queries.shape[0], k), dtype=np.float32)
        indices = np.empty((queries.shape[0], k), dtype=np.int64)
        for start in range(0, queries.shape[0], SEARCH_CHUNK):
            stop = start + SEARCH_CHUNK
            squared, found = index.search(queries[start:stop], k)
            distances[start:stop] = squared
            indices[start:stop] = found
        np.maximum(distances, 0.0, out=distances)
        np.sqrt(distances, out=distances)
        return distances, indices

    def _flat_index(self) -> faiss.IndexFlatL2:
        if self._flat is None:
            self._flat = faiss.IndexFlatL2(self.dim)
            self._flat.add(self.features)
        return self._flat

    def _hnsw_index(self, settings: SearchSettings) -> faiss.IndexHNSWFlat:
        key = (settings.hnsw_m, settings.hnsw_ef_construction)
        index = self._hnsw.get(key)
        if index is None:
            index = faiss.IndexHNSWFlat(self.dim, settings.hnsw_m)
            index.hnsw.efConstruction = settings.hnsw_ef_construction
            previous = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)  # a parallel build inserts in a racy order
            try:
                index.add(self.features)
            finally:
                faiss.omp_set_num_threads(previous)
            self._hnsw[key] = index
        index.hnsw.efSearch = settings.hnsw_ef_search
        return index

    def _on_device(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The bank (M, D) and its squared norms (M,) on `device`, copied once."""
        if self._device_features is None:
            bank = torch.from_numpy(self.features).to(self.device)
            self._device_features = (bank, (bank * bank).sum(dim=1))
        return self._device_features
