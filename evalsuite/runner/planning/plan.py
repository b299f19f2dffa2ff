"""Expand a study configuration into fits (deduplicated), cells and units of work, keyed by content.

A fit is keyed by what determines the fitted model: detector (a plug-in's class and version
too), the params that change the fit
(not those it declares search-only or scoring-only, see `detectors.params.DetectorParams`),
backbone and weights digest, the device kind when it is not the CPU, the training data
(dataset fingerprint, condition, shift severity, categories, split settings) and the seed. A
cell is keyed by its fit plus what it evaluates (the detector's label, its search and scoring
params, category, kind, sweep and evaluation settings). The clean fit serves clean/none, shift/none
and shift/threshold; a unified fit serves every category.

A shift variant other than `all` at the study's severity (`shift.factors` x `shift.severities`,
MVTec-Shift's or the corruption family's, see `planning.variants`) is planned as a
`shift.factors` sweep value of every detector: its cells read the clean fits for shift/none and
shift/threshold, and its own shifted tree, whose fingerprint (and family, for the corruptions)
enters their keys (and the key of a shift/retrain fit on it). Clean fits, `all` cells and their
ids do not depend on the variants (a mixed shift at another severity adds its fingerprint to the
data key, as a `shift.severity` sweep does). A real condition of MVTec AD 2 (`shift.conditions`)
is planned the same way as a `shift.conditions` sweep value with `shift/none` cells: the
fingerprint of its test set and its family (`real`) enter its cells' keys.

A unit of work is a family of fits that share one nested selection: fits that differ only in
the param a detector declares as its selection param (`DetectorEntry.selection_param`), whose
smaller selections are exact prefixes of the largest. Executors and shards take whole units.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from evalsuite import results
from evalsuite.config import StudyConfig
from evalsuite.data.shift_factors import ALL
from evalsuite.data.shift_family import CORRUPTIONS, MVTEC_SHIFT, tree_name
from evalsuite.detectors.registry import (
    fit_params,
    provenance,
    resolve_params,
    scoring_params,
    selection_param,
)
from evalsuite.evaluation.regimes import plan_for
from evalsuite.runner.planning.variants import (  # noqa: F401  (re-exported)
    FACTORS_PARAM,
    Variant,
    variants,
)

RESULTS_VERSION = "2"
"""Bumped whenever a code change alters results; part of every key. 2: every backbone pass
has a fixed batch size (features no longer depend on their batch companions)."""


def content_key(payload: Any) -> str:
    """A 16-hex-digit SHA-256 of the canonical JSON of `payload`."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FitPlan:
    """One model to fit.

    Attributes:
        id: content key.
        variant: the detector configuration.
        scope: per_class or unified.
        categories: the categories whose train images it is fitted on (one for per_class).
        condition: the condition of its train images.
        seed: the seed.
        family: the unit of work it belongs to: the content key of its fit key without the
            selection parameter (its own id for detectors without one).
        key: everything the id hashes, for the record.
    """

    id: str
    variant: Variant
    scope: str
    categories: tuple[str, ...]
    condition: str
    seed: int
    family: str
    key: dict[str, Any] = field(compare=False, repr=False)


@dataclass(frozen=True)
class CellPlan:
    """One evaluation: a fit, a category, a condition/regime pair.

    Attributes:
        id: content key (fit key plus what the cell evaluates).
        fit: the fit it reads.
        category: the category evaluated.
        condition: clean or shift (the test images' condition).
        regime: none, threshold or retrain.
        threshold_condition: the condition of the val images the threshold comes from.
        variant: the detector configuration the cell evaluates; its sweep and shift severity
            can differ from its fit's (a severity sweep reuses the baseline's clean fit).
    """

    id: str
    fit: FitPlan
    category: str
    condition: str
    regime: str
    threshold_condition: str
    variant: Variant


@dataclass(frozen=True)
class Unit:
    """A unit of work: fits that share one nested selection, and the cells they serve.

    Attributes:
        id: the family key its fits share.
        fits: its fits, in plan order.
    """

    id: str
    fits: tuple[FitPlan, ...]


