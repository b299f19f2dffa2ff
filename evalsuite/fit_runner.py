"""Run one fit and the cells it serves: fit (or load), score, threshold on val, metrics on test.

The unit of work of every executor: cells that share a fit run where the fit is. A failing fit
or cell becomes a `failed` record with its error; nothing is caught silently.
"""

from __future__ import annotations

import logging
import shutil
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from evalsuite import results
from evalsuite.artifacts import overlay_strip, pick_examples
from evalsuite.atomic import write_json
from evalsuite.backbone.cache import FeatureCache
from evalsuite.config import StudyConfig, ThresholdSettings
from evalsuite.data.imageio import write_png
from evalsuite.data.samples import Sample
from evalsuite.data.splits import Split
from evalsuite.detectors.base import Detector, Scores
from evalsuite.detectors.registry import build_detector, load_detector
from evalsuite.detectors.threads import limit_threads
from evalsuite.evaluation.cell import evaluate_cell
from evalsuite.evaluation.shortcut import nn_provenance, score_distributions, threshold_transfer
from evalsuite.evaluation.thresholds import Level, Threshold, ValScores, threshold_from_val
from evalsuite.plan import CellPlan, FitPlan, backbone_key
from evalsuite.study_data import StudyData

log = logging.getLogger(__name__)
FIT_DONE = "fit.json"
DETECTOR_THREADS = 1
"""Fits and scores run on one thread: BLAS reductions (faiss's exact search, PaDiM's sums) then
give the same bits in every executor (Dask workers run with OMP_NUM_THREADS=1), and on a
shared machine one thread per process is also the faster choice. Parallelism comes from
`--workers` (fit groups side by side); feature extraction keeps every thread."""


@dataclass
class RunContext:
    """What every fit group of a run shares."""

    config: StudyConfig
    data: StudyData
    out: Path
    features: dict[str, FeatureCache]
    provenance: dict[str, Any]
    force: bool = False
    multi_seed: bool = False
    fits_cached: int = field(default=0)
    fits_done: int = field(default=0)
    fits_failed: int = field(default=0)


@dataclass
class CellResult:
    """One cell's outcome: its record path, status, and whether it was reused."""

    relpath: PurePosixPath
    status: str
    cached: bool
    error: str | None = None


def relpath_of(ctx: RunContext, cell: CellPlan) -> PurePosixPath:
    """Where a cell's record lives."""
    variant = cell.variant
    return results.cell_relpath(
        variant.spec.label,
        cell.fit.scope,
        cell.regime,
        cell.condition,
        cell.category,
        variant.sweep,
        cell.fit.seed if ctx.multi_seed else None,
    )


def fit_state(ctx: RunContext, done_before: int, failed_before: int) -> str:
    """What happened to the fit of the group just run: fitted, failed or cached (reused)."""
    if ctx.fits_done > done_before:
        return "fitted"
    return "failed" if ctx.fits_failed > failed_before else "cached"


def run_fit_group(ctx: RunContext, fit: FitPlan, cells: Sequence[CellPlan]) -> list[CellResult]:
    """Fit (or load) one model and evaluate every pending cell it serves."""
    pending = [c for c in cells if ctx.force or not _done(ctx, c)]
    done = [CellResult(relpath_of(ctx, c), "ok", True) for c in cells if c not in pending]
    if not pending:
        return done
    if fit.scope == "unified":  # shortcut matrices need every category of a (condition, regime)
        kinds = {(c.condition, c.regime) for c in pending}
        pending = [c for c in cells if (c.condition, c.regime) in kinds]
        done = [d for d in done if d.relpath not in {relpath_of(ctx, c) for c in pending}]
    started = time.perf_counter()
    try:
        detector, fit_seconds = _fitted(ctx, fit)
    except Exception as error:  # a failed fit fails its cells; the run goes on
        log.debug("fit %s failed:\n%s", fit.id, traceback.format_exc())
        ctx.fits_failed += 1
        return done + [_write_failed(ctx, c, error, 0.0) for c in pending]
    evaluator = _Evaluator(ctx, fit, detector)
    outcomes = evaluator.evaluate(pending)
    if fit.scope == "unified":
        evaluator.attach_shortcuts(outcomes)
    written = []
    for cell in pending:
        outcome = outcomes[cell.id]
        timing = {
            "fit": fit_seconds,
            "score": outcome.get("score_s", 0.0),
            "total": time.perf_counter() - started,
        }
        if "error" in outcome:
            written.append(_write_failed(ctx, cell, outcome["error"], fit_seconds))
        else:
            written.append(_write_ok(ctx, cell, evaluator.features, outcome, timing))
    return done + written


