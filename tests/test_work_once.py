"""Work done once: one backbone pass per distinct input of a shard, one search per distinct
(fit, input), coreset selections shared across a coreset sweep, scoring-only sweeps on the
baseline's fit; and the numbers are those of doing the work separately."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from studies import SMALL

from evalsuite import results
from evalsuite.config import StudyConfig
from evalsuite.digest import file_sha256
from evalsuite.runner import run_study
from evalsuite.runner.preparation.context import prepare

pytestmark = pytest.mark.long  # among the slowest files: started first (tests/conftest.py)

SWEEPS = [
    {"detector": "patchcore", "param": "params.coreset_ratio", "values": [0.5]},
    {"detector": "patchcore", "param": "params.num_neighbors", "values": [3]},
    {"detector": "patchcore", "param": "shift.severity", "values": [1]},
]


def _study(**changes: Any) -> dict[str, Any]:
    study = json.loads(json.dumps(SMALL))
    study.update(changes)
    return study


def _run(study: dict[str, Any], base: Path, name: str, **options: Any) -> Any:
    config = StudyConfig.model_validate(study)
    return run_study(
        config, base / name, cache_dir=base / f"cache-{name}", progress=False, **options
    )


def _outputs(out: Path) -> dict[str, Any]:
    """Per cell path: everything computed (ids, timings and provenance aside)."""
    return {
        str(path): [record[k] for k in ("status", "metrics", "threshold", "scores", "roc")]
        for path, record in results.iter_cells(out)
    }


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    base = tmp_path_factory.mktemp("once")
    return base, _run(_study(sweeps=SWEEPS), base, "full")


def test_one_forward_pass_and_one_search_per_distinct_input(swept) -> None:
    base, summary = swept
    counts = results.read_manifest(base / "full")["counts"]
    assert counts["cells_failed"] == 0 and counts["cells_total"] == 36 + 2 * 2 * 2
    # inputs: both categories' clean and severity-2 trees (8 train + 15 test images each);
    # the severity-1 sweep (kinds clean/none and shift/none: thresholds from clean val) reads
    # only its test images. Inputs are keyed by content: identical files count once.
    config = StudyConfig.model_validate(_study(sweeps=SWEEPS))
    data = prepare(config, base / "cache-full", progress=False)[0]
    read = [
        s.path
        for category in ("hazelnut", "zipper")
        for condition, severity, split in [
            (c, 2, split) for c in ("clean", "shift") for split in ("train", "val", "test")
        ]
        + [("shift", 1, "test")]
        for s in data.samples(condition, severity, split, [category], 0)
    ]
    distinct = len({file_sha256(path) for path in read})
    assert counts["forward_passes"] == counts["distinct_inputs"] == distinct
    # every detector counts the images it searched: each (fit, input) pair exactly once,
    # although the b sweep, the severity sweep and the shortcut analysis read them again
    assert counts["score_passes"] == counts["distinct_fit_inputs"] == summary.score_passes
    assert counts["feature_cache_bytes"] > 0


def test_scoring_only_and_coreset_sweeps_equal_separate_runs(swept, tmp_path: Path) -> None:
    base, _ = swept
    full = _outputs(base / "full")
    detector = SMALL["detectors"][0]
    for param, value in (("num_neighbors", 3), ("coreset_ratio", 0.5)):
        alone = _study(
            detectors=[{**detector, "params": {**detector["params"], param: value}}],
            sweeps=[],
            scopes=["per_class"],
            kinds=["clean/none", "shift/none"],
        )
        _run(alone, tmp_path, param)
        separate = _outputs(tmp_path / param)
        for path, numbers in separate.items():
            swept_path = path.replace(".json", f"__params.{param}={value}.json")
            assert full[swept_path] == numbers, swept_path
    # the b sweep reads the baseline's fitted model; the coreset sweep has its own
    cells = base / "full/cells/patchcore/per_class/none/clean"
    baseline = results.read_cell(cells / "zipper.json")
    assert (
        results.read_cell(cells / "zipper__params.num_neighbors=3.json")["fit_id"]
        == baseline["fit_id"]
    )
    assert (
        results.read_cell(cells / "zipper__params.coreset_ratio=0.5.json")["fit_id"]
        != baseline["fit_id"]
    )
    assert not list((base / "full/fits").glob("*.selection"))  # shared selections are cleaned up


def test_shards_extract_only_their_own_inputs(swept, tmp_path: Path) -> None:
    base, whole = swept
    study = _study(sweeps=SWEEPS)
    config = StudyConfig.model_validate(study)
    shards = []
    for index in (1, 2):  # one data cache (the same dataset root), an empty feature cache each
        shutil.rmtree(tmp_path / "cache" / "features", ignore_errors=True)
        shards.append(
            run_study(
                config,
                tmp_path / f"shard{index}",
                cache_dir=tmp_path / "cache",
                progress=False,
                shard=(index, 2),
            )
        )
    for shard in shards:
        assert shard.forward_passes == shard.distinct_inputs < whole.forward_passes
        assert shard.score_passes == shard.distinct_fit_inputs
    assert sum(s.score_passes for s in shards) == whole.score_passes
    merged = tmp_path / "merged"
    results.merge([tmp_path / "shard1", tmp_path / "shard2"], merged)
    assert _outputs(merged) == _outputs(base / "full")


def test_a_unified_bank_from_per_category_coresets_is_labelled_and_is_their_union(
    tmp_path: Path,
) -> None:
    """The opt-in approximation end to end: the unified fit's bank is the per-class fits'
    banks side by side, and only the unified cells say they used it."""
    study = _study(
        kinds=["clean/none"],
        detectors=[
            {
                "name": "patchcore",
                "backbone": {"resize": 64, "crop": 64},
                "params": {"coreset_ratio": 0.2, "coreset_scope": "per_category"},
            }
        ],
        sweeps=[],
    )
    _run(study, tmp_path, "run")
    records = [record for _, record in results.iter_cells(tmp_path / "run")]
    assert len(records) == 4 and all(r["status"] == "ok" for r in records)
    label = "unified bank from per-category coresets"
    for record in records:
        expected = [label] if record["scope"] == "unified" else []
        assert record["provenance"]["approximations"] == expected
    banks = {
        record["scope"] + "/" + record["category"]: np.load(
            results.fit_dir(tmp_path / "run", record["fit_id"]) / "memory_bank.npy"
        )
        for record in records
    }
    np.testing.assert_array_equal(
        banks["unified/hazelnut"],
        np.concatenate([banks["per_class/hazelnut"], banks["per_class/zipper"]]),
    )


def test_a_worker_uses_the_data_the_run_prepared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pool or Dask worker handed the study's data runs its unit without reading the trees
    again (no second fingerprinting); without it, it prepares the data itself."""
    from evalsuite.runner.execution import executors
    from evalsuite.runner.preparation import context

    study = _study(kinds=["clean/none"], scopes=["per_class"], sweeps=[])
    study["detectors"] = study["detectors"][:1]
    study["data"] = {**study["data"], "categories": ["hazelnut"]}
    config = StudyConfig.model_validate(study)
    cache = tmp_path / "cache"
    data, sources, plan, _ = prepare(config, cache, progress=False)
    handover = executors.Handover(data, {key: s.backbone.spec for key, s in sources.items()})
    monkeypatch.setattr(executors, "_states", {})  # this process as a fresh worker

    def read_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("the worker read the data again")

    monkeypatch.setattr(context, "prepare_data", read_again)
    [unit] = plan.units

    def task(out: str) -> executors.UnitTask:
        return executors.UnitTask(config.model_dump_json(), out, str(cache), unit.id, False)

    outcome = executors.run_task(task(str(tmp_path / "out")), handover)
    assert [cell.status for cell in outcome.cells] == ["ok"]
    assert [record["status"] for _, record in results.iter_cells(tmp_path / "out")] == ["ok"]
    with pytest.raises(AssertionError, match="read the data again"):
        executors.run_task(task(str(tmp_path / "other")))
