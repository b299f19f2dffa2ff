"""Preparing a study's data: the shifted trees the cache lacks are announced with a projection
measured here before they are written, and `plan --estimate` reports what writing them took."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from studies import tiny_toml

from evalsuite.cli import main
from evalsuite.config import load_config
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
