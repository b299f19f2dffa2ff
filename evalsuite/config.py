"""The study configuration: one typed, closed model; loading a preset (`evalsuite.presets`) or
a TOML or YAML file.

Unknown keys and wrong types are refused with the key's path and what is allowed
(`config_problems`). Defaults are visible here and nowhere else (a detector's own in
`config_detector.DetectorSpec` and its params model); `evalsuite config show` prints the
resolved configuration.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from evalsuite.config_detector import DetectorSpec, path_name
from evalsuite.config_evaluation import (  # noqa: F401  (ThresholdSettings re-exported)
    EvaluationSettings,
    ThresholdSettings,
)
from evalsuite.config_problems import describe, problems
from evalsuite.config_shift import (
    ALL_CELL_KINDS,
    FACTOR_KINDS,  # noqa: F401  (re-exported: the variants' default kinds)
    SHIFT_SWEEPS,
    CellKind,
    ShiftSettings,
    sweep_problem,
)
from evalsuite.data.synthetic.config import CATEGORIES as SYNTHETIC_CATEGORIES
from evalsuite.errors import ConfigError, ResultsError
from evalsuite.evaluation.protocols import LAYOUT_DEFAULTS, evaluation_defaults
from evalsuite.limits import (
    MAX_COUNT,
    MAX_NAME_LENGTH,
    MAX_SEED,
    MAX_SEEDS,
)
from evalsuite.presets import preset
from evalsuite.results.paths import render_value, sanitise
from evalsuite.strict_model import StrictModel


class _Closed(StrictModel):
    """Closed, frozen, strict and finite (see `StrictModel`); errors are `ValidationError`s,
    described by `load_config` with the key's path."""


Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
"""A seed of numpy's and torch's generators."""
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


class SyntheticSettings(_Closed):
    """The generated dataset (used when `data.source` is `synthetic`)."""

    size: int = Field(default=128, ge=64, le=2048)
    n_train: Count = 60
    n_test_good: Count = 30
    n_test_defect: Count = 40
    difficulty: float = Field(default=0.5, ge=0.0, le=1.0)
    seed: Seed = 0


