"""What every detector's params class is: a closed pydantic model with the backbone `layers` it
reads, and the declarations the planner and the records read from it without importing torch.

A detector's params class subclasses `DetectorParams`. What a subclass may declare, each with a
default that declares nothing:

- `SEARCH_PARAMS` / `SCORING_PARAMS`: the params that change only `search`'s evidence or only
  `scores_from`'s scores (a detector whose registry entry declares the split); they are not
  part of what a fit is keyed by, so a sweep over them reuses one fit and one search;
- `approximations(scope)`: the opt-in approximations of the method a configuration uses, named
  for the records' provenance;
- `check_channels(backbone, channels)`: a check of the params against the channels of the
  backbone's layers, run before any feature is extracted.

A detector that reads raw images instead of backbone features has an `ImageParams` (no layers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import field_validator

from evalsuite.closed_model import ClosedModel, distinct_layers


class DetectorParams(ClosedModel):
    """A detector's hyperparameters: unknown keys refused, values checked, defaults filled in.

    Attributes:
        layers: the backbone layers (timm module names) the detector reads, each once.
    """

    config_name: ClassVar[str] = "detector params"
    SEARCH_PARAMS: ClassVar[frozenset[str]] = frozenset()
    """Params that change only the search evidence, never the fitted model."""
    SCORING_PARAMS: ClassVar[frozenset[str]] = frozenset()
    """Params that change only the scores computed from the evidence."""

    layers: tuple[str, ...]

    @field_validator("layers")
    @classmethod
    def _check_layers(cls, layers: tuple[str, ...]) -> tuple[str, ...]:
        return distinct_layers(layers)

    def approximations(self, scope: str) -> list[str]:
        """The opt-in approximations these params make in `scope` (`per_class`, `unified`),
        one phrase each for the records ([] when the method is the paper's)."""
        del scope
        return []

    def check_channels(self, backbone: str, channels: Mapping[str, int]) -> None:
        """Raise a ConfigError unless these params fit the channels of `backbone`'s layers.

        Args:
            backbone: the backbone's name, for the message.
            channels: layer -> channels, for every layer in `layers` (checked already).
        """
        del backbone, channels


class ImageParams(DetectorParams):
    """The params of a detector that reads raw images (it declares `inputs="images"`, see
    `evalsuite.detectors.plugins.Declarations`): it reads no backbone layer, so `layers` is
    empty, and no backbone feature is extracted or cached for it.

    Attributes:
        layers: always (); a layer named here is refused.
    """

    config_name: ClassVar[str] = "detector params"

    layers: tuple[str, ...] = ()

    @field_validator("layers")
    @classmethod
    def _check_layers(cls, layers: tuple[str, ...]) -> tuple[str, ...]:
        if layers:
            raise ValueError(
                f"a detector that reads raw images (inputs='images') reads no backbone "
                f"layers, got {list(layers)}; drop `layers` from its params"
            )
        return layers
