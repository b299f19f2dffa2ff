"""Fixtures of the evaluation tests: small random anomaly maps with blob-shaped defect masks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

BlobFactory = Callable[..., tuple[np.ndarray, np.ndarray]]


def make_blob_maps(
    seed: int, n: int = 4, size: int = 16, n_normal: int = 1, ties: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Random maps (n, size, size) and masks with 1-2 disc defects in the first n - n_normal
    images; defect pixels score higher on average. `ties` rounds the maps to quarters."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    masks = np.zeros((n, size, size), dtype=bool)
    for i in range(n - n_normal):
        for _ in range(int(rng.integers(1, 3))):
            cy, cx = rng.integers(0, size, 2)
            radius = rng.integers(1, 4)
            masks[i] |= (yy - cy) ** 2 + (xx - cx) ** 2 <= radius * radius
    maps = rng.random((n, size, size)) + masks * rng.uniform(0.0, 1.0)
    if ties:
        maps = np.round(maps * 4) / 4
    return maps, masks


@pytest.fixture
def blobs() -> BlobFactory:
    """Factory: `blobs(seed, n=4, size=16, n_normal=1, ties=False)` -> (maps, masks)."""
    return make_blob_maps
