"""Shared detector fixtures: small images of smooth noise with a red square defect (PaDiM's
and anomalib's models are checked against anomalib on them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from evalsuite.data.samples import Sample

PatchImages = Callable[..., dict[str, list[Sample]]]


@pytest.fixture(scope="session")
def patch_images(tmp_path_factory: pytest.TempPathFactory) -> PatchImages:
    """Factory: `patch_images(name, size=, sigma=, n_train=, patch=)` writes `n_train` normal
    train images of smooth noise (blurred by `sigma` px), 4 normal and 4 anomalous test ones
    (a red square at `patch`, (rows, columns) slices) under a new folder `name`, and returns
    {"train": samples, "test": the 4 normal then the 4 anomalous samples}."""

    def make(
        name: str, *, size: int, sigma: float, n_train: int, patch: tuple[slice, slice]
    ) -> dict[str, list[Sample]]:
        folder = tmp_path_factory.mktemp(name)
        rng = np.random.default_rng(0)

        def smooth() -> np.ndarray:
            noise = gaussian_filter(rng.normal(size=(size, size, 3)), sigma=(sigma, sigma, 0))
            noise = (noise - noise.min()) / (noise.max() - noise.min())
            return (60 + 120 * noise).astype(np.uint8)

        train = [_write(folder, f"train{i}", smooth(), 0) for i in range(n_train)]
        good = [_write(folder, f"good{i}", smooth(), 0) for i in range(4)]
        bad = []
        for i in range(4):
            image = smooth()
            image[patch] = (230, 30, 30)
            bad.append(_write(folder, f"bad{i}", image, 1))
        return {"train": train, "test": good + bad}

    return make


def _write(folder: Path, name: str, array: np.ndarray, label: int) -> Sample:
    path = folder / f"{name}.png"
    Image.fromarray(array).save(path)
    split = "train" if name.startswith("train") else "test"
    defect = "patch" if label else "good"
    return Sample(f"thing/{split}/{defect}/{name}", path, "thing", split, label, defect, None)
