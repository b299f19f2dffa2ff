"""The faiss memory bank against exact search (torch.cdist as the oracle)."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
import torch

from evalsuite.detectors.patchcore.memory_bank import MemoryBank
from evalsuite.detectors.threads import limit_threads


@pytest.fixture
def bank_and_queries() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    bank = rng.normal(size=(600, 48)).astype(np.float32)
    queries = rng.normal(size=(250, 48)).astype(np.float32)
    return bank, queries


def test_search_matches_exact_cdist(bank_and_queries: tuple[np.ndarray, np.ndarray]) -> None:
    bank, queries = bank_and_queries
    distances, indices = MemoryBank(bank).search(queries, k=5)
    exact = torch.cdist(torch.from_numpy(queries).double(), torch.from_numpy(bank).double())
    expected_distances, expected_indices = exact.topk(5, dim=1, largest=False)
    assert distances.dtype == np.float32
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices, expected_indices.numpy())
    np.testing.assert_allclose(distances, expected_distances.numpy(), rtol=1e-4)


def test_distances_are_euclidean_not_squared() -> None:
    bank = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]], dtype=np.float32)
    distances, indices = MemoryBank(bank).search(np.array([[0.0, 0.0]], np.float32), k=3)
    np.testing.assert_allclose(distances, [[0.0, 5.0, 10.0]], atol=1e-6)
    np.testing.assert_array_equal(indices, [[0, 1, 2]])


def test_k_is_clipped_to_the_bank_size() -> None:
    bank = np.eye(3, dtype=np.float32)
    distances, indices = MemoryBank(bank).search(np.zeros((2, 3), np.float32), k=10)
    assert distances.shape == indices.shape == (2, 3)
    np.testing.assert_allclose(distances, 1.0, rtol=1e-6)


def test_thread_count_is_applied_and_restored(
    bank_and_queries: tuple[np.ndarray, np.ndarray],
) -> None:
    bank, queries = bank_and_queries
    before = faiss.omp_get_max_threads(), torch.get_num_threads()
    with limit_threads(1):
        assert (faiss.omp_get_max_threads(), torch.get_num_threads()) == (1, 1)
        one = MemoryBank(bank).search(queries, k=3)
    assert (faiss.omp_get_max_threads(), torch.get_num_threads()) == before
    default = MemoryBank(bank).search(queries, k=3)
    np.testing.assert_array_equal(one[1], default[1])
    np.testing.assert_allclose(one[0], default[0], rtol=1e-6)


def test_empty_bank_is_refused() -> None:
    with pytest.raises(ValueError, match="M >= 1"):
        MemoryBank(np.empty((0, 4), np.float32))
