"""The rates of the cost model measured on this machine, in a few seconds.

The common operations are timed here: the backbone's forward pass with every thread, as
extraction runs; reading a few of the run's own image files into network inputs and storing
their features as the feature cache does (in a temporary folder, removed); and the metrics on
one thread. Every kernel the study's detectors name (see
`evalsuite.detectors.cost.Kernel`) is timed by its own timing function, on one thread as fits
run, on the run's device (on a GPU in the torch code the run uses there).
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from evalsuite import progress
from evalsuite.atomic import write_bytes
from evalsuite.backbone.cache import FeatureCache
from evalsuite.detectors.cost import Kernel
from evalsuite.detectors.threads import limit_threads
from evalsuite.detectors.timing import timed
from evalsuite.runner.estimate.model import REFERENCE_FORWARD_S, Rates, study_kernels

INPUT_SAMPLE = 4
"""Images of the run read per backbone configuration to time reading and storing."""


def measure_rates(
    sources: Mapping[str, FeatureCache],
    seconds: float = 0.3,
    device: torch.device | None = None,
    kernels: Sequence[Kernel] | None = None,
    inputs: Mapping[str, Sequence[Path]] | None = None,
) -> Rates:
    """Measure every rate on this machine in a few seconds (see the module docstring).

    Args:
        sources: the run's feature sources (their backbones are timed on random images, on
            the device they run on; one no detector reads features from is not).
        seconds: the least time each timed kernel runs.
        device: where fits and searches run (the kernels are timed there); None is the CPU.
        kernels: the detectors' kernels to time (`model.plan_kernels`); None: those of every
            registered detector.
        inputs: backbone key -> the run's image files (`model.input_paths`); the first
            `INPUT_SAMPLE` of each are read and their features' size stored. None: not timed.
    """
    device = device if device is not None else torch.device("cpu")
    kernels = list(kernels) if kernels is not None else study_kernels()
    forward = {key: _time_forward(source) for key, source in sources.items() if source.layers}
    read = {
        key: _time_input(sources[key], paths[:INPUT_SAMPLE])
        for key, paths in (inputs or {}).items()
        if paths and sources[key].layers
    }
    shown = progress.enabled()
    progress.set_enabled(False)
    try:
        with limit_threads(1):
            measured = {kernel.name: kernel.time(seconds, device) for kernel in kernels}
            pixel, resample = _time_eval()
    finally:
        progress.set_enabled(shown)
    return Rates(
        forward_s=forward,
        forward_default_s=max(forward.values(), default=REFERENCE_FORWARD_S),
        kernels=measured,
        eval_pixel_s=pixel,
        eval_resample_s=resample,
        source="measured",
        device=device.type,
        input_s=read,
    )


def _time_forward(source: FeatureCache) -> float:
    height, width = source.input_size
    images = torch.randn(4, 3, height, width, generator=torch.Generator().manual_seed(0))
    layers = source.layers
    return timed(lambda: source.backbone.forward(images, layers), 0.0) / 4


def _time_input(source: FeatureCache, paths: Sequence[Path]) -> float:
    """Seconds per image to read and preprocess `paths` and to store a feature entry of
    this cache's size (an uncompressed npz, written as the cache writes, then removed)."""
    load = source.backbone.preprocessing.load_image
    started = time.perf_counter()
    for path in paths:
        load(path)
    reading = (time.perf_counter() - started) / len(paths)
    entry = np.zeros(source.bytes_per_input() // 4, dtype=np.float32)
    with tempfile.TemporaryDirectory(prefix="evalsuite-rate-") as folder:
        started = time.perf_counter()
        for index in range(len(paths)):
            buffer = io.BytesIO()
            np.savez(buffer, entry=entry)
            write_bytes(Path(folder) / f"{index}.npz", buffer.getvalue(), durable=False)
        storing = (time.perf_counter() - started) / len(paths)
    return reading + storing


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

    plain = timed(lambda: run(0), 0.0)
    boot = timed(lambda: run(resamples), 0.0)
    return plain / (count * side * side), max(boot - plain, 0.0) / (count * resamples)
