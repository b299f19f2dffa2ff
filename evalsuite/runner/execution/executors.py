"""Executors: where units of work run, behind one interface.

`SerialExecutor` runs units in this process; `PoolExecutor` on a local pool of N processes;
`DaskExecutor` on a Dask distributed cluster (a running scheduler, or a LocalCluster). The
unit of work is a family of fits and the cells they serve, so cells that share a fit, and fits
that share a coreset selection, run in one place.

The runner first extracts the backbone features of every input of the run (of this shard)
once, in the calling process, into the on-disk feature cache; workers then only read it, so
the manifest's forward-pass count stays one per distinct input. What the calling process
prepared is handed to the workers (a `Handover`), which do not do it again: the study's data
(trees read, fingerprinted and validated, splits drawn) and the description of each backbone
(weights located and SHA-256 digested, layers, channels, strides and preprocessing). A worker
therefore neither reads the trees, nor hashes a weights file, nor builds a network: only a
feature missing from the cache (evicted under a disk budget, say) makes it load the weights,
which are then hashed again and refused if they changed. With Dask on several machines, the
results folder, the cache folder and the weights file must be on a filesystem every worker
sees.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Protocol

from evalsuite import signals
from evalsuite.backbone.cache import FeatureCache
from evalsuite.backbone.spec import BackboneSpec
from evalsuite.errors import ConfigError, WorkerLostError
from evalsuite.runner.execution.fit_group import UnitOutcome, run_unit
from evalsuite.runner.execution.memory_budget import budget_bytes, next_unit, warn_alone
from evalsuite.runner.execution.scheduler import CONNECT_TIMEOUT_S, unreachable
from evalsuite.runner.planning.plan import Plan
from evalsuite.runner.planning.study_data import StudyData
from evalsuite.runner.preparation.context import RunContext, make_context, prepare
from evalsuite.workers import exit_stopped, init_worker, running_unit

Done = Callable[[UnitOutcome], None]
WorkerKey = tuple[str, str, str, bool]
"""A worker's study: configuration JSON, results folder, cache folder, force."""
_states: dict[WorkerKey, tuple[RunContext, Plan]] = {}
"""The studies this worker process has prepared (see `_worker_state`)."""


@dataclass(frozen=True)
class UnitTask:
    """What a worker needs to run one unit (plain data, cheap to send)."""

    config_json: str
    out: str
    cache_dir: str
    unit_id: str
    force: bool
    peak_bytes: int = 0
    """The unit's priced peak memory (`estimate.model.unit_prices`), for the pool's budget."""


@dataclass(frozen=True)
class Handover:
    """What the calling process prepared, handed to every worker (plain data, pickles).

    Attributes:
        data: the study's data (see `StudyData`).
        backbones: backbone key -> its description (see `BackboneSpec`).
    """

    data: StudyData
    backbones: dict[str, BackboneSpec]

    @classmethod
    def of(cls, context: RunContext) -> Handover:
        """The handover of a prepared run."""
        described = {key: source.backbone.spec for key, source in context.features.items()}
        return cls(context.data, described)


class Executor(Protocol):
    """Runs units of work and reports each outcome as it arrives."""

    def run(self, tasks: Sequence[UnitTask], done: Done) -> None:
        """Run every task; call `done` in this process once per finished unit."""
        ...


class SerialExecutor:
    """Units one after the other in this process, on the run's own context and plan."""

    def __init__(self, context: RunContext, plan: Plan) -> None:
        self.context, self.plan = context, plan

    def run(self, tasks: Sequence[UnitTask], done: Done) -> None:
        """Run every task here, in order."""
        for task in tasks:
            done(run_unit(self.context, self.plan.unit(task.unit_id), self.plan))


