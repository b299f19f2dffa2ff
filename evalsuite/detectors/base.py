"""The detector protocol every method implements, and what they exchange with the backbone."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from evalsuite.data.samples import Sample


@dataclass(frozen=True)
class Scores:
    """What `score` returns.

    Attributes:
        image: image-level anomaly scores, (N,) float32; higher = more anomalous.
        maps: pixel-level anomaly maps at the network input size, (N, H, W) float32.
    """

    image: np.ndarray
    maps: np.ndarray


@runtime_checkable
class FeatureSource(Protocol):
    """Backbone features of samples, computed once and cached (see `evalsuite.backbone`)."""

    @property
    def input_size(self) -> tuple[int, int]:
        """(H, W) of the network input after resize and crop; anomaly maps have this size."""
        ...

    def iter_features(
        self, samples: Sequence[Sample], layers: Sequence[str], batch_size: int = 16
    ) -> Iterator[dict[str, torch.Tensor]]:
        """Yield features batch by batch, in sample order.

        Yields:
            one dict per batch: layer name -> (B, C_layer, h_layer, w_layer) float32 tensor.
        """
        ...


@runtime_checkable
class DescribedFeatureSource(FeatureSource, Protocol):
    """A FeatureSource that also names its backbone and its layers' channels (FeatureCache).

    PaDiM needs both before seeing any feature: anomalib's model is built for a named timm
    backbone, and its random feature subset is drawn from the total channel count.
    """

    @property
    def backbone_name(self) -> str:
        """The timm model name of the backbone, e.g. `wide_resnet50_2.tv_in1k`."""
        ...

    def channels(self, layers: Sequence[str]) -> dict[str, int]:
        """Channels C of each layer's feature map."""
        ...


@runtime_checkable
class Detector(Protocol):
    """fit and score: the two verbs of every detector; nothing else trains or predicts."""

    def fit(self, samples: Sequence[Sample]) -> None:
        """Learn normality from normal `train` samples."""
        ...

    def score(self, samples: Sequence[Sample]) -> Scores:
        """Score samples: image scores (N,) and maps (N, H, W)."""
        ...

    def search(self, samples: Sequence[Sample], params: Any = None) -> Any:
        """The expensive half of `score`: the evidence (nearest neighbours, distances) of
        samples under `params`' search settings (None: the detector's own params)."""
        ...

    def scores_from(self, evidence: Any, params: Any = None) -> Scores:
        """The cheap half of `score`: image scores (N,) and maps (N, H, W) from `search`'s
        evidence under `params`' scoring settings; `score(s) == scores_from(search(s))`."""
        ...

    def save(self, directory: Path) -> None:
        """Write the fitted state as .npy/.npz/.pt (tensors only) plus JSON; no pickle."""
        ...
