"""Detectors that read raw images, not backbone features (`inputs="images"`, see
docs/plugins.md): handed the preprocessed input images, no feature extracted or cached for
them, the images they were fed counted per label in the manifest, and everything else (ids,
resume, output checks) as for any plug-in. The test double is tests/raw_detectors.py."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from studies import SMALL

from evalsuite import results
from evalsuite.backbone.images import ImageStream
from evalsuite.backbone.preprocessing import Preprocessing
from evalsuite.cli import main
from evalsuite.config import StudyConfig
from evalsuite.data.samples import Sample
from evalsuite.detectors.base import ImageSource
from evalsuite.digest import file_sha256
from evalsuite.results.merge import _summed_counts
from evalsuite.runner import run_study
from evalsuite.runner.estimate.model import estimate, plan_kernels, reference_rates
from evalsuite.runner.estimate.sample import sample_unpriced
from evalsuite.runner.estimate.text import estimate_lines
from evalsuite.runner.planning.plan import planned_relpath
from evalsuite.runner.planning.study_data import fit_inputs
from evalsuite.runner.preparation.context import prepare

pytestmark = pytest.mark.long  # among the slowest files: started first (tests/conftest.py)

IMPL = "raw_detectors:MeanImage"
STUDY: dict[str, Any] = {
    **{key: value for key, value in SMALL.items() if key != "sweeps"},
    "name": "raw",
    "kinds": ["clean/none", "shift/threshold", "shift/retrain"],
    "data": {
        **SMALL["data"],
        "synthetic": {
            **SMALL["data"]["synthetic"],
            "n_train": 6,
            "n_test_good": 4,
            "n_test_defect": 6,
        },
    },
    "detectors": [
        {**SMALL["detectors"][0], "params": {"coreset_ratio": 0.25, "target_dim": "none"}},
        # a backbone configuration of its own: its images are 48 px, and only it uses it
        {"name": "raw", "impl": IMPL, "backbone": {"resize": 56, "crop": 48}},
        # PatchCore's backbone configuration; its maps are half the input size
        {**SMALL["detectors"][0], "name": "raw_bad", "impl": IMPL, "params": {"fault": "size"}},
    ],
    "evaluation": {"bootstrap": 10, "artifacts_per_cell": 1},
}
"""3 detectors x 3 kinds x 2 categories x 2 scopes = 36 cells."""


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StudyConfig, Any]:
    base = tmp_path_factory.mktemp("raw")
    config = StudyConfig.model_validate(STUDY)
    run_study(config, base / "out", cache_dir=base / "cache", progress=False)
    data, sources, plan, _ = prepare(config, base / "cache", progress=False)
    return base, config, (data, sources, plan)


def _records(out: Path, label: str) -> list[dict[str, Any]]:
    return [record for _, record in results.iter_cells(out) if record["label"] == label]


def _fed(data: Any, plan: Any, label: str) -> int:
    """Images a detector that reads each image once is fed over the plan: every fit's train
    images and the val and test images of its cells, each input set once per fit."""
    fits = [fit for fit in plan.fits if fit.variant.spec.label == label]
    return sum(len(fit_inputs(data, fit, plan.cells_of(fit))) for fit in fits)


def test_its_cells_succeed_beside_patchcore(ran: tuple[Path, StudyConfig, Any]) -> None:
    """Ok cells with AUROCs in range; its maps find the synthetic defects' pixels better than
    chance (per category: the maps are aligned with the masks, so it saw the images at the
    network input's geometry; image AUROCs of this tiny study are near chance for every
    detector, PatchCore too); its fits and cells are keyed by its class, version and params
    like any plug-in's."""
    base = ran[0]
    for label in ("patchcore", "raw"):
        records = _records(base / "out", label)
        assert len(records) == 12
        assert all(r["status"] == "ok" for r in records), [r["error"] for r in records]
    raw = _records(base / "out", "raw")
    aurocs = [r["metrics"][m]["value"] for r in raw for m in ("image_auroc", "pixel_auroc")]
    assert all(0.0 <= value <= 1.0 for value in aurocs)
    pixel = [r["metrics"]["pixel_auroc"]["value"] for r in raw if r["scope"] == "per_class"]
    assert np.mean(pixel) > 0.65, pixel
    impl = {"class": IMPL, "version": "unversioned"}
    for record in raw:
        assert record["provenance"]["detector_impl"] == impl
        assert record["config"]["fit"]["impl"] == impl
        assert record["config"]["fit"]["params"] == {"layers": [], "fault": "none"}
        assert record["config"]["preprocessing"]["crop"] == 48  # its own backbone config's
        assert record["provenance"]["approximations"] == []