class PoolExecutor:
    """Units on a local pool of `workers` spawned processes; Ctrl-C cancels queued units.

    Each unit is sent with the `handover` of the calling process. Units start in the order
    given, as long as the priced peaks of those running together fit in the `budget`
    (`memory_budget`): a unit that does not fit waits for a running one to finish.
    """

    def __init__(
        self,
        workers: int,
        handover: Handover | None = None,
        budget: Callable[[], int | None] = budget_bytes,
    ) -> None:
        self.workers, self.handover, self.budget = workers, handover, budget

    def run(self, tasks: Sequence[UnitTask], done: Done) -> None:
        """Run every task on the pool, at most `workers` at a time, within the memory budget.

        Units are submitted one per free worker rather than all at once: the pool hands
        submitted work to its call queue ahead of time, where Ctrl-C can no longer cancel it.

        Raises:
            WorkerLostError: a worker process ended abruptly (the system stopped it, most
                often for lack of memory); the cells finished so far are kept.
        """
        # spawn, not fork: a forked child inherits torch's thread pools in a state that can deadlock
        context = multiprocessing.get_context("spawn")
        waiting = list(tasks)
        budget = self.budget()
        running: dict[Future[UnitOutcome], UnitTask] = {}
        with ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=init_worker,  # Ctrl-C to the parent; gone when the parent is
            initargs=(os.getpid(),),
        ) as pool:

            def start() -> None:
                while len(running) < self.workers:
                    prices = [task.peak_bytes for task in running.values()]
                    index = next_unit([task.peak_bytes for task in waiting], prices, budget)
                    if index is None:
                        return
                    task = waiting.pop(index)
                    if not running:
                        warn_alone(task.unit_id, task.peak_bytes, budget)
                    running[pool.submit(run_task, task, self.handover)] = task

            try:
                start()
                while running:
                    finished, _ = wait(set(running), return_when=FIRST_COMPLETED)
                    for future in finished:
                        task = running.pop(future)
                        done(_result(future, task))
                    start()
            except KeyboardInterrupt as interrupt:  # Ctrl-C or SIGTERM: submit no more
                workers = _processes(pool)  # shutdown forgets them
                pool.shutdown(wait=False, cancel_futures=True)
                raise _stop_running(workers, set(running), interrupt) from None


def _result(future: Future[UnitOutcome], task: UnitTask) -> UnitOutcome:
    """The unit's outcome; a worker that ended abruptly is reported in one clear error."""
    try:
        return future.result()
    except BrokenProcessPool:
        price = f", priced at {task.peak_bytes / 1e9:.1f} GB" if task.peak_bytes else ""
        raise WorkerLostError(
            f"a worker process ended abruptly while running unit {task.unit_id}{price} (the "
            "system stopped it, most often for lack of memory); the cells finished so far are "
            "kept and a rerun resumes from them: rerun with fewer --workers, and see "
            "`evalsuite plan --estimate` for each fit's peak memory"
        ) from None


def _processes(pool: ProcessPoolExecutor) -> list[BaseProcess]:
    """The worker processes of `pool` (it has no public handle on them)."""
    return list((getattr(pool, "_processes", None) or {}).values())


def _stop_running(
    workers: list[BaseProcess], running: set[Future[UnitOutcome]], interrupt: KeyboardInterrupt
) -> KeyboardInterrupt:
    """Let the running units finish after Ctrl-C, saying so; stop them at once after a
    second Ctrl-C or SIGTERM. Returns the interrupt the command ends with.

    A stopped worker unwinds its unit (no temp file left; its cells so far are complete
    records) and ends; the rerun redoes the rest of that unit.
    """
    busy = [future for future in running if not future.done()]
    if busy and not isinstance(interrupt, signals.Terminated):
        print(
            f"stopping: {len(busy)} running unit(s) finish first and keep their cells; "
            "press Ctrl-C again to stop them now (their unfinished work is redone on resume)",
            file=sys.stderr,
            flush=True,
        )
        try:
            wait(busy)
            return interrupt
        except KeyboardInterrupt as again:
            interrupt = again if isinstance(again, signals.Terminated) else interrupt
    if busy:
        _terminate(workers)
    return interrupt


