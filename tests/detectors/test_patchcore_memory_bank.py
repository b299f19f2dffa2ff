"""The memory bank against exact search (torch.cdist as the oracle); torch exact search against
faiss; HNSW recall and determinism."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
import torch

from evalsuite.detectors.patchcore import PatchCoreParams
from evalsuite.detectors.patchcore.memory_bank import MemoryBank, SearchSettings
from evalsuite.detectors.patchcore.torch_ops import exact_search_torch
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


def _clustered(count: int, dim: int, seed: int) -> np.ndarray:
    """Points around 50 centres on an 8-d subspace plus small noise: the low intrinsic
    dimension patch features have (isotropic noise in all of `dim` is HNSW's worst case)."""
    rng = np.random.default_rng(seed)
    basis = np.random.default_rng(99).normal(size=(8, dim))
    centres = np.random.default_rng(98).normal(scale=4.0, size=(50, 8))
    latent = centres[rng.integers(50, size=count)] + rng.normal(size=(count, 8))
    return (latent @ basis + 0.05 * rng.normal(size=(count, dim))).astype(np.float32)


def test_torch_exact_search_on_cpu_matches_faiss() -> None:
    rng = np.random.default_rng(3)
    bank = rng.normal(size=(1000, 40)).astype(np.float32)
    queries = rng.normal(size=(700, 40)).astype(np.float32)
    expected_distances, expected_indices = MemoryBank(bank).search(queries, k=4)
    tensor = torch.from_numpy(bank)
    for bank_chunk, query_chunk in ((32768, 4096), (97, 64), (3, 1000)):  # one block, many
        distances, indices = exact_search_torch(
            tensor, queries, 4, query_chunk=query_chunk, bank_chunk=bank_chunk
        )
        assert distances.dtype == np.float32 and indices.dtype == np.int64
        np.testing.assert_array_equal(indices, expected_indices)
        np.testing.assert_allclose(distances, expected_distances, rtol=1e-4, atol=1e-4)


def test_torch_exact_search_refuses_k_beyond_the_bank() -> None:
    with pytest.raises(ValueError, match="k=5"):
        exact_search_torch(torch.zeros(3, 2), np.zeros((1, 2), np.float32), 5)


def test_hnsw_recall_and_determinism() -> None:
    bank = _clustered(4000, 32, seed=0)
    queries = _clustered(2000, 32, seed=1)
    exact_distances, exact_indices = MemoryBank(bank).search(queries, k=1)
    settings = SearchSettings(method="hnsw")  # M=32, efSearch=64: the defaults
    distances, indices = MemoryBank(bank, settings=settings).search(queries, k=1)
    recall = float(np.mean(indices[:, 0] == exact_indices[:, 0]))
    assert recall >= 0.99, recall
    found = indices[:, 0] == exact_indices[:, 0]
    np.testing.assert_allclose(distances[found], exact_distances[found], rtol=1e-4, atol=1e-4)
    again = MemoryBank(bank).search(queries, k=1, settings=settings)  # a second build
    np.testing.assert_array_equal(again[1], indices)
    np.testing.assert_array_equal(again[0], distances)
    with limit_threads(2):  # searching on several threads gives the same answers
        np.testing.assert_array_equal(
            MemoryBank(bank, settings=settings).search(queries)[1], indices
        )


def test_bank_default_settings_and_per_call_settings() -> None:
    bank = _clustered(500, 8, seed=2)
    queries = _clustered(50, 8, seed=3)
    hnsw = SearchSettings(method="hnsw")
    exact = MemoryBank(bank).search(queries, k=3)
    by_default = MemoryBank(bank, settings=hnsw).search(queries, k=3)
    by_call = MemoryBank(bank).search(queries, k=3, settings=hnsw)
    np.testing.assert_array_equal(by_default[1], by_call[1])
    # a small bank at efSearch 64 is searched exhaustively enough to be exact
    np.testing.assert_array_equal(by_default[1], exact[1])


def test_settings_of_params() -> None:
    params = PatchCoreParams(search="hnsw", hnsw_m=8, hnsw_ef_search=20, hnsw_ef_construction=40)
    assert SearchSettings.of(params) == SearchSettings("hnsw", 8, 20, 40)
    assert SearchSettings.of(PatchCoreParams()) == SearchSettings()