def test_no_feature_is_extracted_or_cached_for_it(ran: tuple[Path, StudyConfig, Any]) -> None:
    """The feature cache holds PatchCore's inputs only: one entry, and one forward pass, per
    distinct image PatchCore reads; `raw`'s 48 px inputs (another cache context) add none."""
    base, _, (data, _, plan) = ran
    counts = results.read_manifest(base / "out")["counts"]
    patchcore = {
        file_sha256(sample.path)
        for fit in plan.fits
        if fit.variant.spec.label == "patchcore"
        for sample in fit_inputs(data, fit, plan.cells_of(fit))
    }
    stored = list((base / "cache" / "features").rglob("*.npz"))
    assert counts["forward_passes"] == counts["distinct_inputs"] == len(patchcore)
    assert len(stored) == len(patchcore)


def test_the_manifest_counts_the_images_it_was_fed(ran: tuple[Path, StudyConfig, Any]) -> None:
    """counts.raw_image_passes: per label, the images fed in fit and scoring, as the plan's
    sample counts give them and as `plan --estimate` projects them; not PatchCore's."""
    base, _, (data, sources, plan) = ran
    passes = results.read_manifest(base / "out")["counts"]["raw_image_passes"]
    assert set(passes) == {"raw", "raw_bad"}
    expected = _fed(data, plan, "raw")
    assert passes["raw"] == expected > 0
    assert passes["raw_bad"] > 0
    projected = estimate(plan, data, sources, reference_rates(plan_kernels(plan)), bootstrap=10)
    assert projected.raw_image_passes["raw"] == expected
    lines = list(estimate_lines(projected.to_dict()))
    assert f"raw: reads raw images, uncached: {expected} image passes (fit and scoring)" in (
        "\n".join(lines)
    )
    assert any(line.startswith("raw: no cost model") and "(only its metrics are)" in line
               for line in lines)  # fmt: skip
    # feature inputs: PatchCore's only, as the run extracted them (`raw`'s 48 px inputs
    # would be another backbone key's)
    counts = results.read_manifest(base / "out")["counts"]
    assert sum(projected.distinct_inputs.values()) == counts["distinct_inputs"]


def test_plan_estimate_times_it_on_a_sample_of_images(ran: tuple[Path, StudyConfig, Any]) -> None:
    """Without a cost model, it is timed on a sample like any other plug-in, handed the
    preprocessed images (not a feature store): priced, not an error."""
    _, _, (data, sources, plan) = ran
    sampled = sample_unpriced(plan, data, sources)
    assert "error" not in sampled["raw"].to_dict(), sampled["raw"]
    assert sampled["raw"].to_dict()["test_images"] > 0


def test_a_rerun_counts_only_its_own_work(
    ran: tuple[Path, StudyConfig, Any], tmp_path: Path
) -> None:
    """Counted per run: a rerun with every `raw` cell done feeds it nothing (0); with one cell
    removed, exactly that cell's val and test images (its fit is loaded, not refitted)."""
    base, config, (data, _, plan) = ran
    out = tmp_path / "out"
    shutil.copytree(base / "out", out)
    summary = run_study(config, out, cache_dir=base / "cache", progress=False)
    assert summary.raw_image_passes["raw"] == 0
    assert results.read_manifest(out)["counts"]["raw_image_passes"]["raw"] == 0
    cell = next(
        c
        for c in plan.cells
        if c.variant.spec.label == "raw" and c.fit.scope == "per_class" and c.regime == "none"
    )
    results.cell_path(out, planned_relpath(cell, False)).unlink()
    summary = run_study(config, out, cache_dir=base / "cache", progress=False)
    severity = cell.variant.severity
    val = data.samples(cell.threshold_condition, severity, "val", [cell.category], 0)
    test = data.samples(cell.condition, severity, "test", [cell.category], 0)
    assert results.read_manifest(out)["counts"]["raw_image_passes"]["raw"] == len(val) + len(test)
    assert summary.forward_passes == 0
    assert all(r["status"] == "ok" for r in _records(out, "raw"))


def test_maps_of_the_wrong_size_fail_its_cells_in_one_line(
    ran: tuple[Path, StudyConfig, Any],
) -> None:
    base = ran[0]
    records = _records(base / "out", "raw_bad")
    assert len(records) == 12
    for record in records:
        message = record["error"]["message"]
        assert record["status"] == "failed" and record["error"]["type"] == "DetectorError"
        assert re.fullmatch(
            rf"detector 'raw_bad' \({IMPL}\) returned maps of shape \((\d+), 32, 32\); "
            r"expected \(\1, 64, 64\) float32 \(N, H, W at the network input size\)",
            message,
        ), message


