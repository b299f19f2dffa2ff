"""PaDiM's hyperparameters, apart from the detector so that validating a configuration imports
neither torch nor anomalib."""

from __future__ import annotations

from typing import ClassVar

from pydantic import field_validator

from evalsuite.closed_model import ClosedModel, distinct_layers


class PadimParams(ClosedModel):
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
    SEARCH_PARAMS: ClassVar[frozenset[str]] = frozenset()
    """Params that change only the search (none: the Gaussians are the whole evidence)."""
    SCORING_PARAMS: ClassVar[frozenset[str]] = frozenset()
    """Params that change only scoring (none)."""

    layers: tuple[str, ...] = ("blocks.1", "blocks.2", "blocks.4")
    n_features: int = 100

    @field_validator("layers")
    @classmethod
    def _check_layers(cls, layers: tuple[str, ...]) -> tuple[str, ...]:
        return distinct_layers(layers)

    @field_validator("n_features")
    @classmethod
    def _check_n_features(cls, n_features: int) -> int:
        if n_features < 1:
            raise ValueError(f"n_features={n_features} must be >= 1 (paper: 100 or 550)")
        return n_features
