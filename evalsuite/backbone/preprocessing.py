"""Images and masks as the backbone sees them: resize, centre crop, normalise."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision.transforms.functional as tf
from PIL import Image
from torchvision.transforms import InterpolationMode

from evalsuite.data.imageio import read_image, read_mask
from evalsuite.errors import ConfigError

_INTERPOLATIONS = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
    "lanczos": InterpolationMode.LANCZOS,
    "box": InterpolationMode.BOX,
    "hamming": InterpolationMode.HAMMING,
}


@dataclass(frozen=True)
class Preprocessing:
    """The input pipeline of a backbone's weights (timm's eval transform).

    The shorter image side is resized to `resize`, the centre `crop` x `crop` is kept and
    normalised with `mean` / `std`. Masks get the same resize and crop with nearest neighbour.

    Attributes:
        resize: side the shorter image edge is resized to (paper: 256).
        crop: side of the centre crop, the network input (paper: 224).
        mean: per-channel RGB mean of the weights' training data.
        std: per-channel RGB standard deviation.
        interpolation: resampling filter of the resize (`bilinear`, `bicubic`, ...).
    """

    resize: int
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str

    def __post_init__(self) -> None:
        if self.interpolation not in _INTERPOLATIONS:
            raise ConfigError(
                f"interpolation {self.interpolation!r} is not one of {sorted(_INTERPOLATIONS)}"
            )
        if self.crop > self.resize:
            raise ConfigError(f"crop {self.crop} is larger than resize {self.resize}")

    @classmethod
    def from_data_config(
        cls, data_config: dict[str, Any], resize: int | None, crop: int | None
    ) -> Preprocessing:
        """From timm's resolved data config (`resolve_data_config`), with optional overrides.

        Args:
            data_config: holds `input_size` (3, H, W), `crop_pct`, `mean`, `std`,
                `interpolation`.
            resize: overrides the resize side; None: round(crop / crop_pct).
            crop: overrides the crop side; None: the weights' input size.
        """
        crop_side = crop if crop is not None else int(data_config["input_size"][-1])
        crop_pct = float(data_config.get("crop_pct") or 1.0)
        resize_side = resize if resize is not None else round(crop_side / crop_pct)
        mean = tuple(float(v) for v in data_config["mean"])
        std = tuple(float(v) for v in data_config["std"])
        if len(mean) != 3 or len(std) != 3:
            raise ConfigError(f"expected RGB mean/std, got mean {mean} and std {std}")
        return cls(
            resize=resize_side,
            crop=crop_side,
            mean=(mean[0], mean[1], mean[2]),
            std=(std[0], std[1], std[2]),
            interpolation=str(data_config.get("interpolation") or "bilinear"),
        )

    def load_image(self, path: Path) -> torch.Tensor:
        """The network input of one image file (grayscale becomes 3 channels).

        Returns:
            (3, crop, crop) float32, normalised.

        Raises:
            DatasetError: unreadable file (naming it).
        """
        image = Image.fromarray(read_image(path)).convert("RGB")
        image = tf.resize(image, [self.resize], interpolation=_INTERPOLATIONS[self.interpolation])
        tensor = tf.to_tensor(tf.center_crop(image, [self.crop]))
        return tf.normalize(tensor, list(self.mean), list(self.std))

    def load_mask(self, path: Path | None) -> np.ndarray:
        """A ground-truth mask resized and cropped like its image.

        Returns:
            (crop, crop) bool, True on defect pixels; all False when `path` is None.
        """
        if path is None:
            return np.zeros((self.crop, self.crop), dtype=bool)
        mask = Image.fromarray(read_mask(path).astype(np.uint8) * 255)
        mask = tf.resize(mask, [self.resize], interpolation=InterpolationMode.NEAREST)
        return np.asarray(tf.center_crop(mask, [self.crop])) > 127

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for records and cache keys."""
        record = asdict(self)
        record["mean"], record["std"] = list(self.mean), list(self.std)
        return record
