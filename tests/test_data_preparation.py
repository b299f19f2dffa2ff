"""Preparing a study's data: the shifted trees the cache lacks are announced with a projection
measured here before they are written, and `plan --estimate` reports what writing them took."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from studies import one_category_study, tiny_toml

from evalsuite.cli import main
from evalsuite.config import StudyConfig, load_config
from evalsuite.data.reader import SHIFT_MARKER, read_dataset
from evalsuite.data.samples import Dataset
from evalsuite.data.shift_tree import shift_tree, shift_tree_written
from evalsuite.errors import ConfigError
from evalsuite.runner.planning.study_data import prepare_data


def _study(tmp_path: Path) -> Path:
    kinds = ["clean/none", "shift/none"]
    sweep = '[[sweeps]]\ndetector = "patchcore"\nparam = "shift.severity"\nvalues = [3]\n'
    path = tmp_path / "study.toml"
    path.write_text(tiny_toml("prep", kinds, ["hazelnut"], tables=sweep))
    return path


def test_missing_shifted_trees_are_announced_priced_and_written_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(path=_study(tmp_path))
    with caplog.at_level(logging.INFO, logger="evalsuite.runner.planning.study_data"):
        data = prepare_data(config, tmp_path / "cache", progress=False, workers=2)
    images = len(data.clean.samples)  # 6 train + 10 test
    assert images == 16
    prepared = data.preparation
    assert prepared["shifted_trees_written"] == [2, 3]  # the default and the swept severity
    assert prepared["shift_images"] == 2 * images
    assert prepared["shift_seconds_per_image"] > 0 and prepared["shift_write_s"] >= 0
    assert prepared["shift_projected_s"] == pytest.approx(
        2 * images * prepared["shift_seconds_per_image"] / min(2, os.cpu_count() or 1),
        rel=0.01,
        abs=0.1,
    )
    announced = [r.getMessage() for r in caplog.records if "MVTec-Shift tree" in r.getMessage()]
    assert len(announced) == 1 and "(severity 2, 3, 32 images)" in announced[0]
    # every tree written: the same study prepares nothing, and says nothing
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="evalsuite.runner.planning.study_data"):
        again = prepare_data(config, tmp_path / "cache", progress=False)
    assert again.preparation == {} and again.fingerprints == data.fingerprints
    assert not [r for r in caplog.records if "MVTec-Shift tree" in r.getMessage()]


def test_plan_estimate_reports_the_data_preparation(tmp_path: Path) -> None:
    args = ["plan", "--config", str(_study(tmp_path)), "--cache", str(tmp_path / "cache")]
    first = CliRunner().invoke(main, [*args, "--estimate", "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.output[first.output.index("{") :])
    assert report["estimate"]["data_preparation"]["shift_images"] == 32
    shown = CliRunner().invoke(main, [*args, "--estimate"])
    assert shown.exit_code == 0, shown.output
    assert "data preparation: every MVTec-Shift tree was already in the cache" in shown.output


def _factor_study(factor_kinds: list[str]) -> StudyConfig:
    study = one_category_study(
        "zipper", ["clean/none", "shift/none"], {"factors": ["all", "exposure"]}
    )
    study["shift"]["factor_kinds"] = factor_kinds
    return StudyConfig.model_validate(study)


def _ids(dataset: Dataset) -> set[str]:
    return {sample.id for sample in dataset.samples}


def test_a_variant_tree_no_cell_retrains_on_holds_only_its_val_and_test_images(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    data = prepare_data(_factor_study(["shift/none", "shift/threshold"]), cache, progress=False)
    clean, splits = data.clean, data.splits[0]
    read = {s.id for s in clean.samples if splits.split_of(s) != "train"}
    tree = data.factored[("mvtec_shift", 2, "exposure")]
    assert _ids(tree) == read and len(read) < len(clean.samples)
    assert any(s.folder == "train" for s in tree.samples)  # the val images of train/good
    assert data.preparation["shift_images"] == len(clean.samples) + len(read)
    marker = json.loads((tree.root / SHIFT_MARKER).read_text())
    assert marker["subset"]["images"] == len(read) and marker["images"].keys() == read
    assert _ids(data.shifted[2]) == _ids(clean)  # the mixed shift keeps every image

    # a study that retrains on the variant gets every image, in a folder of its own
    retrain = prepare_data(_factor_study(["shift/none", "shift/retrain"]), cache, progress=False)
    full = retrain.factored[("mvtec_shift", 2, "exposure")]
    assert _ids(full) == _ids(clean) and full.root != tree.root
    assert "subset" not in json.loads((full.root / SHIFT_MARKER).read_text())
    assert retrain.preparation["shifted_trees_written"] == ["shift-s2-exposure"]
    assert retrain.fingerprints == data.fingerprints  # the fits' data key is unchanged
    # both stay in the cache: the first study prepares nothing again
    again = prepare_data(_factor_study(["shift/none"]), cache, progress=False)
    assert again.preparation == {} and again.factor_fingerprints == data.factor_fingerprints


def test_a_tree_of_some_images_is_never_taken_for_the_full_tree(tmp_path: Path) -> None:
    data = prepare_data(_factor_study(["shift/none"]), tmp_path / "cache", progress=False)
    src, samples = data.clean.root, data.clean.samples
    some = {s.id for s in samples if s.folder == "test"} | {samples[-1].id, samples[0].id}
    out = shift_tree(src, tmp_path / "t", progress=False, factors="blur", only=some)
    assert _ids(read_dataset(out)) == some
    assert shift_tree_written(src, out, factors="blur", only=some)
    with pytest.raises(ConfigError, match="made with other parameters"):
        shift_tree_written(src, out, factors="blur")
    with pytest.raises(ConfigError, match="made with other parameters"):
        shift_tree(src, out, progress=False, factors="blur")
