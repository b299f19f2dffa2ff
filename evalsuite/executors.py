"""Executors: where fit groups run. Local (in process, or a pool of N processes) or Dask
distributed. The unit of work is a fit and the cells it serves, so cells that share a fit run
where the fit is.

Parallel executors first extract every input's backbone features once, in the calling process,
into the on-disk feature cache; workers then only read it, so the manifest's forward-pass count
stays one per distinct input. With Dask on several machines, the results folder and the cache
folder must be on a filesystem every worker sees.
"""

from __future__ import annotations

import json
import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from evalsuite.errors import ConfigError
from evalsuite.fit_runner import CellResult, RunContext, fit_state, run_fit_group


@dataclass(frozen=True)
class FitTask:
    """What a worker needs to run one fit group (plain data, cheap to send)."""

    config_json: str
    out: str
    cache_dir: str
    fit_id: str
    force: bool


@dataclass(frozen=True)
class FitOutcome:
    """What a worker sends back."""

    cells: list[CellResult]
    state: str  # the fit: "fitted", "failed" or "cached"


@lru_cache(maxsize=2)
def _worker_context(
    config_json: str, out: str, cache_dir: str, force: bool
) -> tuple[RunContext, Any]:
    """Data, backbones and plan of a study, built once per worker process."""
    from evalsuite.config import StudyConfig
    from evalsuite.runner import make_context, prepare

    config = StudyConfig.model_validate(json.loads(config_json))
    data, sources, plan = prepare(config, Path(cache_dir), progress=False)
    return make_context(config, data, sources, Path(out), force), plan


def run_task(task: FitTask) -> FitOutcome:
    """Run one fit group in a worker (top level, so it pickles)."""
    from evalsuite import progress

    progress.set_enabled(False)
    context, plan = _worker_context(task.config_json, task.out, task.cache_dir, task.force)
    fit = next(f for f in plan.fits if f.id == task.fit_id)
    before = (context.fits_done, context.fits_failed)
    cells = run_fit_group(context, fit, plan.cells_of(fit))
    return FitOutcome(cells, fit_state(context, *before))


def run_pool(tasks: list[FitTask], workers: int, done: Callable[[FitOutcome], None]) -> None:
    """Run tasks on a local pool of `workers` processes."""
    # spawn, not fork: a forked child inherits torch's thread pools in a state that can deadlock
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_ignore_sigint
    ) as pool:
        futures = [pool.submit(run_task, task) for task in tasks]
        try:
            for future in as_completed(futures):
                done(future.result())
        except KeyboardInterrupt:  # Ctrl-C: drop queued groups; finished cells are on disk
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which stops the pool cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_dask(
    tasks: list[FitTask], scheduler: str | None, workers: int, done: Callable[[FitOutcome], None]
) -> None:
    """Run tasks on a Dask distributed cluster: `scheduler` address, or a LocalCluster."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as error:  # pragma: no cover - distributed is a pinned dependency
        raise ConfigError(
            "the dask executor needs the `distributed` package; run make install"
        ) from error
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    try:
        with Client(scheduler or cluster) as client:
            futures = client.map(run_task, tasks, pure=False)
            for future in as_completed(futures):
                done(future.result())
    finally:
        if cluster is not None:
            cluster.close()
