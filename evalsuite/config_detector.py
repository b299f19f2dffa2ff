"""One detector configuration of a study (`DetectorSpec`): which detector, its label, its
backbone and its hyperparameters, validated against the detector registry and the backbone's
channel table.

The registry is imported inside the validators, so reading a configuration imports no model
library (`evalsuite config show`).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import (
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from evalsuite.backbone.config import BackboneConfig
from evalsuite.backbone.layers import FEATURE_CHANNELS, check_layers
from evalsuite.closed_model import ClosedModelError
from evalsuite.errors import ConfigError, ResultsError
from evalsuite.results.paths import check_name
from evalsuite.strict_model import StrictModel


class DetectorSpec(StrictModel):
    """One detector configuration of the study.

    Attributes:
        impl: a plug-in's class by import path, `package.module:Class` (see
            `detectors.plugins`); None for a built-in or an installed entry point.
        name: a detector of the registry (`patchcore`, `padim`, an entry point of the group
            `evalsuite.detectors`), or the name of the `impl` plug-in (not a built-in's).
        label: how records and the site name it (default: the name); unique in a study.
        backbone: the feature extractor and its weights.
        params: the detector's hyperparameters (validated by the detector's params model).
    """

    impl: str | None = None
    name: str
    label: str = ""
    backbone: BackboneConfig = BackboneConfig()
    params: dict[str, Any] = Field(default={}, validate_default=True)

    @property
    def ref(self) -> str:
        """What the registry knows the detector by: its `impl`, else its name."""
        return self.impl or self.name

    @model_serializer(mode="wrap")
    def _drop_builtin_impl(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, object]:
        dumped: dict[str, object] = handler(self)
        if dumped.get("impl") is None:  # built-ins dump as they always have
            dumped.pop("impl", None)
        return dumped

    @model_validator(mode="before")
    @classmethod
    def _load_impl(cls, data: Any) -> Any:
        """Import and check a plug-in named by `impl` before its params are validated."""
        if not isinstance(data, dict) or not isinstance(data.get("impl"), str):
            return data
        from evalsuite.detectors.plugins import check_impl
        from evalsuite.detectors.registry import DETECTORS, entry

        name = data.get("name")
        if name in DETECTORS:
            raise ValueError(
                f"name {name!r} with impl {data['impl']!r}: {name!r} is a built-in detector; "
                "give your detector another name"
            )
        try:
            entry(check_impl(data["impl"]))
        except ConfigError as error:
            raise ValueError(str(error)) from error
        return data

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str, info: ValidationInfo) -> str:
        from evalsuite.detectors.registry import check_builtin_name, entry

        try:
            if info.data.get("impl") is not None:
                return path_name("name", name)
            entry(name)
            check_builtin_name(name)
        except ConfigError as error:
            raise ValueError(str(error)) from error
        return name if name in _builtins() else path_name("name", name)

    @field_validator("label")
    @classmethod
    def _check_label(cls, label: str) -> str:
        return path_name("label", label) if label else label

    @field_validator("backbone", mode="before")
    @classmethod
    def _check_backbone(cls, value: Any) -> Any:
        """A mapping validated here, so that its errors name the key they sit at."""
        if not isinstance(value, dict):
            return value
        try:
            return BackboneConfig.model_validate(value)
        except ClosedModelError as error:
            raise ValueError(error.problems) from error

    @field_validator("params")
    @classmethod
    def _resolve_params(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """The detector's params, validated by its params model, defaults filled in."""
        from evalsuite.detectors.registry import resolve_params

        if "name" not in info.data:  # the name is invalid: that error is reported
            return params
        try:
            resolved = resolve_params(info.data.get("impl") or info.data["name"], params)
        except ClosedModelError as error:
            raise ValueError(error.problems) from error
        parsed: dict[str, Any] = json.loads(resolved.model_dump_json())
        return parsed

    @model_validator(mode="after")
    def _defaults(self) -> DetectorSpec:
        if not self.label:
            object.__setattr__(self, "label", self.name)
        _check_tables(self)
        return self


def _check_tables(spec: DetectorSpec) -> None:
    """The layers and the params' own channel check (`DetectorParams.check_channels`) against
    the channel table of the backbone (known for the presets' backbones; others are checked
    when `plan` or `run` builds them)."""
    from evalsuite.detectors.registry import reads_images, resolve_params

    channels = FEATURE_CHANNELS.get(spec.backbone.name)
    if channels is None or reads_images(spec.ref):  # raw images: no layer to check
        return
    layers = spec.params["layers"]
    try:
        check_layers(spec.backbone.name, layers, tuple(channels))
        resolve_params(spec.ref, spec.params).check_channels(spec.backbone.name, channels)
    except ConfigError as error:
        raise ValueError(str(error)) from error


def _builtins() -> frozenset[str]:
    from evalsuite.detectors.registry import DETECTORS

    return frozenset(DETECTORS)


def path_name(what: str, value: str) -> str:
    """`value` if it can name a results folder (it becomes one: cells/<label>/..., <category>)."""
    try:
        return check_name(what, value)
    except ResultsError as error:
        raise ValueError(str(error)) from error
