"""The paper preset at MVTec AD scale: measured fits, the cost model's error, and projections.

Data: a synthetic MVTec-layout tree with MVTec AD's image counts averaged over hazelnut,
carpet and zipper (304 train, 33 good and 93 defective test images per category; the paper
preset's 80/20 train/val split leaves 243 train images, 190k patches per category and 572k
for the unified fit, as on MVTec AD), fed through the paper preset's backbones with random
weights (`pretrained = false`: WRN50 and R18 weights cannot be downloaded here; the cost does
not depend on their values). Everything runs on one thread per process, as fits do in runs.

Printed, one line per measure (each says whether it is measured or extrapolated):
  paper_fit_per_class_s     a full per-class PatchCore fit (WRN50, coreset 10%), measured
  paper_fit_unified_s       the unified fit: features and projection measured, the greedy
                            loop run in full (--unified-steps 0, the default: the pruned
                            loop's iterations get cheaper as it goes, so a prefix would not
                            extrapolate) or timed for that many iterations and extrapolated
  score_s_per_image         exact search + scoring of one test image on the per-class bank
  forward_passes_per_distinct_input, score_passes_per_distinct_pair
                            from a small study with sweeps and two shards (manifest counts)
  greedy_bandwidth_fraction bytes the greedy loop moves per second / a large copy's
  estimate_error_*          the cost model's projection against the measured fits
  paper_preset_projected_s  `plan --estimate` of the whole paper preset with --workers 2:
                            exact, with the opt-in approximations (HNSW search, bf16
                            backbone: their factors measured here; unified banks from
                            per-category coresets: priced by the cost model), and with
                            HNSW alone

Usage: python benchmarks/paper_scale.py [--unified-steps 0] [--quick]
(--quick: 40 train images per category, for a smoke run of the script itself.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

CACHE = Path(".cache/bench-paper")
COUNTS = {"n_train": 304, "n_test_good": 33, "n_test_defect": 93}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unified-steps", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from evalsuite import progress
    from evalsuite.detectors.threads import limit_threads

    progress.set_enabled(False)
    counts = {**COUNTS, "n_train": 40} if args.quick else COUNTS
    _, data, sources, plan = _paper_plan(counts)
    from evalsuite.runner.estimate.measure import measure_rates
    from evalsuite.runner.estimate.model import estimate

    rates = measure_rates(sources)
    projected = estimate(plan, data, sources, rates, workers=2)
    fit = next(
        f
        for f in plan.fits
        if f.variant.spec.name == "patchcore"
        and f.scope == "per_class"
        and f.condition == "clean"
        and f.variant.sweep is None
    )
    unified = next(
        f
        for f in plan.fits
        if f.variant.spec.name == "patchcore" and f.scope == "unified" and f.condition == "clean"
    )
    by_id = {cost.fit_id: cost for cost in projected.fits}
    with limit_threads(1):
        per_class = _per_class_fit(fit, data, sources)
        unified_s = _unified_fit(unified, data, sources, args.unified_steps)
        bandwidth = _greedy_bandwidth(per_class["points"])
    per_image = by_id[fit.id].score_s / by_id[fit.id].searched_images
    _line(
        "paper_fit_per_class_s",
        per_class["fit_s"],
        f"measured, {per_class['points']} patches -> {per_class['bank']}",
    )
    _line(
        "paper_fit_unified_s",
        unified_s["fit_s"],
        (
            "measured"
            if unified_s["steps"] == unified_s["size"]
            else f"extrapolated from {unified_s['steps']} of {unified_s['size']} greedy iterations"
        )
        + f", {unified_s['points']} patches",
    )
    _line(
        "score_s_per_image",
        per_class["score_s_per_image"],
        "measured, exact search + Eq. 7 + map, bank of per-class fit",
    )
    passes = _small_study_counts()
    _line(
        "forward_passes_per_distinct_input",
        passes["forward"],
        "measured, small study with sweeps, 2 shards",
    )
    _line("score_passes_per_distinct_pair", passes["score"], "measured, same study")
    _line("greedy_bandwidth_fraction", bandwidth, "measured, greedy bytes/s over copy bytes/s")
    _line(
        "estimate_error_per_class",
        by_id[fit.id].fit_s / per_class["fit_s"] - 1,
        "projected fit / measured fit - 1",
    )
    _line(
        "estimate_error_unified",
        by_id[unified.id].fit_s / unified_s["fit_s"] - 1,
        "projected / extrapolated - 1",
    )
    _line(
        "estimate_error_score",
        per_image / per_class["score_s_per_image"] - 1,
        "projected / measured per image - 1",
    )
    factors = _approximation_factors(per_class, sources)
    approx_rates = replace(
        rates,
        search_s=rates.search_s / factors["hnsw_speedup"],
        forward_s={k: v / factors["bf16_speedup"] for k, v in rates.forward_s.items()},
    )
    approx_plan = _paper_plan(counts, approximate=True)[3]
    approx = estimate(approx_plan, data, sources, approx_rates, workers=2)
    _line(
        "paper_preset_projected_s",
        projected.wall_s,
        f"projected, exact, --workers 2, {len(plan.fits)} fits, {len(plan.cells)} cells; "
        f"features {projected.features_s:.0f} s, cache {projected.cache_bytes / 1e9:.1f} GB",
    )
    _line(
        "paper_preset_projected_approx_s",
        approx.wall_s,
        f"projected, HNSW x{factors['hnsw_speedup']:.2f} search (recall@1 "
        f"{factors['recall']:.4f}, max relative image score change "
        f"{factors['score_delta']:.1e}), bf16 x{factors['bf16_speedup']:.2f} backbone, "
        "unified banks from per-category coresets",
    )
    hnsw_rates = replace(rates, search_s=rates.search_s / factors["hnsw_speedup"])
    _line(
        "paper_preset_projected_hnsw_s",
        estimate(plan, data, sources, hnsw_rates, workers=2).wall_s,
        "projected, HNSW search only (the approximation that keeps image AUROC within 0.005 "
        "of exact: benchmarks/approximations.py), --workers 2",
    )
    workers1 = estimate(plan, data, sources, rates, workers=1)
    _line("paper_preset_projected_1_worker_s", workers1.wall_s, "projected, exact, --workers 1")
    print(
        json.dumps({"units": len(plan.units), "rates": projected.to_dict()["rates"]}, indent=None)
    )


def _line(name: str, value: float, note: str) -> None:
    print(f"{name}={value:.4g}  # {note}", flush=True)


def _paper_plan(counts: dict[str, int], approximate: bool = False) -> tuple[Any, Any, Any, Any]:
    """(config, data, sources, plan) of the paper preset on the synthetic MVTec-scale tree;
    `approximate`: PatchCore's unified banks from per-category coresets."""
    from evalsuite.config import StudyConfig, preset
    from evalsuite.data.synthetic import SyntheticConfig, generate
    from evalsuite.runner.preparation.context import prepare

    root = generate(
        CACHE / f"data-{counts['n_train']}",
        SyntheticConfig(categories=("hazelnut", "carpet", "zipper"), seed=0, size=64, **counts),
    )
    raw = preset("paper")
    raw["data"] = {"source": "mvtec", "root": str(root), "download": False}
    raw["device"] = "cpu"
    for detector in raw["detectors"]:
        detector["backbone"] = {**detector["backbone"], "pretrained": False}
        if approximate and detector["name"] == "patchcore":
            detector["params"] = {**detector.get("params", {}), "coreset_scope": "per_category"}
    config = StudyConfig.model_validate(raw)
    data, sources, plan, _ = prepare(config, CACHE / "cache", progress=False)
    return config, data, sources, plan