@dataclass(frozen=True)
class Plan:
    """Every fit and cell of a study, in a deterministic order."""

    fits: tuple[FitPlan, ...]
    cells: tuple[CellPlan, ...]

    def cells_of(self, fit: FitPlan) -> list[CellPlan]:
        """The cells a fit serves."""
        return [cell for cell in self.cells if cell.fit.id == fit.id]

    @property
    def units(self) -> tuple[Unit, ...]:
        """The units of work, in the order of their first fit."""
        families: dict[str, list[FitPlan]] = {}
        for fit in self.fits:
            families.setdefault(fit.family, []).append(fit)
        return tuple(Unit(family, tuple(fits)) for family, fits in families.items())

    def unit(self, unit_id: str) -> Unit:
        """The unit `unit_id` (KeyError when the plan has none)."""
        for unit in self.units:
            if unit.id == unit_id:
                return unit
        raise KeyError(unit_id)

    def shard(self, index: int, total: int, costs: dict[str, float] | None = None) -> Plan:
        """The deterministic subset `index` of `total` (1-based): whole units, so no fit and no
        selection is computed in two shards.

        Args:
            index: the shard, 1 <= index <= total.
            total: the number of shards.
            costs: unit id -> cost (any machine-independent unit). With costs, units are dealt
                largest first to the least loaded shard (ties: the lower shard), which balances
                the shards' wall time; without, round robin in plan order.
        """
        units = self.units
        if costs is None:
            chosen = [u for i, u in enumerate(units) if i % total == index - 1]
        else:
            loads = [0.0] * total
            chosen = []
            for unit in sorted(units, key=lambda u: (-costs[u.id], u.id)):
                target = loads.index(min(loads))
                loads[target] += costs[unit.id]
                if target == index - 1:
                    chosen.append(unit)
        ids = {fit.id for unit in chosen for fit in unit.fits}
        fits = tuple(f for f in self.fits if f.id in ids)
        return Plan(fits, tuple(c for c in self.cells if c.fit.id in ids))


def reads_shift(fit_condition: str, threshold_condition: str, condition: str) -> bool:
    """Whether a cell reads shifted images (for its fit, its threshold or its test)."""
    return "shift" in (fit_condition, threshold_condition, condition)


def make_plan(
    config: StudyConfig,
    data_key: dict[str, Any],
    weights: dict[str, str | None],
    device: str = "cpu",
    trees: Mapping[str, str] | None = None,
) -> Plan:
    """Expand `config` into fits and cells.

    Args:
        config: the study.
        data_key: what identifies the data (fingerprints, split settings, code version).
        weights: backbone name -> weights SHA-256 (None for random weights).
        device: the kind of device fits run on ("cpu" or "cuda"); part of fit keys when not
            "cpu", since results on a GPU equal the CPU's only within a tolerance.
        trees: the fingerprints of the shift variants' trees (`StudyData.factor_fingerprints`,
            by `shift_factors.tree_name`); they enter the keys of the cells and fits that read
            them. None: no fingerprint in those keys (a plan made without the data).
    """
    trees = trees or {}
    if config.feature_cache_storage != "float32":  # features rounded: other fits and cells
        data_key = {**data_key, "feature_storage": config.feature_cache_storage}
    fits: dict[str, FitPlan] = {}
    cells: list[CellPlan] = []
    for seed in config.seeds:
        for variant in variants(config):
            for scope in variant.scopes:
                groups = (
                    [(c,) for c in config.data.categories]
                    if scope == "per_class"
                    else [tuple(config.data.categories)]
                )
                for categories in groups:
                    for kind in variant.kinds:
                        condition, regime = kind.split("/")
                        regime_plan = plan_for(condition, regime)
                        fit = _fit(
                            variant,
                            scope,
                            categories,
                            regime_plan.fit_condition,
                            seed,
                            data_key,
                            weights,
                            device,
                            trees,
                        )
                        fits.setdefault(fit.id, fit)
                        for category in categories:
                            cell_key = {
                                "fit": fit.id,
                                "label": variant.spec.label,
                                "scoring": scoring_params(variant.spec.ref, variant.spec.params),
                                "category": category,
                                "kind": kind,
                                "sweep": variant.sweep,
                                "evaluation": config.evaluation.model_dump(mode="json"),
                            }
                            if _variant_tree(variant) and reads_shift(
                                fit.condition, regime_plan.threshold_condition, condition
                            ):
                                cell_key.update(_tree_key(variant, trees))
                            cells.append(
                                CellPlan(
                                    content_key(cell_key),
                                    fits[fit.id],
                                    category,
                                    condition,
                                    regime,
                                    regime_plan.threshold_condition,
                                    variant,
                                )
                            )
    unique = {cell.id: cell for cell in cells}
    return Plan(tuple(fits.values()), tuple(unique.values()))


