"""Run one unit of work: its fits (fitted, or loaded when cached) and the cells they serve.

Each fit returns its outcome (fitted, cached or failed, with its cells); nothing is inferred
from counters. A failing fit or cell becomes a `failed` record with its error; nothing is
caught silently. The fits of a unit share one nested selection (see `plan.Unit`), when their
detector declares a selection param: the fit with the largest value runs first and stores its
selection beside the fits; the others take prefixes of it, and a resumed unit does not select
again.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalsuite import regular, results
from evalsuite.atomic import write_json
from evalsuite.backbone.cache import FeatureCache
from evalsuite.backbone.images import ImageStream
from evalsuite.detectors.base import Detector
from evalsuite.detectors.output import calling, naming
from evalsuite.detectors.registry import (
    as_nested_selection,
    build_detector,
    load_detector,
    search_params,
    selection_param,
)
from evalsuite.detectors.threads import DETECTOR_THREADS, limit_threads
from evalsuite.errors import EvalsuiteError
from evalsuite.results.paths import FIT_DONE
from evalsuite.runner.execution.scoring import FitScorer, input_key
from evalsuite.runner.planning.plan import CellPlan, FitPlan, Plan, Unit
from evalsuite.runner.preparation.context import RunContext
from evalsuite.runner.writing.artifacts import render_artifacts
from evalsuite.runner.writing.evidence import write_evidence
from evalsuite.runner.writing.records import (
    CellResult,
    is_done,
    relpath_of,
    shift_fingerprint,
    write_failed,
    write_ok,
)
from evalsuite.runner.writing.thumbnails import write_thumbnails

log = logging.getLogger(__name__)


@dataclass
class FitOutcome:
    """What happened to one fit: `fitted`, `cached` (loaded or not needed) or `failed`.

    Attributes:
        images_fed: for a detector that reads raw images, the images its stream handed it in
            this process (fit and scoring); None for one that reads features.
    """

    fit_id: str
    state: str
    cells: list[CellResult]
    images_fed: int | None = None


@dataclass
class UnitOutcome:
    """What a unit did, sent back by every executor.

    Attributes:
        unit_id: the unit.
        fits: one outcome per fit.
        forward_passes: backbone passes this unit caused in its process (0 when every
            feature was extracted up front, as the runner does).
        score_passes: images searched (one pass of a fitted detector each).
        distinct_fit_inputs: distinct (fit, search settings, image) triples its cells read.
        raw_image_passes: detector label -> images fed to its raw-image detector (fit and
            scoring, this run's work only), for the fits that read raw images; a fit counts
            under the label of the configuration it was planned for.
    """

    unit_id: str
    fits: list[FitOutcome] = field(default_factory=list)
    forward_passes: int = 0
    score_passes: int = 0
    distinct_fit_inputs: int = 0
    raw_image_passes: dict[str, int] = field(default_factory=dict)

    @property
    def cells(self) -> list[CellResult]:
        """Every cell of the unit."""
        return [cell for fit in self.fits for cell in fit.cells]


def run_unit(ctx: RunContext, unit: Unit, plan: Plan) -> UnitOutcome:
    """Fit (or load) every model of `unit` and evaluate every pending cell they serve."""
    forward_before = sum(source.forward_passes for source in ctx.features.values())
    outcome = UnitOutcome(unit.id)
    pending = {fit.id: _pending(ctx, plan.cells_of(fit)) for fit in unit.fits}
    to_fit = [fit for fit in unit.fits if pending[fit.id][0] and not _fit_cached(ctx, fit)]
    selection = _selection(ctx, unit, to_fit)
    for fit in _largest_first(unit):
        todo, done = pending[fit.id]
        if not todo:
            outcome.fits.append(FitOutcome(fit.id, "cached", done))
            continue
        fitted, scorer = _run_fit(ctx, fit, todo, done, selection)
        outcome.fits.append(fitted)
        if fitted.images_fed is not None:
            label = fit.variant.spec.label
            passes = outcome.raw_image_passes
            passes[label] = passes.get(label, 0) + fitted.images_fed
        if scorer is not None:  # images the fit's detector searched
            outcome.score_passes += scorer.searched_images
            outcome.distinct_fit_inputs += _distinct_inputs(scorer, todo)
    if selection is not None and all(f.state != "failed" for f in outcome.fits):
        shutil.rmtree(selection, ignore_errors=True)  # every fit of the unit is saved
    outcome.forward_passes = (
        sum(source.forward_passes for source in ctx.features.values()) - forward_before
    )
    return outcome


def _pending(ctx: RunContext, cells: Sequence[CellPlan]) -> tuple[list[CellPlan], list[CellResult]]:
    """(cells to compute, cached cells). Unified fits recompute every category of a (condition,
    regime) together, since their shortcut matrices compare them."""
    todo = [c for c in cells if ctx.force or not is_done(ctx, c)]
    if todo and todo[0].fit.scope == "unified":
        kinds = {(c.condition, c.regime) for c in todo}
        todo = [c for c in cells if (c.condition, c.regime) in kinds]
    ids = {c.id for c in todo}
    done = [CellResult(relpath_of(ctx, c), "ok", True) for c in cells if c.id not in ids]
    return todo, done


def _fit_cached(ctx: RunContext, fit: FitPlan) -> bool:
    return not ctx.force and (results.fit_dir(ctx.out, fit.id) / FIT_DONE).is_file()


def _selection(ctx: RunContext, unit: Unit, to_fit: list[FitPlan]) -> Path | None:
    """The folder of the unit's shared nested selection, when more than one fit of the unit
    shares it and some are to be fitted; else None."""
    param = selection_param(unit.fits[0].variant.spec.ref)
    if param is None or len(unit.fits) < 2 or not to_fit:
        return None
    return results.fit_dir(ctx.out, unit.id).with_suffix(".selection")


def _largest_first(unit: Unit) -> list[FitPlan]:
    """The unit's fits, the largest selection first (the others are its prefixes)."""
    param = selection_param(unit.fits[0].variant.spec.ref)
    if param is None:
        return list(unit.fits)
    return sorted(unit.fits, key=lambda fit: -fit.variant.spec.params[param])


def _run_fit(
    ctx: RunContext,
    fit: FitPlan,
    todo: list[CellPlan],
    done: list[CellResult],
    selection: Path | None,
) -> tuple[FitOutcome, FitScorer | None]:
    started = time.perf_counter()
    source = ctx.source_of(fit.variant.spec)
    try:
        detector, fit_seconds, state = _fitted(ctx, fit, selection, source)
        scorer = FitScorer(ctx, fit, detector)  # checks what the detector declares
    except Exception as error:  # a failed fit fails its cells; the run goes on
        log.debug("fit %s failed:\n%s", fit.id, traceback.format_exc())
        failed = [write_failed(ctx, c, error, 0.0) for c in todo]
        return FitOutcome(fit.id, "failed", done + failed, _fed(source)), None
    outcomes = scorer.evaluate(todo)
    if fit.scope == "unified":
        scorer.attach_shortcuts(todo, outcomes)
    written = []
    for cell in todo:
        result = outcomes[cell.id]
        timing = {
            "fit": fit_seconds,
            "score": result.get("score_s", 0.0),
            "total": time.perf_counter() - started,
        }
        if "error" in result:
            written.append(write_failed(ctx, cell, result["error"], fit_seconds))
        else:
            evidence = write_evidence(ctx.out, relpath_of(ctx, cell), result)
            artifacts = _artifacts(ctx, cell, result)
            thumbnails = _thumbnails(ctx, cell, result)
            written.append(write_ok(ctx, cell, result, timing, artifacts, evidence, thumbnails))
    return FitOutcome(fit.id, state, done + written, _fed(source)), scorer


def _fed(source: FeatureCache | ImageStream) -> int | None:
    """The images an image stream fed its detector; None for the feature cache."""
    return source.images_fed if isinstance(source, ImageStream) else None


def _artifacts(ctx: RunContext, cell: CellPlan, result: dict[str, Any]) -> list[dict[str, str]]:
    pixel_t = result["pixel_threshold"]
    return render_artifacts(
        ctx.out,
        relpath_of(ctx, cell),
        ctx.features_of(cell.variant.spec).backbone.preprocessing,
        result["samples"],
        result["test"],
        result["masks"],
        result["labels"],
        (result["image_threshold"].value, pixel_t.value if pixel_t else None),
        ctx.config.evaluation.artifacts_per_cell,
    )


def _thumbnails(ctx: RunContext, cell: CellPlan, result: dict[str, Any]) -> dict[str, Any] | None:
    """Write the thumbnails of every test image of a cell; the record's `thumbnails` field."""
    shifted = shift_fingerprint(ctx, cell) if cell.condition == "shift" else None
    return write_thumbnails(
        ctx.out,
        relpath_of(ctx, cell),
        ctx.features_of(cell.variant.spec).backbone.preprocessing,
        result["samples"],
        result["test"],
        result["masks"],
        result["map_scale"],
        ctx.config.evaluation.thumbnails,
        (ctx.data.fingerprints["clean"], shifted),
    )


def _distinct_inputs(scorer: FitScorer, cells: Sequence[CellPlan]) -> int:
    """Distinct (search settings, image file) pairs the cells of one fit read, from the plan."""
    pairs: set[tuple[str, Path]] = set()
    for cell in cells:
        spec, (family, severity, factors) = cell.variant.spec, cell.variant.tree
        search = str(sorted(search_params(spec.ref, spec.params).items()))
        val = input_key(cell.threshold_condition, severity, "val", cell.category, factors, family)
        test = input_key(cell.condition, severity, "test", cell.category, factors, family)
        for key in (val, test):
            samples, _ = scorer.inputs(key)
            pairs.update((search, sample.path) for sample in samples)
    return len(pairs)


def _fitted(
    ctx: RunContext, fit: FitPlan, selection: Path | None, features: FeatureCache | ImageStream
) -> tuple[Detector, float, str]:
    """The fit's detector, reading `features` (`RunContext.source_of`), its fit seconds and
    how it was obtained (fitted or cached)."""
    spec = fit.variant.spec
    directory = results.fit_dir(ctx.out, fit.id)
    if _fit_cached(ctx, fit):
        try:
            regular.walk_files(directory, regular.ARTIFACT)  # no link or FIFO: never followed
            detector = load_detector(spec.ref, directory, features, ctx.device)
        except Exception as error:  # a cache: an unreadable fit is fitted again
            log.warning("fitted model %s cannot be loaded (%s); fitting it again", directory, error)
        else:
            return detector, 0.0, "cached"
    started = time.perf_counter()
    who = naming(spec.label, spec.ref)
    with calling(who, "construction"):
        detector = build_detector(spec.ref, spec.params, features, fit.seed, ctx.device)
    family, severity, factors = fit.variant.tree
    train = ctx.data.samples(
        fit.condition, severity, "train", fit.categories, fit.seed, factors, family
    )
    with limit_threads(DETECTOR_THREADS):
        if selection is None:
            with calling(who, "fit()"):
                detector.fit(train)
        else:  # the unit's shared nested selection (see `_largest_first`)
            shared = as_nested_selection(spec.ref, detector)
            if shared is None:
                raise EvalsuiteError(f"fit {fit.id}: {spec.name} declares no selection param")
            with calling(who, "fit_shared()"):
                shared.fit_shared(train, selection)
    seconds = time.perf_counter() - started
    _save(
        detector,
        directory,
        {"id": fit.id, "key": fit.key, "train_images": len(train), "fit_s": seconds},
        who,
    )
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
    return detector, seconds, "fitted"


def _save(detector: Detector, directory: Path, state: dict[str, Any], who: str) -> None:
    """Save a fitted model all or nothing: into a staging folder unique to this process, then
    one rename (`who` names the detector in messages)."""
    staging = directory.with_name(f"{directory.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        with calling(who, "save()"):
            detector.save(staging)
        write_json(staging / FIT_DONE, state)
    except BaseException:  # a full disk or Ctrl-C while saving: leave no half-written model
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if directory.is_symlink():  # planted: replaced, never followed
        directory.unlink()
    shutil.rmtree(directory, ignore_errors=True)
    staging.replace(directory)
