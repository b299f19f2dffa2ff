"""PaDiM's hyperparameters, apart from the detector so that validating a configuration imports
neither torch nor anomalib."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import field_validator

from evalsuite.detectors.params import DetectorParams
from evalsuite.errors import ConfigError


class PadimParams(DetectorParams):
    """PaDiM hyperparameters (paper: ResNet layers 1-3, d = 100 for R18, 550 for WR50).

    Attributes:
        layers: backbone layers (timm module names), highest resolution first; the others are
            up-sampled to its grid. "Layers 1-3" are `("layer1", "layer2", "layer3")` on
            ResNets and `("blocks.1", "blocks.2", "blocks.4")` on EfficientNet-Lite0 (default,
            176 channels).
        n_features: d, the size of the random channel subset (the paper's Rd); at most the
            layers' total channels.
    """

    config_name: ClassVar[str] = "padim params"

    layers: tuple[str, ...] = ("blocks.1", "blocks.2", "blocks.4")
    n_features: int = 100

    @field_validator("n_features")
    @classmethod
    def _check_n_features(cls, n_features: int) -> int:
        if n_features < 1:
            raise ValueError(f"n_features={n_features} must be >= 1 (paper: 100 or 550)")
        return n_features

    def check_channels(self, backbone: str, channels: Mapping[str, int]) -> None:
        """Raise unless `n_features` is at most the channels of `layers` together.

        Raises:
            ConfigError: naming the value, the channels there are and the largest value allowed.
        """
        total = sum(channels[layer] for layer in self.layers)
        if self.n_features > total:
            raise ConfigError(
                f"padim n_features={self.n_features} exceeds the {total} channels of layers "
                f"{list(self.layers)} on {backbone}; use at most {total} "
                "(paper: 100 R18, 550 WR50)"
            )
