"""The detector protocol: what every detector implements, what one may declare besides, and
what detectors exchange with the backbone (see docs/detectors.md, "The detector protocol")."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np
import torch

from evalsuite.data.samples import Sample
from evalsuite.detectors.params import DetectorParams

E = TypeVar("E")
"""The evidence a split detector's search gives and its scoring reads."""
P_contra = TypeVar("P_contra", bound=DetectorParams, contravariant=True)
"""A detector's params class."""


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
class ImageSource(Protocol):
    """The network inputs of samples, for a detector that reads raw images (it declares
    `inputs="images"`): each image resized, centre-cropped and normalised exactly as the
    feature path feeds its backbone (`evalsuite.backbone.preprocessing.Preprocessing`), read
    afresh at every call: nothing is cached, and every image handed over is counted."""

    @property
    def input_size(self) -> tuple[int, int]:
        """(H, W) of the images after resize and crop; anomaly maps have this size."""
        ...

    def iter_images(
        self, samples: Sequence[Sample], batch_size: int = 16
    ) -> Iterator[torch.Tensor]:
        """Yield the preprocessed images batch by batch, in sample order.

        Yields:
            one (B, 3, H, W) float32 CPU tensor per batch of `batch_size` (the last may be
            shorter), normalised with the backbone weights' mean and std.
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


Source = FeatureSource | ImageSource
"""What a detector reads: backbone features (the default) or raw images (`inputs="images"`)."""


@runtime_checkable
class Detector(Protocol):
    """What every detector implements: fit on normal samples, score samples, save its state.

    Its class is built as `Class(params, features, seed, device=...)` and loaded with
    `Class.load(directory, features, device=...)` (see `DetectorClass`); its params class is a
    `DetectorParams`. A detector that declares `inputs="images"` gets an `ImageSource` instead
    of the `FeatureSource` (`ImageDetectorClass`); its params class is an `ImageParams`.
    Everything else is optional and declared in its registry entry
    (`evalsuite.detectors.registry.DetectorEntry`): the split below (`SplitDetector`), nested
    selections (`NestedSelectionDetector`), a memory bank (`MemoryBankDetector`) and a cost
    model (`evalsuite.detectors.cost.CostModel`).
    """

    def fit(self, samples: Sequence[Sample]) -> None:
        """Learn normality from normal `train` samples."""
        ...

    def score(self, samples: Sequence[Sample]) -> Scores:
        """Score samples: image scores (N,) and maps (N, H, W) at the network input size."""
        ...

    def save(self, directory: Path) -> None:
        """Write the fitted state as .npy/.npz/.pt (tensors only) plus JSON; no pickle."""
        ...


class DetectorClass(Protocol[P_contra]):
    """A detector class: how the runner builds a new detector and loads a saved one."""

    def __call__(
        self, params: P_contra, features: FeatureSource, seed: int, *, device: torch.device | None
    ) -> Detector:
        """A new, unfitted detector with `params`, reading `features`, seeded by `seed`."""
        ...

    def load(
        self, directory: Path, features: FeatureSource, *, device: torch.device | None
    ) -> Detector:
        """The fitted detector `save` wrote to `directory`, on `device` (None: the CPU)."""
        ...


class ImageDetectorClass(Protocol[P_contra]):
    """The class of a detector that reads raw images (declared `inputs="images"`): built and
    loaded as a `DetectorClass`, with an `ImageSource` where that takes a `FeatureSource`."""

    def __call__(
        self, params: P_contra, images: ImageSource, seed: int, *, device: torch.device | None
    ) -> Detector:
        """A new, unfitted detector with `params`, reading `images`, seeded by `seed`."""
        ...

    def load(
        self, directory: Path, images: ImageSource, *, device: torch.device | None
    ) -> Detector:
        """The fitted detector `save` wrote to `directory`, reading `images`, on `device`."""
        ...


@runtime_checkable
class SplitDetector(Detector, Protocol[E, P_contra]):
    """A detector whose `score` is a search then a cheap scoring (declared `split`).

    `E` is the evidence type; `P_contra` the params class. The runner searches every input set
    once per fit and its search params (`DetectorParams.SEARCH_PARAMS`), then scores the
    evidence once per scoring params (`SCORING_PARAMS`): a sweep over them reuses one fit and
    one search. `score(s)` must equal `scores_from(search(s))`.
    """

    def search(self, samples: Sequence[Sample], params: P_contra | None = None) -> E:
        """The expensive half of `score`: the evidence (nearest neighbours, distances) of
        samples under `params`' search settings (None: the detector's own params)."""
        ...

    def scores_from(self, evidence: E, params: P_contra | None = None) -> Scores:
        """The cheap half of `score`: image scores (N,) and maps (N, H, W) from `search`'s
        evidence under `params`' scoring settings."""
        ...


@runtime_checkable
class MemoryBankDetector(SplitDetector[E, P_contra], Protocol[E, P_contra]):
    """A split detector whose evidence names, for every test patch, its nearest memory patch
    (declared `memory_bank`): the shortcut matrices' nearest-neighbour provenance.

    Attributes:
        categories: the sorted categories of the training samples (after `fit` or `load`).
    """

    categories: list[str]

    def nearest_categories_from(self, evidence: E) -> np.ndarray:
        """The category of every test patch's nearest memory patch, from `search`'s evidence.

        Returns:
            (N, h, w) int64 indices into `categories`.
        """
        ...


@runtime_checkable
class NestedSelectionDetector(Detector, Protocol):
    """A detector whose fits that differ only in one param (declared `selection_param`) select
    nested subsets of one selection: the smaller are prefixes of the largest, so the fits of a
    unit share one selection, stored in a folder the runner gives (fitted largest first)."""

    def fit_shared(self, samples: Sequence[Sample], directory: Path) -> None:
        """`fit`, taking this fit's selection from the one stored in `directory` when it is long
        enough, else selecting and storing it there (bit-identical to `fit`)."""
        ...
