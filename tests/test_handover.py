"""What a worker is handed and does not redo: with every feature in the cache, pool and Dask
workers neither hash a weights file nor build a network (they get the run's backbone
descriptions), the calling process hashes each weights file once and builds nothing, and the
records are those of a serial run."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from studies import SMALL

from evalsuite import regular, results
from evalsuite.backbone import weights
from evalsuite.config import StudyConfig
from evalsuite.runner import run_study
from evalsuite.runner.estimate.model import unit_costs
from evalsuite.runner.execution import executors
from evalsuite.runner.execution import run as run_module
from evalsuite.runner.preparation.context import make_context, prepare

pytestmark = [pytest.mark.e2e, pytest.mark.long]  # `make test-e2e`; the slowest start first

COUNTS_DIR = "EVALSUITE_TEST_COUNTS"
"""Where pool workers write what they counted (one JSON file per process)."""
Setter = Callable[[object, str, object], None]


def _study() -> StudyConfig:
    study = json.loads(json.dumps(SMALL))
    study.update(kinds=["clean/none", "shift/none"], scopes=["per_class"], sweeps=[])
    study["data"] = {**study["data"], "categories": ["hazelnut"]}
    return StudyConfig.model_validate(study)


def _count(setter: Setter) -> dict[str, int]:
    """Count, in this process: SHA-256 hashes of weights files, weights files read as tensors,
    timm models made on the `meta` device (descriptions) and full networks made elsewhere (a
    backbone's; a detector's own `features_only` models, such as anomalib's PaDiM extractor,
    are not the backbone and not counted)."""
    counts = {"weights_hashes": 0, "weights_reads": 0, "probes": 0, "networks": 0}
    sha256, create, read = regular.sha256, timm.create_model, weights.read_state_dict

    def counted_sha256(path: Path, rule: regular.Rule, what: str) -> str:
        if rule is regular.WEIGHTS:
            counts["weights_hashes"] += 1
        return sha256(path, rule, what)

    def counted_read(path: Path) -> Any:
        counts["weights_reads"] += 1
        return read(path)

    def counted_create(*args: Any, **kwargs: Any) -> Any:
        if torch.get_default_device().type == "meta":
            counts["probes"] += 1
        elif not kwargs.get("features_only"):
            counts["networks"] += 1
        return create(*args, **kwargs)

    setter(regular, "sha256", counted_sha256)
    setter(weights, "read_state_dict", counted_read)
    setter(timm, "create_model", counted_create)
    return counts


_in_this_worker: dict[str, int] | None = None


def counted_run_task(task: executors.UnitTask, handover: Any = None) -> Any:
    """`executors.run_task` in a pool worker, writing this process's counts after each unit."""
    global _in_this_worker
    if _in_this_worker is None:
        _in_this_worker = _count(setattr)  # patched for good: the worker process ends
        _in_this_worker["units"] = 0
    outcome = executors.run_task(task, handover)
    _in_this_worker["units"] += 1
    folder = Path(os.environ[COUNTS_DIR])
    (folder / f"{os.getpid()}.json").write_text(json.dumps(_in_this_worker))
    return outcome


def _records(out: Path) -> dict[str, Any]:
    """Every cell record, less its timings and the git commit of the code."""
    found = {}
    for path, record in results.iter_cells(out):
        record.pop("timing_s")
        record["provenance"].pop("git_commit", None)
        found[str(path)] = record
    return found


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """A serial run that fills the feature cache: (base folder, cache, units of the study)."""
    base = tmp_path_factory.mktemp("handover")
    run_study(_study(), base / "serial", cache_dir=base / "cache", progress=False)
    plan = prepare(_study(), base / "cache", progress=False)[2]
    return base, base / "cache", len(plan.units)


