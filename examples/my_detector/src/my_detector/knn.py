"""PooledKnn: each image's backbone features average-pooled into one vector; its anomaly score
is the mean distance to its k nearest training vectors, and its map the distance of every
position's feature to the nearest training vector, upsampled to the network input size."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
from pydantic import Field

from evalsuite.data.samples import Sample
from evalsuite.detectors.base import FeatureSource, Scores
from evalsuite.detectors.params import DetectorParams


class KnnParams(DetectorParams):
    """The hyperparameters: the backbone layer read, and k (unknown keys are refused)."""

    config_name: ClassVar[str] = "knn params"
    layers: tuple[str, ...] = ("blocks.4",)
    k: int = Field(default=3, ge=1, le=100)


class PooledKnn:
    """The protocol: built with (params, features, seed, device), fit, score, save, load."""

    params_class = KnnParams  # what the registry validates a study's `params` with

    def __init__(self, params: KnnParams, features: FeatureSource, seed: int, *, device=None):
        self.params, self.features = params, features
        self.bank = np.zeros((0, 0), dtype=np.float32)  # (train images, channels)

    def _grids(self, samples: Sequence[Sample]) -> np.ndarray:
        """(N, C, h, w) features of the layer, read through the suite's feature cache."""
        layer = self.params.layers[0]
        batches = self.features.iter_features(samples, [layer])
        return np.concatenate([batch[layer].float().cpu().numpy() for batch in batches])

    def fit(self, samples: Sequence[Sample]) -> None:
        self.bank = self._grids(samples).mean(axis=(2, 3))

    def score(self, samples: Sequence[Sample]) -> Scores:
        import torch  # the suite's own dependency; imported when scoring only

        grids = self._grids(samples)
        pooled = grids.mean(axis=(2, 3))
        distances = np.linalg.norm(pooled[:, None] - self.bank[None], axis=2)  # (N, train)
        k = min(self.params.k, len(self.bank))
        image = np.sort(distances, axis=1)[:, :k].mean(axis=1)
        positions = grids.transpose(0, 2, 3, 1)  # (N, h, w, C)
        nearest = np.full(positions.shape[:3], np.inf, dtype=np.float32)
        for vector in self.bank:  # one training vector at a time: small memory
            nearest = np.minimum(nearest, np.linalg.norm(positions - vector, axis=3))
        maps = torch.nn.functional.interpolate(
            torch.from_numpy(nearest)[:, None], size=self.features.input_size, mode="bilinear"
        )[:, 0].numpy()
        return Scores(image=image.astype(np.float32), maps=maps.astype(np.float32))

    def save(self, directory: Path) -> None:
        np.save(directory / "bank.npy", self.bank, allow_pickle=False)
        params = self.params.model_dump(mode="json")
        (directory / "knn.json").write_text(json.dumps(params), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, features: FeatureSource, *, device=None) -> PooledKnn:
        params = json.loads((directory / "knn.json").read_text(encoding="utf-8"))
        model = cls(KnnParams.model_validate(params), features, 0, device=device)
        model.bank = np.load(directory / "bank.npy", allow_pickle=False)
        return model
