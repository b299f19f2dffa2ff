"""PatchCore (Roth et al., CVPR 2022): backbone patches -> greedy coreset -> faiss memory bank."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from evalsuite import progress
from evalsuite.atomic import write_bytes, write_json
from evalsuite.data.samples import Sample
from evalsuite.detectors.base import FeatureSource, Scores
from evalsuite.detectors.patchcore.coreset import select_coreset
from evalsuite.detectors.patchcore.embedding import embed
from evalsuite.detectors.patchcore.memory_bank import MemoryBank
from evalsuite.detectors.patchcore.params import PatchCoreParams
from evalsuite.detectors.patchcore.scorer import anomaly_maps, image_scores
from evalsuite.detectors.threads import limit_threads
from evalsuite.errors import DatasetError, EvalsuiteError, ResultsError

STATE_FILE = "patchcore.json"
BANK_FILE = "memory_bank.npy"
CATEGORIES_FILE = "memory_categories.npy"
FORMAT_VERSION = 1


class PatchCore:
    """PatchCore with an exact faiss memory bank; implements the Detector protocol.

    Args:
        params: hyperparameters.
        features: where backbone features come from (a FeatureCache in runs).
        seed: seeds the coreset's random projection and start point.
        threads: CPU threads (torch and faiss) for fit, score and nearest_categories, set
            for their duration; None keeps the process's settings. See `limit_threads`.
        batch_size: images per feature batch.

    Attributes (after `fit` or `load`):
        memory_categories: (M,) int64, index into `categories` of every memory patch's
            training image (for the unified scope and the identical-shortcut analysis).
        categories: sorted categories of the training samples.
        patch_grid: (h, w) of the patch grid (the first layer's feature map).
        num_train_patches: patches collected before the coreset.
    """

    def __init__(
        self,
        params: PatchCoreParams,
        features: FeatureSource,
        seed: int,
        *,
        threads: int | None = None,
        batch_size: int = 16,
    ) -> None:
        self.params = params
        self.features = features
        self.seed = seed
        self.threads = threads
        self.batch_size = batch_size
        self.bank: MemoryBank | None = None
        self.memory_categories = np.empty(0, dtype=np.int64)
        self.categories: list[str] = []
        self.patch_grid: tuple[int, int] = (0, 0)
        self.num_train_patches = 0

    def fit(self, samples: Sequence[Sample]) -> None:
        """Build the memory bank from normal training samples (of one or several categories).

        The patch features of all samples fill one preallocated (P, D) float32 array batch by
        batch; the coreset keeps int(P * coreset_ratio) rows of it.
        """
        if not samples:
            raise DatasetError("patchcore fit: no training samples; check the train split")
        self.categories = sorted({sample.category for sample in samples})
        image_categories = np.array(
            [self.categories.index(sample.category) for sample in samples], dtype=np.int64
        )
        with limit_threads(self.threads):
            patches = self._collect(samples)
            coreset = select_coreset(
                patches,
                self.params.coreset_ratio,
                self.params.coreset_projection_dim,
                self.seed,
            )
        per_image = self.patch_grid[0] * self.patch_grid[1]
        self.num_train_patches = patches.shape[0]
        self.memory_categories = image_categories[coreset.indices // per_image]
        keep_all = coreset.indices.shape[0] == patches.shape[0]  # ratio 1: no copy
        self.bank = MemoryBank(patches if keep_all else patches[coreset.indices])

    def score(self, samples: Sequence[Sample]) -> Scores:
        """Image scores (N,) by Eq. 6-7 and anomaly maps (N, H, W) at the input size."""
        bank = self._fitted_bank()
        height, width = self.features.input_size
        image = np.empty(len(samples), dtype=np.float32)
        maps = np.empty((len(samples), height, width), dtype=np.float32)
        start = 0
        with limit_threads(self.threads):
            for batch in progress.track(
                self._iter_patches(samples), -(-len(samples) // self.batch_size), "score", "batch"
            ):
                size = batch.shape[0]
                image[start : start + size], maps[start : start + size] = self._score_batch(
                    batch, bank, (height, width)
                )
                start += size
        self._check_count(start, samples)
        return Scores(image=image, maps=maps)

    def _score_batch(
        self, batch: np.ndarray, bank: MemoryBank, size: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Image scores (B,) and maps (B, H, W) of one batch of patches (B, h, w, D)."""
        count, grid_h, grid_w, dim = batch.shape
        distances, indices = _search(bank, batch.reshape(-1, dim))
        patch_scores = distances[:, 0].reshape(count, grid_h * grid_w)
        image = image_scores(
            patch_scores,
            indices[:, 0].reshape(count, -1),
            batch.reshape(count, grid_h * grid_w, dim),
            bank,
            self.params.num_neighbors,
        )
        maps = anomaly_maps(patch_scores.reshape(count, grid_h, grid_w), size, self.params.sigma)
        return image, maps

    def nearest_categories(self, samples: Sequence[Sample]) -> np.ndarray:
        """Category of every test patch's nearest memory patch (identical-shortcut analysis).

        Returns:
            (N, h, w) int64 indices into `categories`; (h, w) is `patch_grid`.
        """
        bank = self._fitted_bank()
        result: list[np.ndarray] = []
        with limit_threads(self.threads):
            for batch in self._iter_patches(samples):
                _, indices = _search(bank, batch.reshape(-1, batch.shape[-1]))
                result.append(self.memory_categories[indices[:, 0]].reshape(batch.shape[:3]))
        self._check_count(sum(len(part) for part in result), samples)
        return np.concatenate(result) if result else np.empty((0, *self.patch_grid), np.int64)

    def save(self, directory: Path) -> None:
        """Write memory_bank.npy, memory_categories.npy and patchcore.json (last) to `directory`."""
        bank = self._fitted_bank()
        _write_npy(directory / BANK_FILE, bank.features)
        _write_npy(directory / CATEGORIES_FILE, self.memory_categories)
        write_json(
            directory / STATE_FILE,
            {
                "format": FORMAT_VERSION,
                "detector": "patchcore",
                "params": self.params.model_dump(mode="json"),
                "seed": self.seed,
                "categories": self.categories,
                "patch_grid": list(self.patch_grid),
                "num_train_patches": self.num_train_patches,
            },
        )

    @classmethod
    def load(
        cls, directory: Path, features: FeatureSource, *, threads: int | None = None
    ) -> PatchCore:
        """A fitted PatchCore from `save`'s files; the faiss index is rebuilt from the bank."""
        state = _read_state(directory / STATE_FILE)
        try:
            params = PatchCoreParams(**state["params"])
            model = cls(params, features, int(state["seed"]), threads=threads)
            model.categories = [str(name) for name in state["categories"]]
            model.patch_grid = (int(state["patch_grid"][0]), int(state["patch_grid"][1]))
            model.num_train_patches = int(state["num_train_patches"])
        except (KeyError, TypeError, IndexError, ValueError) as error:
            raise ResultsError(
                f"{directory / STATE_FILE}: incomplete patchcore state ({error!r}); "
                "fit the model again (--force)"
            ) from error
        bank = _read_npy(directory / BANK_FILE)
        model.memory_categories = _read_npy(directory / CATEGORIES_FILE).astype(np.int64)
        if bank.ndim != 2 or model.memory_categories.shape != (bank.shape[0],):
            raise ResultsError(
                f"{directory}: memory bank {bank.shape} and categories "
                f"{model.memory_categories.shape} do not match; fit the model again (--force)"
            )
        model.bank = MemoryBank(bank)
        return model

    def _collect(self, samples: Sequence[Sample]) -> np.ndarray:
        """(P, D) float32 patch features of `samples`, P = N * h * w, filled batch by batch."""
        patches: np.ndarray | None = None
        start = 0
        for batch in self._iter_patches(samples):
            _, grid_h, grid_w, dim = batch.shape
            if patches is None:
                self.patch_grid = (grid_h, grid_w)
                patches = np.empty((len(samples) * grid_h * grid_w, dim), dtype=np.float32)
            rows = batch.reshape(-1, dim)
            patches[start : start + rows.shape[0]] = rows
            start += rows.shape[0]
        if patches is None:
            raise EvalsuiteError("patchcore fit: the feature source yielded no features")
        self._check_count(start // (self.patch_grid[0] * self.patch_grid[1]), samples)
        return patches

    def _iter_patches(self, samples: Sequence[Sample]) -> Iterator[np.ndarray]:
        """Patch features batch by batch: (B, h, w, D) float32 numpy arrays."""
        batches = self.features.iter_features(samples, self.params.layers, self.batch_size)
        for features in batches:
            with torch.inference_mode():
                patches = embed(
                    features, self.params.layers, self.params.neighbourhood, self.params.target_dim
                )
            yield patches.numpy()

    def _fitted_bank(self) -> MemoryBank:
        if self.bank is None:
            raise EvalsuiteError("patchcore: the memory bank is empty; call fit() or load() first")
        return self.bank

    @staticmethod
    def _check_count(count: int, samples: Sequence[Sample]) -> None:
        if count != len(samples):
            raise EvalsuiteError(
                f"patchcore: the feature source yielded {count} images for {len(samples)} "
                "samples; it must yield every sample once, in order"
            )


def _search(bank: MemoryBank, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest memory patch of every row of `patches` (P, D): distances and indices, (P, 1)."""
    if patches.shape[1] != bank.dim:
        raise EvalsuiteError(
            f"patchcore: test patches have dimension {patches.shape[1]}, the memory bank "
            f"{bank.dim}; the features (backbone, layers) differ from those it was fitted on"
        )
    return bank.search(patches, k=1)


def _write_npy(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    write_bytes(path, buffer.getvalue())


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        message = f"{path}: missing or unreadable ({error}); fit the model again"
        raise ResultsError(message) from error


def _read_state(path: Path) -> dict:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        message = f"{path}: missing or unreadable ({error}); fit the model again"
        raise ResultsError(message) from error
    if not isinstance(state, dict) or state.get("detector") != "patchcore":
        raise ResultsError(f"{path}: not a patchcore state file; point to a saved patchcore model")
    if state.get("format") != FORMAT_VERSION:
        raise ResultsError(
            f"{path}: state format {state.get('format')!r}, expected {FORMAT_VERSION}; "
            "fit the model again"
        )
    return state