def test_pool_workers_neither_hash_weights_nor_build_networks(
    serial: tuple[Path, Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: every process built every backbone (each worker: one weights hash, one weights
    read, one network), although the workers only read stored features."""
    base, cache, units = serial
    here = _count(monkeypatch.setattr)
    monkeypatch.setattr(executors, "run_task", counted_run_task)
    monkeypatch.setenv(COUNTS_DIR, str(base / "counts"))
    (base / "counts").mkdir()
    summary = run_study(_study(), base / "pool", cache_dir=cache, progress=False, workers=2)
    assert summary.forward_passes == 0 and len(summary.cells) == 4
    # the calling process: the weights (the bundled Lite0) hashed once, described once on the
    # meta device, never loaded: every feature is stored
    assert here == {"weights_hashes": 1, "weights_reads": 0, "probes": 1, "networks": 0}
    workers = [json.loads(p.read_text()) for p in (base / "counts").glob("*.json")]
    assert workers and sum(w.pop("units") for w in workers) == units >= 2
    for counted in workers:
        assert counted == {"weights_hashes": 0, "weights_reads": 0, "probes": 0, "networks": 0}
    assert _records(base / "pool") == _records(base / "serial")


def test_a_worker_handed_the_descriptions_redoes_nothing(
    serial: tuple[Path, Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a pool or Dask worker runs (`run_task`), here in this process: with the handover,
    no hash and no model; without one, it describes the backbone itself (one hash, one meta
    probe) and still builds nothing, its features being stored."""
    base, cache, _ = serial
    config = _study()
    data, sources, plan, device = prepare(config, cache, progress=False)
    context = make_context(config, data, sources, device, base / "unused", False)
    dask = executors.make_executor("dask", 2, None, context, plan)
    pool = executors.make_executor("local", 2, None, context, plan)
    assert isinstance(dask, executors.DaskExecutor) and isinstance(pool, executors.PoolExecutor)
    handover = executors.Handover.of(context)
    assert dask.handover == pool.handover == handover
    assert handover.backbones == {key: s.backbone.spec for key, s in sources.items()}
    unit = plan.units[0]
    for name, handed, expected in (
        ("handed", handover, {"weights_hashes": 0, "probes": 0}),
        ("alone", None, {"weights_hashes": 1, "probes": 1}),
    ):
        with monkeypatch.context() as patch:
            patch.setattr(executors, "_states", {})  # this process as a fresh worker
            counts = _count(patch.setattr)
            task = executors.UnitTask(
                config.model_dump_json(), str(base / name), str(cache), unit.id, False
            )
            outcome = executors.run_task(task, handed)
        assert counts == {**expected, "weights_reads": 0, "networks": 0}, name
        assert outcome.forward_passes == 0 and {c.status for c in outcome.cells} == {"ok"}


@pytest.mark.parametrize("workers", [1, 2])
def test_the_calling_process_drops_its_features_before_pool_workers_start(
    workers: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: after extracting every feature, the calling process kept up to 2 GB per backbone
    in memory for the whole run (5.3 GB resident on the paper preset) while the pool workers
    read the on-disk store. A serial run (one worker, in this process) keeps them: it reads
    them again."""
    held: list[int] = []
    make = run_module.make_executor

    def watched(executor: str, n: int, scheduler: Any, context: Any, plan: Any) -> Any:
        held.append(sum(source.held_bytes for source in context.features.values()))
        return make(executor, n, scheduler, context, plan)

    monkeypatch.setattr(run_module, "make_executor", watched)
    summary = run_study(
        _study(), tmp_path / "out", cache_dir=tmp_path / "cache", progress=False, workers=workers
    )
    assert summary.forward_passes > 0 and len(summary.cells) == 4
    assert len(held) == 1
    assert (held[0] == 0) == (workers > 1), held


def test_pool_workers_take_the_largest_units_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the pool took units in plan order, so on the paper preset the unified PatchCore
    unit (over an hour) started late and the run outlasted the estimate's largest-first
    projection."""
    study = json.loads(json.dumps(SMALL))
    study.update(kinds=["clean/none"], scopes=["per_class", "unified"], sweeps=[])
    config = StudyConfig.model_validate(study)
    handed: list[str] = []
    make = run_module.make_executor

    def watched(executor: str, n: int, scheduler: Any, context: Any, plan: Any) -> Any:
        chosen = make(executor, n, scheduler, context, plan)
        run = chosen.run

        def recorded(tasks: Any, done: Any) -> None:
            handed.extend(task.unit_id for task in tasks)
            run(tasks, done)

        chosen.run = recorded
        return chosen

    monkeypatch.setattr(run_module, "make_executor", watched)
    run_study(config, tmp_path / "out", cache_dir=tmp_path / "cache", progress=False, workers=2)
    data, sources, plan, _ = prepare(config, tmp_path / "cache", progress=False)
    costs = unit_costs(plan, data, sources)
    assert sorted(handed) == sorted(unit.id for unit in plan.units)
    assert [costs[unit] for unit in handed] == sorted(costs.values(), reverse=True)
    assert handed != [unit.id for unit in plan.units]  # the plan's order is not largest first


def held_at_unit_start(task: executors.UnitTask, handover: Any = None) -> Any:
    """`executors.run_task` in a pool worker, writing the feature bytes the worker holds in
    memory as each unit starts (one line per unit, one file per process)."""
    real = executors.run_unit

    def watched(context: Any, unit: Any, plan: Any) -> Any:
        held = sum(source.held_bytes for source in context.features.values())
        with (Path(os.environ[COUNTS_DIR]) / f"{os.getpid()}.held").open("a") as log:
            log.write(f"{held}\n")
        return real(context, unit, plan)

    executors.run_unit = watched
    try:
        return executors.run_task(task, handover)
    finally:
        executors.run_unit = real


def test_a_pool_worker_starts_each_unit_holding_no_features(
    serial: tuple[Path, Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a worker kept the features of its earlier units in its LRU (up to 2 GB per
    backbone), so on the paper preset's rehearsal one held R18 features while it fitted the
    unified WRN50 PatchCore (8.7 GB resident, 4.1 GB priced)."""
    base, cache, _ = serial
    study = _study().model_dump(mode="json")
    study["data"]["categories"] = ["hazelnut", "zipper"]
    config = StudyConfig.model_validate(study)
    units = len(prepare(config, cache, progress=False)[2].units)
    monkeypatch.setattr(executors, "run_task", held_at_unit_start)
    monkeypatch.setenv(COUNTS_DIR, str(base / "held"))
    (base / "held").mkdir()
    run_study(config, base / "held-out", cache_dir=cache, progress=False, workers=2)
    logs = [p.read_text().split() for p in (base / "held").glob("*.held")]
    assert sum(len(log) for log in logs) == units >= 3
    assert max(len(log) for log in logs) >= 2  # a worker ran a unit after another
    assert {int(held) for log in logs for held in log} == {0}
