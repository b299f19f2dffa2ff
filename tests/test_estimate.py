"""`evalsuite plan --estimate`, the cost model, and the device option."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from studies import SMALL

from evalsuite.backbone.cache import DEFAULT_MEMORY_BYTES, FeatureCache
from evalsuite.backbone.preprocessing import Preprocessing
from evalsuite.cli import main
from evalsuite.config import StudyConfig
from evalsuite.detectors.cost import FitShape
from evalsuite.detectors.patchcore.params import PatchCoreParams
from evalsuite.runner.estimate.model import (
    estimate,
    makespan,
    plan_kernels,
    reference_rates,
    unit_costs,
)
from evalsuite.runner.planning.plan import Plan, backbone_key
from evalsuite.runner.planning.study_data import StudyData, fit_inputs
from evalsuite.runner.preparation.context import prepare


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("estimate")
    path = base / "tiny.yaml"
    path.write_text(json.dumps(SMALL))
    return base, path


Prepared = tuple[StudyData, dict[str, FeatureCache], Plan]


@pytest.fixture
def prepared(study: tuple[Path, Path]) -> Prepared:
    """The tiny study's data, feature sources and plan (`prepare`), cached in its folder."""
    base, _ = study
    config = StudyConfig.model_validate(SMALL)
    data, sources, plan, _ = prepare(config, base / "cache", progress=False)
    return data, sources, plan


def test_makespan_deals_largest_first() -> None:
    assert makespan([4.0, 3.0, 3.0, 2.0], 2) == 6.0  # 4+2 and 3+3
    assert makespan([3.0, 3.0, 2.0, 2.0, 2.0], 2) == 7.0  # largest first is not optimal (6)
    assert makespan([5.0, 1.0], 4) == 5.0 and makespan([], 2) == 0.0


def test_estimate_counts_the_plan(prepared: Prepared) -> None:
    data, sources, plan = prepared
    rates = reference_rates(plan_kernels(plan))
    one = estimate(plan, data, sources, rates, workers=1, bootstrap=20)
    two = estimate(plan, data, sources, rates, workers=2, bootstrap=20)
    assert [f.fit_id for f in one.fits] == [f.id for f in plan.fits]
    assert one.wall_s >= two.wall_s >= one.features_s + max(one.units.values())
    # per category 8 train + 15 test images, clean and severity 2, for the one Lite0 backbone
    assert sum(one.distinct_inputs.values()) == 2 * 23 * 2
    assert one.cache_bytes == 2 * 23 * 2 * next(iter(sources.values())).bytes_per_input()
    patchcore = [f for f in one.fits if f.label == "patchcore" and f.scope == "per_class"]
    assert all(f.fit_s > 0 and f.score_s > 0 and f.peak_bytes > 0 for f in patchcore)
    # a unit's smaller coreset selections are prefixes of its largest: priced once
    shared = [u for u in plan.units if len(u.fits) > 1]
    assert shared
    for unit in shared:
        alone = sum(next(f for f in one.fits if f.fit_id == x.id).total_s for x in unit.fits)
        assert one.units[unit.id] < alone
    assert unit_costs(plan, data, sources, 20) == one.units  # reference rates: machine-free


def test_the_reference_projection_is_what_it_was_before_the_protocol(prepared: Prepared) -> None:
    """At the reference rates the tiny study's projection is, to the bit, what the cost model
    gave while the runner priced PatchCore and PaDiM itself (recorded at commit ac49cfc): the
    cost models moved beside their detectors without changing a number."""
    data, sources, plan = prepared
    projected = estimate(
        plan, data, sources, reference_rates(plan_kernels(plan)), workers=2, bootstrap=20
    )
    fits = projected.fits
    assert (len(fits), len(projected.units)) == (14, 12)
    assert sum(f.fit_s for f in fits) == 0.0998375424
    assert sum(f.score_s for f in fits) == 0.12297549824000001
    assert sum(f.eval_s for f in fits) == 0.04608576
    # since the rehearsal, the features each fit's process holds are priced too (below)
    held = sum(_held(plan, data, sources, fit) for fit in plan.fits)
    assert sum(f.peak_bytes for f in fits) == 16_821_647_552 + held
    assert sum(projected.units.values()) == 0.26142769664
    assert projected.wall_s == 11.63285611264
    assert sorted(unit_costs(plan, data, sources, 20).values()) == [
        0.009638732799999999,
        0.009760652799999998,
        0.010558080000000001,
        0.01068,
        0.01632288,
        0.0171744,
        0.01754016,
        0.028496867840000002,
        0.02979936,
        0.033456542719999996,
        0.03438300928,
        0.0436170112,
    ]


