"""The backbone: a timm CNN with resolved weights, returning the feature maps of named layers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence

import timm
import torch
from torch import nn

from evalsuite.backbone.checkpoint import StateDict
from evalsuite.backbone.config import BackboneConfig, WeightsInfo
from evalsuite.backbone.device import configure_determinism
from evalsuite.backbone.preprocessing import Preprocessing
from evalsuite.backbone.spec import RANDOM_INIT_SEED, BackboneSpec, create_model, describe
from evalsuite.backbone.weights import load_weights
from evalsuite.errors import WeightsError

__all__ = ["RANDOM_INIT_SEED", "Backbone"]


class Backbone:
    """A timm `features_only` extractor over weights located by `locate_weights`.

    Build it with `Backbone.from_config` (weights loaded at once), or from a description
    (`Backbone(spec, device)`, what a run does): everything but the forward pass (name,
    digest, layers, channels, strides, preprocessing, weights record) is then known at once,
    and the weights are loaded and the network built on the first `forward`, `state_dict` or
    `unused_keys` (`build`). Layers are timm module names (`layer1`..`layer4` for ResNets,
    `blocks.1`, `blocks.2`, `blocks.4`, ... for EfficientNets), listed in `layer_names`.

    The extractors live on `device`; `forward` takes and returns CPU tensors whatever the
    device. On the CPU in float32 (the defaults) it is exactly the plain timm forward pass.

    Attributes:
        spec: what is known without the network; handed to a run's workers.
        device: where the forward pass runs (CPU unless given).
    """

    def __init__(self, spec: BackboneSpec, device: torch.device | None = None) -> None:
        self.spec = spec
        self.device = device if device is not None else torch.device("cpu")
        if device is not None:
            configure_determinism(device)
        self._state: StateDict | None = None
        self._extractors: dict[tuple[int, ...], nn.Module] = {}
        self._unused: dict[tuple[int, ...], tuple[str, ...]] = {}

    @classmethod
    def from_config(cls, config: BackboneConfig, device: torch.device | None = None) -> Backbone:
        """Describe the backbone, then load and strictly check its weights at once.

        Args:
            config: the backbone configuration.
            device: where the forward pass runs; None is the CPU. On CUDA this calls
                `configure_determinism` first.

        Raises:
            ConfigError: unknown timm model, or one without feature maps.
            WeightsError: weights missing or not fitting (see `resolve_weights`).
        """
        backbone = cls(describe(config), device)
        backbone.build()
        return backbone

    @property
    def config(self) -> BackboneConfig:
        """The configuration it was described from."""
        return self.spec.config

    @property
    def weights(self) -> WeightsInfo:
        """Where the weights came from (source, file, SHA-256)."""
        return self.spec.weights

    @property
    def preprocessing(self) -> Preprocessing:
        """The input pipeline of the weights."""
        return self.spec.preprocessing

    @property
    def layer_names(self) -> tuple[str, ...]:
        """The layers features can be taken from, shallowest first."""
        return self.spec.layer_names

    @property
    def built(self) -> bool:
        """Whether the weights are loaded (by `build`, or a call that needs them)."""
        return self._state is not None

    def build(self) -> None:
        """Load the located weights into the full network, strictly (once; later calls do
        nothing).

        Raises:
            WeightsError: the file does not fit, is not a tensor file, or changed since it
                was located (see `load_weights`).
        """
        self._loaded()

    @property
    def digest(self) -> str:
        """Identifies the network function (see `BackboneSpec.digest`)."""
        return self.spec.digest

    def state_dict(self) -> StateDict:
        """The full network's weights (head included), as loaded; tensors are shared."""
        return dict(self._loaded())

    def channels(self, layers: Sequence[str]) -> dict[str, int]:
        """Channels C of each layer's feature map."""
        self._check(layers)
        return {layer: self.spec.layer_channels[layer] for layer in layers}

    def strides(self, layers: Sequence[str]) -> dict[str, int]:
        """Stride (input pixels per feature cell) of each layer."""
        self._check(layers)
        return {layer: self.spec.layer_strides[layer] for layer in layers}

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
        self.spec.check(layers)

    def _loaded(self) -> StateDict:
        """The weights, loaded into a fresh full network now if they are not yet."""
        if self._state is None:
            model = create_model(self.config.name)
            model.load_state_dict(load_weights(self.weights, self.config, model), strict=True)
            self._state = model.state_dict()
        return self._state

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
            state, unused = _rekey(self._loaded(), model.state_dict().keys())
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
