"""The backbone: a timm CNN with resolved weights, returning the feature maps of named layers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import timm
import torch
from timm.data import resolve_data_config
from torch import nn

from evalsuite.backbone.checkpoint import StateDict
from evalsuite.backbone.config import BackboneConfig, WeightsInfo
from evalsuite.backbone.device import configure_determinism
from evalsuite.backbone.layers import check_layers
from evalsuite.backbone.preprocessing import Preprocessing
from evalsuite.backbone.weights import resolve_weights
from evalsuite.errors import ConfigError, WeightsError

RANDOM_INIT_SEED = 0
"""Seed of the random initialisation (`pretrained: false`), so random backbones repeat."""


class Backbone:
    """A timm `features_only` extractor over weights resolved by `resolve_weights`.

    Build it with `Backbone.from_config`. Layers are timm module names (`layer1`..`layer4` for
    ResNets, `blocks.1`, `blocks.2`, `blocks.4`, ... for EfficientNets), listed in
    `layer_names`.

    The extractors live on `device`; `forward` takes and returns CPU tensors whatever the
    device. On the CPU in float32 (the defaults) it is exactly the plain timm forward pass.

    Attributes:
        config: the configuration it was built from.
        device: where the forward pass runs (CPU unless given to `from_config`).
        weights: where the weights came from (source, file, SHA-256).
        preprocessing: the input pipeline of those weights.
        layer_names: the layers features can be taken from, shallowest first.
    """

    def __init__(
        self,
        config: BackboneConfig,
        state: StateDict,
        weights: WeightsInfo,
        preprocessing: Preprocessing,
        feature_info: Sequence[Mapping[str, Any]],
        device: torch.device | None = None,
    ) -> None:
        self.config = config
        self.device = device if device is not None else torch.device("cpu")
        self.weights = weights
        self.preprocessing = preprocessing
        self.layer_names: tuple[str, ...] = tuple(str(info["module"]) for info in feature_info)
        self._channels = {str(i["module"]): int(i["num_chs"]) for i in feature_info}
        self._strides = {str(i["module"]): int(i["reduction"]) for i in feature_info}
        self._state = state
        self._extractors: dict[tuple[int, ...], nn.Module] = {}
        self._unused: dict[tuple[int, ...], tuple[str, ...]] = {}

    @classmethod
    def from_config(cls, config: BackboneConfig, device: torch.device | None = None) -> Backbone:
        """Build the network, resolve and strictly load its weights, derive preprocessing.

        Args:
            config: the backbone configuration.
            device: where the forward pass runs; None is the CPU. On CUDA this calls
                `configure_determinism` first.

        Raises:
            ConfigError: unknown timm model, or one without feature maps.
            WeightsError: weights missing or not fitting (see `resolve_weights`).
        """
        model = _create_model(config.name)
        resolved = resolve_weights(config, model)
        model.load_state_dict(resolved.state, strict=True)
        preprocessing = Preprocessing.from_data_config(
            resolve_data_config({}, model=model), config.resize, config.crop
        )
        feature_info = cast("Sequence[Mapping[str, Any]]", model.feature_info)
        if device is not None:
            configure_determinism(device)
        state = model.state_dict()
        return cls(config, state, resolved.info, preprocessing, feature_info, device)

    @property
    def digest(self) -> str:
        """Identifies the network function: name plus weights SHA-256 (or the random seed).

        A bfloat16 backbone adds `+bfloat16-autocast` (its features differ); float32 adds
        nothing, so digests and the cache keys built on them stay as they were.
        """
        weights = self.weights.sha256 or f"random-init-seed-{RANDOM_INIT_SEED}"
        suffix = "" if self.config.precision == "float32" else f"+{self.config.precision}-autocast"
        return f"{self.config.name}@{weights}{suffix}"

    def state_dict(self) -> StateDict:
        """The full network's weights (head included), as loaded; tensors are shared."""
        return dict(self._state)

    def channels(self, layers: Sequence[str]) -> dict[str, int]:
        """Channels C of each layer's feature map."""
        self._check(layers)
        return {layer: self._channels[layer] for layer in layers}

    def strides(self, layers: Sequence[str]) -> dict[str, int]:
        """Stride (input pixels per feature cell) of each layer."""
        self._check(layers)
        return {layer: self._strides[layer] for layer in layers}

    def unused_keys(self, layers: Sequence[str]) -> tuple[str, ...]:
        """Weight keys the `features_only` extractor for `layers` drops (head, later stages)."""
        indices = self._indices(layers)
        self._extractor(indices)
        return self._unused[indices]

    def forward(self, images: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """Feature maps of a batch, without gradients.

        The images move to `device`; with `precision: bfloat16` the pass runs under
        `torch.autocast(device.type, dtype=torch.bfloat16)`. On the CPU in float32 no copy
        or cast happens.

        Args:
            images: (B, 3, H, W) float32, as made by `preprocessing.load_image`.
            layers: layer names from `layer_names`.

        Returns:
            layer -> (B, C, H / stride, W / stride) float32 CPU tensors, in the order of
            `layers`.
        """
        indices = self._indices(layers)
        extractor = self._extractor(indices)
        images = images.to(self.device)
        with torch.no_grad(), self._autocast():
            outputs = extractor(images)
        by_name = {
            self.layer_names[i]: out.float().cpu() for i, out in zip(indices, outputs, strict=True)
        }
        return {layer: by_name[layer] for layer in layers}

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        """bf16 autocast on the device when the configuration asks for it, else nothing."""
        if self.config.precision == "bfloat16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _check(self, layers: Sequence[str]) -> None:
        check_layers(self.config.name, layers, self.layer_names)

    def _indices(self, layers: Sequence[str]) -> tuple[int, ...]:
        """timm `out_indices` of `layers`, sorted and unique."""
        self._check(layers)
        return tuple(sorted({self.layer_names.index(layer) for layer in layers}))

    def _extractor(self, indices: tuple[int, ...]) -> nn.Module:
        """The features_only model for `indices`, sharing this backbone's weight tensors."""
        if indices not in self._extractors:
            with torch.random.fork_rng(devices=[]):
                model = timm.create_model(
                    self.config.name, pretrained=False, features_only=True, out_indices=indices
                )
            state, unused = _rekey(self._state, model.state_dict().keys())
            result = model.load_state_dict(state, strict=False, assign=True)
            if result.missing_keys:
                raise WeightsError(
                    f"backbone {self.config.name!r}: the features_only model needs keys the "
                    f"weights lack: {', '.join(result.missing_keys[:5])}"
                )
            if self.device.type != "cpu":
                model = model.to(self.device)
            self._extractors[indices] = model.eval()
            self._unused[indices] = unused
        return self._extractors[indices]


def _canonical(key: str) -> str:
    """A key with `_` read as `.`: timm's features_only wrappers flatten `stem.0` to `stem_0`."""
    return key.replace("_", ".")


def _rekey(state: StateDict, wanted: Iterable[str]) -> tuple[StateDict, tuple[str, ...]]:
    """`state` under the key names of a features_only model, and the keys it does not use.

    Returns:
        (state dict with the features model's key names, sorted unused keys of `state`).
    """
    by_canonical = {_canonical(key): key for key in state}
    if len(by_canonical) != len(state):
        raise WeightsError("weight keys collide when `_` and `.` are identified; unsupported model")
    rekeyed: StateDict = {}
    used: set[str] = set()
    for key in wanted:
        source = by_canonical.get(_canonical(key))
        if source is not None:
            rekeyed[key] = state[source]
            used.add(source)
    return rekeyed, tuple(sorted(state.keys() - used))


def _create_model(name: str) -> nn.Module:
    """A full timm model with seeded random weights, leaving the global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        try:
            model: nn.Module = timm.create_model(name, pretrained=False)
        except RuntimeError as error:
            raise ConfigError(
                f"backbone {name!r} is not a timm model ({error}); "
                "see timm.list_models(), e.g. wide_resnet50_2.tv_in1k or tf_efficientnet_lite0"
            ) from error
    if not getattr(model, "feature_info", None):
        raise ConfigError(f"backbone {name!r} exposes no feature maps (timm feature_info)")
    return model.eval()
