"""What a backbone is without its network: identity, feature layers, input pipeline, weights.

`describe(config)` learns it from timm's own description of the architecture, built on torch's
`meta` device (module graph and shapes, no memory, no weights), and from `locate_weights` (the
weights' file and SHA-256, not their tensors). A run describes each backbone once, in the
calling process, and hands the description to its workers (plain data: it pickles); a
`Backbone` made from it loads the weights and builds the network only when a feature is first
computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import timm
import torch
from timm.data import resolve_data_config
from torch import nn

from evalsuite.backbone.config import BackboneConfig, WeightsInfo
from evalsuite.backbone.layers import check_layers
from evalsuite.backbone.preprocessing import Preprocessing
from evalsuite.backbone.weights import locate_weights
from evalsuite.errors import ConfigError

RANDOM_INIT_SEED = 0
"""Seed of the random initialisation (`pretrained: false`), so random backbones repeat."""


@dataclass(frozen=True)
class BackboneSpec:
    """A backbone as far as it is known without running it.

    Attributes:
        config: the configuration it was described from.
        weights: where the weights are (source, file, SHA-256), located but not loaded.
        preprocessing: the input pipeline of those weights.
        layer_names: the layers features can be taken from, shallowest first.
        layer_channels: layer -> channels C of its feature map.
        layer_strides: layer -> input pixels per feature cell.
    """

    config: BackboneConfig
    weights: WeightsInfo
    preprocessing: Preprocessing
    layer_names: tuple[str, ...]
    layer_channels: Mapping[str, int]
    layer_strides: Mapping[str, int]

    @property
    def digest(self) -> str:
        """Identifies the network function: name plus weights SHA-256 (or the random seed).

        A bfloat16 backbone adds `+bfloat16-autocast` (its features differ); float32 adds
        nothing, so digests and the cache keys built on them stay as they were.
        """
        weights = self.weights.sha256 or f"random-init-seed-{RANDOM_INIT_SEED}"
        precision = self.config.precision
        suffix = "" if precision == "float32" else f"+{precision}-autocast"
        return f"{self.config.name}@{weights}{suffix}"

    def check(self, layers: Sequence[str]) -> None:
        """Raise ConfigError unless `layers` is a non-empty selection of `layer_names`."""
        check_layers(self.config.name, layers, self.layer_names)


def describe(config: BackboneConfig) -> BackboneSpec:
    """The backbone of `config`, described without loading its weights or building it.

    Raises:
        ConfigError: unknown timm model, or one without feature maps.
        WeightsError: weights nowhere, or a file that cannot be a weights file (see
            `locate_weights`); a file that does not fit is refused when it is loaded.
    """
    model = probe_model(config.name)
    weights = locate_weights(config, dict(getattr(model, "pretrained_cfg", None) or {}))
    preprocessing = Preprocessing.from_data_config(
        resolve_data_config({}, model=model), config.resize, config.crop
    )
    info = cast("Sequence[Mapping[str, Any]]", model.feature_info)
    return BackboneSpec(
        config=config,
        weights=weights,
        preprocessing=preprocessing,
        layer_names=tuple(str(i["module"]) for i in info),
        layer_channels={str(i["module"]): int(i["num_chs"]) for i in info},
        layer_strides={str(i["module"]): int(i["reduction"]) for i in info},
    )


def probe_model(name: str) -> nn.Module:
    """timm model `name` on the `meta` device: its feature_info and pretrained_cfg, no weights.

    A model whose construction needs real tensor values is built on the CPU instead (as
    `create_model`), so any timm model can be described.

    Raises:
        ConfigError: as `create_model`.
    """
    try:
        with torch.device("meta"):
            model = _timm_model(name)
    except Exception:  # unknown name, or a model that cannot be built on meta: the CPU says
        return create_model(name)
    _check_features(name, model)
    return model


def create_model(name: str) -> nn.Module:
    """A full timm model on the CPU with seeded random weights, leaving the global RNG
    untouched.

    Raises:
        ConfigError: unknown timm model, or one without feature maps.
    """
    try:
        model = _timm_model(name)
    except RuntimeError as error:
        raise ConfigError(
            f"backbone {name!r} is not a timm model ({error}); "
            "see timm.list_models(), e.g. wide_resnet50_2.tv_in1k or tf_efficientnet_lite0"
        ) from error
    _check_features(name, model)
    return model


def _timm_model(name: str) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        model: nn.Module = timm.create_model(name, pretrained=False)
    return model.eval()


def _check_features(name: str, model: nn.Module) -> None:
    if not getattr(model, "feature_info", None):
        raise ConfigError(f"backbone {name!r} exposes no feature maps (timm feature_info)")
