"""PatchCore (Roth et al., CVPR 2022): backbone patches -> greedy coreset -> memory bank."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from evalsuite import progress
from evalsuite.atomic import write_json
from evalsuite.data.samples import Sample
from evalsuite.detectors.base import FeatureSource, Scores
from evalsuite.detectors.patchcore.bank_selection import bank_rows
from evalsuite.detectors.patchcore.embedding import embed
from evalsuite.detectors.patchcore.evidence import PatchEvidence
from evalsuite.detectors.patchcore.memory_bank import MemoryBank, SearchSettings
from evalsuite.detectors.patchcore.params import PatchCoreParams
from evalsuite.detectors.patchcore.scorer import anomaly_maps, scores_of_worst, worst_positions
from evalsuite.detectors.patchcore.selection_store import FileSelectionStore, SelectionStore
from evalsuite.detectors.patchcore.state import (
    BANK_FILE,
    CATEGORIES_FILE,
    FORMAT_VERSION,
    STATE_FILE,
    read_npy,
    read_state,
    write_npy,
)
from evalsuite.detectors.threads import limit_threads
from evalsuite.errors import ConfigError, DatasetError, EvalsuiteError, ResultsError


class PatchCore:
    """PatchCore with an exact memory bank (faiss on the CPU, torch on a GPU); a Detector.

    Test images are searched once (`search`, giving `PatchEvidence`) and scored from that
    evidence (`scores_from`) for any b of Eq. 7 and any sigma; `score` is the two in a row.

    Args:
        params: hyperparameters.
        features: where backbone features come from (a FeatureCache in runs).
        seed: seeds the coreset's random projection and start point.
        threads: CPU threads (torch and faiss) for fit, score and nearest_categories, set
            for their duration; None keeps the process's settings. See `limit_threads`. HNSW
            graphs are built on one thread whatever this says (the runner passes 1 anyway).
        batch_size: images per feature batch.
        device: where embedding, the greedy coreset and exact search run; None means the CPU
            (faiss and numpy, bit-identical to the CPU-only implementation). On a CUDA device
            results equal the CPU's within float tolerance (near ties may break differently).

    Attributes (after `fit` or `load`):
        memory_categories: (M,) int64, index into `categories` of every memory patch's
            training image (for the unified scope and the identical-shortcut analysis).
        categories: sorted categories of the training samples.
        patch_grid: (h, w) of the patch grid (the first layer's feature map).
        num_train_patches: patches collected before the coreset.
        searched_images: test images this instance has searched (`search`, `score`,
            `nearest_categories`), for the runner to report work done.
    """

    SEARCH_PARAMS: ClassVar[frozenset[str]] = PatchCoreParams.SEARCH_PARAMS
    """Params that change only the search evidence, never the fitted bank."""
    SCORING_PARAMS: ClassVar[frozenset[str]] = PatchCoreParams.SCORING_PARAMS
    """Params that change only scoring from the evidence (Eq. 7's b, the map's sigma)."""

    def __init__(
        self,
        params: PatchCoreParams,
        features: FeatureSource,
        seed: int,
        *,
        threads: int | None = None,
        batch_size: int = 16,
        device: torch.device | str | None = None,
    ) -> None:
        self.params = params
        self.features = features
        self.seed = seed
        self.threads = threads
        self.batch_size = batch_size
        self.device = _device(device)
        self.bank: MemoryBank | None = None
        self.memory_categories = np.empty(0, dtype=np.int64)
        self.categories: list[str] = []
        self.patch_grid: tuple[int, int] = (0, 0)
        self.num_train_patches = 0
        self.searched_images = 0

    def fit(
        self,
        samples: Sequence[Sample],
        *,
        selection: SelectionStore | None = None,
        selection_size: int | None = None,
    ) -> None:
        """Build the memory bank from normal training samples (of one or several categories).

        The patch features of all samples fill one preallocated (P, D) float32 array batch by
        batch; the coreset keeps int(P * coreset_ratio) rows of it (`bank_selection`).

        Args:
            samples: the training samples.
            selection: a store of greedy selections shared by a coreset-ratio sweep over the
                same samples, seed, features and projection dimension (the caller keys it):
                a stored selection long enough is cut to this fit's size (bit-identical to
                running the greedy), else the greedy runs to `selection_size` and is stored.
            selection_size: points to select when the store has too few, e.g. the sweep's
                largest int(P * ratio); None means this fit's own size.
        """
        if not samples:
            raise DatasetError("patchcore fit: no training samples; check the train split")
        self.categories = sorted({sample.category for sample in samples})
        image_categories = np.array(
            [self.categories.index(sample.category) for sample in samples], dtype=np.int64
        )
        with limit_threads(self.threads):
            patches = self._collect(samples)
            per_image = self.patch_grid[0] * self.patch_grid[1]
            indices = bank_rows(
                patches,
                image_categories,
                self.categories,
                per_image,
                self.params,
                self.seed,
                device=self.device,
                selection=selection,
                selection_size=selection_size,
            )
        self.num_train_patches = patches.shape[0]
        self.memory_categories = image_categories[indices // per_image]
        keep_all = indices.shape[0] == patches.shape[0]  # ratio 1: no copy
        self.bank = self._make_bank(patches if keep_all else patches[indices])

    def fit_shared(self, samples: Sequence[Sample], directory: Path) -> None:
        """`fit` with the greedy selection a coreset-ratio sweep's fits share, in `directory`."""
        self.fit(samples, selection=FileSelectionStore(directory))

    def score(self, samples: Sequence[Sample]) -> Scores:
        """Image scores (N,) by Eq. 6-7 and anomaly maps (N, H, W) at the input size.

        Exactly `scores_from(search(samples))`.
        """
        return self.scores_from(self.search(samples))

    def search(
        self, samples: Sequence[Sample], params: PatchCoreParams | None = None
    ) -> PatchEvidence:
        """Search every test patch's nearest memory patch, once per image.

        Args:
            samples: the test samples.
            params: only its search settings (`SEARCH_PARAMS`) are used; None means
                `self.params`. Layers, p and the projection always come from `self.params`.

        Returns:
            The evidence of the N images, in sample order.
        """
        bank = self._fitted_bank()
        settings = SearchSettings.of(params if params is not None else self.params)
        distances: list[np.ndarray] = []
        nn_indices: list[np.ndarray] = []
        worst_patches: list[np.ndarray] = []
        with limit_threads(self.threads):
            for batch in progress.track(
                self._iter_patches(samples), -(-len(samples) // self.batch_size), "search", "batch"
            ):
                count, grid_h, grid_w, dim = batch.shape
                found, rows = _search(bank, batch.reshape(-1, dim), settings)
                patch_scores = found[:, 0].reshape(count, grid_h * grid_w)
                worst = worst_positions(patch_scores)  # m^{test,*} of every image, Eq. 6
                worst_patches.append(batch.reshape(count, -1, dim)[np.arange(count), worst])
                distances.append(patch_scores.reshape(count, grid_h, grid_w))
                nn_indices.append(rows[:, 0].reshape(count, grid_h, grid_w))
                self.searched_images += count
        self._check_count(sum(len(part) for part in distances), samples)
        if not distances:
            return PatchEvidence(
                distances=np.empty((0, *self.patch_grid), np.float32),
                nn_indices=np.empty((0, *self.patch_grid), np.int64),
                worst_patches=np.empty((0, bank.dim), np.float32),
            )
        return PatchEvidence(
            distances=np.concatenate(distances),
            nn_indices=np.concatenate(nn_indices),
            worst_patches=np.concatenate(worst_patches),
        )

    def scores_from(self, evidence: PatchEvidence, params: PatchCoreParams | None = None) -> Scores:
        """Image scores (Eq. 6-7) and anomaly maps from `search`'s evidence; no test search.

        Only Eq. 7's support search N_b(m*) queries the bank (with `params`' search
        settings). Images are scored `batch_size` at a time, as `score` always did, so the
        bank sees the same queries in the same groups: the results are bit-identical.

        Args:
            evidence: from `search` on this fit.
            params: b (`num_neighbors`), `sigma` and the support search's settings; None
                means `self.params`.

        Returns:
            image (N,) float32 and maps (N, H, W) float32 at the input size.
        """
        params = params if params is not None else self.params
        bank = self._fitted_bank()
        settings = SearchSettings.of(params)
        height, width = self.features.input_size
        count = len(evidence)
        image = np.empty(count, dtype=np.float32)
        maps = np.empty((count, height, width), dtype=np.float32)
        with limit_threads(self.threads):
            for start in range(0, count, self.batch_size):
                stop = min(start + self.batch_size, count)
                patch_scores = evidence.distances[start:stop].reshape(stop - start, -1)
                rows = np.arange(stop - start)
                worst = worst_positions(patch_scores)
                image[start:stop] = scores_of_worst(
                    patch_scores[rows, worst],  # s*, Eq. 6
                    evidence.nn_indices[start:stop].reshape(stop - start, -1)[rows, worst],
                    evidence.worst_patches[start:stop],
                    bank,
                    params.num_neighbors,
                    settings,
                )
                maps[start:stop] = anomaly_maps(
                    evidence.distances[start:stop], (height, width), params.sigma
                )
        return Scores(image=image, maps=maps)

    def nearest_categories(self, samples: Sequence[Sample]) -> np.ndarray:
        """Category of every test patch's nearest memory patch (identical-shortcut analysis).

        Returns:
            (N, h, w) int64 indices into `categories`; (h, w) is `patch_grid`.
        """
        return self.nearest_categories_from(self.search(samples))

    def nearest_categories_from(self, evidence: PatchEvidence) -> np.ndarray:
        """`nearest_categories` from `search`'s evidence, without searching again.

        Returns:
            (N, h, w) int64 indices into `categories`.
        """
        self._fitted_bank()
        return self.memory_categories[evidence.nn_indices]

    def save(self, directory: Path) -> None:
        """Write memory_bank.npy, memory_categories.npy and patchcore.json (last) to `directory`."""
        bank = self._fitted_bank()
        write_npy(directory / BANK_FILE, bank.features)
        write_npy(directory / CATEGORIES_FILE, self.memory_categories)
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
        cls,
        directory: Path,
        features: FeatureSource,
        *,
        threads: int | None = None,
        device: torch.device | str | None = None,
    ) -> PatchCore:
        """A fitted PatchCore from `save`'s files; the search index is rebuilt from the bank.

        Args:
            directory: where `save` wrote.
            features: the feature source (as for the constructor).
            threads: as for the constructor.
            device: as for the constructor; None means the CPU.
        """
        state = read_state(directory / STATE_FILE)
        try:
            params = PatchCoreParams(**state["params"])
            model = cls(params, features, int(state["seed"]), threads=threads, device=device)
            model.categories = [str(name) for name in state["categories"]]
            model.patch_grid = (int(state["patch_grid"][0]), int(state["patch_grid"][1]))
            model.num_train_patches = int(state["num_train_patches"])
        except (KeyError, TypeError, IndexError, ValueError) as error:
            raise ResultsError(
                f"{directory / STATE_FILE}: incomplete patchcore state ({error!r}); "
                "fit the model again (--force)"
            ) from error
        bank = read_npy(directory / BANK_FILE)
        model.memory_categories = read_npy(directory / CATEGORIES_FILE).astype(np.int64)
        if bank.ndim != 2 or model.memory_categories.shape != (bank.shape[0],):
            raise ResultsError(
                f"{directory}: memory bank {bank.shape} and categories "
                f"{model.memory_categories.shape} do not match; fit the model again (--force)"
            )
        model.bank = model._make_bank(bank)
        return model

    def _make_bank(self, features: np.ndarray) -> MemoryBank:
        return MemoryBank(features, device=self.device, settings=SearchSettings.of(self.params))

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
        on_cpu = self.device.type == "cpu"
        for features in batches:
            if not on_cpu:
                features = {name: value.to(self.device) for name, value in features.items()}
            with torch.inference_mode():
                patches = embed(
                    features, self.params.layers, self.params.neighbourhood, self.params.target_dim
                )
            yield patches.numpy() if on_cpu else patches.cpu().numpy()

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


def _device(device: torch.device | str | None) -> torch.device:
    """The torch device for `device`, None meaning the CPU; a CUDA device must exist."""
    try:
        resolved = torch.device(device) if device is not None else torch.device("cpu")
    except (RuntimeError, TypeError) as error:
        raise ConfigError(
            f"patchcore device {device!r} is not a torch device ({error}); use cpu or cuda"
        ) from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"patchcore device {device!r}: torch sees no CUDA GPU here; use device cpu (None)"
        )
    return resolved


def _search(
    bank: MemoryBank, patches: np.ndarray, settings: SearchSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest memory patch of every row of `patches` (P, D): distances and indices, (P, 1)."""
    if patches.shape[1] != bank.dim:
        raise EvalsuiteError(
            f"patchcore: test patches have dimension {patches.shape[1]}, the memory bank "
            f"{bank.dim}; the features (backbone, layers) differ from those it was fitted on"
        )
    return bank.search(patches, k=1, settings=settings)
