"""Which feature layers a backbone has and how many channels each gives: the check a detector's
`layers` must pass (its params check themselves against the channels, see
`DetectorParams.check_channels`), and the tables of the presets' backbones known without
building them (for `evalsuite config show`, `plan` and `run` before any work)."""

from __future__ import annotations

from collections.abc import Sequence

from evalsuite.errors import ConfigError

FEATURE_CHANNELS: dict[str, dict[str, int]] = {
    "wide_resnet50_2.tv_in1k": {
        "act1": 64,
        "layer1": 256,
        "layer2": 512,
        "layer3": 1024,
        "layer4": 2048,
    },
    "resnet18.tv_in1k": {"act1": 64, "layer1": 64, "layer2": 128, "layer3": 256, "layer4": 512},
    "tf_efficientnet_lite0": {
        "blocks.0": 16,
        "blocks.1": 24,
        "blocks.2": 40,
        "blocks.4": 112,
        "blocks.6": 320,
    },
}
"""timm `features_only` module names (feature_info `module`) of the presets' backbones,
shallowest first, with their channels (`num_chs`); tests/backbone/test_locate.py checks them
against timm."""

FEATURE_LAYERS: dict[str, tuple[str, ...]] = {
    name: tuple(channels) for name, channels in FEATURE_CHANNELS.items()
}
"""The feature layers of the presets' backbones, shallowest first."""

INPUT_SIDE: dict[str, int] = {name: 224 for name in FEATURE_CHANNELS}
"""The input side of the presets' backbones' weights (timm's resolved `input_size`): the crop
when a configuration sets none."""


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
