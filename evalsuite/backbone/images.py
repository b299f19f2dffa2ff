"""The raw-image path: the network inputs of samples for a detector that reads images, not
backbone features (it declares `inputs="images"`, see docs/plugins.md)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from evalsuite.backbone.preprocessing import Preprocessing
from evalsuite.data.samples import Sample
from evalsuite.errors import ConfigError


class ImageStream:
    """Preprocessed input images, read afresh at every call; a `base.ImageSource`.

    Each image goes through `preprocessing.load_image`, the transform the feature cache feeds
    its backbone with (resize, centre crop, normalisation with the weights' mean and std), so
    a raw-image detector sees exactly the pixels a backbone would. Nothing is cached: one
    stream is made per fit, and `images_fed` counts every image it handed over, which the
    manifest reports per detector label (`counts.raw_image_passes`).

    Args:
        preprocessing: the backbone configuration's input pipeline.

    Attributes:
        input_size: (H, W) of the images: (crop, crop).
        images_fed: images yielded so far, every call together.
    """

    def __init__(self, preprocessing: Preprocessing) -> None:
        self.preprocessing = preprocessing
        self.input_size: tuple[int, int] = (preprocessing.crop, preprocessing.crop)
        self.images_fed = 0

    def iter_images(
        self, samples: Sequence[Sample], batch_size: int = 16
    ) -> Iterator[torch.Tensor]:
        """Yield the preprocessed images batch by batch, in sample order.

        Yields:
            one (B, 3, H, W) float32 CPU tensor per batch of `batch_size` (the last may be
            shorter).

        Raises:
            ConfigError: at the call, for a batch size below 1.
            DatasetError: an unreadable image (naming it), when its batch is reached.
        """
        if batch_size < 1:
            raise ConfigError(f"iter_images batch_size={batch_size}: give 1 or more")
        return self._iterate(list(samples), batch_size)

    def _iterate(self, samples: list[Sample], batch_size: int) -> Iterator[torch.Tensor]:
        for start in range(0, len(samples), batch_size):
            batch = samples[start : start + batch_size]
            images = torch.stack([self.preprocessing.load_image(s.path) for s in batch])
            self.images_fed += len(batch)
            yield images
