"""Cell records: where each lives and what it holds (ok or failed), written atomically."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from evalsuite import results
from evalsuite.data.shift_factors import ALL
from evalsuite.data.shift_family import MVTEC_SHIFT, REAL, tree_name
from evalsuite.detectors.registry import provenance
from evalsuite.results.splits import splits_relpath
from evalsuite.runner.planning.plan import FACTORS_PARAM, CellPlan, planned_relpath, reads_shift
from evalsuite.runner.preparation.context import RunContext, approximations

log = logging.getLogger(__name__)


@dataclass
class CellResult:
    """One cell's outcome: its record path, status, and whether it was reused."""

    relpath: PurePosixPath
    status: str
    cached: bool
    error: str | None = None


def relpath_of(ctx: RunContext, cell: CellPlan) -> PurePosixPath:
    """Where a cell's record lives."""
    return planned_relpath(cell, ctx.multi_seed)


def is_done(ctx: RunContext, cell: CellPlan) -> bool:
    """Whether the cell's record is already there; a corrupt one is reported, then recomputed."""
    relpath = relpath_of(ctx, cell)
    state = results.cell_state(ctx.out, relpath, cell.id)
    if state == "corrupt":
        log.warning("cell file %s is corrupt; recomputing it", results.cell_path(ctx.out, relpath))
    return state == "done"


def shift_fingerprint(ctx: RunContext, cell: CellPlan) -> str | None:
    """The fingerprint of the shifted tree a cell reads (its fit's train images, its threshold's
    val images or its test images; a real condition's: its test set), beside the clean one;
    None for a cell on clean data only."""
    if not reads_shift(cell.fit.condition, cell.threshold_condition, cell.condition):
        return None
    variant = cell.variant
    name = tree_name(variant.severity, variant.factors, variant.family)
    if name in ctx.data.factor_fingerprints:
        return ctx.data.factor_fingerprints[name]
    return ctx.data.fingerprints[name]


def shift_config(ctx: RunContext, cell: CellPlan) -> dict[str, Any]:
    """The shift a cell's shifted images come from: severity, seed, and for a shift variant's
    cell (its sweep is `shift.factors`, or it is any variant other than `all`) its `factors`
    as a one-element list, with its `family` unless MVTec-Shift (records of the mixed shift at
    the study's severity, and of other sweeps, stay as they were). A real condition's cell:
    `{"family": "real", "condition": <its name>}`."""
    variant = cell.variant
    if variant.family == REAL:
        return {"family": REAL, "condition": variant.factors}
    shift: dict[str, Any] = {"severity": variant.severity, "seed": ctx.config.shift.seed}
    if variant.family != MVTEC_SHIFT:
        shift["family"] = variant.family
    swept = variant.sweep is not None and variant.sweep[0] == FACTORS_PARAM
    if swept or variant.factors != ALL:
        shift["factors"] = [variant.factors]
    return shift


def used_splits(ctx: RunContext, seed: int) -> dict[str, float]:
    """The shares the run split its clean tree with: `splits`' (as configured), except where
    the layout fixes the split (an MVTec AD 2 tree: 0 and 0, `study_data.split_config`)."""
    used = ctx.data.splits[seed].config
    return {
        "val_normal_ratio": used.val_normal_ratio,
        "val_anomaly_ratio": used.val_anomaly_ratio,
    }


def base_record(ctx: RunContext, cell: CellPlan) -> dict[str, Any]:
    """The fields every record of `cell` holds, ok or failed: inputs and provenance."""
    variant = cell.variant
    sweep = {"param": variant.sweep[0], "value": variant.sweep[1]} if variant.sweep else None
    spec = variant.spec
    features = ctx.features_of(spec)
    record: dict[str, Any] = {
        "schema": results.CELL_SCHEMA,
        "id": cell.id,
        "fit_id": cell.fit.id,
        "detector": spec.name,
        "label": spec.label,
        "scope": cell.fit.scope,
        "regime": cell.regime,
        "condition": cell.condition,
        "category": cell.category,
        "seed": cell.fit.seed,
        "sweep": sweep,
        "config": {
            "detector": spec.model_dump(mode="json"),
            "fit": cell.fit.key,
            "threshold_condition": cell.threshold_condition,
            "shift": shift_config(ctx, cell),
            "splits": used_splits(ctx, cell.fit.seed),
            "evaluation": ctx.config.evaluation.model_dump(mode="json"),
            "preprocessing": features.backbone.preprocessing.to_dict(),
        },
        "provenance": {
            **ctx.provenance,
            "dataset_fingerprint_shift": shift_fingerprint(ctx, cell),
            "weights": features.backbone.weights.to_dict(),
            "approximations": approximations(
                spec, cell.fit.scope, ctx.config.feature_cache_storage
            ),
            "splits": str(splits_relpath(cell.fit.seed)),
        },
        "artifacts": [],
        "shortcut": None,
        "metrics": None,
        "threshold": None,
        "scores": None,
        "roc": None,
    }
    impl = provenance(spec.ref)
    if impl is not None:  # a plug-in's class and version; built-ins' records stay as they were
        record["provenance"]["detector_impl"] = impl
    return record


def write_failed(ctx: RunContext, cell: CellPlan, error: BaseException, fit_s: float) -> CellResult:
    """Write the `failed` record of a cell, with its error."""
    record = base_record(ctx, cell)
    message = str(error) or type(error).__name__
    record.update(
        status="failed",
        error={"type": type(error).__name__, "message": message},
        timing_s={"fit": fit_s, "score": 0.0, "total": fit_s},
    )
    relpath = relpath_of(ctx, cell)
    results.write_cell(ctx.out, relpath, record)
    return CellResult(relpath, "failed", False, message)


def write_ok(
    ctx: RunContext,
    cell: CellPlan,
    outcome: dict[str, Any],
    timing: dict[str, float],
    artifacts: list[dict[str, str]],
    evidence: str | None = None,
    thumbnails: dict[str, Any] | None = None,
) -> CellResult:
    """Write the `ok` record of a cell from its evaluated outcome (see `scoring.CellScorer`);
    `evidence` is the path of its pixel evidence (see `runner.writing.evidence`), if any;
    `thumbnails` what `runner.writing.thumbnails.write_thumbnails` wrote."""
    record = base_record(ctx, cell)
    evaluated = outcome["evaluated"]
    pixel_t = outcome["pixel_threshold"]
    record.update(
        status="ok",
        error=None,
        metrics=evaluated["metrics"],
        roc=evaluated["roc"],
        threshold={
            "image": outcome["image_threshold"].to_dict(),
            "pixel": pixel_t.to_dict() if pixel_t else None,
        },
        scores=[
            {"id": s.id, "label": s.label, "defect": s.defect, "score": float(v)}
            for s, v in zip(outcome["samples"], outcome["test"].image, strict=True)
        ],
        shortcut=outcome.get("shortcut"),
        timing_s=timing,
        artifacts=artifacts,
        evidence=evidence,
        thumbnails=thumbnails,
    )
    relpath = relpath_of(ctx, cell)
    results.write_cell(ctx.out, relpath, record)
    return CellResult(relpath, "ok", False)
