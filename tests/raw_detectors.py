"""A test-double plug-in that reads raw images, not backbone features (`inputs="images"`):
each pixel's deviation from the mean training image; `fault` breaks it on purpose."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from evalsuite.data.samples import Sample
from evalsuite.detectors.base import ImageSource, Scores
from evalsuite.detectors.params import DetectorParams, ImageParams
from evalsuite.detectors.plugins import Declarations


class MeanImageParams(ImageParams):
    config_name: ClassVar[str] = "mean image params"
    fault: str = "none"


class MeanImage:
    """Anomaly map: the mean over channels of |image - mean training image| (N, H, W)."""

    params_class = MeanImageParams
    declares = Declarations(inputs="images")

    def __init__(
        self, params: MeanImageParams, images: ImageSource, seed: int, *, device: object = None
    ) -> None:
        self.params, self.images = params, images
        self.mean = torch.zeros(0)

    def _stack(self, samples: Sequence[Sample]) -> torch.Tensor:
        return torch.cat(list(self.images.iter_images(samples, batch_size=4)))

    def fit(self, samples: Sequence[Sample]) -> None:
        self.mean = self._stack(samples).mean(dim=0)

    def score(self, samples: Sequence[Sample]) -> Scores:
        maps = (self._stack(samples) - self.mean).abs().mean(dim=1)
        if self.params.fault == "size":  # maps at half the network input size
            maps = maps[:, ::2, ::2]
        array = maps.numpy().astype(np.float32)
        return Scores(image=array.max(axis=(1, 2)), maps=array)

    def save(self, directory: Path) -> None:
        np.save(directory / "mean.npy", self.mean.numpy(), allow_pickle=False)
        (directory / "params.json").write_text(json.dumps(self.params.model_dump(mode="json")))

    @classmethod
    def load(cls, directory: Path, images: ImageSource, *, device: object = None) -> MeanImage:
        params = MeanImageParams.model_validate(json.loads((directory / "params.json").read_text()))
        model = cls(params, images, 0, device=device)
        model.mean = torch.from_numpy(np.load(directory / "mean.npy", allow_pickle=False))
        return model


class FeatureParams(DetectorParams):
    config_name: ClassVar[str] = "feature params"
    layers: tuple[str, ...] = ("blocks.4",)


class UndeclaredImages(MeanImage):
    """An ImageParams without the declaration: refused."""

    declares = Declarations()


class ImagesWithLayers(MeanImage):
    """Declares raw images with a params class that reads layers: refused."""

    params_class = FeatureParams