def _done(ctx: RunContext, cell: CellPlan) -> bool:
    """Whether the cell's record is already there; a corrupt one is reported, then recomputed."""
    relpath = relpath_of(ctx, cell)
    state = results.cell_state(ctx.out, relpath, cell.id)
    if state == "corrupt":
        path = results.cell_path(ctx.out, relpath)
        log.warning("cell file %s is corrupt; recomputing it", path)
    return state == "done"


def _fitted(ctx: RunContext, fit: FitPlan) -> tuple[Detector, float]:
    spec = fit.variant.spec
    features = ctx.features[backbone_key(spec.backbone)]
    directory = results.fit_dir(ctx.out, fit.id)
    if not ctx.force and (directory / FIT_DONE).is_file():
        try:
            detector = load_detector(spec.name, directory, features)
        except Exception as error:  # a cache: an unreadable fit is fitted again
            log.warning("fitted model %s cannot be loaded (%s); fitting it again", directory, error)
        else:
            ctx.fits_cached += 1
            return detector, 0.0
    started = time.perf_counter()
    detector = build_detector(spec.name, spec.params, features, fit.seed)
    train = ctx.data.samples(fit.condition, fit.variant.severity, "train", fit.categories, fit.seed)
    with limit_threads(DETECTOR_THREADS):
        detector.fit(train)
    seconds = time.perf_counter() - started
    staging = directory.with_name(directory.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        detector.save(staging)
        write_json(
            staging / FIT_DONE,
            {"id": fit.id, "key": fit.key, "train_images": len(train), "fit_s": seconds},
        )
    except BaseException:  # a full disk or Ctrl-C while saving: leave no half-written model
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(directory, ignore_errors=True)
    staging.replace(directory)
    ctx.fits_done += 1
    log.info(
        "fit %s: %s %s on %s %s (%d images) in %.1f s",
        fit.id,
        spec.label,
        fit.scope,
        fit.condition,
        ",".join(fit.categories),
        len(train),
        seconds,
    )
    return detector, seconds


class _Evaluator:
    """Scores a fit's samples once and turns them into cell outcomes."""

    def __init__(self, ctx: RunContext, fit: FitPlan, detector: Detector) -> None:
        self.ctx, self.fit, self.detector = ctx, fit, detector
        self.features = ctx.features[backbone_key(fit.variant.spec.backbone)]
        self._memo: dict[
            tuple[str, str, str, int], tuple[list[Sample], Scores, np.ndarray | None]
        ] = {}
        self._evaluated: list[CellPlan] = []

    def scored(
        self, condition: str, split: Split, category: str, severity: int
    ) -> tuple[list[Sample], Scores, np.ndarray | None]:
        """(samples, scores, masks (N, H, W) or None) of one condition, split, category and
        shift severity."""
        key = (condition, split, category, severity)
        if key not in self._memo:
            samples = self.ctx.data.samples(condition, severity, split, [category], self.fit.seed)
            with limit_threads(DETECTOR_THREADS):
                scores = self.detector.score(samples)
            masks = None
            if self.ctx.data.clean.has_masks:
                prep = self.features.backbone.preprocessing
                masks = np.stack([prep.load_mask(s.mask_path) for s in samples])
            self._memo[key] = (samples, scores, masks)
        return self._memo[key]

    def evaluate(self, cells: Sequence[CellPlan]) -> dict[str, dict[str, Any]]:
        """Outcome per cell id: thresholds, metrics, scores (or the error)."""
        outcomes: dict[str, dict[str, Any]] = {}
        self._evaluated = list(cells)
        for cell in cells:
            started = time.perf_counter()
            try:
                outcomes[cell.id] = self._one(cell)
            except Exception as error:  # recorded as a failed cell
                log.debug("cell %s failed:\n%s", cell.id, traceback.format_exc())
                outcomes[cell.id] = {"error": error}
            outcomes[cell.id]["score_s"] = time.perf_counter() - started
        return outcomes

    def _one(self, cell: CellPlan) -> dict[str, Any]:
        evaluation = self.ctx.config.evaluation
        severity = cell.variant.severity
        val_samples, val, val_masks = self.scored(
            cell.threshold_condition, "val", cell.category, severity
        )
        test_samples, test, test_masks = self.scored(
            cell.condition, "test", cell.category, severity
        )
        val_scores = ValScores(
            "val", val.image, np.array([s.label for s in val_samples]), val.maps, val_masks
        )
        image_t = _threshold(val_scores, evaluation.image_threshold, "image")
        pixel_t = (
            _threshold(val_scores, evaluation.pixel_threshold, "pixel")
            if test_masks is not None
            else None
        )
        labels = np.array([s.label for s in test_samples])
        evaluated = evaluate_cell(
            test.image,
            labels,
            test.maps,
            test_masks,
            image_threshold=image_t.value,
            pixel_threshold=pixel_t.value if pixel_t else None,
            bootstrap_n=evaluation.bootstrap,
            seed=self.fit.seed,
        )
        return {
            "samples": test_samples,
            "test": test,
            "masks": test_masks,
            "labels": labels,
            "image_threshold": image_t,
            "pixel_threshold": pixel_t,
            "evaluated": evaluated,
        }

    def attach_shortcuts(self, outcomes: dict[str, dict[str, Any]]) -> None:
        """Add the identical-shortcut matrices to every unified cell of each (condition, regime)."""
        by_kind: dict[tuple[str, str], list[CellPlan]] = {}
        for cell in self._evaluated:
            by_kind.setdefault((cell.condition, cell.regime), []).append(cell)
        for group in by_kind.values():
            ok = [c for c in group if "error" not in outcomes[c.id]]
            if len(ok) != len(group):
                continue
            shortcut = self._shortcut(group, outcomes)
            for cell in group:
                outcomes[cell.id]["shortcut"] = shortcut

    def _shortcut(
        self, group: list[CellPlan], outcomes: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        scores = {
            c.category: (outcomes[c.id]["test"].image, outcomes[c.id]["labels"]) for c in group
        }
        thresholds = {c.category: outcomes[c.id]["image_threshold"].value for c in group}
        all_scores = np.concatenate([scores[c.category][0] for c in group])
        all_labels = np.concatenate([scores[c.category][1] for c in group])
        names = np.concatenate([[c.category] * len(scores[c.category][0]) for c in group])
        shortcut: dict[str, Any] = {
            "threshold_transfer": threshold_transfer(scores, thresholds),
            "score_distributions": score_distributions(all_scores, all_labels, names),
            "nn_provenance": None,
        }
        nearest = getattr(self.detector, "nearest_categories", None)
        masks_known = all(outcomes[c.id]["masks"] is not None for c in group)
        if nearest is not None and masks_known:
            shortcut["nn_provenance"] = nn_provenance(
                {c.category: _one_thread(nearest, outcomes[c.id]["samples"]) for c in group},
                {c.category: outcomes[c.id]["masks"] for c in group},
                self.detector.categories,  # type: ignore[attr-defined]
            )
        return shortcut


def _one_thread(function: Any, samples: list[Sample]) -> Any:
    with limit_threads(DETECTOR_THREADS):
        return function(samples)


def _threshold(val: ValScores, settings: ThresholdSettings, level: Level) -> Threshold:
    return threshold_from_val(
        val, settings.strategy, level=level, q=settings.quantile, k=settings.k
    )


def _base_record(ctx: RunContext, cell: CellPlan) -> dict[str, Any]:
    variant = cell.variant
    sweep = {"param": variant.sweep[0], "value": variant.sweep[1]} if variant.sweep else None
    spec = variant.spec
    return {
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
            "shift": {"severity": variant.severity, "seed": ctx.config.shift.seed},
            "splits": ctx.config.splits.model_dump(mode="json"),
            "evaluation": ctx.config.evaluation.model_dump(mode="json"),
            "preprocessing": ctx.features[
                backbone_key(spec.backbone)
            ].backbone.preprocessing.to_dict(),
        },
        "provenance": {
            **ctx.provenance,
            "weights": ctx.features[backbone_key(spec.backbone)].backbone.weights.to_dict(),
        },
        "artifacts": [],
        "shortcut": None,
        "metrics": None,
        "threshold": None,
        "scores": None,
        "roc": None,
    }


def _write_failed(
    ctx: RunContext, cell: CellPlan, error: BaseException, fit_s: float
) -> CellResult:
    record = _base_record(ctx, cell)
    message = str(error) or type(error).__name__
    record.update(
        status="failed",
        error={"type": type(error).__name__, "message": message},
        timing_s={"fit": fit_s, "score": 0.0, "total": fit_s},
    )
    relpath = relpath_of(ctx, cell)
    results.write_cell(ctx.out, relpath, record)
    return CellResult(relpath, "failed", False, message)


def _write_ok(
    ctx: RunContext,
    cell: CellPlan,
    features: FeatureCache,
    outcome: dict[str, Any],
    timing: dict[str, float],
) -> CellResult:
    record = _base_record(ctx, cell)
    relpath = relpath_of(ctx, cell)
    evaluated = outcome["evaluated"]
    samples: list[Sample] = outcome["samples"]
    test: Scores = outcome["test"]
    pixel_t: Threshold | None = outcome["pixel_threshold"]
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
            for s, v in zip(samples, test.image, strict=True)
        ],
        shortcut=outcome.get("shortcut"),
        timing_s=timing,
        artifacts=_artifacts(ctx, relpath, features, outcome),
    )
    results.write_cell(ctx.out, relpath, record)
    return CellResult(relpath, "ok", False)


