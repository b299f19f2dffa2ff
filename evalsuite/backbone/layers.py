"""Which feature layers a backbone has: the check a detector's `layers` must pass, and the
layers of the presets' backbones known without building them (for `evalsuite plan`)."""

from __future__ import annotations

from collections.abc import Sequence

from evalsuite.errors import ConfigError

FEATURE_LAYERS: dict[str, tuple[str, ...]] = {
    "wide_resnet50_2.tv_in1k": ("act1", "layer1", "layer2", "layer3", "layer4"),
    "resnet18.tv_in1k": ("act1", "layer1", "layer2", "layer3", "layer4"),
    "tf_efficientnet_lite0": ("blocks.0", "blocks.1", "blocks.2", "blocks.4", "blocks.6"),
}
"""timm `features_only` module names (feature_info) of the presets' backbones, shallowest
first; tests/backbone/test_locate.py checks them against timm."""


def check_layers(name: str, layers: Sequence[str], available: Sequence[str]) -> None:
    """Raise unless `layers` is a non-empty selection of backbone `name`'s `available` layers.

    Raises:
        ConfigError: naming the layers that are not feature layers, and the available ones.
    """
    unknown = [layer for layer in layers if layer not in available]
    if unknown or not layers:
        raise ConfigError(
            f"layers {list(unknown or layers)} are not feature layers of backbone "
            f"{name!r}; available: {', '.join(available)}"
        )
