"""PaDiM (Defard et al. 2020) through anomalib's torch model, fed by our backbone features.

anomalib's `PadimModel` supplies the algorithm's pieces: the embedding (layers concatenated on
the grid of the first, then the random channel subset `idx`), the `MultiVariateGaussian`
buffers, and the anomaly map (Mahalanobis distance, Eq. 2, bilinear up-sampling, Gaussian blur
sigma=4). It is built with `pre_trained=False` and never runs its own extractor: the features
come from our FeatureSource, so weights are resolved once, by `evalsuite.backbone`, and
anomalib never reaches for the hub. Only the fit differs: anomalib stacks the embeddings of all
training images and computes every covariance at once (about 21 GB for WR50 at 256 px); here
the moments are accumulated batch by batch and inverted in chunks of positions, in place.

On a CUDA device the embeddings, the moments, the inversion and the anomaly maps run on the
GPU; saved statistics are CPU tensors either way. Without a device (or on the CPU) it is the
CPU code path, bit for bit.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from evalsuite import progress
from evalsuite.atomic import write_json
from evalsuite.data.samples import Sample
from evalsuite.detectors.base import FeatureSource, Scores
from evalsuite.detectors.described import FeatureDetector, read_state, read_tensors, save_tensors
from evalsuite.detectors.padim_params import PadimParams
from evalsuite.detectors.threads import limit_threads
from evalsuite.errors import ConfigError, DatasetError, EvalsuiteError, ResultsError

with warnings.catch_warnings():
    # anomalib's package import touches deprecated timm and dinov2 paths (FutureWarning only)
    warnings.simplefilter("ignore", FutureWarning)
    from anomalib.models.image.padim.torch_model import PadimModel

STATE_FILE = "padim.json"
STATS_FILE = "padim_stats.pt"
FORMAT_VERSION = 1
EPSILON = 0.01
"""epsilon of Eq. 1, the regulariser added to every covariance's diagonal."""
STABILISER = 1e-5
"""anomalib's further diagonal term before inversion (kept, so the numbers match anomalib's)."""
CHUNK_BYTES = 256 << 20
"""Scratch memory of one chunk of float64 covariances during the inversion."""


def feature_subset(total: int, n_features: int, seed: int) -> torch.Tensor:
    """The random dimensionality reduction Rd: `n_features` of `total` channels, seeded.

    Returns:
        (n_features,) int64 channel indices, distinct, in draw order.
    """
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=generator)[:n_features]


