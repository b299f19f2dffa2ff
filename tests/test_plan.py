"""The plan: fits deduplicated as the regimes prescribe, keys that follow content."""

from __future__ import annotations

from typing import Any

from evalsuite.config import StudyConfig
from evalsuite.runner.plan import make_plan

STUDY: dict[str, Any] = {
    "seeds": [0, 1],
    "data": {"categories": ["carpet", "zipper", "hazelnut"]},
    "detectors": [{"name": "patchcore"}, {"name": "padim", "label": "padim_small"}],
    "sweeps": [
        {"detector": "patchcore", "param": "params.num_neighbors", "values": [3, 9]},
        {"detector": "padim_small", "param": "shift.severity", "values": [3]},
    ],
}
DATA = {"fingerprints": {"clean": "c", "shift-s2": "s"}}
WEIGHTS = {"tf_efficientnet_lite0": "abc"}


def _plan(**changes: Any) -> Any:
    return make_plan(StudyConfig.model_validate({**STUDY, **changes}), DATA, WEIGHTS)


def test_fits_are_shared_as_the_regimes_prescribe() -> None:
    plan = _plan()
    baseline = [c for c in plan.cells if c.variant.sweep is None and c.fit.seed == 0]
    # per detector: 2 scopes x 4 kinds x 3 categories
    assert len(baseline) == 2 * 2 * 4 * 3
    for cell in baseline:
        clean_fit = next(
            c.fit
            for c in baseline
            if (c.fit.variant.spec.label, c.fit.scope, c.category, c.condition, c.regime)
            == (cell.fit.variant.spec.label, cell.fit.scope, cell.category, "clean", "none")
        )
        if cell.regime == "retrain":
            assert cell.fit.id != clean_fit.id and cell.fit.condition == "shift"
        else:
            assert cell.fit.id == clean_fit.id and cell.fit.condition == "clean"
        assert cell.threshold_condition == ("clean" if cell.regime == "none" else cell.condition)
    unified = {c.fit.id for c in baseline if c.fit.scope == "unified"}
    # one clean and one shifted unified fit per detector, each serving every category
    assert len(unified) == 2 * 2
    for fit_id in unified:
        categories = {c.category for c in baseline if c.fit.id == fit_id}
        assert categories == {"carpet", "zipper", "hazelnut"}


def test_fit_count_with_seeds_and_sweeps() -> None:
    plan = _plan()
    # baseline per seed and detector: per_class 3 clean + 3 shift fits, unified 1 + 1 = 8
    # b sweep: 2 values x 3 clean per_class fits (kinds clean/none and shift/none share them)
    # severity sweep of padim: its clean fits are the baseline's, so no new fit
    assert len(plan.fits) == 2 * (2 * 8 + 2 * 3)
    severity_cells = [c for c in plan.cells if c.variant.sweep == ("shift.severity", 3)]
    assert len(severity_cells) == 2 * 2 * 3
    assert all(c.variant.severity == 3 for c in severity_cells)
    # the severity sweep re-evaluates the baseline clean fits on more strongly shifted data
    assert {c.fit.id for c in severity_cells} <= {
        f.id for f in plan.fits if f.variant.sweep is None
    }
    assert len({c.id for c in plan.cells}) == len(plan.cells)


def test_keys_follow_what_determines_them() -> None:
    a, b = _plan(), _plan()
    assert [f.id for f in a.fits] == [f.id for f in b.fits]
    other_weights = make_plan(
        StudyConfig.model_validate(STUDY), DATA, {"tf_efficientnet_lite0": "x"}
    )
    assert not {f.id for f in a.fits} & {f.id for f in other_weights.fits}
    other_data = make_plan(
        StudyConfig.model_validate(STUDY), {"fingerprints": {"clean": "d"}}, WEIGHTS
    )
    assert not {f.id for f in a.fits} & {f.id for f in other_data.fits}
    bootstrap = _plan(evaluation={"bootstrap": 10})
    assert {f.id for f in bootstrap.fits} == {f.id for f in a.fits}  # evaluation: cells only
    assert not {c.id for c in bootstrap.cells} & {c.id for c in a.cells}


def test_shards_partition_whole_fits() -> None:
    plan = _plan()
    shards = [plan.shard(i, 3) for i in (1, 2, 3)]
    fit_ids = [f.id for s in shards for f in s.fits]
    assert sorted(fit_ids) == sorted(f.id for f in plan.fits)
    assert sum(len(s.cells) for s in shards) == len(plan.cells)
    for shard in shards:
        ids = {f.id for f in shard.fits}
        assert all(c.fit.id in ids for c in shard.cells)
