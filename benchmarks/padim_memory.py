"""PaDiM's memory at the paper's WRN50 shape against its cost model's price.

A PaDiM fit (d = 550 of WRN50's layer1-3, 1792 channels, at the 224 px grid of 56 x 56 = 3136
positions) and a scoring pass, on constructed features (the memory does not depend on their
values), in this process on one thread. The process's resident memory is sampled every 5 ms in
each phase: building (the model and its inputs), accumulating the moments, inverting (the
float64 chunks of `GaussianMoments.finish`), and scoring.

Printed, one line per measure (GB = 1e9 bytes):
  padim_wrn50_priced_peak_gb         the cost model's peak (`PadimCost.price`) beyond the base
  padim_wrn50_fit_peak_gb            measured: the fit's peak beyond the process after building
  padim_wrn50_moments_gb, padim_wrn50_inverse_gb   the same per phase
  padim_wrn50_score_gb               scoring's peak beyond the fitted process

Usage: python benchmarks/padim_memory.py [--images N] (default 16, one batch: about a minute)
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from evalsuite.data.samples import Sample
from evalsuite.detectors.cost import FitShape, KernelRates, LayerShape
from evalsuite.detectors.padim import GaussianMoments, Padim
from evalsuite.detectors.padim_cost import COST_MODEL
from evalsuite.detectors.padim_params import PadimParams

GRID = 56
LAYERS = {"layer1": (256, GRID), "layer2": (512, GRID // 2), "layer3": (1024, GRID // 4)}
GB = 1e9


class Features:
    """WRN50-shaped features of constructed images (a DescribedFeatureSource)."""

    backbone_name = "wide_resnet50_2"
    input_size = (4 * GRID, 4 * GRID)

    def channels(self, layers: Sequence[str]) -> dict[str, int]:
        return {layer: LAYERS[layer][0] for layer in layers}

    def iter_features(
        self, samples: Sequence[Sample], layers: Sequence[str], batch_size: int = 16
    ) -> Iterator[dict[str, torch.Tensor]]:
        generator = torch.Generator().manual_seed(0)
        for start in range(0, len(samples), batch_size):
            size = len(samples[start : start + batch_size])
            yield {
                layer: torch.randn(size, LAYERS[layer][0], side, side, generator=generator)
                for layer in layers
                for side in [LAYERS[layer][1]]
            }


class Sampler:
    """The process's resident memory, its peak per phase, sampled every 5 ms."""

    def __init__(self) -> None:
        self.phase = "build"
        self.peaks: dict[str, int] = {}
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            with open("/proc/self/statm", encoding="ascii") as statm:
                resident = int(statm.read().split()[1]) * 4096
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), resident)
            time.sleep(0.005)

    def enter(self, phase: str) -> None:
        time.sleep(0.02)  # the sampler sees the end of the phase before
        self.phase = phase


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    images = parser.parse_args().images
    torch.set_num_threads(1)
    sampler = Sampler()
    params = PadimParams(layers=tuple(LAYERS), n_features=550)
    samples = [
        Sample(f"c/train/good/{i:03d}", Path(f"{i:03d}.png"), "c", "train", 0, "good", None)
        for i in range(images)
    ]
    detector = Padim(params, Features(), 0)
    finish = GaussianMoments.finish

    def timed_finish(moments: GaussianMoments) -> tuple[torch.Tensor, torch.Tensor]:
        sampler.enter("inverse")
        return finish(moments)

    GaussianMoments.finish = timed_finish  # type: ignore[method-assign,assignment]
    sampler.enter("moments")
    built = sampler.peaks["build"]
    detector.fit(samples)
    sampler.enter("fitted")
    time.sleep(0.05)  # the fitted process's memory, sampled
    sampler.enter("score")
    detector.score(samples[:16])
    sampler.enter("done")
    peaks = sampler.peaks
    shape = FitShape(
        images,
        {"c": images},
        16,
        Features.input_size,
        {layer: LayerShape(c, (side, side)) for layer, (c, side) in LAYERS.items()},
    )
    rates = KernelRates({kernel.name: kernel.reference_s for kernel in COST_MODEL.kernels})
    price = COST_MODEL.price(params, shape, rates)
    print(f"padim_wrn50_priced_peak_gb {price.peak_bytes / GB:.2f}")
    print(f"padim_wrn50_fit_peak_gb {(max(peaks['moments'], peaks['inverse']) - built) / GB:.2f}")
    print(f"padim_wrn50_moments_gb {(peaks['moments'] - built) / GB:.2f}")
    print(f"padim_wrn50_inverse_gb {(peaks['inverse'] - built) / GB:.2f}")
    print(f"padim_wrn50_score_gb {(peaks['score'] - peaks['fitted']) / GB:.2f}")


if __name__ == "__main__":
    main()
