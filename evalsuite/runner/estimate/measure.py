"""The rates of the cost model measured on this machine, in a few seconds.

Each elementary operation the model counts (see `estimate.model`) is timed once: the backbone's
forward pass with every thread, as extraction runs; the greedy coreset loop, exact search,
PaDiM's kernels, anomaly maps and the metrics on one thread, as fits run. On a GPU the greedy
loop, the exact search and PaDiM's kernels are timed there, in the torch code the run uses, and
the greedy is priced without pruning (the GPU loop does not prune).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from evalsuite import progress
from evalsuite.backbone.cache import FeatureCache
from evalsuite.detectors.threads import limit_threads
from evalsuite.runner.estimate.model import REFERENCE_RATES, Rates


def measure_rates(
    sources: Mapping[str, FeatureCache],
    seconds: float = 0.3,
    device: torch.device | None = None,
) -> Rates:
    """Measure every rate on this machine in a few seconds (see the module docstring).

    Args:
        sources: the run's feature sources (their backbones are timed on random images, on
            the device they run on).
        seconds: the least time each timed kernel runs.
        device: where fits and searches run; on a GPU the greedy loop, the exact search and
            PaDiM's kernels are timed there (the torch code paths a run uses), otherwise on
            the CPU. None is the CPU.
    """
    device = device if device is not None else torch.device("cpu")
    forward = {key: _time_forward(source) for key, source in sources.items()}
    shown = progress.enabled()
    progress.set_enabled(False)
    try:
        with limit_threads(1):
            greedy = _time_greedy(seconds, device)
            search = _time_search(seconds, device)
            moments, inverse, score = _time_padim(seconds, device)
            maps = _time_maps(seconds)
            pixel, resample = _time_eval()
    finally:
        progress.set_enabled(shown)
    return Rates(
        forward_s=forward,
        forward_default_s=max(forward.values(), default=REFERENCE_RATES.forward_default_s),
        greedy_s=greedy,
        search_s=search,
        padim_moments_s=moments,
        padim_inverse_s=inverse,
        padim_score_s=score,
        map_pixel_s=maps,
        eval_pixel_s=pixel,
        eval_resample_s=resample,
        source="measured",
        device=device.type,
    )


def _timed(function: Any, seconds: float, device: torch.device | None = None) -> float:
    """Seconds per call of `function`, repeated until `seconds` have passed (after one
    warm-up); on a GPU each call is waited for, so the device's time is what is measured."""

    def call() -> None:
        function()
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize(device)

    call()
    calls, started = 0, time.perf_counter()
    while True:
        call()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return elapsed / calls


def _time_forward(source: FeatureCache) -> float:
    height, width = source.input_size
    images = torch.randn(4, 3, height, width, generator=torch.Generator().manual_seed(0))
    layers = source.layers
    return _timed(lambda: source.backbone.forward(images, layers), 0.0) / 4


def _time_greedy(seconds: float, device: torch.device) -> float:
    """The marginal cost of one greedy iteration: the difference of two run lengths, so the
    per-call set-up (centring, norms, the copy to the device) is not counted per iteration.
    The CPU's full loop (the pruned loop is priced from it), or the torch loop on `device`."""
    from evalsuite.detectors.patchcore.greedy import greedy_k_center
    from evalsuite.detectors.patchcore.torch_ops import greedy_k_center_torch

    points, k, short, long = 400_000, 128, 8, 40
    data = np.random.default_rng(0).standard_normal((points, k), dtype=np.float32)

    def run(steps: int) -> None:
        if device.type == "cpu":
            greedy_k_center(data.copy(), steps, 0, prune=False)
        else:
            greedy_k_center_torch(data.copy(), steps, 0, device)

    few = _timed(lambda: run(short), seconds, device)
    many = _timed(lambda: run(long), seconds, device)
    return max(many - few, 1e-12) / ((long - short) * points * k)


def _time_search(seconds: float, device: torch.device) -> float:
    """Seconds per multiply-add of exact search where the run searches: faiss on the CPU,
    chunked torch matrix products on a GPU (MemoryBank chooses by its device)."""
    from evalsuite.detectors.patchcore.memory_bank import MemoryBank

    rng = np.random.default_rng(0)
    bank = MemoryBank(rng.standard_normal((4096, 512), dtype=np.float32), device=device)
    queries = rng.standard_normal((784, 512), dtype=np.float32)
    return _timed(lambda: bank.search(queries, 1), seconds, device) / (784 * 4096 * 512)


def _time_padim(seconds: float, device: torch.device) -> tuple[float, float, float]:
    """PaDiM's three kernels (moment accumulation, Cholesky inverse, Mahalanobis distances)
    on `device`, per multiply-add (per d^3 for the inverse)."""
    d, positions, batch = 256, 64, 8
    generator = torch.Generator().manual_seed(0)
    block = torch.randn(positions, batch, d, generator=generator).to(device)
    outer = torch.zeros(positions, d, d, device=device)
    moments = _timed(lambda: outer.baddbmm_(block.transpose(1, 2), block), seconds, device)
    spd = (torch.eye(d, dtype=torch.float64).expand(8, d, d) * 2.0 + 0.01).to(device)
    inverse = _timed(lambda: torch.cholesky_inverse(torch.linalg.cholesky(spd)), seconds, device)
    inv = torch.eye(d).expand(positions, d, d).contiguous().to(device)
    delta = torch.randn(batch, positions, d, generator=generator).to(device)
    score = _timed(lambda: torch.einsum("bpi,pij,bpj->bp", delta, inv, delta), seconds, device)
    return (
        moments / (positions * batch * d * d),
        inverse / (8 * d**3),
        score / (batch * positions * d * d),
    )


def _time_maps(seconds: float) -> float:
    from evalsuite.detectors.patchcore.scorer import anomaly_maps

    grid = np.random.default_rng(0).random((8, 28, 28), dtype=np.float32)
    return _timed(lambda: anomaly_maps(grid, (224, 224), 4.0), seconds) / (8 * 224 * 224)


def _time_eval() -> tuple[float, float]:
    from evalsuite.evaluation.cell import evaluate_cell

    rng = np.random.default_rng(0)
    count, side, resamples = 40, 64, 50
    labels = (np.arange(count) % 2).astype(np.int64)
    scores = rng.random(count) + labels
    maps = rng.random((count, side, side)).astype(np.float32)
    masks = np.zeros((count, side, side), dtype=bool)
    masks[labels == 1, 20:40, 20:40] = True

    def run(n: int) -> None:
        evaluate_cell(
            scores,
            labels,
            maps,
            masks,
            image_threshold=0.5,
            pixel_threshold=0.5,
            bootstrap_n=n,
            seed=0,
        )

    plain = _timed(lambda: run(0), 0.0)
    boot = _timed(lambda: run(resamples), 0.0)
    return plain / (count * side * side), max(boot - plain, 0.0) / (count * resamples)