def _per_class_fit(fit: Any, data: Any, sources: Any) -> dict[str, Any]:
    from evalsuite.detectors.registry import build_detector
    from evalsuite.runner.planning.plan import backbone_key

    spec = fit.variant.spec
    source = sources[backbone_key(spec.backbone)]
    train = data.samples("clean", 2, "train", fit.categories, 0)
    test = data.samples("clean", 2, "test", fit.categories, 0)[:24]
    for _ in source.iter_features(train + test, source.layers, 16):  # features first, untimed
        pass
    detector = build_detector(spec.name, spec.params, source, 0)
    started = time.perf_counter()
    detector.fit(train)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    scores = detector.score(test)
    score_s = (time.perf_counter() - started) / len(test)
    bank = detector.bank  # type: ignore[attr-defined]
    return {
        "fit_s": fit_s,
        "score_s_per_image": score_s,
        "points": detector.num_train_patches,  # type: ignore[attr-defined]
        "bank": bank.size,
        "detector": detector,
        "test": test,
        "scores": scores,
    }


def _unified_fit(fit: Any, data: Any, sources: Any, steps: int) -> dict[str, Any]:
    from evalsuite.detectors.patchcore.coreset import coreset_size, random_projection
    from evalsuite.detectors.patchcore.greedy import greedy_k_center
    from evalsuite.detectors.registry import build_detector
    from evalsuite.runner.planning.plan import backbone_key

    spec = fit.variant.spec
    source = sources[backbone_key(spec.backbone)]
    train = data.samples("clean", 2, "train", fit.categories, 0)
    for _ in source.iter_features(train, source.layers, 16):
        pass
    detector = build_detector(spec.name, spec.params, source, 0)
    started = time.perf_counter()
    patches = detector._collect(train)  # type: ignore[attr-defined]
    points = random_projection(patches, spec.params["coreset_projection_dim"], 0)
    prepare_s = time.perf_counter() - started
    size = coreset_size(patches.shape[0], spec.params["coreset_ratio"])
    del patches
    steps = size if steps <= 0 else min(steps, size)
    started = time.perf_counter()
    greedy_k_center(points, steps, 0)
    greedy_s = (time.perf_counter() - started) * size / steps
    return {
        "fit_s": prepare_s + greedy_s,
        "steps": steps,
        "size": size,
        "points": points.shape[0],
    }


