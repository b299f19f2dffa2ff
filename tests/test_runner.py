"""The runner end to end on a tiny synthetic study: records, cache, resume, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from studies import SMALL

from evalsuite import results
from evalsuite.config import StudyConfig, load_config
from evalsuite.errors import ConfigError
from evalsuite.runner import run_study


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    base = tmp_path_factory.mktemp("run")
    config = StudyConfig.model_validate(SMALL)
    summary = run_study(config, base / "out", cache_dir=base / "cache", progress=False)
    return base, base / "out", summary


def test_run_writes_every_documented_cell(tiny_run) -> None:
    _, out, summary = tiny_run
    # 2 detectors x 2 scopes x 4 kinds x 2 categories + sweep 1 value x 2 kinds x 2 categories
    assert len(summary.cells) == 36 and not summary.failed
    records = dict(results.iter_cells(out))
    assert len(records) == 36
    cell = results.read_cell(out / "cells/patchcore/per_class/none/clean/hazelnut.json")
    assert cell["status"] == "ok" and cell["threshold"]["image"]["split"] == "val"
    assert 0.0 <= cell["metrics"]["image_auroc"]["value"] <= 1.0
    assert cell["provenance"]["synthetic"] is True
    assert cell["provenance"]["weights"]["source"] == "bundled"
    unified = results.read_cell(out / "cells/patchcore/unified/none/clean/zipper.json")
    assert unified["shortcut"]["nn_provenance"]["memory_categories"] == ["hazelnut", "zipper"]
    assert unified["shortcut"]["threshold_transfer"]["categories"] == ["hazelnut", "zipper"]
    sweep = results.read_cell(
        out / "cells/patchcore/per_class/none/shift/zipper__params.coreset_ratio=0.5.json"
    )
    assert sweep["sweep"] == {"param": "params.coreset_ratio", "value": 0.5}
    assert all((out / a["path"]).is_file() for a in cell["artifacts"])


def test_paired_clean_and_shift_ids(tiny_run) -> None:
    _, out, _ = tiny_run
    clean = results.read_cell(out / "cells/padim/per_class/none/clean/zipper.json")
    shift = results.read_cell(out / "cells/padim/per_class/none/shift/zipper.json")
    assert [s["id"] for s in clean["scores"]] == [s["id"] for s in shift["scores"]]
    assert clean["fit_id"] == shift["fit_id"]
    retrain = results.read_cell(out / "cells/padim/per_class/retrain/shift/zipper.json")
    assert retrain["fit_id"] != clean["fit_id"]


def test_manifest_counts_forward_passes_once_per_input(tiny_run) -> None:
    _, out, summary = tiny_run
    manifest = results.read_manifest(out)
    counts = manifest["counts"]
    assert counts["cells_ok"] == 36 and counts["cells_failed"] == 0
    # each distinct (image, condition, preprocessing) input goes through the backbone once:
    # 2 categories x (8 train + 5 good + 10 defect) images x 2 conditions
    assert counts["forward_passes"] == counts["distinct_inputs"] == 2 * 23 * 2
    assert manifest["dataset"]["synthetic"] is True
    assert summary.forward_passes == counts["forward_passes"]


def test_rerun_is_cached_and_identical(tiny_run) -> None:
    base, out, _ = tiny_run
    before = {p: r["metrics"] for p, r in results.iter_cells(out)}
    config = StudyConfig.model_validate(SMALL)
    again = run_study(config, out, cache_dir=base / "cache", progress=False)
    assert all(c.cached for c in again.cells) and again.forward_passes == 0
    assert {p: r["metrics"] for p, r in results.iter_cells(out)} == before


def test_deleted_cell_is_recomputed_with_the_same_numbers(tiny_run) -> None:
    base, out, _ = tiny_run
    path = out / "cells/patchcore/per_class/retrain/shift/hazelnut.json"
    before = json.loads(path.read_text())
    path.unlink()
    config = StudyConfig.model_validate(SMALL)
    again = run_study(config, out, cache_dir=base / "cache", progress=False)
    assert sum(not c.cached for c in again.cells) == 1
    after = json.loads(path.read_text())
    assert after["metrics"] == before["metrics"] and after["scores"] == before["scores"]


def test_failing_cell_is_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    broken = json.loads(json.dumps(SMALL))
    broken["detectors"] = [SMALL["detectors"][0]]
    broken["sweeps"] = []
    broken["scopes"] = ["per_class"]
    broken["kinds"] = ["clean/none"]
    broken["splits"] = {"val_normal_ratio": 0.2, "val_anomaly_ratio": 0.0}  # no val anomalies
    config = StudyConfig.model_validate(broken)
    summary = run_study(config, tmp_path / "out", cache_dir=tmp_path / "cache", progress=False)
    assert len(summary.failed) == 2
    record = results.read_cell(tmp_path / "out/cells/patchcore/per_class/none/clean/zipper.json")
    assert record["status"] == "failed" and "quantile" in record["error"]["message"]
    manifest = results.read_manifest(tmp_path / "out")
    assert manifest["counts"]["cells_failed"] == 2 and len(manifest["failed"]) == 2


def test_configuration_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="colour"):
        load_config(None, _toml(tmp_path, 'detectors = [{name = "patchcore", colour = 1}]'))
    with pytest.raises(ConfigError, match=r"coreset_ratio=1\.5 is outside the allowed range"):
        load_config(
            None,
            _toml(tmp_path, 'detectors = [{name = "patchcore", params = {coreset_ratio = 1.5}}]'),
        )
    with pytest.raises(ConfigError, match="seeds"):
        load_config(None, _toml(tmp_path, 'seeds = "zero"\ndetectors = [{name = "padim"}]'))
    with pytest.raises(ConfigError, match="unknown preset 'huge'"):
        load_config("huge")


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


def test_severity_sweep_reuses_the_clean_fit_on_more_shifted_data(tmp_path: Path) -> None:
    study = json.loads(json.dumps(SMALL))
    study.update(
        detectors=[SMALL["detectors"][0]],
        scopes=["per_class"],
        kinds=["clean/none", "shift/none"],
        sweeps=[{"detector": "patchcore", "param": "shift.severity", "values": [3]}],
    )
    study["data"]["categories"] = ["carpet"]
    summary = run_study(
        StudyConfig.model_validate(study),
        tmp_path / "out",
        cache_dir=tmp_path / "c",
        progress=False,
    )
    assert len(summary.cells) == 4 and not summary.failed
    cells = tmp_path / "out/cells/patchcore/per_class/none"
    base_clean = results.read_cell(cells / "clean/carpet.json")
    sweep_clean = results.read_cell(cells / "clean/carpet__shift.severity=3.json")
    base_shift = results.read_cell(cells / "shift/carpet.json")
    sweep_shift = results.read_cell(cells / "shift/carpet__shift.severity=3.json")
    assert sweep_shift["fit_id"] == base_shift["fit_id"] == base_clean["fit_id"]
    assert sweep_clean["scores"] == base_clean["scores"]  # same fit, same clean images
    assert sweep_shift["config"]["shift"]["severity"] == 3
    assert base_shift["config"]["shift"]["severity"] == 2
    assert sweep_shift["scores"] != base_shift["scores"]  # other (more strongly shifted) images


def test_plan_and_config_show_commands(tiny_run, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from evalsuite.cli import main

    base, out, _ = tiny_run
    # YAML is a superset of JSON, so the tiny study reads as a YAML configuration file
    study_yaml = tmp_path / "tiny.yaml"
    study_yaml.write_text(json.dumps(SMALL))
    shown = CliRunner().invoke(main, ["config", "show", "--config", str(study_yaml)])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["detectors"][0]["params"]["coreset_ratio"] == 0.2
    planned = CliRunner().invoke(
        main,
        [
            "plan",
            "--config",
            str(study_yaml),
            "--out",
            str(out),
            "--cache",
            str(base / "cache"),
            "--json",
        ],
    )
    assert planned.exit_code == 0, planned.output
    report = json.loads(planned.output[planned.output.index("{") :])
    assert report["counts"]["cells"] == report["counts"]["cells_cached"] == 36
    assert report["counts"]["fits"] == report["counts"]["fits_cached"]
    fresh = CliRunner().invoke(
        main, ["plan", "--config", str(study_yaml), "--cache", str(base / "cache"), "--json"]
    )
    assert json.loads(fresh.output[fresh.output.index("{") :])["counts"]["cells_cached"] == 0
