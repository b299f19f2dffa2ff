"""anomalib's DFM and DFKDE through the detector protocol, fed by our backbone features.

The adapter builds anomalib's torch model (`DFMModel`, `DfkdeModel`) with `pre_trained=False`
and deletes its feature extractor before anything runs: the features come from our
FeatureSource, whose backbone weights `evalsuite.backbone` resolved (the bundled Lite0, a hub
cache, a file), so anomalib never downloads and never scores with random weights. Everything
after the extractor is anomalib's own code: the pooling of `get_features` (restated here on the
feature map: two lines), the model's `fit` on its memory bank, its `score` (DFM) or classifier
(DFKDE). Only the upsampling of DFM's map to the input size is ours, as anomalib's `forward`
does it (bilinear). DFKDE gives image scores only; its maps are the image score at every pixel (its
pixel metrics then measure no localisation).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch.nn import functional as F

from evalsuite.atomic import write_json
from evalsuite.data.samples import Sample
from evalsuite.detectors.anomalib_models.params import AnomalibParams, DfkdeParams, DfmParams
from evalsuite.detectors.base import FeatureSource, Scores
from evalsuite.detectors.described import FeatureDetector, read_state, read_tensors, save_tensors
from evalsuite.errors import ConfigError, DatasetError, EvalsuiteError, ResultsError

with warnings.catch_warnings():
    # anomalib's package import touches deprecated timm and dinov2 paths (FutureWarning only)
    warnings.simplefilter("ignore", FutureWarning)
    from anomalib.models.components.classification import FeatureScalingMethod
    from anomalib.models.image.dfkde.torch_model import DfkdeModel
    from anomalib.models.image.dfm.torch_model import DFMModel

STATE_FILE = "anomalib.json"
TENSORS_FILE = "anomalib_state.pt"
FORMAT_VERSION = 1


def anomalib_model(backbone: str, params: AnomalibParams) -> DFMModel | DfkdeModel:
    """anomalib's torch model for `params`, on `backbone`, without its feature extractor."""
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model: DFMModel | DfkdeModel
        if isinstance(params, DfmParams):
            model = DFMModel(
                backbone=backbone,
                layer=params.layers[0],
                pre_trained=False,
                pooling_kernel_size=params.pooling_kernel_size,
                n_comps=params.n_comps,
                score_type=params.score_type,
            )
        elif isinstance(params, DfkdeParams):
            model = DfkdeModel(
                backbone=backbone,
                layers=list(params.layers),
                pre_trained=False,
                n_pca_components=params.n_pca_components,
                feature_scaling_method=FeatureScalingMethod(params.feature_scaling_method),
                max_training_points=params.max_training_points,
            )
        else:
            raise ConfigError(f"anomalib model {params.model!r} is not run by the adapter")
    # Features come from our FeatureSource: free anomalib's randomly initialised extractor
    # (never called; fit and score use the model's other pieces).
    del model.feature_extractor
    return model.eval()


def pooled(params: AnomalibParams, feature: torch.Tensor) -> tuple[torch.Tensor, torch.Size]:
    """anomalib's `get_features` after its extractor: (B, D) vectors and the pooled map's shape.

    Args:
        params: the model's params.
        feature: (B, C, h, w) the layer's features.
    """
    if isinstance(params, DfmParams):
        if params.pooling_kernel_size > 1:
            feature = F.avg_pool2d(input=feature, kernel_size=params.pooling_kernel_size)
    else:
        feature = F.adaptive_avg_pool2d(input=feature, output_size=(1, 1))
    return feature.reshape(feature.shape[0], -1), feature.shape


