"""What a run will cost before it starts: wall time, peak memory and feature-cache disk.

The runner counts what it knows from the plan and the data (images per split, distinct
inputs, input sizes, the layers' channels and grids) and prices what is common to every
detector with per-operation rates:

- backbone forward pass: distinct inputs of the run; s per image, per backbone configuration;
- reading an input (decoding and preprocessing the image file) and storing its features in the
  on-disk cache: the same inputs; s per image, timed on a few of the run's own images;
- metrics and bootstrap: test images x H W pixels, and resamples x test images.

Each detector's fit, scoring and peak memory are priced by the cost model it declares
(`evalsuite.detectors.cost.CostModel`), from the fit's shape, at the rates of the kernels it
names; the fits of a unit share their nested selection (`Price.shared_fit_s`, priced once).
A detector without a cost model is planned and run all the same: `plan --estimate` times it
on a small sample of the run's inputs (`estimate.sample`) and prices its fits and scoring
from that (`Estimate.sampled`); where there is no sample (sharding's reference rates) or the
sample failed, its fits are priced at nothing beyond the metrics, and the estimate names it
(`Estimate.unpriced`).

`estimate.measure.measure_rates` measures the rates on this machine in a few seconds, on the
run's device. `reference_rates` are those measured once on the project's 2-core development
machine: shards are balanced with them, so that every CI job computes the same partition
whatever machine it runs on.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evalsuite.backbone.cache import FeatureCache
from evalsuite.detectors.cost import FitShape, Kernel, KernelRates, LayerShape, Price
from evalsuite.detectors.registry import (
    DETECTORS,
    cost_model,
    reads_images,
    resolve_params,
    search_params,
)
from evalsuite.runner.estimate.sample import Sampled, SampleError
from evalsuite.runner.planning.plan import CellPlan, FitPlan, Plan, Unit, backbone_key
from evalsuite.runner.planning.study_data import StudyData, fit_inputs

PROCESS_BASE_BYTES = 1_200_000_000
"""Resident memory of a worker before any fit: Python, torch, timm, faiss and anomalib loaded."""
REFERENCE_FORWARD_S = 0.125
REFERENCE_EVAL_PIXEL_S = 2.0e-8
REFERENCE_EVAL_RESAMPLE_S = 2.0e-6


@dataclass(frozen=True)
class Rates:
    """Seconds per elementary operation (see the module docstring).

    Attributes:
        forward_s: backbone key -> seconds per image forward pass (missing: `forward_default_s`).
        forward_default_s: seconds per image of a backbone without a measured rate.
        input_s: backbone key -> seconds per image to read and preprocess it and store its
            features (missing: none priced, as with the reference rates).
        kernels: kernel name -> seconds per operation, for the detectors' cost models.
        eval_pixel_s: seconds per test pixel of a cell's metrics.
        eval_resample_s: seconds per test image and bootstrap resample.
        source: "measured" (this machine) or "reference" (the development machine).
        device: the device kind the kernels were measured on (`cpu`, `cuda`).
    """

    forward_s: Mapping[str, float]
    forward_default_s: float
    kernels: Mapping[str, float]
    eval_pixel_s: float
    eval_resample_s: float
    source: str
    device: str = "cpu"
    input_s: Mapping[str, float] = field(default_factory=dict)


def reference_rates(kernels: Sequence[Kernel], device: str = "cpu") -> Rates:
    """The development machine's rates of the common operations and of `kernels`."""
    return Rates(
        forward_s={},
        forward_default_s=REFERENCE_FORWARD_S,
        kernels={kernel.name: kernel.reference_s for kernel in kernels},
        eval_pixel_s=REFERENCE_EVAL_PIXEL_S,
        eval_resample_s=REFERENCE_EVAL_RESAMPLE_S,
        source="reference",
        device=device,
    )


def study_kernels(names: Sequence[str] | None = None) -> list[Kernel]:
    """The kernels the cost models of detectors `names` (None: every registered detector)
    price with, each once, in first-named order."""
    found: dict[str, Kernel] = {}
    for name in names if names is not None else list(DETECTORS):
        model = cost_model(name)
        for kernel in model.kernels if model is not None else ():
            found.setdefault(kernel.name, kernel)
    return list(found.values())