def _terminate(processes: list[BaseProcess], grace_s: float = 60.0) -> None:
    """SIGTERM every worker process and wait for each to end; SIGKILL one that has not
    unwound within `grace_s` (stuck in native code)."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(grace_s)
        if process.is_alive():
            process.kill()
            process.join()


class DaskExecutor:
    """Units on a Dask distributed cluster: `scheduler` address, or a LocalCluster.

    The `handover` of the calling process is sent to every worker once.
    """

    def __init__(
        self, scheduler: str | None, workers: int, handover: Handover | None = None
    ) -> None:
        self.scheduler, self.workers, self.handover = scheduler, workers, handover

    def run(self, tasks: Sequence[UnitTask], done: Done) -> None:
        """Run every task on the cluster."""
        try:
            from distributed import Client, LocalCluster, as_completed
        except ImportError as error:  # pragma: no cover - distributed is a pinned dependency
            raise ConfigError(
                "the dask executor needs the `distributed` package; run make install"
            ) from error
        cluster = None
        if self.scheduler is None:
            cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
        try:
            client = _connect(Client, self.scheduler, cluster)
            with client:
                handed = self.handover
                handover = None if handed is None else client.scatter(handed, broadcast=True)
                futures = client.map(run_task, list(tasks), handover=handover, pure=False)
                for future in as_completed(futures):
                    done(future.result())
        finally:
            if cluster is not None:
                cluster.close()


def _connect(client: Any, scheduler: str | None, cluster: Any) -> Any:
    """A client of the scheduler at `scheduler`, or of the local `cluster`.

    Raises:
        SchedulerError: the scheduler does not answer (not a disk problem: said as such).
    """
    if scheduler is None:
        return client(cluster)
    try:
        return client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as error:
        raise unreachable(scheduler, error) from error


def make_executor(
    kind: str, workers: int, scheduler: str | None, context: RunContext, plan: Plan
) -> Executor:
    """The executor of `--executor kind --workers N [--scheduler ADDRESS]`."""
    if kind == "dask":
        return DaskExecutor(scheduler, workers, Handover.of(context))
    if kind != "local":
        raise ConfigError(f"unknown executor {kind!r}; use local or dask")
    if workers == 1:
        return SerialExecutor(context, plan)
    return PoolExecutor(workers, Handover.of(context))


def _worker_state(task: UnitTask, handover: Handover | None) -> tuple[RunContext, Plan]:
    """Feature sources and plan of a study (its data and backbone descriptions from the
    `handover`, or made here without one), made once per worker process; the two latest
    studies are kept."""
    key = (task.config_json, task.out, task.cache_dir, task.force)
    if key not in _states:
        from evalsuite.config import StudyConfig

        config = StudyConfig.model_validate(json.loads(task.config_json))
        data = None if handover is None else handover.data
        described = None if handover is None else handover.backbones
        data, sources, plan, device = prepare(
            config, Path(task.cache_dir), False, data, described=described
        )
        if len(_states) >= 2:
            del _states[next(iter(_states))]
        _states[key] = make_context(config, data, sources, device, Path(task.out), task.force), plan
    return _states[key]


def forget_features(sources: Iterable[FeatureCache]) -> None:
    """Drop the features each source holds in memory, where it has an on-disk store to read
    them back from (see `FeatureCache.forget_memory`).

    The calling process of a pool or Dask run does so once the features are extracted (up to
    `DEFAULT_MEMORY_BYTES` per backbone; 5.3 GB resident on the paper preset's rehearsal),
    and a worker at the start of each unit, so that it holds no previous unit's features.
    """
    for source in sources:
        if source.cache_dir is not None:
            source.forget_memory()


def run_task(task: UnitTask, handover: Handover | None = None) -> UnitOutcome:
    """Run one unit in a worker process (top level, so it pickles); `handover` is what the
    calling process prepared (None: the worker prepares everything itself)."""
    from evalsuite import progress

    progress.set_enabled(False)
    try:
        with running_unit():
            context, plan = _worker_state(task, handover)
            forget_features(context.features.values())  # the last unit's: on disk, not here
            return run_unit(context, plan.unit(task.unit_id), plan)
    except signals.Terminated:  # SIGTERM, or the parent died: the unit has cleaned up
        exit_stopped()
        raise
