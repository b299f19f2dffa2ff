"""PatchCore's cost model: the greedy coreset, the projection and exact search, the maps.

Counted from the fit's shape (see `evalsuite.detectors.cost`):

- greedy coreset: M iterations x P points x k projected dimensions (k = min(D,
  `coreset_projection_dim`)), once per unit (smaller selections are prefixes of the largest:
  `Price.shared_fit_s`); per category with `coreset_scope="per_category"`; times
  PRUNED_GREEDY_WORK where the CPU's pruned loop runs (`greedy_pruned.usable`), the full loop
  on a GPU (the torch loop does not prune);
- the random projection: P x D x k multiply-adds, at the exact-search rate;
- exact nearest-neighbour search: searched images x positions x M bank rows x D;
- anomaly maps: searched images x H x W output pixels (upsampling and Gaussian blur).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from evalsuite.detectors.cost import FitShape, Kernel, KernelRates, Price
from evalsuite.detectors.patchcore.greedy_pruned import GATHER_CHUNK, usable
from evalsuite.detectors.patchcore.params import PatchCoreParams
from evalsuite.detectors.timing import timed

if TYPE_CHECKING:
    import torch

PRUNED_GREEDY_WORK = 0.16
"""Time of a fit with the pruned greedy loop over one with the full loop: 47.2 s / 302.5 s,
measured by `benchmarks/greedy_pruning.py` on 2026-12-03 (bundled ImageNet Lite0 features of
243 synthetic hazelnut images, 190,512 patches, coreset 10%, one thread). How much the
triangle inequality prunes depends on the features, so this is the one factor of the model
not measured on the fly."""
GREEDY = "patchcore.greedy"
SEARCH = "patchcore.search"
ANOMALY_MAP = "anomaly_map"


def _time_greedy(seconds: float, device: torch.device) -> float:
    """The marginal cost of one greedy iteration per point-dimension: the difference of two
    run lengths, so the per-call set-up (centring, norms, the copy to the device) is not
    counted per iteration. The CPU's full loop (the pruned loop is priced from it), or the
    torch loop on `device`."""
    from evalsuite.detectors.patchcore import greedy, torch_ops

    points, k, short, long = 400_000, 128, 8, 40
    data = np.random.default_rng(0).standard_normal((points, k), dtype=np.float32)

    def run(steps: int) -> None:
        if device.type == "cpu":
            greedy.greedy_k_center(data.copy(), steps, 0, prune=False)
        else:
            torch_ops.greedy_k_center_torch(data.copy(), steps, 0, device)

    few = timed(lambda: run(short), seconds, device)
    many = timed(lambda: run(long), seconds, device)
    return max(many - few, 1e-12) / ((long - short) * points * k)


def _time_search(seconds: float, device: torch.device) -> float:
    """Seconds per multiply-add of exact search where the run searches: faiss on the CPU,
    chunked torch matrix products on a GPU (MemoryBank chooses by its device)."""
    from evalsuite.detectors.patchcore.memory_bank import MemoryBank

    rng = np.random.default_rng(0)
    bank = MemoryBank(rng.standard_normal((4096, 512), dtype=np.float32), device=device)
    queries = rng.standard_normal((784, 512), dtype=np.float32)
    return timed(lambda: bank.search(queries, 1), seconds, device) / (784 * 4096 * 512)


def _time_maps(seconds: float, device: torch.device) -> float:
    """Seconds per output pixel of an anomaly map (upsampling and Gaussian blur, on the CPU)."""
    del device
    from evalsuite.detectors.patchcore.scorer import anomaly_maps

    grid = np.random.default_rng(0).random((8, 28, 28), dtype=np.float32)
    return timed(lambda: anomaly_maps(grid, (224, 224), 4.0), seconds) / (8 * 224 * 224)


GREEDY_KERNEL = Kernel(GREEDY, _time_greedy, 1.0e-9, "point-dimension of one greedy iteration")
SEARCH_KERNEL = Kernel(SEARCH, _time_search, 6.0e-11, "multiply-add of exact search")
MAP_KERNEL = Kernel(ANOMALY_MAP, _time_maps, 5.0e-8, "output pixel of an anomaly map")


class PatchCoreCost:
    """PatchCore's cost model (see the module docstring); a CostModel[PatchCoreParams]."""

    @property
    def kernels(self) -> Sequence[Kernel]:
        """The greedy loop, exact search and the anomaly maps."""
        return (GREEDY_KERNEL, SEARCH_KERNEL, MAP_KERNEL)

    def price(self, params: PatchCoreParams, shape: FitShape, rates: KernelRates) -> Price:
        """Fit (greedy and projection), score (search and maps) and peak memory of one fit."""
        positions, dim = _positions(shape), _dim(params, shape)
        points = shape.train_images * positions
        bank = max(1, int(points * params.coreset_ratio))
        k = min(dim, params.coreset_projection_dim)
        greedy = greedy_work(params, shape, positions, k, rates.device == "cpu") * k
        greedy *= rates[GREEDY]
        height, width = shape.input_size
        maps_s = shape.searched_images * height * width * rates[ANOMALY_MAP]
        pruning = 8 * points + 4 * k * min(GATHER_CHUNK, points)  # the pruned loop's buffers
        return Price(
            fit_s=greedy + points * dim * k * rates[SEARCH],
            score_s=shape.searched_images * positions * bank * dim * rates[SEARCH] + maps_s,
            peak_bytes=4 * (points * (dim + k) + bank * dim) + pruning,
            shared_fit_s=greedy,
            saved_bytes=bank * (4 * dim + 8),  # memory_bank.npy float32, memory_categories int64
        )


COST_MODEL = PatchCoreCost()


def greedy_work(
    params: PatchCoreParams, shape: FitShape, positions: int, dim: int, pruned: bool = True
) -> float:
    """Full-loop point-iterations of the greedy coreset in `dim` projected dimensions: M x P
    for the pooled selection, the sum over categories of M_k x P_k for
    `coreset_scope="per_category"`; with `pruned` (the CPU), each times PRUNED_GREEDY_WORK
    where the pruned loop runs."""
    if params.coreset_scope == "per_category":
        groups = [count * positions for count in shape.train_per_category.values()]
    else:
        groups = [shape.train_images * positions]
    return sum(
        max(1, int(points * params.coreset_ratio))
        * points
        * (PRUNED_GREEDY_WORK if pruned and usable(points, dim) else 1.0)
        for points in groups
    )


def _positions(shape: FitShape) -> int:
    """Patch positions per image: the grid of the first layer."""
    height, width = next(iter(shape.layers.values())).grid
    return height * width


def _dim(params: PatchCoreParams, shape: FitShape) -> int:
    """D, the dimension of a patch feature: the channels together, or `target_dim` below."""
    total = sum(layer.channels for layer in shape.layers.values())
    target = params.target_dim
    return total if target is None or total <= target else int(target)
