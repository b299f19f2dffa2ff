"""A FeatureSource over constructed feature tensors, shared by the detector tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from evalsuite.data.samples import Sample


class DictFeatures:
    """A FeatureSource over precomputed feature tensors, keyed by sample path.

    Args:
        input_size: (H, W) the detectors map their anomaly maps to.
    """

    def __init__(self, input_size: tuple[int, int]) -> None:
        self.features: dict[Path, dict[str, torch.Tensor]] = {}
        self._input_size = input_size

    @property
    def input_size(self) -> tuple[int, int]:
        return self._input_size

    def iter_features(
        self, samples: Sequence[Sample], layers: Sequence[str], batch_size: int = 16
    ) -> Iterator[dict[str, torch.Tensor]]:
        """layer -> (B, C, h, w) of each batch of `batch_size` samples, in sample order."""
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            yield {
                layer: torch.stack([self.features[sample.path][layer] for sample in chunk])
                for layer in layers
            }
