"""Execute a study: prepare data, resolve backbones, plan, run fit groups, write the manifest.

Cells are written one by one (atomically) as they finish; a finished cell or fit is never
recomputed unless `force`; killed at any moment, a rerun completes with the same numbers.
"""

from __future__ import annotations

import logging
import os
import platform
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from evalsuite import __version__, results
from evalsuite import progress as progress_bars
from evalsuite.backbone.cache import FeatureCache
from evalsuite.backbone.extractor import Backbone
from evalsuite.config import StudyConfig
from evalsuite.data.samples import Sample
from evalsuite.errors import ConfigError, ResultsError
from evalsuite.fit_runner import CellResult, RunContext, fit_state, run_fit_group
from evalsuite.plan import RESULTS_VERSION, Plan, backbone_key, make_plan, variants
from evalsuite.study_data import StudyData, prepare_data

log = logging.getLogger(__name__)
PACKAGES = (
    "torch",
    "torchvision",
    "timm",
    "anomalib",
    "faiss-cpu",
    "numpy",
    "scipy",
    "scikit-learn",
    "pillow",
)


@dataclass
class RunSummary:
    """What a run did."""

    out: Path
    cells: list[CellResult] = field(default_factory=list)
    fits: int = 0
    fits_cached: int = 0
    forward_passes: int = 0
    distinct_inputs: int = 0
    wall_time_s: float = 0.0

    @property
    def failed(self) -> list[CellResult]:
        """The failed cells."""
        return [c for c in self.cells if c.status == "failed"]


def versions() -> dict[str, str]:
    """Versions of the packages that determine results."""
    found = {"evalsuite": __version__}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def git_commit() -> str | None:
    """The commit of the source tree evalsuite runs from, when it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


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


def _prepare_or_clean(
    config: StudyConfig, out: Path, cache_dir: Path, progress: bool
) -> tuple[StudyData, dict[str, FeatureCache], Plan]:
    """`prepare`, removing the results folder again if this run created it and it fails here:
    bad data, weights or backbones leave no empty results folder behind."""
    _writable(cache_dir, "cache folder", "--cache")
    fresh = not out.exists()
    _writable(out)
    try:
        return prepare(config, cache_dir, progress)
    except BaseException:
        if fresh and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise


def feature_sources(config: StudyConfig, cache_dir: Path) -> dict[str, FeatureCache]:
    """One feature cache per backbone configuration, over the union of its detectors' layers."""
    layers: dict[str, list[str]] = {}
    configs = {}
    for variant in variants(config):
        key = backbone_key(variant.spec.backbone)
        configs[key] = variant.spec.backbone
        layers.setdefault(key, []).extend(variant.spec.params["layers"])
    return {
        key: FeatureCache(
            Backbone.from_config(configs[key]),
            list(dict.fromkeys(layers[key])),
            cache_dir=cache_dir / "features",
        )
        for key in configs
    }


def prepare(
    config: StudyConfig, cache_dir: Path, progress: bool
) -> tuple[StudyData, dict[str, FeatureCache], Plan]:
    """Data, feature sources and the plan of a study."""
    data = prepare_data(config, cache_dir, progress=progress)
    sources = feature_sources(config, cache_dir)
    weights = {s.backbone.config.name: s.backbone.weights.sha256 for s in sources.values()}
    return data, sources, make_plan(config, data.key(), weights)