def plan_kernels(plan: Plan) -> list[Kernel]:
    """The kernels the plan's detectors' cost models price with."""
    names = dict.fromkeys(fit.variant.spec.ref for fit in plan.fits)
    return study_kernels(list(names))


@dataclass
class FitCost:
    """The projected cost of one fit and the cells it serves.

    Attributes:
        fit_id: the fit.
        label, scope, condition, categories: what it is.
        train_images: images it is fitted on.
        searched_images: distinct (search settings, image) pairs its cells score.
        cells: cells it serves.
        fit_s: fitting (its detector's cost model).
        score_s: searching and scoring (its detector's cost model).
        eval_s: metrics, bootstrap and records.
        peak_bytes: peak resident memory of the process running it.
        shared_fit_s: the part of `fit_s` its unit's fits share (priced once per unit).
        saved_bytes: what the fitted model writes into the results folder; None when its
            detector's cost model does not say (or it has none).
        priced: whether its detector has a cost model.
        sampled: without one, whether fit and score are extrapolated from a sample (else
            they are not counted).
    """

    fit_id: str
    label: str
    scope: str
    condition: str
    categories: tuple[str, ...]
    train_images: int
    searched_images: int
    cells: int
    fit_s: float = 0.0
    score_s: float = 0.0
    eval_s: float = 0.0
    peak_bytes: int = 0
    shared_fit_s: float = 0.0
    saved_bytes: int | None = None
    priced: bool = True
    sampled: bool = False

    @property
    def total_s(self) -> float:
        """fit + score + eval."""
        return self.fit_s + self.score_s + self.eval_s


@dataclass
class Estimate:
    """The projected cost of a run.

    Attributes:
        fits: per fit.
        units: unit id -> seconds (its fits together; the unit of scheduling).
        features_s: feature extraction (in the main process, before the units).
        distinct_inputs: inputs the backbones see, per backbone key.
        cache_bytes: the feature cache on disk (float32, the layer union of each backbone).
        fits_bytes: the fitted models in the results folder (`fits/`), of the fits whose
            detector's cost model says (`unsized` names the others).
        peak_bytes: the largest per-process peak.
        workers: the processes units run on.
        wall_s: features + the units scheduled on `workers` processes (largest first).
        rates: the rates used.
        unpriced: labels of the detectors without a cost model nor a sample (their fits and
            scoring are not in the projection).
        unsized: labels of the detectors whose fitted models' size is not in `fits_bytes`.
        sampled: label -> what timing a detector without a cost model on a sample gave
            (`Sampled.to_dict`, or its error).
        raw_image_passes: label -> images its detector that reads raw images will be fed (one
            pass over each fit's train images and each input set it scores; nothing cached):
            not in `distinct_inputs`, `features_s` or `cache_bytes`.
    """

    fits: list[FitCost]
    units: dict[str, float]
    features_s: float
    distinct_inputs: dict[str, int]
    cache_bytes: int
    fits_bytes: int
    peak_bytes: int
    workers: int
    wall_s: float
    rates: Rates = field(repr=False)
    unpriced: list[str] = field(default_factory=list)
    unsized: list[str] = field(default_factory=list)
    raw_image_passes: dict[str, int] = field(default_factory=dict)
    sampled: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        payload = asdict(self)
        payload["rates"] = {
            **asdict(self.rates),
            "forward_s": dict(self.rates.forward_s),
            "input_s": dict(self.rates.input_s),
            "kernels": dict(self.rates.kernels),
        }
        payload["fits"] = [{**asdict(f), "total_s": f.total_s} for f in self.fits]
        if not self.raw_image_passes:  # a study whose detectors all read features: as before
            del payload["raw_image_passes"]
        return payload