def _artifacts(
    ctx: RunContext, relpath: PurePosixPath, features: FeatureCache, outcome: dict[str, Any]
) -> list[dict[str, str]]:
    per_kind = ctx.config.evaluation.artifacts_per_cell
    if per_kind == 0:
        return []
    test: Scores = outcome["test"]
    samples: list[Sample] = outcome["samples"]
    masks = outcome["masks"]
    image_t = outcome["image_threshold"].value
    pixel_t = (
        outcome["pixel_threshold"].value
        if outcome["pixel_threshold"]
        else float(np.quantile(test.maps, 0.99))
    )
    scale = (float(np.quantile(test.maps, 0.01)), float(np.quantile(test.maps, 0.999)))
    prep = features.backbone.preprocessing
    written = []
    for index, kind in pick_examples(test.image, outcome["labels"], image_t, per_kind):
        sample = samples[index]
        picture = _as_uint8(prep.load_image(sample.path).numpy(), prep.mean, prep.std)
        strip = overlay_strip(
            picture, None if masks is None else masks[index], test.maps[index], pixel_t, scale
        )
        path = results.artifact_relpath(relpath, sample.id, kind)
        write_png(ctx.out / path, strip)
        written.append({"id": sample.id, "kind": kind, "path": str(path)})
    return written


def _as_uint8(tensor: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    image = tensor.transpose(1, 2, 0) * np.array(std) + np.array(mean)
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