def make_context(
    config: StudyConfig,
    data: StudyData,
    sources: dict[str, FeatureCache],
    out: Path,
    force: bool,
) -> RunContext:
    """The state every fit group of a run shares."""
    return RunContext(
        config=config,
        data=data,
        out=out,
        features=sources,
        provenance={
            "evalsuite": __version__,
            "versions": versions(),
            "dataset_fingerprint": data.fingerprints["clean"],
            "synthetic": data.synthetic,
            "git_commit": git_commit(),
            "code_version": RESULTS_VERSION,
        },
        force=force,
        multi_seed=len(config.seeds) > 1,
    )


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
        shard: (i, n): run only shard i of n.
        progress: show progress bars.
        executor: "local" (in process, or a pool when workers > 1) or "dask".
        workers: processes of the local pool or of the Dask LocalCluster.
        scheduler: address of a running Dask scheduler (executor "dask").
    """
    if executor not in ("local", "dask"):
        raise ConfigError(f"unknown executor {executor!r}; use local or dask")
    if workers < 1:
        raise ConfigError(f"--workers {workers}: must be >= 1")
    started, created = time.perf_counter(), datetime.now(UTC).isoformat(timespec="seconds")
    out = Path(out)
    data, sources, plan = _prepare_or_clean(config, out, Path(cache_dir), progress)
    if shard is not None:
        plan = plan.shard(*shard)
    context = make_context(config, data, sources, out, force)
    summary = RunSummary(out)
    progress_bars.set_enabled(progress)
    warm_features(sources.values(), _all_inputs(config, data))
    bar = progress_bars.bar(len(plan.cells), "cells", "cell")
    states: list[str] = []

    def record(cells: list[CellResult], state: str) -> None:
        summary.cells.extend(cells)
        states.append(state)
        bar.update(len(cells))

    if executor == "local" and workers == 1:
        for fit in plan.fits:
            before = (context.fits_done, context.fits_failed)
            cells = run_fit_group(context, fit, plan.cells_of(fit))
            record(cells, fit_state(context, *before))
    else:
        from evalsuite import executors

        tasks = [
            executors.FitTask(config.model_dump_json(), str(out), str(cache_dir), f.id, force)
            for f in plan.fits
        ]

        def done(outcome: executors.FitOutcome) -> None:
            record(outcome.cells, outcome.state)

        if executor == "dask":
            executors.run_dask(tasks, scheduler, workers, done)
        else:
            executors.run_pool(tasks, workers, done)
    bar.close()
    summary.cells.sort(key=lambda c: str(c.relpath))
    summary.fits = len(plan.fits)
    summary.fits_cached = states.count("cached")
    summary.forward_passes = sum(s.forward_passes for s in sources.values())
    summary.distinct_inputs = sum(s.distinct_inputs for s in sources.values())
    summary.wall_time_s = time.perf_counter() - started
    results.write_manifest(out, _manifest(config, data, sources, summary, created, shard))
    return summary


def warm_features(sources: Iterable[FeatureCache], sample_sets: list[list[Sample]]) -> None:
    """Extract every input's features once, up front, into the feature caches.

    Every later fit and cell reads them from memory or the on-disk store; parallel workers
    only read, so the forward-pass count is one per distinct input whatever the executor.
    """
    for source in sources:
        total = sum(len(samples) for samples in sample_sets)
        bar = progress_bars.bar(total, f"features {source.backbone_name}", "img")
        for samples in sample_sets:
            for batch in source.iter_features(samples, source.layers, source.batch_size):
                bar.update(len(next(iter(batch.values()))))
        bar.close()


def _all_inputs(config: StudyConfig, data: StudyData) -> list[list[Sample]]:
    """Every image set a study reads: the clean tree and each shifted copy."""
    wanted = set(config.data.categories)
    trees = [data.clean, *data.shifted.values()]
    return [[s for s in tree.samples if s.category in wanted] for tree in trees]


def _manifest(
    config: StudyConfig,
    data: StudyData,
    sources: dict[str, FeatureCache],
    summary: RunSummary,
    created: str,
    shard: tuple[int, int] | None,
) -> dict[str, Any]:
    labels = {}
    for spec in config.detectors:
        labels[spec.label] = sources[backbone_key(spec.backbone)].backbone.weights.to_dict()
    cells = summary.cells
    return {
        "schema": results.MANIFEST_SCHEMA,
        "study": config.name,
        "config": config.model_dump(mode="json"),
        "created": created,
        "wall_time_s": summary.wall_time_s,
        "versions": versions(),
        "git_commit": git_commit(),
        "platform": {
            "python": platform.python_version(),
            "system": platform.system(),
            "machine": platform.machine(),
            "processor": platform.processor(),
        },
        "seeds": list(config.seeds),
        "weights": labels,
        "dataset": {
            "fingerprint_clean": data.fingerprints["clean"],
            "fingerprint_shift": data.fingerprints.get(f"shift-s{config.shift.severity}"),
            "synthetic": data.synthetic,
            "root": str(data.clean.root),
        },
        "counts": {
            "cells_total": len(cells),
            "cells_ok": sum(c.status == "ok" for c in cells),
            "cells_failed": sum(c.status == "failed" for c in cells),
            "cells_cached": sum(c.cached for c in cells),
            "fits": summary.fits,
            "fits_cached": summary.fits_cached,
            "forward_passes": summary.forward_passes,
            "distinct_inputs": summary.distinct_inputs,
        },
        "failed": [{"path": str(c.relpath), "error": c.error or ""} for c in summary.failed],
        "shards": [f"{shard[0]}/{shard[1]}"] if shard else None,
    }
