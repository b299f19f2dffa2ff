"""Backbone test fixtures: isolated weight caches, tiny PNGs, a random-weight ResNet-18."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from evalsuite.backbone import Backbone, BackboneConfig
from evalsuite.data.samples import Sample

SampleFactory = Callable[..., list[Sample]]


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty HF and torch hub caches, offline: no test reads the machine's real caches."""
    root = tmp_path / "caches"
    monkeypatch.setenv("HF_HUB_CACHE", str(root / "hf" / "hub"))
    monkeypatch.setenv("HF_HOME", str(root / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(root / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return root


@pytest.fixture(autouse=True)
def _single_threaded(one_thread: None) -> None:
    """Every backbone test runs torch single-threaded (tests/conftest.py's `one_thread`)."""


def smooth_image(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) uint8 low-frequency noise, like a plain textured surface."""
    noise = gaussian_filter(rng.normal(size=(size, size, 3)), sigma=(3, 3, 0))
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    return (60 + 120 * noise).astype(np.uint8)


def write_samples(folder: Path, count: int, size: int = 40, seed: int = 0) -> list[Sample]:
    """`count` normal PNG samples with distinct content under `folder`."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    samples = []
    for i in range(count):
        path = folder / f"{i:03d}.png"
        Image.fromarray(smooth_image(rng, size)).save(path)
        sample_id = f"thing/train/good/{i:03d}"
        samples.append(Sample(sample_id, path, "thing", "train", 0, "good", None))
    return samples


@pytest.fixture
def make_samples(tmp_path: Path) -> SampleFactory:
    """Factory: `make_samples(count, name="images", size=40, seed=0)` -> list of Samples."""

    def factory(count: int, name: str = "images", size: int = 40, seed: int = 0) -> list[Sample]:
        return write_samples(tmp_path / name, count, size, seed)

    return factory


@pytest.fixture(scope="module")
def resnet18() -> Backbone:
    """ResNet-18 with seeded random weights at 32 px input (no weight file needed)."""
    return Backbone.from_config(
        BackboneConfig(name="resnet18", pretrained=False, resize=32, crop=32)
    )
