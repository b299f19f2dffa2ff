"""Greedy coreset selections shared across a coreset sweep.

With the same features, seed, projection and start, Algorithm 1's selection of M points is
the first M points of its selection of any M' > M (each step depends only on the steps
before). A sweep over coreset ratios therefore runs the greedy once, to the largest size, and
cuts every smaller coreset from it. The caller keys a store by everything the selection
depends on (features, seed, projection dimension, device); the store itself only checks that
a stored selection is whole and was made on as many points.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from evalsuite.atomic import write_bytes, write_json
from evalsuite.detectors.patchcore.greedy import Coreset

INDICES_FILE = "indices.npy"
RADII_FILE = "radii.npy"
STATE_FILE = "selection.json"


@runtime_checkable
class SelectionStore(Protocol):
    """Where a greedy selection, longer than the coreset at hand, is kept."""

    def load(self, size: int, num_points: int) -> Coreset | None:
        """A stored selection over `num_points` points of at least `size` points, cut to the
        first `size`; None when absent, too short, made on other points or unreadable."""
        ...

    def save(self, coreset: Coreset, num_points: int) -> None:
        """Keep `coreset`, a greedy selection over `num_points` points."""
        ...

    def child(self, name: str) -> SelectionStore:
        """A store of its own for one part of the points (one category's patches), kept
        inside this one."""
        ...


class MemorySelectionStore:
    """A SelectionStore in memory (one process, e.g. a sweep in one worker; tests)."""

    def __init__(self) -> None:
        self._stored: dict[int, Coreset] = {}
        self._children: dict[str, MemorySelectionStore] = {}

    def load(self, size: int, num_points: int) -> Coreset | None:
        """See `SelectionStore.load`."""
        stored = self._stored.get(num_points)
        if stored is None or stored.indices.shape[0] < size:
            return None
        return Coreset(indices=stored.indices[:size].copy(), radii=stored.radii[:size].copy())

    def save(self, coreset: Coreset, num_points: int) -> None:
        """See `SelectionStore.save`."""
        self._stored[num_points] = coreset

    def child(self, name: str) -> SelectionStore:
        """See `SelectionStore.child`."""
        return self._children.setdefault(name, MemorySelectionStore())


class FileSelectionStore:
    """A SelectionStore in a directory: indices.npy, radii.npy and selection.json (written last).

    Every file is written atomically; selection.json records num_points, the size and the
    SHA-256 of both arrays' .npy bytes, so a store half overwritten, edited or made on other
    features is ignored (the greedy runs again and replaces it), never trusted. No pickle.

    Args:
        directory: the store's folder, created on the first save.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def load(self, size: int, num_points: int) -> Coreset | None:
        """See `SelectionStore.load`."""
        try:
            state = json.loads((self.directory / STATE_FILE).read_text(encoding="utf-8"))
            indices_bytes = (self.directory / INDICES_FILE).read_bytes()
            radii_bytes = (self.directory / RADII_FILE).read_bytes()
            if (
                not isinstance(state, dict)
                or state.get("num_points") != num_points
                or state.get("sha256") != _digest(indices_bytes, radii_bytes)
            ):
                return None
            indices = np.load(io.BytesIO(indices_bytes), allow_pickle=False)
            radii = np.load(io.BytesIO(radii_bytes), allow_pickle=False)
            stored = int(state.get("size", -1))
        except (OSError, ValueError, TypeError):
            return None
        if not _valid(indices, radii, stored, num_points) or stored < size:
            return None
        return Coreset(indices=indices[:size].copy(), radii=radii[:size].copy())

    def save(self, coreset: Coreset, num_points: int) -> None:
        """See `SelectionStore.save`."""
        indices_bytes = _npy(coreset.indices.astype(np.int64, copy=False))
        radii_bytes = _npy(coreset.radii.astype(np.float32, copy=False))
        write_bytes(self.directory / INDICES_FILE, indices_bytes)
        write_bytes(self.directory / RADII_FILE, radii_bytes)
        write_json(
            self.directory / STATE_FILE,
            {
                "num_points": num_points,
                "size": int(coreset.indices.shape[0]),
                "sha256": _digest(indices_bytes, radii_bytes),
            },
        )

    def child(self, name: str) -> SelectionStore:
        """See `SelectionStore.child`: the folder `part-<name>` inside this store's folder."""
        return FileSelectionStore(self.directory / f"part-{name}")


def _valid(indices: np.ndarray, radii: np.ndarray, size: int, num_points: int) -> bool:
    """Whether arrays read back form a selection of `size` distinct rows of `num_points`."""
    if indices.dtype != np.int64 or radii.dtype != np.float32:
        return False
    if indices.shape != (size,) or radii.shape != (size,) or size < 1:
        return False
    in_range = bool(indices.min() >= 0) and bool(indices.max() < num_points)
    return in_range and np.unique(indices).shape[0] == size


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()