def estimate(
    plan: Plan,
    data: StudyData,
    sources: Mapping[str, FeatureCache],
    rates: Rates,
    workers: int = 1,
    bootstrap: int = 1000,
    sampled: Mapping[str, Sampled | SampleError] | None = None,
) -> Estimate:
    """The projected cost of running `plan` (nothing cached) on `workers` processes; the
    detectors without a cost model priced from `sampled` (`estimate.sample`), by label."""
    samples = sampled or {}
    costs = [
        _fit_cost(fit, plan.cells_of(fit), data, sources, rates, bootstrap, samples)
        for fit in plan.fits
    ]
    by_id = {cost.fit_id: cost for cost in costs}
    units = {unit.id: _unit_s(unit, by_id) for unit in plan.units}
    inputs = _distinct_inputs(plan, data)
    features_s = sum(
        count * (rates.forward_s.get(key, rates.forward_default_s) + rates.input_s.get(key, 0.0))
        for key, count in inputs.items()
    )
    cache = sum(count * sources[key].bytes_per_input() for key, count in inputs.items())
    return Estimate(
        fits=costs,
        units=units,
        features_s=features_s,
        distinct_inputs=inputs,
        cache_bytes=cache,
        fits_bytes=sum(c.saved_bytes or 0 for c in costs),
        peak_bytes=max((c.peak_bytes for c in costs), default=PROCESS_BASE_BYTES),
        workers=workers,
        wall_s=features_s + makespan(list(units.values()), workers),
        rates=rates,
        unpriced=list(dict.fromkeys(c.label for c in costs if not (c.priced or c.sampled))),
        unsized=list(dict.fromkeys(c.label for c in costs if c.saved_bytes is None)),
        raw_image_passes=_raw_image_passes(plan, costs),
        sampled={label: found.to_dict() for label, found in samples.items()},
    )


def unit_costs(
    plan: Plan, data: StudyData, sources: Mapping[str, FeatureCache], bootstrap: int = 1000
) -> dict[str, float]:
    """Unit id -> its cost at the reference rates: the same on every machine (for sharding)."""
    rates = reference_rates(plan_kernels(plan))
    return estimate(plan, data, sources, rates, bootstrap=bootstrap).units


def unit_prices(
    plan: Plan, data: StudyData, sources: Mapping[str, FeatureCache], bootstrap: int = 1000
) -> tuple[dict[str, float], dict[str, int]]:
    """Unit id -> its cost at the reference rates (as `unit_costs`), and unit id -> its priced
    peak memory in bytes (its largest fit's; what a local pool's memory budget reads)."""
    rates = reference_rates(plan_kernels(plan))
    found = estimate(plan, data, sources, rates, bootstrap=bootstrap)
    peaks = {cost.fit_id: cost.peak_bytes for cost in found.fits}
    return found.units, {
        unit.id: max((peaks[fit.id] for fit in unit.fits), default=PROCESS_BASE_BYTES)
        for unit in plan.units
    }


def makespan(durations: list[float], workers: int) -> float:
    """Wall time of jobs dealt largest first to the least loaded of `workers` processes."""
    loads = [0.0] * max(1, workers)
    for duration in sorted(durations, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + duration)
    return max(loads)


