"""The study configuration: one typed, closed model; presets; loading from TOML or YAML.

Unknown keys and wrong types are refused with the key's path and what is allowed. Defaults are
visible here and nowhere else; `evalsuite config show` prints the resolved configuration.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from evalsuite.backbone.config import PAPER_BACKBONE, BackboneConfig
from evalsuite.data.synthetic.config import CATEGORIES as SYNTHETIC_CATEGORIES
from evalsuite.errors import ConfigError, ResultsError
from evalsuite.results.paths import check_name

PRESETS = ("demo", "paper")
CellKind = Literal["clean/none", "shift/none", "shift/threshold", "shift/retrain"]
ALL_CELL_KINDS: tuple[CellKind, ...] = (
    "clean/none",
    "shift/none",
    "shift/threshold",
    "shift/retrain",
)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SyntheticSettings(_Closed):
    """The generated dataset (used when `data.source` is `synthetic`)."""

    size: int = 128
    n_train: int = 60
    n_test_good: int = 30
    n_test_defect: int = 40
    difficulty: float = 0.5
    seed: int = 0


class DataSettings(_Closed):
    """Which images the study reads."""

    source: Literal["synthetic", "mvtec"] = "synthetic"
    root: Path | None = Field(default=None, description="MVTec-layout root (source mvtec)")
    download: bool = Field(default=False, description="download MVTec AD into root if absent")
    categories: tuple[str, ...] = ("hazelnut", "carpet", "zipper")
    synthetic: SyntheticSettings = SyntheticSettings()

    @field_validator("categories")
    @classmethod
    def _check_categories(cls, categories: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_path_name("category", name) for name in categories)

    @model_validator(mode="after")
    def _check_synthetic_categories(self) -> DataSettings:
        unknown = [c for c in self.categories if c not in SYNTHETIC_CATEGORIES]
        if self.source == "synthetic" and unknown:
            raise ValueError(
                f"categories {unknown}: the synthetic data has only "
                f"{', '.join(SYNTHETIC_CATEGORIES)}; fix data.categories, or set "
                'data.source = "mvtec" and data.root to read your own tree'
            )
        return self


class ShiftSettings(_Closed):
    """MVTec-Shift: severity 1–3 and the seed of the per-image draws."""

    severity: Literal[1, 2, 3] = 2
    seed: int = 0


class SplitSettings(_Closed):
    """Shares moved into `val` (thresholds only)."""

    val_normal_ratio: float = 0.2
    val_anomaly_ratio: float = 0.3


class ThresholdSettings(_Closed):
    """How thresholds are chosen on `val` (image and pixel level)."""

    strategy: Literal["f1", "quantile", "mean_std"] = "f1"
    quantile: float = 0.99
    k: float = 3.0


class EvaluationSettings(_Closed):
    """Thresholds, bootstrap, artifacts."""

    image_threshold: ThresholdSettings = ThresholdSettings()
    pixel_threshold: ThresholdSettings = ThresholdSettings()
    bootstrap: int = Field(default=1000, ge=0, description="resamples for 95% CIs; 0 = none")
    artifacts_per_cell: int = Field(default=4, ge=0)


class DetectorSpec(_Closed):
    """One detector configuration of the study.

    Attributes:
        name: `patchcore` or `padim`.
        label: how records and the site name it (default: the name); unique in a study.
        backbone: the feature extractor and its weights.
        params: the detector's hyperparameters (validated by the detector's params model).
    """

    name: Literal["patchcore", "padim"]
    label: str = ""
    backbone: BackboneConfig = BackboneConfig()
    params: dict[str, Any] = {}

    @field_validator("label")
    @classmethod
    def _check_label(cls, label: str) -> str:
        return _path_name("label", label) if label else label

    @model_validator(mode="after")
    def _defaults(self) -> DetectorSpec:
        from evalsuite.detectors.registry import resolve_params

        if not self.label:
            object.__setattr__(self, "label", self.name)
        resolved = resolve_params(self.name, self.params)
        object.__setattr__(self, "params", json.loads(resolved.model_dump_json()))
        return self


def _path_name(what: str, value: str) -> str:
    """`value` if it can name a results folder (it becomes one: cells/<label>/..., <category>)."""
    try:
        return check_name(what, value)
    except ResultsError as error:
        raise ValueError(str(error)) from error


class SweepSpec(_Closed):
    """One hyperparameter sweep: each value becomes cells of its own.

    Attributes:
        detector: the label of the detector swept.
        param: `params.<key>` (a detector hyperparameter), `backbone.crop`, or `shift.severity`.
        values: the values tried (the baseline value need not be among them).
        kinds: which condition/regime cells each value gets (per_class scope).
    """

    detector: str
    param: str
    values: list[Any] = Field(min_length=1)
    kinds: tuple[CellKind, ...] = ("clean/none", "shift/none")


class StudyConfig(_Closed):
    """A whole study: the matrix the runner expands into fits and cells.

    Attributes (beyond the matrix):
        device: where the backbone, the patch embedding, the coreset, the nearest-neighbour
            search and PaDiM's statistics run: `auto` (CUDA when a GPU is visible, else the
            CPU), `cpu` or `cuda`. CPU results are exact and identical everywhere; GPU results
            equal them within a documented tolerance, and fits are keyed by the device kind.
        feature_cache_budget_gb: bound of the on-disk feature cache (GiB, least recently used
            entries evicted beyond it); None: unbounded.
        feature_cache_storage: `float32` (exact, the default) or `float16`, an opt-in
            approximation: features rounded to float16 as they are computed and stored so,
            half the cache's disk; every record of such a run lists it in
            `provenance.approximations`.
    """

    name: str = "demo"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    feature_cache_budget_gb: float | None = Field(default=None, gt=0)
    feature_cache_storage: Literal["float32", "float16"] = "float32"
    seeds: tuple[int, ...] = Field(default=(0,), min_length=1)
    data: DataSettings = DataSettings()
    shift: ShiftSettings = ShiftSettings()
    splits: SplitSettings = SplitSettings()
    detectors: tuple[DetectorSpec, ...] = Field(min_length=1)
    scopes: tuple[Literal["per_class", "unified"], ...] = ("per_class", "unified")
    kinds: tuple[CellKind, ...] = ALL_CELL_KINDS
    sweeps: tuple[SweepSpec, ...] = ()
    evaluation: EvaluationSettings = EvaluationSettings()

    @model_validator(mode="after")
    def _check(self) -> StudyConfig:
        labels = [d.label for d in self.detectors]
        if len(set(labels)) != len(labels):
            raise ValueError(f"detector labels must be unique, got {labels}")
        for sweep in self.sweeps:
            if sweep.detector not in labels:
                raise ValueError(f"sweep detector {sweep.detector!r} is not one of {labels}")
            prefix = sweep.param.partition(".")[0]
            if sweep.param not in ("backbone.crop", "shift.severity") and prefix != "params":
                raise ValueError(
                    f"sweep param {sweep.param!r}: use params.<key>, backbone.crop or "
                    "shift.severity"
                )
        if self.data.source == "mvtec" and self.data.root is None:
            raise ValueError("data.root is required when data.source is mvtec (or use --data-root)")
        return self


DEMO_INPUT = {"resize": 128, "crop": 128}


def preset(name: str) -> dict[str, Any]:
    """The raw mapping of a preset (`demo` or `paper`)."""
    if name == "demo":
        return {
            "name": "demo",
            "detectors": [
                # Lite0's blocks.2 + blocks.4 give 152 channels: projecting them up to the
                # paper's 1024 adds cost and no information, so the demo concatenates. The
                # demo feeds the 128 px images at their own size (no upscaling to 224).
                {
                    "name": "patchcore",
                    "backbone": DEMO_INPUT,
                    "params": {"coreset_ratio": 0.1, "target_dim": None},
                },
                {
                    "name": "padim",
                    "backbone": DEMO_INPUT,
                    "params": {"layers": ["blocks.1", "blocks.2", "blocks.4"], "n_features": 100},
                },
            ],
            "sweeps": [
                {"detector": "patchcore", "param": "params.coreset_ratio", "values": [0.01, 0.25]}
            ],
            "evaluation": {"bootstrap": 200},
        }
    if name == "paper":
        wrn = {"name": PAPER_BACKBONE, "resize": 256, "crop": 224}
        return {
            "name": "paper",
            "data": {
                "source": "mvtec",
                "root": os.environ.get("EVALSUITE_DATA_ROOT", "data/mvtec"),
                "download": True,
            },
            "detectors": [
                {
                    "name": "patchcore",
                    "backbone": wrn,
                    "params": {"layers": ["layer2", "layer3"], "coreset_ratio": 0.1},
                },
                {
                    "name": "padim",
                    "label": "padim_r18",
                    "backbone": {"name": "resnet18.tv_in1k", "resize": 256, "crop": 224},
                    "params": {"layers": ["layer1", "layer2", "layer3"], "n_features": 100},
                },
                {
                    "name": "padim",
                    "label": "padim_wr50",
                    "backbone": wrn,
                    "params": {"layers": ["layer1", "layer2", "layer3"], "n_features": 550},
                },
            ],
            "sweeps": [
                {
                    "detector": "patchcore",
                    "param": "params.coreset_ratio",
                    "values": [0.01, 0.05, 0.25],
                },
                {"detector": "patchcore", "param": "params.num_neighbors", "values": [3, 9]},
                {"detector": "patchcore", "param": "shift.severity", "values": [1, 3]},
            ],
        }
    raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")


def load_config(
    preset_name: str | None = None,
    path: Path | None = None,
    data_root: Path | None = None,
    device: str | None = None,
) -> StudyConfig:
    """Resolve a configuration: a preset or a TOML/YAML file, then overrides (`data_root`,
    `device`).

    Without either, the preset is `$EVALSUITE_PRESET`, else `demo` (the container sets `paper`).
    The paper preset reads MVTec AD from `$EVALSUITE_DATA_ROOT`, else `data/mvtec`.

    Raises:
        ConfigError: unreadable file, unknown key or wrong type, naming the key's path.
    """
    if path is not None and preset_name is not None:
        raise ConfigError("give either --preset or --config, not both")
    if path is None and preset_name is None:
        preset_name = os.environ.get("EVALSUITE_PRESET", "demo")
    raw = _read_file(path) if path is not None else preset(preset_name or "demo")
    if data_root is not None:
        raw = {**raw, "data": {**raw.get("data", {}), "root": str(data_root)}}
        if raw["data"].get("source", "synthetic") == "synthetic":
            raw["data"]["source"] = "mvtec"
    if device is not None:
        raw = {**raw, "device": device}
    try:
        return StudyConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_describe(error, path)) from error
    except ConfigError as error:  # from a nested model (detector params, backbone)
        raise ConfigError(f"{path or preset_name}: {error}") from error


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
        content = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: configuration file not found") from error
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: unreadable configuration ({error})") from error
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping of keys to values")
    return content


def _describe(error: ValidationError, path: Path | None) -> str:
    where = f"{path}: " if path else ""
    lines = []
    locations = [tuple(problem["loc"]) for problem in error.errors()]
    for problem in error.errors():
        loc = tuple(problem["loc"])
        if any(other[: len(loc)] == loc and other != loc for other in locations):
            continue  # a container's error that only repeats the errors of its items
        key = ".".join(str(part) for part in loc) or "(top level)"
        if problem["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc)
            hint = f"; allowed here: {', '.join(allowed)}" if allowed else ""
            lines.append(f"unknown key {key!r}{hint} (`evalsuite config show` prints them all)")
        elif problem["type"] == "literal_error":
            lines.append(f"{key}: {problem['msg']} (got {problem.get('input')!r})")
        elif problem["type"] == "value_error":  # our own validators name the values at fault
            lines.append(f"{key}: {problem['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"{key}: {problem['msg']} (got {problem.get('input')!r})")
    return where + "invalid configuration: " + "; ".join(lines)


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str] | None:
    """The keys of the model that holds the unknown key at `loc`, or None if not found."""
    model: type[BaseModel] = StudyConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        inner = _model_in(field.annotation) if field is not None else None
        if inner is None:
            return None
        model = inner
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `tuple[DetectorSpec, ...]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None