def test_plan_names_it_as_reading_raw_images(
    ran: tuple[Path, StudyConfig, Any], tmp_path: Path
) -> None:
    base = ran[0]
    study = tmp_path / "study.yaml"
    study.write_text(json.dumps(STUDY), encoding="utf-8")
    where = ["--config", str(study), "--cache", str(base / "cache")]
    shown = CliRunner().invoke(main, ["plan", *where])
    assert shown.exit_code == 0, shown.output
    for label in ("raw", "raw_bad"):
        assert f"{label}: reads raw images, uncached; no backbone features" in shown.output
    assert "patchcore: reads raw images" not in shown.output
    as_json = CliRunner().invoke(main, ["plan", *where, "--json"])
    report = json.loads(as_json.output[as_json.output.index("{") :])
    assert report["raw_images"] == ["raw", "raw_bad"]


def _show(tmp_path: Path, detector: dict[str, Any]) -> tuple[int, str]:
    study = {**STUDY, "detectors": [{"backbone": {"resize": 64, "crop": 64}, **detector}]}
    path = tmp_path / "study.yaml"
    path.write_text(json.dumps(study), encoding="utf-8")
    shown = CliRunner().invoke(main, ["config", "show", "--config", str(path)])
    return shown.exit_code, shown.output


@pytest.mark.parametrize(
    ("impl", "params", "expected"),
    [
        ("raw_detectors:UndeclaredImages", {}, "is an ImageParams (no backbone layers) but"),
        ("raw_detectors:ImagesWithLayers", {}, "declares inputs='images' but its params_class"),
        (IMPL, {"layers": ["blocks.4"]}, "reads no backbone layers, got ['blocks.4']"),
    ],
)
def test_a_declaration_that_does_not_hold_is_refused(
    impl: str, params: dict[str, Any], expected: str, tmp_path: Path
) -> None:
    code, output = _show(tmp_path, {"name": "raw", "impl": impl, "params": params})
    assert code == 2, output
    assert output.startswith("error: ") and output.count("\n") == 1, output
    assert expected in output, output


def test_the_image_source_feeds_the_feature_paths_pixels(make_tree: Any) -> None:
    """Batches in sample order, each image exactly `Preprocessing.load_image`'s (the input
    the feature cache gives its backbone), every image handed over counted."""
    root = make_tree(size=40)
    paths = sorted((root / "alpha" / "train" / "good").glob("*.png"))[:3]
    samples = [
        Sample(f"alpha/train/good/{p.stem}", p, "alpha", "train", 0, "good", None) for p in paths
    ]
    prep = Preprocessing(36, 32, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "bicubic")
    stream = ImageStream(prep)
    assert isinstance(stream, ImageSource) and stream.input_size == (32, 32)
    batches = list(stream.iter_images(samples, batch_size=2))
    assert [tuple(b.shape) for b in batches] == [(2, 3, 32, 32), (1, 3, 32, 32)]
    assert all(b.dtype == torch.float32 for b in batches)
    assert torch.equal(torch.cat(batches), torch.stack([prep.load_image(p) for p in paths]))
    assert stream.images_fed == 3
    list(stream.iter_images(samples[:1]))
    assert stream.images_fed == 4


def test_merge_sums_the_counts_label_by_label() -> None:
    shards = [
        {"fits": 2, "raw_image_passes": {"raw": 5, "other": 1}},
        {"fits": 3, "raw_image_passes": {"raw": 7}},
    ]
    assert _summed_counts(shards) == {"fits": 5, "raw_image_passes": {"other": 1, "raw": 12}}


def test_a_worker_pool_counts_and_scores_as_a_serial_run(
    ran: tuple[Path, StudyConfig, Any], tmp_path: Path
) -> None:
    """`--workers 2`: the images fed travel back from the pool workers in each unit's
    outcome, so the manifest counts what the serial run counted; its cells' numbers are the
    serial run's."""
    base, config, _ = ran
    run_study(config, tmp_path / "pool", cache_dir=base / "cache", progress=False, workers=2)
    serial = results.read_manifest(base / "out")["counts"]["raw_image_passes"]
    pooled = results.read_manifest(tmp_path / "pool")["counts"]["raw_image_passes"]
    assert pooled == serial and serial["raw"] > 0
    for label in ("raw", "raw_bad"):
        expected = {r["id"]: (r["status"], r["metrics"]) for r in _records(base / "out", label)}
        found = {r["id"]: (r["status"], r["metrics"]) for r in _records(tmp_path / "pool", label)}
        assert found == expected