class Padim(FeatureDetector[PadimParams]):
    """PaDiM on a FeatureSource that names its backbone; implements the Detector protocol.

    Args:
        params: hyperparameters.
        features: the backbone features (a FeatureCache in runs).
        seed: seeds the random channel subset `idx`.
        batch_size: images per feature batch.
        device: where embeddings, the fit and the anomaly maps are computed: a torch device,
            `auto`/`cpu`/`cuda` (see `resolve_device`), or None for the CPU.

    Raises:
        ConfigError: layers unknown to the feature source, n_features above their channels, or
            an unknown device name.
        WeightsError: `cuda` without a visible CUDA device.

    Class attributes:
        SEARCH_PARAMS: parameters of `search` (none: the Gaussians are the whole evidence).
        SCORING_PARAMS: parameters of `scores_from` (none).

    Attributes:
        device: the torch device computations run on.
        searched_images: images scored (searched) by this instance so far.
        backbone: timm name of the backbone the features come from.
        channels: layer -> channels of the feature maps read.
        idx: (d,) int64, the random channel subset (saved with the model).
        grid: (h, w) of the first layer's feature map once fitted, else None.
    """

    SEARCH_PARAMS: ClassVar[frozenset[str]] = PadimParams.SEARCH_PARAMS
    SCORING_PARAMS: ClassVar[frozenset[str]] = PadimParams.SCORING_PARAMS
    NAME: ClassVar[str] = "padim"
    NEEDS: ClassVar[str] = "a feature source that names its backbone and channels"

    def _build(self) -> None:
        self.channels = self.features.channels(self.params.layers)
        total = sum(self.channels.values())
        self._model = _anomalib_model(self.backbone, self.params, total)
        self._model.idx = feature_subset(total, self.params.n_features, self.seed)
        if self.device.type != "cpu":
            self._model.to(self.device)
        self.grid: tuple[int, int] | None = None
        self.searched_images = 0

    @property
    def idx(self) -> torch.Tensor:
        """(d,) int64 channel indices of the random subset."""
        return self._model.idx

    def fit(self, samples: Sequence[Sample]) -> None:
        """Fit one Gaussian per patch position (Eq. 1) to normal `train` samples, streaming."""
        if len(samples) < 2:
            raise DatasetError(
                f"padim fit: {len(samples)} training sample(s); a covariance needs at least 2"
            )
        moments: GaussianMoments | None = None
        batches = -(-len(samples) // self.batch_size)
        for embedding in progress.track(self._embeddings(samples), batches, "fit", "batch"):
            size, dim, height, width = embedding.shape
            if moments is None:
                self.grid = (height, width)
                moments = GaussianMoments(embedding[0].reshape(dim, height * width))
            moments.add(embedding.reshape(size, dim, height * width))
        if moments is None or moments.count != len(samples):
            raise EvalsuiteError("padim fit: the feature source did not yield every sample")
        mean, inv_covariance = moments.finish()
        self._model.gaussian.mean = mean
        self._model.gaussian.inv_covariance = inv_covariance

    def score(self, samples: Sequence[Sample]) -> Scores:
        """Mahalanobis anomaly maps (N, H, W) at the input size; image score = max of the map.

        The same as `scores_from(search(samples))`.
        """
        return self.scores_from(self.search(samples))

    def search(self, samples: Sequence[Sample], params: PadimParams | None = None) -> Scores:
        """The evidence scoring reads: here the anomaly maps and image scores themselves.

        Args:
            samples: the samples to score.
            params: search parameters; PaDiM has none (`SEARCH_PARAMS` is empty), the argument
                is accepted for the interface detectors share and ignored.

        Returns:
            image (N,) float32 and maps (N, H, W) float32 at the input size.

        Raises:
            ResultsError: the model is not fitted.
            ConfigError: features on another grid than the fitted one.
        """
        mean, inv_covariance = self._fitted()
        height, width = self.features.input_size
        image = np.empty(len(samples), dtype=np.float32)
        maps = np.empty((len(samples), height, width), dtype=np.float32)
        start = 0
        batches = -(-len(samples) // self.batch_size)
        for embedding in progress.track(self._embeddings(samples), batches, "score", "batch"):
            if tuple(embedding.shape[-2:]) != self.grid:
                raise ConfigError(
                    f"padim: feature grid {tuple(embedding.shape[-2:])} differs from the fitted "
                    f"{self.grid}; score with the input size the model was fitted at"
                )
            with torch.no_grad():
                batch_maps = self._model.anomaly_map_generator(
                    embedding=embedding,
                    mean=mean,
                    inv_covariance=inv_covariance,
                    image_size=(height, width),
                )[:, 0]
            size = batch_maps.shape[0]
            maps[start : start + size] = batch_maps.cpu().numpy()
            image[start : start + size] = torch.amax(batch_maps, dim=(-2, -1)).cpu().numpy()
            start += size
        if start != len(samples):
            raise EvalsuiteError("padim score: the feature source did not yield every sample")
        self.searched_images += start
        return Scores(image=image, maps=maps)

    def scores_from(self, evidence: Scores, params: PadimParams | None = None) -> Scores:
        """Scores from `search`'s evidence: PaDiM's evidence already is its scores.

        Args:
            evidence: what `search` returned.
            params: scoring parameters; none for PaDiM (`SCORING_PARAMS`), ignored.

        Returns:
            `evidence` itself.
        """
        del params
        return evidence

    def save(self, directory: Path) -> None:
        """Write padim_stats.pt (idx, mean, inverse covariances) then padim.json."""
        mean, inv_covariance = self._fitted()
        directory.mkdir(parents=True, exist_ok=True)
        stats = {
            "idx": self.idx.cpu(),
            "mean": mean.cpu(),
            "inv_covariance": inv_covariance.cpu(),
        }
        save_tensors(stats, directory / STATS_FILE)
        write_json(
            directory / STATE_FILE,
            {
                "format": FORMAT_VERSION,
                "detector": "padim",
                "params": self.params.model_dump(mode="json"),
                "seed": self.seed,
                "backbone": self.backbone,
                "channels": self.channels,
                "grid": list(self.grid or ()),
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
    ) -> Padim:
        """A fitted Padim from `save`'s files, checked against `features`.

        Args:
            directory: the folder `save` wrote.
            features: the feature source to score with.
            batch_size: images per feature batch.
            device: where to compute (see the constructor); the statistics are moved there.

        Raises:
            ResultsError: missing or incomplete files.
            ConfigError: `features` come from another backbone, layers or input size.
        """
        state = read_state(directory / STATE_FILE, "padim")
        try:
            model = cls(
                PadimParams(**state["params"]),
                features,
                int(state["seed"]),
                batch_size=batch_size,
                device=device,
            )
            saved = (state["backbone"], state["channels"], list(state["input_size"]))
            model.grid = (int(state["grid"][0]), int(state["grid"][1]))
        except (KeyError, TypeError, IndexError, ValueError) as error:
            raise ResultsError(
                f"{directory / STATE_FILE}: incomplete padim state ({error!r}); fit again (--force)"
            ) from error
        current = (model.backbone, model.channels, list(features.input_size))
        if saved != current:
            raise ConfigError(
                f"{directory}: fitted on backbone/channels/input size {saved}, "
                f"but the feature source gives {current}; use the same backbone configuration"
            )
        stats = {
            name: tensor.to(model.device)
            for name, tensor in _read_stats(directory / STATS_FILE).items()
        }
        model._model.idx = stats["idx"]
        model._model.gaussian.mean = stats["mean"]
        model._model.gaussian.inv_covariance = stats["inv_covariance"]
        return model

    def _embeddings(self, samples: Sequence[Sample]) -> Iterator[torch.Tensor]:
        """Embeddings batch by batch: (B, d, h, w) float32 (anomalib's generate_embedding)."""
        layers = self.params.layers
        for features in self.features.iter_features(samples, layers, self.batch_size):
            batch = {layer: tensor.to(self.device) for layer, tensor in features.items()}
            sizes = [batch[layer].shape[-2] * batch[layer].shape[-1] for layer in layers]
            if sizes[0] != max(sizes):
                raise ConfigError(
                    f"padim layers {list(layers)}: list the highest-resolution layer first"
                )
            with torch.no_grad():
                yield self._model.generate_embedding(batch)

    def _fitted(self) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self._model.gaussian.mean
        if mean.numel() == 0:
            raise ResultsError("padim: call fit (or load a fitted model) before score or save")
        return mean, self._model.gaussian.inv_covariance


class GaussianMoments:
    """Mean and covariance of each patch position, accumulated over batches (Eq. 1).

    Sums are taken around `shift` (the first image's embedding) so float32 outer products do
    not cancel catastrophically; the (P, d, d) float32 accumulator later holds the inverse
    covariances in place, so a fit peaks near one copy of the model's statistics. Everything
    lives on `shift`'s device.

    Args:
        shift: (d, P) the embedding of one training image.
    """

    def __init__(self, shift: torch.Tensor) -> None:
        dim, positions = shift.shape
        self.shift = shift.clone()
        self.count = 0
        self.sum = torch.zeros(dim, positions, dtype=torch.float64, device=shift.device)
        self.outer = torch.zeros(positions, dim, dim, dtype=torch.float32, device=shift.device)
        self.chunk = max(1, CHUNK_BYTES // (dim * dim * 8))

    def add(self, embedding: torch.Tensor) -> None:
        """Accumulate a batch of embeddings: (B, d, P)."""
        centred = embedding - self.shift
        self.sum += centred.sum(dim=0, dtype=torch.float64)
        # One thread: the sums then do not depend on the thread count, so every executor (a
        # Dask worker runs with OMP_NUM_THREADS=1) gives the same bits.
        with limit_threads(1):
            for start in range(0, centred.shape[-1], self.chunk):
                block = centred[:, :, start : start + self.chunk].permute(2, 0, 1)  # (p, B, d)
                self.outer[start : start + self.chunk].baddbmm_(block.transpose(1, 2), block)
        self.count += embedding.shape[0]

    def finish(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The Gaussians' parameters, as anomalib's MultiVariateGaussian stores them.

        Call once: the accumulator is overwritten by the inverse covariances it returns.

        Returns:
            mean (d, P) float32 and inverse covariance (P, d, d) float32, where the
            covariance is 1/(N-1) sum (x - mu)(x - mu)^T + epsilon I (Eq. 1).
        """
        n = self.count
        mean_shifted = self.sum / n  # (d, P)
        identity = torch.eye(self.shift.shape[0], dtype=torch.float64, device=self.shift.device)
        for start in range(0, self.outer.shape[0], self.chunk):
            stop = start + self.chunk
            mu = mean_shifted[:, start:stop].T  # (p, d)
            scatter = self.outer[start:stop].double() - n * mu[:, :, None] * mu[:, None, :]
            covariance = scatter / (n - 1) + (EPSILON + STABILISER) * identity
            # Cholesky, not torch.linalg.inv: the matrices are symmetric positive definite, and
            # torch's batched LU inverse on this CPU (MKL) build is wrong above ~150 rows.
            cholesky = torch.linalg.cholesky(covariance)
            self.outer[start:stop] = torch.cholesky_inverse(cholesky).float()
        mean = (self.shift.double() + mean_shifted).float()
        return mean, self.outer


def _anomalib_model(backbone: str, params: PadimParams, total: int) -> PadimModel:
    """anomalib's PadimModel for `backbone`, without its own (unused) feature extractor."""
    if params.n_features > total:
        raise ConfigError(
            f"padim n_features={params.n_features} exceeds the {total} channels of layers "
            f"{list(params.layers)} on {backbone}; use at most {total} (paper: 100 R18, 550 WR50)"
        )
    with torch.random.fork_rng(devices=[]):
        model = PadimModel(
            backbone=backbone,
            layers=list(params.layers),
            pre_trained=False,
            n_features=params.n_features,
        )
    if model.n_features_original != total:
        raise ConfigError(
            f"padim: anomalib sees {model.n_features_original} channels in {backbone} layers "
            f"{list(params.layers)}, the feature source {total}"
        )
    # Features come from our FeatureSource: free anomalib's randomly initialised extractor
    # (its forward() is never called; fit and score use its pieces directly).
    del model.feature_extractor
    return model.eval()


def _read_stats(path: Path) -> dict[str, torch.Tensor]:
    stats = read_tensors(path, "padim statistics", mmap=True)
    if set(stats) != {"idx", "mean", "inv_covariance"}:
        raise ResultsError(f"{path}: expected idx, mean and inv_covariance tensors")
    return stats