class DataSettings(_Closed):
    """Which images the study reads."""

    source: Literal["synthetic", "mvtec"] = "synthetic"
    root: Path | None = Field(default=None, description="MVTec-layout root (source mvtec)")
    download: bool = Field(default=False, description="download MVTec AD into root if absent")
    categories: tuple[str, ...] = ("hazelnut", "carpet", "zipper")
    synthetic: SyntheticSettings = SyntheticSettings()
    layout: Literal["mvtec", "mvtec_ad2", "visa"] = Field(
        default="mvtec", description="the tree's layout (source mvtec): MVTec AD, AD 2 or VisA"
    )

    @model_serializer(mode="wrap")
    def _drop_default_layout(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        """An MVTec-layout study dumps as it always has (manifests, records, `config show`):
        `layout` appears once it is not `mvtec`."""
        dumped: dict[str, object] = handler(self)
        if self.layout == "mvtec":
            dumped.pop("layout", None)
        return dumped

    @field_validator("categories")
    @classmethod
    def _check_categories(cls, categories: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(path_name("category", name) for name in categories)

    @model_validator(mode="after")
    def _check_synthetic_categories(self) -> DataSettings:
        unknown = [c for c in self.categories if c not in SYNTHETIC_CATEGORIES]
        if self.source == "synthetic" and unknown:
            raise ValueError(
                f"categories {unknown}: the synthetic data has only "
                f"{', '.join(SYNTHETIC_CATEGORIES)}; fix data.categories, or set "
                'data.source = "mvtec" and data.root to read your own tree'
            )
        if self.layout != "mvtec" and self.source != "mvtec":
            raise ValueError(
                f'layout "{self.layout}" reads a tree on disk; set data.source = "mvtec" and '
                "data.root to it, or drop data.layout (the synthetic data is MVTec-layout; "
                "`evalsuite data synth --layout` writes a mimic tree)"
            )
        if self.layout != "mvtec" and self.download:
            raise ValueError(
                f'data.download fetches MVTec AD only, not layout "{self.layout}"; drop it'
            )
        return self


class SplitSettings(_Closed):
    """Shares moved into `val` (thresholds only)."""

    val_normal_ratio: float = Field(default=0.2, ge=0.0, lt=1.0)
    val_anomaly_ratio: float = Field(default=0.3, ge=0.0, lt=1.0)


class SweepSpec(_Closed):
    """One hyperparameter sweep: each value becomes cells of its own.

    Attributes:
        detector: the label of the detector swept.
        param: `params.<key>` (a detector hyperparameter), `backbone.crop`, `shift.severity`
            or `shift.factors` (a shift variant, see `ShiftSettings.factors`).
        values: the values tried (the baseline value need not be among them).
        kinds: which condition/regime cells each value gets (per_class scope).
    """

    detector: str
    param: str
    values: list[Any] = Field(min_length=1, max_length=1000)
    kinds: tuple[CellKind, ...] = ("clean/none", "shift/none")

    @model_validator(mode="after")
    def _check_path_forms(self) -> SweepSpec:
        """Each value names its own cell files (`__<param>=<value>`): refuse two values with
        one path form (`"0.1"` and `0.1`, `"g 0"` and `"g#0"`) and overlong ones."""
        seen: dict[str, Any] = {}
        for value in self.values:
            try:
                form = f"{sanitise(self.param)}={sanitise(render_value(value))}"
            except ResultsError as error:
                raise ValueError(str(error)) from error
            if len(form) > 2 * MAX_NAME_LENGTH:
                raise ValueError(
                    f"{self.param}={render_value(value)!r} is longer than {2 * MAX_NAME_LENGTH} "
                    "characters and cannot name a cell file; shorten the value"
                )
            if form in seen:
                raise ValueError(
                    f"values {seen[form]!r} and {value!r} of {self.param} would name the same "
                    f"cell files ({form}); keep one of them"
                )
            seen[form] = value
        return self


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
    seeds: tuple[Seed, ...] = Field(default=(0,), min_length=1, max_length=MAX_SEEDS)
    data: DataSettings = DataSettings()
    shift: ShiftSettings = ShiftSettings()
    splits: SplitSettings = SplitSettings()
    detectors: tuple[DetectorSpec, ...] = Field(min_length=1)
    scopes: tuple[Literal["per_class", "unified"], ...] = ("per_class", "unified")
    kinds: tuple[CellKind, ...] = ALL_CELL_KINDS
    sweeps: tuple[SweepSpec, ...] = ()
    evaluation: EvaluationSettings = EvaluationSettings()

    @model_validator(mode="before")
    @classmethod
    def _layout_protocol(cls, raw: Any) -> Any:
        """The evaluation settings the data layout's protocol asks for (`evaluation.protocols`:
        mean_std thresholds on MVTec AD 2), where the study's `evaluation` leaves them unset."""
        if not isinstance(raw, dict) or not isinstance(raw.get("data"), dict):
            return raw
        layout = raw["data"].get("layout", "mvtec")
        if not isinstance(layout, str) or layout not in LAYOUT_DEFAULTS:
            return raw  # refused, with the key's path, by DataSettings
        evaluation = raw.get("evaluation", {})
        if not isinstance(evaluation, dict):
            return raw
        filled = {**evaluation_defaults(layout), **evaluation}
        return {**raw, "evaluation": filled} if filled != evaluation else raw

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        return path_name("name", name)  # the default results folder is results/<name>

    @field_validator("seeds")
    @classmethod
    def _check_seeds(cls, seeds: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds {list(seeds)} repeat a seed; list each seed once")
        return seeds

    @model_validator(mode="after")
    def _check(self) -> StudyConfig:
        labels = [d.label for d in self.detectors]
        if len(set(labels)) != len(labels):
            raise ValueError(f"detector labels must be unique, got {labels}")
        if self.shift.conditions and self.data.layout != "mvtec_ad2":
            raise ValueError(
                f"shift.conditions {list(self.shift.conditions)} are MVTec AD 2's real "
                f'conditions, and data.layout "{self.data.layout}" has none; drop '
                'shift.conditions, or set data.layout = "mvtec_ad2" for an MVTec AD 2 tree'
            )
        outside = [s for s in self.shift.factor_scopes if s not in self.scopes]
        if outside:
            raise ValueError(
                f"shift.factor_scopes {outside} are not among the study's scopes "
                f"{list(self.scopes)}; list only those, or add them to scopes"
            )
        for number, sweep in enumerate(self.sweeps):
            if sweep.detector not in labels:
                raise ValueError(f"sweep detector {sweep.detector!r} is not one of {labels}")
            prefix = sweep.param.partition(".")[0]
            if sweep.param not in ("backbone.crop", *SHIFT_SWEEPS) and prefix != "params":
                raise ValueError(
                    f"sweep param {sweep.param!r}: use params.<key>, backbone.crop, "
                    "shift.severity or shift.factors"
                )
            problem = sweep_problem(self.shift, sweep.param, sweep.kinds)
            if problem is not None:
                raise ValueError(f"sweeps.{number}: {problem}")
            base = next(d for d in self.detectors if d.label == sweep.detector)
            for index, value in enumerate(sweep.values):
                try:
                    apply_sweep(base, self.shift.severity, sweep.param, value, self.shift.family)
                except ValidationError as error:
                    raise ValueError(
                        f"sweeps.{number}.values.{index}: {sweep.param} = {value!r} is invalid "
                        f"({problems(error)})"
                    ) from error
        if self.data.source == "mvtec" and self.data.root is None:
            if self.data.layout == "mvtec_ad2":
                raise ValueError(
                    "data.root is required: MVTec AD 2 is read from disk (it cannot be "
                    "downloaded here); get it from mvtec.com and give its root with --data-root"
                )
            raise ValueError("data.root is required when data.source is mvtec (or use --data-root)")
        return self

    @property
    def real_conditions(self) -> tuple[str, ...]:
        """MVTec AD 2's real conditions the study evaluates (`ShiftSettings.real_conditions`)."""
        return self.shift.real_conditions(self.data.layout)


def apply_sweep(
    spec: DetectorSpec, severity: int, param: str, value: Any, family: str = "mvtec_shift"
) -> tuple[DetectorSpec, int]:
    """The detector specification and shift severity with one swept value applied, validated
    as the configuration's own values are.

    Args:
        spec: the swept detector's baseline specification.
        severity: the study's shift severity.
        param: `params.<key>`, `backbone.crop`, `shift.severity` or `shift.factors` (its
            value is checked here; `runner.planning.plan.variants` applies it).
        value: the swept value.
        family: the study's shift family (`shift.family`): which names `shift.factors` takes.

    Raises:
        ValidationError: `value` is not valid there (a crop of 0 or above the resize, an
            `n_features` above the layers' channels, a NaN, a boolean for a number, ...).
    """
    if param == "shift.severity":
        return spec, ShiftSettings.model_validate({"severity": value}).severity
    if param == "shift.factors":
        ShiftSettings.model_validate({"family": family, "factors": [value]})
        return spec, severity
    raw = spec.model_dump()
    if param == "backbone.crop":
        raw["backbone"] = {**raw["backbone"], "crop": value}
    else:
        raw["params"] = {**raw["params"], param.removeprefix("params."): value}
    return DetectorSpec.model_validate(raw), severity


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
        raise ConfigError(describe(error, StudyConfig, path)) from error
    except ConfigError as error:  # from a nested model (detector params, backbone)
        raise ConfigError(f"{path or preset_name}: {error}") from error


def _read_file(path: Path) -> dict[str, Any]:
    from evalsuite.config_file import read_config_file

    return read_config_file(Path(path))
