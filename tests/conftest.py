"""Shared fixtures: small MVTec-layout trees made on the fly (no network, no real dataset)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
MAX_WORKERS = 8  # each pytest-xdist worker imports torch: more would cost memory, not time


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`--numprocesses auto`: one worker per core this process may run on (its CPU affinity, as
    `nproc` counts; not the host's physical cores, which psutil would give), at most MAX_WORKERS."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


def pytest_configure(config: pytest.Config) -> None:
    """In a pytest-xdist worker, when the workers take every core: torch on one thread. Two
    workers of two threads each on two cores slow each other (OpenMP's threads spin while they
    wait); the workers are the parallelism. Processes the tests start keep torch's default."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if "PYTEST_XDIST_WORKER" in os.environ and workers >= len(os.sched_getaffinity(0)):
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `long` first, the rest in their order: pytest-xdist hands files out in
    this order, so the longest start at once and the workers finish together."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tests share two cores with other jobs: run torch single-threaded, then restore."""
    import torch  # here: collecting the tests that need no model imports no torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TreeFactory = Callable[..., Path]


def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def build_tree(
    root: Path,
    categories: tuple[str, ...] = ("alpha", "beta"),
    size: int = 48,
    n_train: int = 5,
    n_good: int = 3,
    defects: tuple[str, ...] = ("scratch", "dent"),
    n_defect: int = 3,
    masks: bool = True,
    seed: int = 0,
) -> Path:
    """Write a small MVTec-layout tree of noise images with square defects and exact masks."""
    rng = np.random.default_rng(seed)
    for category in categories:
        for i in range(n_train):
            _write(root / category / "train/good" / f"{i:03d}.png", _noise(rng, size))
        for i in range(n_good):
            _write(root / category / "test/good" / f"{i:03d}.png", _noise(rng, size))
        for defect in defects:
            for i in range(n_defect):
                image = _noise(rng, size)
                mask = np.zeros((size, size), np.uint8)
                top, left = rng.integers(4, size - 16, 2)
                mask[top : top + 10, left : left + 10] = 255
                image[mask > 0] = 255
                _write(root / category / "test" / defect / f"{i:03d}.png", image)
                if masks:
                    _write(root / category / "ground_truth" / defect / f"{i:03d}_mask.png", mask)
    return root


def _noise(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.integers(60, 140, (size, size, 3), dtype=np.uint8)


@pytest.fixture
def make_tree(tmp_path: Path) -> TreeFactory:
    """Factory: `make_tree(name="data", **build_tree options)` -> root path under tmp_path."""

    def factory(name: str = "data", **options: object) -> Path:
        return build_tree(tmp_path / name, **options)  # type: ignore[arg-type]

    return factory