def _greedy_bandwidth(num_points: int) -> float:
    from evalsuite.detectors.patchcore.greedy import greedy_bytes_per_iteration, greedy_k_center

    k, steps = 128, 400
    points = np.random.default_rng(0).standard_normal((num_points, k), dtype=np.float32)
    source = points.copy()
    started = time.perf_counter()
    greedy_k_center(points, steps, 0, prune=False)  # the full loop: what the bandwidth bounds
    loop_s = (time.perf_counter() - started) / steps
    copies = 5
    started = time.perf_counter()
    for _ in range(copies):
        np.copyto(points, source)
    copy_rate = 2 * points.nbytes * copies / (time.perf_counter() - started)
    return greedy_bytes_per_iteration(num_points, k) / loop_s / copy_rate


def _small_study_counts() -> dict[str, float]:
    import shutil

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from studies import SMALL

    from evalsuite.config import StudyConfig
    from evalsuite.runner import run_study

    study = json.loads(json.dumps(SMALL))
    study["sweeps"] = SMALL["sweeps"] + [
        {"detector": "patchcore", "param": "params.num_neighbors", "values": [3]},
        {"detector": "patchcore", "param": "shift.severity", "values": [1]},
    ]
    config = StudyConfig.model_validate(study)
    base = CACHE / "small"
    shutil.rmtree(base, ignore_errors=True)
    forward = distinct = score = pairs = 0
    for index in (1, 2):
        shutil.rmtree(base / "cache" / "features", ignore_errors=True)
        summary = run_study(
            config,
            base / f"shard{index}",
            cache_dir=base / "cache",
            progress=False,
            shard=(index, 2),
        )
        forward += summary.forward_passes
        distinct += summary.distinct_inputs
        score += summary.score_passes
        pairs += summary.distinct_fit_inputs
    return {"forward": forward / distinct, "score": score / pairs}


def _approximation_factors(per_class: dict[str, Any], sources: Any) -> dict[str, float]:
    from evalsuite.detectors.patchcore import PatchCoreParams

    detector = per_class["detector"]
    test = per_class["test"]
    started = time.perf_counter()
    exact = detector.search(test)
    exact_s = time.perf_counter() - started
    params = PatchCoreParams(**{**detector.params.model_dump(), "search": "hnsw"})
    detector.search(test[:1], params)  # builds the index (untimed: once per fit)
    started = time.perf_counter()
    approx = detector.search(test, params)
    hnsw_s = time.perf_counter() - started
    recall = float((exact.nn_indices == approx.nn_indices).mean())
    exact_scores = detector.scores_from(exact).image
    approx_scores = detector.scores_from(approx, params).image
    delta = float(np.max(np.abs(exact_scores - approx_scores) / np.abs(exact_scores)))
    return {
        "hnsw_speedup": exact_s / hnsw_s,
        "recall": recall,
        "score_delta": delta,
        "bf16_speedup": _bf16_speedup(),
    }


def _bf16_speedup() -> float:
    from evalsuite.backbone import Backbone, BackboneConfig

    layers = ["layer1", "layer2", "layer3"]
    images = torch.randn(8, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    times = []
    for precision in ("float32", "bfloat16"):
        backbone = Backbone.from_config(
            BackboneConfig(name="wide_resnet50_2.tv_in1k", pretrained=False, precision=precision)
        )
        backbone.forward(images, layers)
        started = time.perf_counter()
        for _ in range(2):
            backbone.forward(images, layers)
        times.append(time.perf_counter() - started)
    return times[0] / times[1]


if __name__ == "__main__":
    main()
