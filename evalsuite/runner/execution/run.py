"""Execute a study: prepare data, resolve backbones, plan, extract features, run units, write
the manifest.

Cells are written one by one (atomically) as they finish; a finished cell or fit is never
recomputed unless `force`; killed at any moment, a rerun completes with the same numbers.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from evalsuite import progress as progress_bars
from evalsuite import results
from evalsuite.backbone.cache import FeatureCache
from evalsuite.backbone.device import configure_determinism
from evalsuite.config import StudyConfig
from evalsuite.data.samples import Sample
from evalsuite.detectors.registry import reads_images
from evalsuite.errors import ConfigError, ResultsError
from evalsuite.runner.estimate.model import unit_costs, unit_prices
from evalsuite.runner.execution.executors import UnitTask, forget_features, make_executor
from evalsuite.runner.execution.fit_group import UnitOutcome
from evalsuite.runner.execution.scheduler import check_scheduler
from evalsuite.runner.guard.leftovers import remove_leftovers
from evalsuite.runner.guard.lock import results_lock
from evalsuite.runner.guard.reuse import check_reuse
from evalsuite.runner.planning.plan import Plan, backbone_key
from evalsuite.runner.planning.planned import planned_entries
from evalsuite.runner.planning.study_data import fit_inputs
from evalsuite.runner.preparation.context import RunContext, make_context, prepare
from evalsuite.runner.writing.manifest import RunSummary, build_manifest, folder_bytes
from evalsuite.runner.writing.records import is_done, relpath_of
from evalsuite.runner.writing.splits_file import write_splits_files


def run_study(
    config: StudyConfig,
    out: Path,
    *,
    cache_dir: Path,
    force: bool = False,
    shard: tuple[int, int] | None = None,
    progress: bool = True,
    executor: str = "local",
    workers: int = 1,
    scheduler: str | None = None,
) -> RunSummary:
    """Run every (or this shard's) cell of `config` into the results folder `out`.

    Args:
        config: the study.
        out: the results folder.
        cache_dir: generated data and the feature cache.
        force: recompute cached fits and cells.
        shard: (i, n): run only shard i of n (whole units, balanced by estimated cost).
        progress: show progress bars.
        executor: "local" (in process, or a pool when workers > 1) or "dask".
        workers: processes of the local pool or of the Dask LocalCluster.
        scheduler: address of a running Dask scheduler (executor "dask").

    Raises:
        BusyError: another run holds `out` (one run per results folder).
        ResultsError: `out` holds cell records of another configuration (unless `force`:
            then they are removed), or is not writable.
        SchedulerError: `scheduler` is invalid or does not answer (checked before any work).
    """
    if executor not in ("local", "dask"):
        raise ConfigError(f"unknown executor {executor!r}; use local or dask")
    if workers < 1:
        raise ConfigError(f"--workers {workers}: must be >= 1")
    if scheduler is not None:
        if executor != "dask":
            raise ConfigError("--scheduler needs --executor dask; add it, or drop --scheduler")
        check_scheduler(scheduler)
    out, cache_dir = Path(out), Path(cache_dir)
    _writable(cache_dir, "cache folder", "--cache")
    fresh = not out.exists()
    _writable(out)
    try:
        with results_lock(out):
            return _run(
                config, out, cache_dir, force, shard, progress, executor, workers, scheduler
            )
    except BaseException:  # bad data, weights or backbones leave no empty results folder behind
        if fresh and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise


def _run(
    config: StudyConfig,
    out: Path,
    cache_dir: Path,
    force: bool,
    shard: tuple[int, int] | None,
    progress: bool,
    executor: str,
    workers: int,
    scheduler: str | None,
) -> RunSummary:
    """`run_study` on a held, writable results folder."""
    started, created = time.perf_counter(), datetime.now(UTC).isoformat(timespec="seconds")
    remove_leftovers(out)
    data, sources, plan, device = prepare(config, cache_dir, progress, workers=workers)
    configure_determinism(device)
    context = make_context(config, data, sources, device, out, force)
    reuse = {relpath_of(context, cell): cell.id for cell in plan.cells}
    check_reuse(out, reuse, force, remove=False)
    planned = planned_entries(plan, context.multi_seed)  # the whole study, every shard
    if shard is not None:
        plan = plan.shard(*shard, costs=unit_costs(plan, data, sources))
    inputs = shard_inputs(context, plan)
    build_backbones(sources, inputs)  # weights that cannot be loaded: refused before any work
    check_reuse(out, reuse, force)  # --force removes another study's records only now
    write_splits_files(out, data)
    summary = RunSummary(out)
    progress_bars.set_enabled(progress)
    warm_features(sources, inputs)
    in_process = executor == "local" and workers == 1
    if not in_process:  # the workers read the on-disk store: copies held here only add memory
        forget_features(sources.values())
    bar = progress_bars.bar(len(plan.cells), "cells", "cell")
    outcomes: list[UnitOutcome] = []

    def done(outcome: UnitOutcome) -> None:
        outcomes.append(outcome)
        summary.cells.extend(outcome.cells)
        bar.update(len(outcome.cells))

    units = list(plan.units)
    peaks: dict[str, int] = {}
    if not in_process:  # largest first, as `plan --estimate` projects the wall time
        costs, peaks = unit_prices(plan, data, sources)
        units.sort(key=lambda unit: (-costs[unit.id], unit.id))
    tasks = [
        UnitTask(
            config.model_dump_json(),
            str(out),
            str(cache_dir),
            unit.id,
            force,
            peak_bytes=peaks.get(unit.id, 0),
        )
        for unit in units
    ]
    chosen = make_executor(executor, workers, scheduler, context, plan)
    chosen.run(tasks, done)
    bar.close()
    summary.cells.sort(key=lambda c: str(c.relpath))
    summary.fits = len(plan.fits)
    summary.fits_cached = sum(f.state == "cached" for o in outcomes for f in o.fits)
    summary.forward_passes = sum(s.forward_passes for s in sources.values()) + (
        0 if in_process else sum(o.forward_passes for o in outcomes)
    )
    summary.distinct_inputs = sum(s.distinct_inputs for s in sources.values())
    summary.score_passes = sum(o.score_passes for o in outcomes)
    summary.distinct_fit_inputs = sum(o.distinct_fit_inputs for o in outcomes)
    summary.raw_image_passes = raw_image_passes(config, outcomes)
    summary.feature_cache_bytes = folder_bytes(cache_dir / "features")
    summary.wall_time_s = time.perf_counter() - started
    manifest = build_manifest(
        config, data, sources, summary, created, shard, context.provenance["device"], planned
    )
    results.write_manifest(out, manifest)
    return summary


def shard_inputs(ctx: RunContext, plan: Plan) -> dict[str, list[Sample]]:
    """Backbone key -> the inputs this run's pending work reads through the feature cache: the
    train images of fits that have cells to compute, and the val and test images of those
    cells, each once. A detector that reads raw images (`inputs="images"`) reads none.

    A shard extracts only the features of its own units; a rerun with everything cached reads
    none.
    """
    wanted: dict[str, dict[Path, Sample]] = {}
    for fit in plan.fits:
        if reads_images(fit.variant.spec.ref):
            continue
        cells = [c for c in plan.cells_of(fit) if ctx.force or not is_done(ctx, c)]
        if cells:
            chosen = wanted.setdefault(backbone_key(fit.variant.spec.backbone), {})
            for sample in fit_inputs(ctx.data, fit, cells):
                chosen.setdefault(sample.path, sample)
    return {key: list(samples.values()) for key, samples in wanted.items()}


def raw_image_passes(config: StudyConfig, outcomes: list[UnitOutcome]) -> dict[str, int]:
    """Label -> images fed to each detector of `config` that reads raw images, in this run
    (0 for one that had nothing to do); empty when no detector reads raw images."""
    passes = {spec.label: 0 for spec in config.detectors if reads_images(spec.ref)}
    for outcome in outcomes:
        for label, count in outcome.raw_image_passes.items():
            passes[label] = passes.get(label, 0) + count
    return passes


def build_backbones(sources: dict[str, FeatureCache], inputs: dict[str, list[Sample]]) -> None:
    """Build (load the weights of) each backbone that has inputs to extract, before any work.

    A backbone whose inputs are all in the feature cache is never built: a rerun, or a
    results folder over a cache another run filled, neither reads nor loads its weights.
    """
    for key, samples in inputs.items():
        sources[key].build_backbone_if_missing(samples)


def warm_features(sources: dict[str, FeatureCache], inputs: dict[str, list[Sample]]) -> None:
    """Extract every input's features once, up front, into the feature caches.

    Every later fit and cell reads them from memory or the on-disk store; parallel workers
    only read, so the forward-pass count is one per distinct input whatever the executor.
    """
    for key, samples in inputs.items():
        source = sources[key]
        bar = progress_bars.bar(len(samples), f"features {source.backbone_name}", "img")
        for batch in source.iter_features(samples, source.layers, source.batch_size):
            bar.update(len(next(iter(batch.values()))))
        bar.close()


def _writable(folder: Path, what: str = "results folder", option: str = "--out") -> None:
    """Create `folder` if needed and prove a file can be written in it.

    Raises:
        ResultsError: naming the folder, why it is not writable and the option to change.
    """
    if folder.exists() and not folder.is_dir():
        raise ResultsError(f"{folder}: {what} is a file, not a folder; choose another {option}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ResultsError(
            f"{folder}: {what} is not writable ({error.strerror}); choose another {option}"
        ) from error