def fit_shape(
    fit: FitPlan, cells: list[CellPlan], data: StudyData, source: FeatureCache
) -> tuple[FitShape, int]:
    """(The shape of `fit` as its detector's cost model reads it, test images of its cells)."""
    spec = fit.variant.spec
    family, severity, factors = fit.variant.tree
    train = data.samples(
        fit.condition, severity, "train", fit.categories, fit.seed, factors, family
    )
    searched, tests = _scored(cells, data)
    layers = resolve_params(spec.ref, spec.params).layers  # none: it reads raw images
    channels = source.backbone.channels(layers) if layers else {}
    strides = source.backbone.strides(layers) if layers else {}
    height, width = source.input_size
    shapes = {
        layer: LayerShape(
            channels[layer], (-(-height // strides[layer]), -(-width // strides[layer]))
        )
        for layer in layers
    }
    per_category = dict(Counter(sample.category for sample in train))
    return FitShape(len(train), per_category, searched, (height, width), shapes), tests


def _fit_cost(
    fit: FitPlan,
    cells: list[CellPlan],
    data: StudyData,
    sources: Mapping[str, FeatureCache],
    rates: Rates,
    bootstrap: int,
    sampled: Mapping[str, Sampled | SampleError],
) -> FitCost:
    spec = fit.variant.spec
    source = sources[backbone_key(spec.backbone)]
    shape, tests = fit_shape(fit, cells, data, source)
    cost = FitCost(
        fit.id,
        spec.label,
        fit.scope,
        fit.condition,
        fit.categories,
        shape.train_images,
        shape.searched_images,
        len(cells),
    )
    height, width = shape.input_size
    cost.eval_s = tests * (height * width * rates.eval_pixel_s + bootstrap * rates.eval_resample_s)
    held = _held_features(fit, cells, data, source)
    model = cost_model(spec.ref)
    if model is None:
        cost.priced, cost.peak_bytes = False, PROCESS_BASE_BYTES + held
        sample = sampled.get(spec.label)
        if isinstance(sample, Sampled):  # not a `SampleError`
            cost.sampled = True
            cost.fit_s = sample.fit_at(shape.train_images)
            cost.score_s = sample.score_s * shape.searched_images
        return cost
    price: Price = model.price(
        resolve_params(spec.ref, spec.params), shape, KernelRates(rates.kernels, rates.device)
    )
    cost.fit_s, cost.score_s = price.fit_s, price.score_s
    cost.peak_bytes = PROCESS_BASE_BYTES + price.peak_bytes + held
    cost.shared_fit_s = price.shared_fit_s
    cost.saved_bytes = price.saved_bytes
    return cost


def _held_features(
    fit: FitPlan, cells: list[CellPlan], data: StudyData, source: FeatureCache
) -> int:
    """Bytes of features the process running `fit` holds in its feature cache's memory:
    every input it reads, up to the cache's in-memory budget (`FeatureCache.memory_bytes`)."""
    if reads_images(fit.variant.spec.ref):
        return 0
    return min(source.memory_bytes, len(fit_inputs(data, fit, cells)) * source.bytes_per_input())


def _unit_s(unit: Unit, costs: Mapping[str, FitCost]) -> float:
    """A unit's seconds: its fits' costs, their shared selection priced once (the largest)."""
    total = sum(costs[fit.id].total_s for fit in unit.fits)
    if len(unit.fits) > 1:
        shared = sorted(costs[fit.id].shared_fit_s for fit in unit.fits)
        total -= sum(shared[:-1])  # the smaller selections are prefixes of the largest
    return total


def _scored(cells: list[CellPlan], data: StudyData) -> tuple[int, int]:
    """(distinct searched (search settings, image) pairs, test images summed over cells)."""
    searched: set[tuple[str, Any]] = set()
    tests = 0
    for cell in cells:
        (family, severity, factors), seed = cell.variant.tree, cell.fit.seed
        spec = cell.variant.spec
        search = sorted(search_params(spec.ref, spec.params).items())
        category = [cell.category]
        val = data.samples(
            cell.threshold_condition, severity, "val", category, seed, factors, family
        )
        test = data.samples(cell.condition, severity, "test", category, seed, factors, family)
        searched.update((str(search), s.path) for s in val + test)
        tests += len(test)
    return len(searched), tests


def _raw_image_passes(plan: Plan, costs: Sequence[FitCost]) -> dict[str, int]:
    """Label -> images fed to its raw-image detector: each fit's train images and the images
    its cells score, once each (what the manifest's `counts.raw_image_passes` records)."""
    passes: dict[str, int] = {}
    for fit, cost in zip(plan.fits, costs, strict=True):
        if reads_images(fit.variant.spec.ref):
            label = fit.variant.spec.label
            passes[label] = passes.get(label, 0) + cost.train_images + cost.searched_images
    return passes


def _distinct_inputs(plan: Plan, data: StudyData) -> dict[str, int]:
    """Backbone key -> distinct images the plan reads through the feature cache."""
    return {key: len(paths) for key, paths in input_paths(plan, data).items()}


def input_paths(plan: Plan, data: StudyData) -> dict[str, list[Path]]:
    """Backbone key -> the distinct image files the plan reads through the feature cache
    (train of fits, val and test of cells), in plan order; none for a detector that reads
    raw images."""
    wanted: dict[str, dict[Path, None]] = {}
    for fit in plan.fits:
        if reads_images(fit.variant.spec.ref):
            continue
        chosen = wanted.setdefault(backbone_key(fit.variant.spec.backbone), {})
        chosen.update(dict.fromkeys(s.path for s in fit_inputs(data, fit, plan.cells_of(fit))))
    return {key: list(paths) for key, paths in wanted.items()}
