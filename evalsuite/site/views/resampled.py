"""Each cell's metric on the bootstrap resamples of its paired differences, computed once per
site build: a cell takes part in several comparisons on the same test images (the clean cell in
shift − clean and in unified − per_class, ...), and with the study's resample count
(`resamples.paired_resamples`, thousands) evaluating the metric is most of a site's build.

The numbers are those of `evaluation.paired.paired_difference` bit for bit: the same counts
(`bootstrap.stratified_resamples` of the labels, `n`, `seed`), the same metric functions
(`paired.image_value`, `paired.pixel_value`), b − a of the same arrays.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Generic, TypeVar

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.bootstrap import check_level, resample_counts, stratified_resamples
from evalsuite.evaluation.paired import (
    Difference,
    ValueOf,
    difference_of,
    image_value,
    pixel_value,
)
from evalsuite.site.read.evidence import EvidenceLoader
from evalsuite.site.read.records import Cell

LEVEL = 0.95
KEPT_VALUES = 1024
"""Resampled metric vectors kept (at 20,000 resamples: 160 MB)."""
KEPT_COUNTS = 8
"""Resample count matrices kept (one per test set and seed)."""
K = TypeVar("K")
V = TypeVar("V")


class _Kept(Generic[K, V]):
    """A mapping that keeps the `size` most recently used entries."""

    def __init__(self, size: int) -> None:
        self.size, self._items = size, OrderedDict[K, V]()

    def get(self, key: K) -> V | None:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None

    def put(self, key: K, value: V) -> V:
        self._items[key] = value
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return value


class ResampledMetrics:
    """The metric of cells on shared resamples, each computed once (see the module docstring).

    Args:
        loader: reads the cells' pixel evidence.
    """

    def __init__(self, loader: EvidenceLoader) -> None:
        self.loader = loader
        self._counts: _Kept[tuple[bytes, int, int], np.ndarray] = _Kept(KEPT_COUNTS)
        self._values: _Kept[tuple[str, str, bytes, int, int], tuple[float, np.ndarray]]
        self._values = _Kept(KEPT_VALUES)

    def difference(
        self,
        a: Cell,
        b: Cell,
        metric: str,
        pairing: tuple[np.ndarray, np.ndarray, np.ndarray],
        n: int,
        seed: int,
    ) -> Difference:
        """b − a of `metric` on the images `pairing` pairs ((index into a's scores, into b's,
        labels)), `n` resamples of `seed`: `paired.paired_difference`'s result."""
        index_a, index_b, labels = pairing
        check_level(LEVEL)
        full_a, resampled_a = self._value(a, metric, index_a, labels, n, seed)
        full_b, resampled_b = self._value(b, metric, index_b, labels, n, seed)
        deltas = resampled_b - resampled_a
        values = (full_a, full_b)
        return difference_of(metric, values, deltas, labels.size, seed, LEVEL, "a paired interval")

    def _value(
        self, cell: Cell, metric: str, index: np.ndarray, labels: np.ndarray, n: int, seed: int
    ) -> tuple[float, np.ndarray]:
        key = (cell.relpath, metric, index.tobytes() + labels.tobytes(), n, seed)
        found = self._values.get(key)
        if found is not None:
            return found
        value = self._function(cell, metric, index, labels)
        full = float(value(np.ones((1, labels.size)))[0])
        return self._values.put(key, (full, value(self._resamples(labels, n, seed))))

    def _function(self, cell: Cell, metric: str, index: np.ndarray, labels: np.ndarray) -> ValueOf:
        if metric in ("image_auroc", "image_f1"):
            scores = np.array([s["score"] for s in cell.record["scores"]])[index]
            threshold = float(cell.record["threshold"]["image"]["value"])
            return image_value(metric, labels, scores, threshold)
        evidence = self.loader.load(cell).subset(index)
        if evidence.n_images != labels.size:
            raise EvaluationError(
                f"pixel evidence of {evidence.n_images} images does not match the {labels.size} "
                "labels; pair the two cells on the same test images"
            )
        return pixel_value(metric, evidence)

    def _resamples(self, labels: np.ndarray, n: int, seed: int) -> np.ndarray:
        key = (labels.tobytes(), n, seed)
        found = self._counts.get(key)
        if found is not None:
            return found
        counts = resample_counts(stratified_resamples(labels, n, seed), labels.size)
        return self._counts.put(key, counts)


_SHARED: weakref.WeakKeyDictionary[EvidenceLoader, ResampledMetrics] = weakref.WeakKeyDictionary()


def resampled(loader: EvidenceLoader) -> ResampledMetrics:
    """The metrics memo of `loader`'s site build (one per loader, gone with it)."""
    if loader not in _SHARED:
        _SHARED[loader] = ResampledMetrics(loader)
    return _SHARED[loader]