def test_the_estimate_prices_the_resamples(prepared: Prepared) -> None:
    """The paper preset's 2000 resamples cost more evaluation time than the demo's 200."""
    data, sources, plan = prepared
    rates = reference_rates(plan_kernels(plan))
    few = estimate(plan, data, sources, rates, workers=1, bootstrap=200)
    many = estimate(plan, data, sources, rates, workers=1, bootstrap=2000)
    assert sum(f.eval_s for f in many.fits) > sum(f.eval_s for f in few.fits) > 0


def test_plan_estimate_command(study) -> None:
    base, path = study
    args = ["plan", "--config", str(path), "--cache", str(base / "cache"), "--estimate"]
    shown = CliRunner().invoke(main, [*args, "--workers", "2"])
    assert shown.exit_code == 0, shown.output
    assert "projected wall time with 2 worker(s)" in shown.output
    assert "feature cache" in shown.output and "peak memory" in shown.output
    as_json = CliRunner().invoke(main, [*args, "--json"])
    report = json.loads(as_json.output[as_json.output.index("{") :])
    assert report["estimate"]["rates"]["source"] == "measured"
    assert len(report["estimate"]["fits"]) == report["counts"]["fits"]
    assert report["device"] == "cpu"
    assert report["estimate"]["rates"]["device"] == "cpu"
    assert "(rates measured on this machine's cpu)" in shown.output


def test_rates_carry_their_device() -> None:
    """Rates measured with a device say which."""
    from evalsuite.runner.estimate.measure import measure_rates

    rates = measure_rates({}, seconds=0.0, device=torch.device("cpu"))
    assert rates.device == "cpu" and rates.source == "measured"
    assert set(rates.kernels) == {
        "patchcore.greedy",
        "patchcore.search",
        "anomaly_map",
        "padim.moments",
        "padim.inverse",
        "padim.score",
    }
    assert all(seconds > 0 for seconds in rates.kernels.values())


def _train(**images: int) -> FitShape:
    """The shape of a fit on `images[category]` images of each category."""
    return FitShape(sum(images.values()), images, 0, (0, 0), {})


def _greedy_work(
    params: dict[str, object], train: FitShape, positions: int, dim: int, pruned: bool = True
) -> float:
    from evalsuite.detectors.patchcore.cost import greedy_work

    return greedy_work(PatchCoreParams.model_validate(params), train, positions, dim, pruned)


def test_greedy_work_on_worked_examples() -> None:
    """Point-iterations of the greedy loop, counted by hand: M = int(ratio P) iterations over
    P = images x positions points; the pruned loop only where it runs (P >= 32768 and a
    multiple of 16), and only when priced for the CPU."""
    from evalsuite.detectors.patchcore.cost import PRUNED_GREEDY_WORK

    pooled = {"coreset_ratio": 0.1}
    train = _train(a=40, b=24)  # 64 x 784 = 50,176 points: M = 5,017
    full = _greedy_work(pooled, train, 784, 128, pruned=False)
    assert full == 5_017 * 50_176 == 251_732_992
    cpu = _greedy_work(pooled, train, 784, 128)
    assert cpu == pytest.approx(PRUNED_GREEDY_WORK * 251_732_992)
    assert _greedy_work(pooled, train, 784, 120) == full  # k % 16
    per = {"coreset_ratio": 0.1, "coreset_scope": "per_category"}
    # a: 31,360 points, M = 3,136; b: 18,816 points, M = 1,881; both too small to prune
    expected = 3_136 * 31_360 + 1_881 * 18_816
    assert _greedy_work(per, train, 784, 128) == expected == 133_737_856
    assert _greedy_work(pooled, _train(a=1), 4, 128) == 1 * 4