def _fit(
    variant: Variant,
    scope: str,
    categories: tuple[str, ...],
    condition: str,
    seed: int,
    data_key: dict[str, Any],
    weights: dict[str, str | None],
    device: str,
    trees: Mapping[str, str],
) -> FitPlan:
    spec = variant.spec
    key: dict[str, Any] = {
        "version": RESULTS_VERSION,
        "detector": spec.name,
        "params": fit_params(spec.ref, spec.params),
        "backbone": spec.backbone.model_dump(mode="json"),
        "weights_sha256": weights.get(spec.backbone.name),
        "data": data_key,
        "condition": condition,
        "severity": variant.severity if condition == "shift" else None,
        "scope": scope,
        "categories": list(categories),
        "seed": seed,
    }
    if device != "cpu":
        key["device"] = device
    if condition == "shift" and _variant_tree(variant):  # a fit on a variant's shifted images
        key["shift_factors"] = variant.factors
        key.update(_tree_key(variant, trees))
    impl = provenance(spec.ref)
    if impl is not None:  # a plug-in: its class and version (built-ins' keys stay as they were)
        key["impl"] = impl
    family = _family(spec.ref, key)
    return FitPlan(content_key(key), variant, scope, categories, condition, seed, family, key)


def _variant_tree(variant: Variant) -> bool:
    """Whether a variant's shifted images are a variant tree (not the mixed shift's)."""
    return variant.factors != ALL or variant.family == CORRUPTIONS


def _tree_key(variant: Variant, trees: Mapping[str, str]) -> dict[str, Any]:
    """What a variant tree adds to the keys that read it: its fingerprint (None when the plan
    was made without it) and its family unless MVTec-Shift (the corruptions, a real
    condition)."""
    key: dict[str, Any] = {
        "shift_tree": trees.get(tree_name(variant.severity, variant.factors, variant.family))
    }
    if variant.family != MVTEC_SHIFT:
        key["shift_family"] = variant.family
    return key


def _family(detector: str, key: dict[str, Any]) -> str:
    """The key of a fit's unit of work: its fit key without the selection parameter."""
    param = selection_param(detector)
    if param is None:
        return content_key(key)
    params = {name: value for name, value in key["params"].items() if name != param}
    return content_key({**key, "params": params, "family_of": param})


def backbone_key(backbone: Any) -> str:
    """The key of a backbone configuration (one feature cache per key in a run)."""
    return content_key(backbone.model_dump(mode="json"))


def backbone_layers(config: StudyConfig) -> dict[str, tuple[Any, list[str]]]:
    """Backbone key -> (its configuration, the layers its detectors read: a union in first-use
    order) over every variant of the study; one feature cache each in a run."""
    found: dict[str, tuple[Any, list[str]]] = {}
    for variant in variants(config):
        key = backbone_key(variant.spec.backbone)
        layers = found[key][1] if key in found else []
        found[key] = (variant.spec.backbone, layers)
        layers.extend(layer for layer in variant.spec.params["layers"] if layer not in layers)
    return found


def check_channels(config: StudyConfig, channels: dict[str, dict[str, int]]) -> None:
    """Check every variant's params against its backbone's channels (each detector's own
    check, `DetectorParams.check_channels`).

    Args:
        config: the study.
        channels: backbone key (`backbone_key`) -> layer -> channels, for every backbone of
            `config`, its detectors' layers checked already.

    Raises:
        ConfigError: params that do not fit the channels of their layers.
    """
    for variant in variants(config):
        spec = variant.spec
        known = channels[backbone_key(spec.backbone)]
        resolve_params(spec.ref, spec.params).check_channels(spec.backbone.name, known)


def planned_relpath(cell: CellPlan, multi_seed: bool) -> PurePosixPath:
    """Where a planned cell's record lives; the seed is in the path of multi-seed studies."""
    variant = cell.variant
    return results.cell_relpath(
        variant.spec.label,
        cell.fit.scope,
        cell.regime,
        cell.condition,
        cell.category,
        variant.sweep,
        cell.fit.seed if multi_seed else None,
    )
