"""The params of `name = "anomalib"`: one closed params class per anomalib model, chosen by
`params.model`; validating them imports neither torch nor anomalib.

Each class carries the model's constructor arguments under anomalib's own names and defaults
(anomalib 2.7), except the backbone and its weights, which come from the detector's `backbone`
(resolved by `evalsuite.backbone`), and `layers`, whose default is a layer of the demo's
EfficientNet-Lite0 rather than a ResNet's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self

from pydantic import field_validator

from evalsuite.closed_model import ClosedModelError
from evalsuite.detectors.params import DetectorParams

UNSUPPORTED: dict[str, str] = {
    "Padim": "use name = 'padim' (the same anomalib model, fitted in streaming)",
    "Patchcore": "use name = 'patchcore' (anomalib's algorithm, checked against it)",
}
"""anomalib models the adapter refuses with a pointer to what to use instead (docs/detectors.md
lists why the others are not run)."""


class AnomalibParams(DetectorParams):
    """The params of one anomalib model; `model_validate` picks the class by `model`.

    Attributes:
        model: anomalib's class name of the model (`Dfm`, `Dfkde`).
        layers: the backbone layers the model reads.
    """

    config_name: ClassVar[str] = "anomalib params"
    model: str

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        """The params of the model `obj["model"]` names, validated by its own class."""
        if cls is not AnomalibParams or not isinstance(obj, Mapping):
            return super().model_validate(obj, **options)
        name = obj.get("model")
        chosen = MODELS.get(name) if isinstance(name, str) else None
        if chosen is None:
            raise ClosedModelError(cls, _unknown_model(name))
        return chosen.model_validate(obj, **options)  # type: ignore[return-value]

    def check_channels(self, backbone: str, channels: Mapping[str, int]) -> None:
        """Nothing to check beyond the layers: any channel count suits both models."""
        del backbone, channels


class DfmParams(AnomalibParams):
    """DFM (Ahuja et al. 2019): PCA of pooled features of one layer; score = reconstruction
    error (`fre`, with a map; anomalib's `nll` fails inside anomalib 2.7 and is refused).

    Attributes:
        layers: exactly one layer (anomalib's `layer`); default the Lite0's `blocks.4`.
        pooling_kernel_size: average-pooling kernel applied to the layer first (1: none).
        n_comps: PCA components: a share of the variance kept if <= 1, else a count.
        score_type: `fre` (feature reconstruction error, with maps), the only one that runs.
    """

    config_name: ClassVar[str] = "anomalib Dfm params"
    model: Literal["Dfm"] = "Dfm"
    layers: tuple[str, ...] = ("blocks.4",)
    pooling_kernel_size: int = 4
    n_comps: float = 0.97
    score_type: str = "fre"

    @field_validator("layers")
    @classmethod
    def _one_layer(cls, layers: tuple[str, ...]) -> tuple[str, ...]:
        return _single_layer(cls, layers)

    @field_validator("pooling_kernel_size")
    @classmethod
    def _check_pooling(cls, size: int) -> int:
        if size < 1:
            raise ValueError(f"pooling_kernel_size={size} must be >= 1 (anomalib: 4)")
        return size

    @field_validator("n_comps")
    @classmethod
    def _check_n_comps(cls, n_comps: float) -> float:
        if n_comps <= 0 or (n_comps > 1 and not float(n_comps).is_integer()):
            raise ValueError(
                f"n_comps={n_comps} must be a variance share in (0, 1] or a whole count > 1 "
                "(anomalib: 0.97)"
            )
        return n_comps

    @field_validator("score_type")
    @classmethod
    def _check_score_type(cls, score_type: str) -> str:
        if score_type == "nll":
            raise ValueError(
                "score_type='nll' fails inside anomalib 2.7 (its SingleClassGaussian.fit passes "
                "torch.mean a device argument torch refuses); use 'fre'"
            )
        if score_type != "fre":
            raise ValueError(
                f"score_type={score_type!r}: use 'fre' (the feature reconstruction error)"
            )
        return score_type


class DfkdeParams(AnomalibParams):
    """DFKDE: globally pooled features of one layer, PCA, then a Gaussian kernel density;
    image scores only (its maps are the image score at every pixel).

    Attributes:
        layers: exactly one layer (anomalib 2.7 concatenates several along the batch axis, a
            bug this adapter does not reproduce); default the Lite0's last block `blocks.6`.
        n_pca_components: PCA components before the density.
        feature_scaling_method: `scale` (by the longest training vector) or `norm` (each to
            unit length).
        max_training_points: most training vectors the density keeps (a seeded subset above).
    """

    config_name: ClassVar[str] = "anomalib Dfkde params"
    model: Literal["Dfkde"] = "Dfkde"
    layers: tuple[str, ...] = ("blocks.6",)
    n_pca_components: int = 16
    feature_scaling_method: Literal["scale", "norm"] = "scale"
    max_training_points: int = 40000

    @field_validator("layers")
    @classmethod
    def _one_layer(cls, layers: tuple[str, ...]) -> tuple[str, ...]:
        return _single_layer(cls, layers)

    @field_validator("n_pca_components", "max_training_points")
    @classmethod
    def _check_positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"{value} must be >= 1")
        return value


MODELS: dict[str, type[AnomalibParams]] = {"Dfm": DfmParams, "Dfkde": DfkdeParams}
"""The anomalib models the adapter runs, by anomalib's class name."""


def _single_layer(cls: type[AnomalibParams], layers: tuple[str, ...]) -> tuple[str, ...]:
    if len(layers) != 1:
        raise ValueError(
            f"{cls.config_name.split()[1]} reads exactly one layer, got {list(layers)}"
        )
    return layers


def _unknown_model(name: object) -> str:
    runs = " or ".join(repr(model) for model in MODELS)
    if isinstance(name, str) and name in UNSUPPORTED:
        return f"model: {name!r} is not run through the adapter; {UNSUPPORTED[name]}"
    if name is None:
        return f"model: missing; name the anomalib model, {runs}"
    return (
        f"model: {name!r} is not an anomalib model the adapter runs; use {runs} "
        "(see docs/detectors.md)"
    )