def test_the_greedy_rate_is_the_marginal_cost_of_one_iteration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a clock that advances 5 s per call (set-up) plus 0.25 s per greedy iteration, the
    measured rate is 0.25 s over the points times dimensions: the set-up is not counted. The
    CPU times the full loop (the pruned one is priced from it); another device the torch loop."""
    from evalsuite.detectors import timing
    from evalsuite.detectors.patchcore import cost, greedy, torch_ops

    now = [0.0]
    calls: list[tuple[str, tuple[int, ...], bool]] = []

    def cpu_loop(points: np.ndarray, size: int, start: int, *, prune: bool = True) -> None:
        calls.append(("cpu", points.shape, prune))
        now[0] += 5.0 + 0.25 * size

    def torch_loop(points: np.ndarray, size: int, start: int, device: torch.device) -> None:
        calls.append(("torch", points.shape, True))
        now[0] += 5.0 + 0.25 * size

    monkeypatch.setattr(greedy, "greedy_k_center", cpu_loop)
    monkeypatch.setattr(torch_ops, "greedy_k_center_torch", torch_loop)
    monkeypatch.setattr(timing, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    rate = cost.GREEDY_KERNEL.time(0.0, torch.device("cpu"))
    (points, dim) = calls[0][1]
    assert rate == pytest.approx(0.25 / (points * dim), rel=1e-12)
    assert {(kind, prune) for kind, _, prune in calls} == {("cpu", False)}
    calls.clear()
    assert cost.GREEDY_KERNEL.time(0.0, torch.device("meta")) == pytest.approx(rate, rel=1e-12)
    assert {kind for kind, _, _ in calls} == {"torch"}


def test_device_option(study) -> None:
    base, path = study
    shown = CliRunner().invoke(main, ["config", "show", "--config", str(path)])
    assert json.loads(shown.output)["device"] == "auto"
    refused = CliRunner().invoke(
        main,
        [
            "run",
            "--config",
            str(path),
            "--cache",
            str(base / "cache"),
            "--out",
            str(base / "out"),
            "--device",
            "cuda",
            "--quiet",
        ],
    )
    assert refused.exit_code == 3 and "no CUDA device" in refused.output
    assert not (base / "out").exists()
    wrong = CliRunner().invoke(main, ["plan", "--config", str(path), "--device", "tpu"])
    assert wrong.exit_code == 2


def test_the_feature_phase_prices_reading_and_storing_each_input(
    prepared: Prepared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: only the forward pass on random tensors was priced, so the paper preset's
    rehearsal spent 14.7 min where 8.0 were projected (decoding 1024 px images and writing
    21 GB of features were missing). The time is measured on the run's own first images,
    and the trial entries are written to a temporary folder that is gone afterwards."""
    import tempfile

    from evalsuite.runner.estimate.measure import INPUT_SAMPLE, measure_rates
    from evalsuite.runner.estimate.model import input_paths

    data, sources, plan = prepared
    paths = input_paths(plan, data)
    assert {key: len(found) for key, found in paths.items()} == estimate(
        plan, data, sources, reference_rates(plan_kernels(plan)), workers=1, bootstrap=20
    ).distinct_inputs
    read: list[Path] = []
    load = Preprocessing.load_image

    def counted(self: Preprocessing, path: Path) -> torch.Tensor:
        read.append(path)
        return load(self, path)

    monkeypatch.setattr(Preprocessing, "load_image", counted)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stores = [s.cache_dir for s in sources.values() if s.cache_dir is not None]
    before = sorted(p for store in stores for p in store.rglob("*"))
    rates = measure_rates(sources, seconds=0.0, kernels=plan_kernels(plan), inputs=paths)
    assert read == [p for found in paths.values() for p in found[:INPUT_SAMPLE]]
    assert set(rates.input_s) == set(paths) and all(s > 0 for s in rates.input_s.values())
    assert list(tmp_path.iterdir()) == []  # the trial entries are removed
    assert sorted(p for store in stores for p in store.rglob("*")) == before  # cache untouched
    priced = estimate(plan, data, sources, rates, workers=1, bootstrap=20)
    unpriced = estimate(plan, data, sources, replace(rates, input_s={}), workers=1, bootstrap=20)
    expected = sum(count * rates.input_s[key] for key, count in priced.distinct_inputs.items())
    assert priced.features_s == pytest.approx(unpriced.features_s + expected)
    assert estimate(plan, data, sources, rates, 1, 20).to_dict()["rates"]["input_s"] == dict(
        rates.input_s
    )


