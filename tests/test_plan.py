"""The plan: fits deduplicated as the regimes prescribe, keys that follow content."""

from __future__ import annotations

from typing import Any

from evalsuite.config import StudyConfig
from evalsuite.runner.planning.plan import make_plan

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
    # b sweep: num_neighbors changes the scoring only, so its cells read the baseline's
    # clean fits; severity sweep of padim: its clean fits are the baseline's too
    assert len(plan.fits) == 2 * 2 * 8
    b_cells = [c for c in plan.cells if c.variant.sweep and c.variant.sweep[0].endswith("bors")]
    assert len(b_cells) == 2 * 2 * 2 * 3  # seeds x values x kinds x categories
    baseline = {
        (c.fit.seed, c.category): c.fit.id
        for c in plan.cells
        if c.variant.sweep is None
        and c.fit.scope == "per_class"
        and c.fit.condition == "clean"
        and c.variant.spec.label == "patchcore"
    }
    assert all(c.fit.id == baseline[(c.fit.seed, c.category)] for c in b_cells)
    assert {c.variant.spec.params["num_neighbors"] for c in b_cells} == {3, 9}
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
    rounded = _plan(feature_cache_storage="float16")  # other features: other fits
    assert not {f.id for f in rounded.fits} & {f.id for f in a.fits}
    assert _plan(feature_cache_storage="float32").fits == a.fits


def test_shards_partition_whole_fits() -> None:
    plan = _plan()
    shards = [plan.shard(i, 3) for i in (1, 2, 3)]
    fit_ids = [f.id for s in shards for f in s.fits]
    assert sorted(fit_ids) == sorted(f.id for f in plan.fits)
    assert sum(len(s.cells) for s in shards) == len(plan.cells)
    for shard in shards:
        ids = {f.id for f in shard.fits}
        assert all(c.fit.id in ids for c in shard.cells)


def test_a_coreset_sweep_is_one_unit_per_selection() -> None:
    plan = _plan(
        seeds=[0],
        sweeps=[{"detector": "patchcore", "param": "params.coreset_ratio", "values": [0.01, 0.25]}],
    )
    clean = [
        f
        for f in plan.fits
        if f.variant.spec.name == "patchcore" and f.scope == "per_class" and f.condition == "clean"
    ]
    assert len(clean) == 3 * 3  # categories x (baseline 0.1, 0.01, 0.25)
    units = [u for u in plan.units if u.fits[0] in clean]
    assert len(units) == 3  # one greedy selection per category, shared by the three ratios
    for unit in units:
        assert sorted(f.variant.spec.params["coreset_ratio"] for f in unit.fits) == [
            0.01,
            0.1,
            0.25,
        ]
        assert len({f.categories for f in unit.fits}) == 1
    # padim fits, shifted fits and unified fits stay units of their own
    assert sum(len(u.fits) for u in plan.units) == len(plan.fits)
    assert len(plan.units) == len(plan.fits) - 3 * 2


def test_cost_balanced_shards_partition_units() -> None:
    plan = _plan()
    costs = {unit.id: float(len(unit.id) + i % 5) for i, unit in enumerate(plan.units)}
    shards = [plan.shard(i, 3, costs) for i in (1, 2, 3)]
    assert sorted(f.id for s in shards for f in s.fits) == sorted(f.id for f in plan.fits)
    loads = [sum(costs[u.id] for u in s.units) for s in shards]
    assert max(loads) - min(loads) <= max(costs.values())  # greedy balance bound
    assert [f.id for f in plan.shard(2, 3, costs).fits] == [f.id for f in shards[1].fits]


def test_detectors_sharing_a_fit_keep_their_own_cells() -> None:
    """Two labels whose fits coincide (search and scoring params are not in the fit key)
    share the fit but each keeps every one of its cells (they were once merged into one)."""
    detectors = [
        {"name": "patchcore", "label": "exact"},
        {"name": "patchcore", "label": "hnsw", "params": {"search": "hnsw"}},
        {"name": "patchcore", "label": "b9", "params": {"num_neighbors": 9}},
        {"name": "patchcore", "label": "twin"},  # the same configuration as `exact`
    ]
    plan = _plan(detectors=detectors, sweeps=[], seeds=[0])
    per_label = {
        label: [c for c in plan.cells if c.variant.spec.label == label]
        for label in ("exact", "hnsw", "b9", "twin")
    }
    assert {len(cells) for cells in per_label.values()} == {2 * 4 * 3}
    assert len({c.id for c in plan.cells}) == len(plan.cells) == 4 * 2 * 4 * 3
    assert len(plan.fits) == len({c.fit.id for c in per_label["exact"]})  # one set of fits
