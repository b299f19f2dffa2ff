"""What a run will cost before it starts: wall time, peak memory and feature-cache disk.

A cost model counts each unit's elementary operations from the plan and the data (images per
split, patch grids, coreset sizes, PaDiM's d) and prices them with per-operation rates:

- backbone forward pass: distinct inputs of the run; s per image, per backbone configuration;
- greedy coreset: M iterations x P points x k dims, once per unit (smaller selections are
  prefixes of the largest); s per point-dimension of the full loop, times PRUNED_GREEDY_WORK
  where the pruned loop runs (`greedy_pruned.usable`);
- exact nearest-neighbour search: searched images x h w patches x M bank rows x D dims; s per
  multiply-add;
- PaDiM moments, inverse and scoring: n P d^2, P d^3 and searched images x P d^2;
- metrics and bootstrap: test images x H W pixels, and resamples x test images.

`estimate.measure.measure_rates` measures the rates on this machine in a few seconds, on the
run's device (on a GPU the greedy is priced as the torch loop, which does not prune).
`REFERENCE_RATES` were
measured once on the project's 2-core development machine: shards are balanced with them, so
that every CI job computes the same partition whatever machine it runs on.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from evalsuite.backbone.cache import FeatureCache
from evalsuite.data.samples import Sample
from evalsuite.detectors.patchcore.greedy_pruned import GATHER_CHUNK, usable
from evalsuite.runner.planning.plan import CellPlan, FitPlan, Plan, Unit, backbone_key
from evalsuite.runner.planning.study_data import StudyData, fit_inputs

PROCESS_BASE_BYTES = 1_200_000_000
PRUNED_GREEDY_WORK = 0.16
"""Time of a fit with the pruned greedy loop over one with the full loop: 47.2 s / 302.5 s,
measured by `benchmarks/greedy_pruning.py` on 2026-12-03 (bundled ImageNet Lite0 features of
243 synthetic hazelnut images, 190,512 patches, coreset 10%, one thread). How much the
triangle inequality prunes depends on the features, so this is the one factor of the model
not measured on the fly."""
"""Resident memory of a worker before any fit: Python, torch, timm, faiss and anomalib loaded."""


@dataclass(frozen=True)
class Rates:
    """Seconds per elementary operation (see the module docstring).

    Attributes:
        forward_s: backbone key -> seconds per image forward pass (missing: `forward_default_s`).
        forward_default_s: seconds per image of a backbone without a measured rate.
        greedy_s: seconds per point-dimension of one greedy iteration.
        search_s: seconds per multiply-add of exact search (and of the JL projection).
        padim_moments_s: seconds per multiply-add of PaDiM's moment accumulation.
        padim_inverse_s: seconds per d^3 of one position's Cholesky inverse.
        padim_score_s: seconds per multiply-add of the Mahalanobis distances.
        map_pixel_s: seconds per output pixel of an anomaly map (upsampling and Gaussian blur).
        eval_pixel_s: seconds per test pixel of a cell's metrics.
        eval_resample_s: seconds per test image and bootstrap resample.
        source: "measured" (this machine) or "reference" (the development machine).
        device: the device kind the fit and search rates were measured on (`cpu`, `cuda`):
            on the CPU the greedy is priced as the pruned loop where it runs, on a GPU as
            the torch loop, which does not prune.
    """

    forward_s: Mapping[str, float]
    forward_default_s: float
    greedy_s: float
    search_s: float
    padim_moments_s: float
    padim_inverse_s: float
    padim_score_s: float
    map_pixel_s: float
    eval_pixel_s: float
    eval_resample_s: float
    source: str
    device: str = "cpu"


REFERENCE_RATES = Rates(
    forward_s={},
    forward_default_s=0.125,
    greedy_s=1.0e-9,
    search_s=6.0e-11,
    padim_moments_s=1.0e-10,
    padim_inverse_s=3.0e-10,
    padim_score_s=1.0e-10,
    map_pixel_s=5.0e-8,
    eval_pixel_s=2.0e-8,
    eval_resample_s=2.0e-6,
    source="reference",
)


@dataclass
class FitCost:
    """The projected cost of one fit and the cells it serves.

    Attributes:
        fit_id: the fit.
        label, scope, condition, categories: what it is.
        train_images: images it is fitted on.
        searched_images: distinct (search settings, image) pairs its cells score.
        cells: cells it serves.
        fit_s: fitting (coreset selection, or PaDiM's moments and inverse).
        score_s: searching and scoring.
        eval_s: metrics, bootstrap and records.
        peak_bytes: peak resident memory of the process running it.
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
        peak_bytes: the largest per-process peak.
        workers: the processes units run on.
        wall_s: features + the units scheduled on `workers` processes (largest first).
        rates: the rates used.
    """

    fits: list[FitCost]
    units: dict[str, float]
    features_s: float
    distinct_inputs: dict[str, int]
    cache_bytes: int
    peak_bytes: int
    workers: int
    wall_s: float
    rates: Rates = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        payload = asdict(self)
        payload["rates"] = {**asdict(self.rates), "forward_s": dict(self.rates.forward_s)}
        payload["fits"] = [{**asdict(f), "total_s": f.total_s} for f in self.fits]
        return payload


def estimate(
    plan: Plan,
    data: StudyData,
    sources: Mapping[str, FeatureCache],
    rates: Rates,
    workers: int = 1,
    bootstrap: int = 1000,
) -> Estimate:
    """The projected cost of running `plan` (nothing cached) on `workers` processes."""
    costs = [
        _fit_cost(fit, plan.cells_of(fit), data, sources, rates, bootstrap) for fit in plan.fits
    ]
    by_id = {cost.fit_id: cost for cost in costs}
    units = {unit.id: _unit_s(unit, by_id, data, sources, rates) for unit in plan.units}
    inputs = _distinct_inputs(plan, data)
    features_s = sum(
        count * rates.forward_s.get(key, rates.forward_default_s) for key, count in inputs.items()
    )
    cache = sum(count * sources[key].bytes_per_input() for key, count in inputs.items())
    return Estimate(
        fits=costs,
        units=units,
        features_s=features_s,
        distinct_inputs=inputs,
        cache_bytes=cache,
        peak_bytes=max((c.peak_bytes for c in costs), default=PROCESS_BASE_BYTES),
        workers=workers,
        wall_s=features_s + makespan(list(units.values()), workers),
        rates=rates,
    )


def unit_costs(
    plan: Plan, data: StudyData, sources: Mapping[str, FeatureCache], bootstrap: int = 1000
) -> dict[str, float]:
    """Unit id -> its cost at REFERENCE_RATES: the same on every machine (for sharding)."""
    return estimate(plan, data, sources, REFERENCE_RATES, bootstrap=bootstrap).units


def makespan(durations: list[float], workers: int) -> float:
    """Wall time of jobs dealt largest first to the least loaded of `workers` processes."""
    loads = [0.0] * max(1, workers)
    for duration in sorted(durations, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + duration)
    return max(loads)


def _fit_cost(
    fit: FitPlan,
    cells: list[CellPlan],
    data: StudyData,
    sources: Mapping[str, FeatureCache],
    rates: Rates,
    bootstrap: int,
) -> FitCost:
    spec = fit.variant.spec
    source = sources[backbone_key(spec.backbone)]
    train = data.samples(fit.condition, fit.variant.severity, "train", fit.categories, fit.seed)
    searched, tests = _scored(cells, data)
    cost = FitCost(
        fit.id,
        spec.label,
        fit.scope,
        fit.condition,
        fit.categories,
        len(train),
        searched,
        len(cells),
    )
    height, width = source.input_size
    cost.eval_s = tests * (height * width * rates.eval_pixel_s + bootstrap * rates.eval_resample_s)
    maps_s = searched * height * width * rates.map_pixel_s
    shape = _shape(spec.name, spec.params, source)
    positions, dim = shape["positions"], shape["dim"]
    if spec.name == "patchcore":
        points = len(train) * positions
        bank = max(1, int(points * spec.params["coreset_ratio"]))
        k = min(dim, spec.params["coreset_projection_dim"])
        pruned = rates.device == "cpu"
        greedy = _greedy_work(spec.params, train, positions, k, pruned) * k * rates.greedy_s
        cost.fit_s = greedy + points * dim * k * rates.search_s
        cost.score_s = searched * positions * bank * dim * rates.search_s + maps_s
        pruning = 8 * points + 4 * k * min(GATHER_CHUNK, points)  # the pruned loop's buffers
        cost.peak_bytes = PROCESS_BASE_BYTES + 4 * (points * (dim + k) + bank * dim) + pruning
    else:
        d = spec.params["n_features"]
        cost.fit_s = (
            len(train) * positions * d * d * rates.padim_moments_s
            + positions * d**3 * rates.padim_inverse_s
        )
        cost.score_s = searched * positions * d * d * rates.padim_score_s + maps_s
        cost.peak_bytes = PROCESS_BASE_BYTES + 4 * positions * d * d + 8 * positions * d * d // 4
    return cost


def _unit_s(
    unit: Unit,
    costs: Mapping[str, FitCost],
    data: StudyData,
    sources: Mapping[str, FeatureCache],
    rates: Rates,
) -> float:
    """A unit's seconds: its fits' costs, with one greedy selection (the largest) for all."""
    total = sum(costs[fit.id].total_s for fit in unit.fits)
    if len(unit.fits) > 1 and unit.fits[0].variant.spec.name == "patchcore":
        greedy = sorted(_greedy_s(fit, data, sources, rates) for fit in unit.fits)
        total -= sum(greedy[:-1])  # the smaller selections are prefixes of the largest
    return total


def _greedy_s(
    fit: FitPlan, data: StudyData, sources: Mapping[str, FeatureCache], rates: Rates
) -> float:
    spec = fit.variant.spec
    shape = _shape(spec.name, spec.params, sources[backbone_key(spec.backbone)])
    train = data.samples(fit.condition, fit.variant.severity, "train", fit.categories, fit.seed)
    k = min(shape["dim"], spec.params["coreset_projection_dim"])
    work = _greedy_work(spec.params, train, shape["positions"], k, rates.device == "cpu")
    return work * k * rates.greedy_s


def _greedy_work(
    params: Mapping[str, Any],
    train: Sequence[Sample],
    positions: int,
    dim: int,
    pruned: bool = True,
) -> float:
    """Full-loop point-iterations of PatchCore's greedy coreset on `train` in `dim` projected
    dimensions: M x P for the pooled selection, the sum over categories of M_k x P_k for
    `coreset_scope="per_category"`; with `pruned` (the CPU), each times PRUNED_GREEDY_WORK
    where the pruned loop runs."""
    if params.get("coreset_scope", "pooled") == "per_category":
        counts = Counter(sample.category for sample in train)
        groups = [count * positions for count in counts.values()]
    else:
        groups = [len(train) * positions]
    return sum(
        max(1, int(points * params["coreset_ratio"]))
        * points
        * (PRUNED_GREEDY_WORK if pruned and usable(points, dim) else 1.0)
        for points in groups
    )


def _scored(cells: list[CellPlan], data: StudyData) -> tuple[int, int]:
    """(distinct searched (search settings, image) pairs, test images summed over cells)."""
    searched: set[tuple[str, Any]] = set()
    tests = 0
    for cell in cells:
        severity, seed = cell.variant.severity, cell.fit.seed
        params = cell.variant.spec.params
        search = (params.get("search", "exact"), params.get("hnsw_ef_search"))
        val = data.samples(cell.threshold_condition, severity, "val", [cell.category], seed)
        test = data.samples(cell.condition, severity, "test", [cell.category], seed)
        searched.update((str(search), s.path) for s in val + test)
        tests += len(test)
    return len(searched), tests


def _shape(name: str, params: Mapping[str, Any], source: FeatureCache) -> dict[str, int]:
    """Patch positions per image and feature dimension of a detector on a backbone."""
    layers = params["layers"]
    channels = source.backbone.channels(layers)
    strides = source.backbone.strides(layers)
    height, width = source.input_size
    stride = strides[layers[0]]
    positions = -(-height // stride) * -(-width // stride)
    total = sum(channels.values())
    if name == "patchcore":
        target = params.get("target_dim")
        dim = total if target is None or total <= target else int(target)
    else:
        dim = int(params["n_features"])
    return {"positions": positions, "dim": dim}


def _distinct_inputs(plan: Plan, data: StudyData) -> dict[str, int]:
    """Backbone key -> distinct images the plan reads (train of fits, val and test of cells)."""
    wanted: dict[str, set[Any]] = {}
    for fit in plan.fits:
        chosen = wanted.setdefault(backbone_key(fit.variant.spec.backbone), set())
        chosen.update(s.path for s in fit_inputs(data, fit, plan.cells_of(fit)))
    return {key: len(paths) for key, paths in wanted.items()}
