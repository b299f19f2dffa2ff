"""PatchCore on a CUDA GPU against the CPU path (faiss, numpy greedy): equal within tolerance.

Every test is skipped without a CUDA GPU. On the GPU, float rounding differs from the CPU, so
near ties may resolve differently: the search must agree on >= 99.9% of queries, the greedy
exactly on well-separated points, and image scores within 1e-3 relative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from feature_sources import DictFeatures
from sklearn.metrics import roc_auc_score

from evalsuite.data.samples import Folder, Sample
from evalsuite.detectors.patchcore import PatchCore, PatchCoreParams
from evalsuite.detectors.patchcore.greedy import greedy_k_center
from evalsuite.detectors.patchcore.memory_bank import MemoryBank
from evalsuite.detectors.patchcore.torch_ops import exact_search_torch, greedy_k_center_torch

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
INPUT_SIZE = (64, 64)
LAYERS = ("shallow", "deep")


class SyntheticFeatures(DictFeatures):
    """A FeatureSource of constructed features: a category's smooth base maps plus noise, and
    for anomalous samples a bright 2 x 2 patch block at a sample-dependent place."""

    def __init__(self) -> None:
        super().__init__(INPUT_SIZE)

    def add(self, name: str, label: int, seed: int) -> Sample:
        base = torch.Generator().manual_seed(7)
        noise = torch.Generator().manual_seed(seed)
        features = {
            "shallow": torch.randn(24, 16, 16, generator=base).abs(),
            "deep": torch.randn(48, 8, 8, generator=base).abs(),
        }
        features = {
            layer: value + 0.3 * torch.randn(value.shape, generator=noise)
            for layer, value in features.items()
        }
        if label:
            row, column = 2 + seed % 11, 3 + (seed * 7) % 10
            strength = 0.5 + 0.25 * (seed % 4)  # some anomalies are faint: AUROC below 1
            features["shallow"][:, row : row + 2, column : column + 2] += strength
        folder: Folder = "train" if name.startswith("train") else "test"
        path = Path(f"/virtual/gpu/{folder}/{name}.png")
        self.features[path] = features
        defect = "cut" if label else "good"
        return Sample(f"gpu/{folder}/{defect}/{name}", path, "gpu", folder, label, defect, None)


@pytest.mark.gpu
@needs_cuda
def test_cuda_search_equals_faiss() -> None:
    rng = np.random.default_rng(0)
    bank = rng.normal(size=(20000, 256)).astype(np.float32)
    queries = rng.normal(size=(10000, 256)).astype(np.float32)
    expected_distances, expected_indices = MemoryBank(bank).search(queries, k=3)
    device = torch.device("cuda")
    distances, indices = exact_search_torch(torch.from_numpy(bank).to(device), queries, 3)
    agree = np.mean(indices[:, 0] == expected_indices[:, 0])
    assert agree >= 0.999, agree
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-3)
    on_device = MemoryBank(bank, device=device).search(queries, k=1)
    np.testing.assert_array_equal(on_device[1][:, 0], indices[:, 0])


@pytest.mark.gpu
@needs_cuda
def test_cuda_greedy_equals_cpu_on_separated_points() -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(scale=100.0, size=(300, 32))
    points = (np.repeat(centres, 20, axis=0) + rng.normal(size=(6000, 32))).astype(np.float32)
    cpu = greedy_k_center(points.copy(), size=300, start=11)
    cuda = greedy_k_center_torch(points.copy(), 300, 11, torch.device("cuda"))
    np.testing.assert_array_equal(cuda.indices, cpu.indices)
    np.testing.assert_allclose(cuda.radii, cpu.radii, rtol=1e-4)
    assert sorted(cuda.indices // 20) == list(range(300))  # one point per cluster


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("num_neighbors", [1, 9])
def test_cuda_fit_and_score_equal_cpu(num_neighbors: int) -> None:
    source = SyntheticFeatures()
    train = [source.add(f"train{i}", 0, seed=i) for i in range(20)]
    test = [source.add(f"test{i}", 0, seed=100 + i) for i in range(20)]
    test += [source.add(f"bad{i}", 1, seed=200 + i) for i in range(20)]
    params = PatchCoreParams(
        layers=LAYERS, target_dim=64, coreset_ratio=0.1, num_neighbors=num_neighbors
    )
    cpu = PatchCore(params, source, seed=0)
    cuda = PatchCore(params, source, seed=0, device="cuda")
    cpu.fit(train)
    cuda.fit(train)
    assert cpu.bank is not None and cuda.bank is not None
    assert cuda.bank.size == cpu.bank.size
    cpu_scores, cuda_scores = cpu.score(test), cuda.score(test)
    np.testing.assert_allclose(cuda_scores.image, cpu_scores.image, rtol=1e-3)
    np.testing.assert_allclose(cuda_scores.maps, cpu_scores.maps, rtol=1e-3, atol=1e-4)
    labels = np.array([sample.label for sample in test])
    cpu_auroc = roc_auc_score(labels, cpu_scores.image)
    cuda_auroc = roc_auc_score(labels, cuda_scores.image)
    assert abs(cuda_auroc - cpu_auroc) <= 0.002, (cpu_auroc, cuda_auroc)
    assert cuda.searched_images == 40


@pytest.mark.gpu
@needs_cuda
def test_rates_are_measured_on_the_gpu() -> None:
    """`plan --estimate` on a GPU machine times the torch loop, search and PaDiM kernels on
    the GPU, and prices the greedy without the CPU's pruning."""
    from evalsuite.runner.estimate.measure import measure_rates

    cpu = measure_rates({}, seconds=0.05)
    gpu = measure_rates({}, seconds=0.05, device=torch.device("cuda"))
    assert (cpu.device, gpu.device) == ("cpu", "cuda")
    for name in ("patchcore.greedy", "patchcore.search", "padim.moments", "padim.score"):
        assert 0 < gpu.kernels[name] < cpu.kernels[name], name