def _held(plan: Plan, data: StudyData, sources: dict[str, FeatureCache], fit: Any) -> int:
    """The feature bytes a fit's process holds: its inputs' entries up to the memory budget."""
    source = sources[backbone_key(fit.variant.spec.backbone)]
    inputs = len(fit_inputs(data, fit, plan.cells_of(fit)))
    return min(source.memory_bytes, inputs * source.bytes_per_input())


def test_a_fits_peak_includes_the_features_its_process_holds(
    prepared: Prepared, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the peak was the process base plus the detector's arrays, and the paper
    preset's unified PatchCore process peaked at 8.7 GB against 4.1 GB priced; a worker's
    feature cache keeps up to `memory_bytes` of the unit's inputs in memory."""
    data, sources, plan = prepared
    rates = reference_rates(plan_kernels(plan))
    full = estimate(plan, data, sources, rates, workers=1, bootstrap=20)
    held = {fit.id: _held(plan, data, sources, fit) for fit in plan.fits}
    assert all(0 < bytes_ < DEFAULT_MEMORY_BYTES for bytes_ in held.values())  # all fit
    for source in sources.values():
        monkeypatch.setattr(source, "memory_bytes", 1000)  # a budget below every unit's
    capped = estimate(plan, data, sources, rates, workers=1, bootstrap=20)
    for before, after in zip(full.fits, capped.fits, strict=True):
        assert before.peak_bytes - after.peak_bytes == held[before.fit_id] - 1000


def test_the_fitted_models_size_is_what_the_run_writes(tmp_path: Path) -> None:
    """Each fit's projected `saved_bytes` is the size of the arrays its run writes into
    `fits/<fit id>/` (up to the files' headers and JSON state), and `fits_bytes` their sum."""
    study = json.loads(json.dumps(SMALL))
    study.update(kinds=["clean/none"], scopes=["per_class"], sweeps=[])
    study["data"]["categories"] = ["zipper"]
    config, out = tmp_path / "study.json", tmp_path / "out"
    config.write_text(json.dumps(study))
    cache = ["--cache", str(tmp_path / "c")]
    ran = CliRunner().invoke(main, ["run", "--config", str(config), "--out", str(out), *cache])
    assert ran.exit_code == 0, ran.output
    planned = CliRunner().invoke(
        main, ["plan", "--config", str(config), *cache, "--json", "--estimate"]
    )
    assert planned.exit_code == 0, planned.output
    report = json.loads(planned.output[planned.output.index("{") :])["estimate"]
    assert report["unsized"] == []
    fits = report["fits"]
    assert {fit["label"] for fit in fits} == {"patchcore", "padim"}
    for fit in fits:
        written = sum(
            path.stat().st_size
            for path in (out / "fits" / fit["fit_id"]).iterdir()
            if path.suffix != ".json"
        )
        assert fit["saved_bytes"] <= written <= fit["saved_bytes"] + 4096, fit["label"]
    assert report["fits_bytes"] == sum(fit["saved_bytes"] for fit in fits)
