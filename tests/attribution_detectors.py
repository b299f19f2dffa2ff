"""Planted detectors and data for the attribution's checks (tests/test_attribution_planted.py).

The images: a dark background with one bright disc. A normal image has its disc at one place
and a dark background; a defective image has a brighter background AND its disc moved a few
pixels. So two detectors see the same defects through different evidence:

- `Brightness` scores an image by its mean brightness alone: a photometric change (exposure,
  gamma, a spotlight) moves it; a geometric one (the background is uniform, borders mirrored, the
  disc small) hardly does.
- `Position` scores an image by how far its brightest pixels' centroid lies from the training
  images': a geometric change moves it; a photometric one (which keeps the disc the brightest
  spot and moves no pixel) does not.

Both anomaly maps are the image's score everywhere (a constant map).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image
from scipy import ndimage

from evalsuite.data.samples import Sample
from evalsuite.detectors.base import ImageSource, Scores
from evalsuite.detectors.params import ImageParams
from evalsuite.detectors.plugins import Declarations

SIZE = 64
CENTRE = (22.0, 22.0)  # (row, col) of a normal image's disc: off-centre, so a turn moves it
RADIUS = 6.0
TOP_PIXELS = 60


class PlantedParams(ImageParams):
    config_name: ClassVar[str] = "planted params"


class _Planted(ABC):
    """The plumbing both planted detectors share: images in, one score per image, constant maps."""

    params_class = PlantedParams
    declares = Declarations(inputs="images")

    def __init__(
        self, params: PlantedParams, images: ImageSource, seed: int, *, device: object = None
    ) -> None:
        self.params, self.images = params, images
        self.reference = np.zeros(2)

    def _gray(self, samples: Sequence[Sample]) -> np.ndarray:
        """(N, H, W) the images' mean over channels."""
        batches = [b.mean(dim=1).numpy() for b in self.images.iter_images(samples, batch_size=16)]
        return np.concatenate(batches).astype(np.float64)

    @abstractmethod
    def feature(self, gray: np.ndarray) -> np.ndarray:
        """(N, H, W) grey images -> (N, K) what the detector sees of each."""

    def fit(self, samples: Sequence[Sample]) -> None:
        self.reference = self.feature(self._gray(samples)).mean(axis=0)

    def score(self, samples: Sequence[Sample]) -> Scores:
        gray = self._gray(samples)
        image = self.image_scores(self.feature(gray)).astype(np.float32)
        maps = np.broadcast_to(image[:, None, None], gray.shape).astype(np.float32)
        return Scores(image=image, maps=np.ascontiguousarray(maps))

    @abstractmethod
    def image_scores(self, feature: np.ndarray) -> np.ndarray:
        """(N, K) features -> (N,) image scores against the fitted reference."""

    def save(self, directory: Path) -> None:
        np.save(directory / "reference.npy", self.reference, allow_pickle=False)
        (directory / "params.json").write_text(json.dumps(self.params.model_dump(mode="json")))

    @classmethod
    def load(cls, directory: Path, images: ImageSource, *, device: object = None) -> _Planted:
        params = PlantedParams.model_validate(json.loads((directory / "params.json").read_text()))
        model = cls(params, images, 0, device=device)
        model.reference = np.load(directory / "reference.npy", allow_pickle=False)
        return model


class Brightness(_Planted):
    """Image score: the image's mean brightness (brighter = more anomalous)."""

    def feature(self, gray: np.ndarray) -> np.ndarray:
        return gray.mean(axis=(1, 2))[:, None]

    def image_scores(self, feature: np.ndarray) -> np.ndarray:
        return feature[:, 0]


class Position(_Planted):
    """Image score: the distance of the brightest pixels' centroid (after a 5x5 box blur, the
    `TOP_PIXELS` brightest) from the training images' mean centroid."""

    def feature(self, gray: np.ndarray) -> np.ndarray:
        rows, cols = np.mgrid[0 : gray.shape[1], 0 : gray.shape[2]]
        out = []
        for image in gray:
            smooth = ndimage.uniform_filter(image, size=5, mode="nearest").ravel()
            top = np.argpartition(smooth, -TOP_PIXELS)[-TOP_PIXELS:]
            out.append([rows.ravel()[top].mean(), cols.ravel()[top].mean()])
        return np.array(out)

    def image_scores(self, feature: np.ndarray) -> np.ndarray:
        return np.hypot(*(feature - self.reference).T)


def _disc(centre: tuple[float, float], background: float) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 image of a bright anti-aliased disc on a uniform background, and its
    (H, W) uint8 mask (255 inside)."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    distance = np.hypot(rows - centre[0], cols - centre[1])
    inside = np.clip(RADIUS + 0.5 - distance, 0.0, 1.0)
    gray = background + (0.7 - background) * inside
    image = np.repeat(np.round(gray * 255)[..., None], 3, axis=2).astype(np.uint8)
    return image, ((inside > 0.5) * 255).astype(np.uint8)


def write_discs(
    root: Path,
    categories: tuple[str, ...] = ("disc",),
    n_train: int = 10,
    n_good: int = 40,
    n_defect: int = 40,
) -> Path:
    """An MVTec-layout tree of such images (seeded), one folder per category, exact masks."""
    for index, category in enumerate(categories):
        _write_category(root / category, 7 + index, n_train, n_good, n_defect)
    return root


def _write_category(folder: Path, seed: int, n_train: int, n_good: int, n_defect: int) -> None:
    rng = np.random.default_rng(seed)

    def save(relpath: str, array: np.ndarray) -> None:
        path = folder / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path)

    def normal() -> np.ndarray:
        centre = (CENTRE[0] + rng.uniform(-0.5, 0.5), CENTRE[1] + rng.uniform(-0.5, 0.5))
        return _disc(centre, rng.uniform(0.08, 0.11))[0]

    for i in range(n_train):
        save(f"train/good/{i:03d}.png", normal())
    for i in range(n_good):
        save(f"test/good/{i:03d}.png", normal())
    for i in range(n_defect):
        angle, length = rng.uniform(0, 2 * np.pi), rng.uniform(3.0, 4.0)
        centre = (CENTRE[0] + length * np.sin(angle), CENTRE[1] + length * np.cos(angle))
        image, mask = _disc(centre, rng.uniform(0.14, 0.17))
        save(f"test/moved/{i:03d}.png", image)
        save(f"ground_truth/moved/{i:03d}_mask.png", mask)