class AnomalibDetector(FeatureDetector[AnomalibParams]):
    """An anomalib model (DFM, DFKDE) on a FeatureSource; implements the Detector protocol.

    Args:
        params: the model's params (`AnomalibParams.model_validate` picks the class).
        features: the backbone features (a FeatureCache in runs), naming their backbone.
        seed: seeds DFKDE's subset of training vectors (above `max_training_points`).
        batch_size: images per feature batch.
        device: where the model computes (None: the CPU).

    Attributes:
        backbone: timm name of the backbone the features come from.
        anomalib_version: the installed anomalib's version (saved with the model).
    """

    NAME: ClassVar[str] = "anomalib"

    def _build(self) -> None:
        self.anomalib_version = version("anomalib")
        self._model = anomalib_model(self.backbone, self.params).to(self.device)
        self._fitted = False

    def fit(self, samples: Sequence[Sample]) -> None:
        """Collect the pooled training vectors and fit anomalib's model on them."""
        if len(samples) < 2:
            raise DatasetError(
                f"anomalib {self.params.model} fit: {len(samples)} training sample(s); "
                "use at least 2"
            )
        vectors = [vector for vector, _ in self._vectors(samples)]
        if sum(len(vector) for vector in vectors) != len(samples):
            raise EvalsuiteError("anomalib fit: the feature source did not yield every sample")
        if isinstance(self.params, DfkdeParams) and len(samples) < self.params.n_pca_components:
            raise DatasetError(
                f"anomalib Dfkde fit: {len(samples)} training samples, fewer than "
                f"n_pca_components={self.params.n_pca_components}; lower it or add samples"
            )
        self._model.memory_bank = vectors
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(self.seed)  # DFKDE's subset of training vectors
            self._model.fit()
        self._fitted = True

    def score(self, samples: Sequence[Sample]) -> Scores:
        """Image scores (N,) float32 and maps (N, H, W) float32 at the input size."""
        if not self._fitted:
            raise ResultsError("anomalib: call fit (or load a fitted model) before score or save")
        height, width = self.features.input_size
        image = np.empty(len(samples), dtype=np.float32)
        maps = np.empty((len(samples), height, width), dtype=np.float32)
        start = 0
        for vectors, shape in self._vectors(samples):
            batch_image, batch_maps = self._score_batch(vectors, shape, (height, width))
            stop = start + len(batch_image)
            image[start:stop] = batch_image.cpu().numpy()
            maps[start:stop] = batch_maps.cpu().numpy()
            start = stop
        if start != len(samples):
            raise EvalsuiteError("anomalib score: the feature source did not yield every sample")
        return Scores(image=image, maps=maps)

    def save(self, directory: Path) -> None:
        """Write anomalib_state.pt (the model's fitted tensors) then anomalib.json."""
        if not self._fitted:
            raise ResultsError("anomalib: call fit (or load a fitted model) before score or save")
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {name: tensor.cpu() for name, tensor in self._model.state_dict().items()}
        save_tensors(tensors, directory / TENSORS_FILE)
        write_json(
            directory / STATE_FILE,
            {
                "format": FORMAT_VERSION,
                "detector": "anomalib",
                "anomalib": self.anomalib_version,
                "params": self.params.model_dump(mode="json"),
                "seed": self.seed,
                "backbone": self.backbone,
                "input_size": list(self.features.input_size),
            },
        )

    @classmethod
    def load(
        cls,
        directory: Path,
        features: FeatureSource,
        *,
        batch_size: int = 16,
        device: torch.device | str | None = None,
    ) -> AnomalibDetector:
        """A fitted detector from `save`'s files, checked against `features`.

        Raises:
            ResultsError: missing or incomplete files.
            ConfigError: `features` come from another backbone or input size.
        """
        state = read_state(directory / STATE_FILE, "anomalib")
        try:
            params = AnomalibParams.model_validate(state["params"])
            model = cls(params, features, int(state["seed"]), batch_size=batch_size, device=device)
            saved = (state["backbone"], list(state["input_size"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ResultsError(
                f"{directory / STATE_FILE}: incomplete anomalib state ({error!r}); "
                "fit again (--force)"
            ) from error
        current = (model.backbone, list(features.input_size))
        if saved != current:
            raise ConfigError(
                f"{directory}: fitted on backbone/input size {saved}, but the feature source "
                f"gives {current}; use the same backbone configuration"
            )
        tensors = read_tensors(directory / TENSORS_FILE, "anomalib tensors")
        try:
            model._model.load_state_dict(tensors)
        except RuntimeError as error:
            raise ResultsError(
                f"{directory / TENSORS_FILE}: does not fit anomalib {params.model} ({error}); "
                "fit again (--force)"
            ) from error
        model._model.to(model.device)
        model._fitted = True
        return model

    def _vectors(self, samples: Sequence[Sample]) -> Iterator[tuple[torch.Tensor, torch.Size]]:
        """Pooled feature vectors batch by batch: (B, D) and the pooled map's shape."""
        layer = self.params.layers[0]
        for features in self.features.iter_features(samples, self.params.layers, self.batch_size):
            yield pooled(self.params, features[layer].to(self.device))

    def _score_batch(
        self, vectors: torch.Tensor, shape: torch.Size, size: tuple[int, int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """anomalib's scores of one batch: (B,) and (B, H, W) maps at `size`."""
        with torch.no_grad():
            if isinstance(self._model, DFMModel):
                image, score_map = self._model.score(vectors, shape)
            else:
                image, score_map = self._model.classifier(vectors), None
            if score_map is None:
                maps = image[:, None, None].expand(-1, *size)
            else:
                maps = F.interpolate(score_map, size=size, mode="bilinear", align_corners=False)[
                    :, 0
                ]
        return image.float(), maps.float()
