"""`shift.family = "corruptions"` and `shift.severities`: a study evaluates ImageNet-C corruption
types (or MVTec-Shift variants) at several severities on the clean fits; its trees are the
corruption module's draws, its records name family, variant and severity; the default study
keeps every id it had."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from studies import SMALL, estimate_report, one_category_study
from test_plan import DATA, STUDY, WEIGHTS
from test_shift_variants import _digest

from evalsuite import results
from evalsuite.cli import main
from evalsuite.config import StudyConfig, load_config
from evalsuite.data.corruption_params import draw_corruption
from evalsuite.data.corruption_tree import corrupt_image
from evalsuite.data.imageio import read_image
from evalsuite.data.reader import read_dataset
from evalsuite.data.shift_family import DEFAULT_CORRUPTIONS
from evalsuite.errors import ConfigError
from evalsuite.runner import run_study
from evalsuite.runner.estimate.text import estimate_lines
from evalsuite.runner.planning.plan import make_plan, planned_relpath
from evalsuite.runner.preparation.context import prepare
from evalsuite.site.read.load import load_results
from evalsuite.site.views.runinfo import run_info

TYPES = ["brightness", "fog"]
SHIFT = {"family": "corruptions", "factors": TYPES, "severities": [2, 4]}


def test_the_default_study_keeps_every_id_and_dump() -> None:
    """Pinned from the code before `shift.family` and `shift.severities` existed (the digests
    of tests/test_shift_variants.py): the defaults written out change nothing either."""
    for study, expected in ((STUDY, "cf5e25081d5a2ee2"), (SMALL, "a1cba2852e1ebc40")):
        for shift in ({}, {"family": "mvtec_shift"}, {"severities": [2]}, {"severity": 2}):
            config = StudyConfig.model_validate({**study, "shift": shift})
            assert _digest(config) == expected, shift
            assert config.model_dump(mode="json")["shift"] == {"severity": 2, "seed": 0}


def test_the_family_takes_its_nine_types_by_default_and_dumps_what_it_is() -> None:
    study = {**STUDY, "sweeps": []}  # its sweep's shifted cells read the mixed shift
    config = StudyConfig.model_validate({**study, "shift": {"family": "corruptions"}})
    assert config.shift.factors == DEFAULT_CORRUPTIONS and len(DEFAULT_CORRUPTIONS) == 9
    assert config.shift.evaluated_severities == (2,)
    chosen = StudyConfig.model_validate({**study, "shift": SHIFT})
    dumped = chosen.model_dump(mode="json")["shift"]
    assert dumped["family"] == "corruptions" and dumped["severities"] == [2, 4]
    assert StudyConfig.model_validate_json(chosen.model_dump_json()) == chosen


def _plan(shift: dict[str, Any], trees: dict[str, str] | None = None) -> Any:
    study = {
        "data": {"categories": ["carpet", "zipper"]},
        "detectors": [{"name": "patchcore"}],
        "scopes": ["per_class"],
        "shift": shift,
    }
    return make_plan(StudyConfig.model_validate(study), DATA, WEIGHTS, trees=trees)


def test_corruption_cells_read_the_clean_fit_at_each_severity() -> None:
    trees = {f"corruptions-s{s}-{t}": f"{t}{s}" for t in TYPES for s in (2, 4)}
    plan = _plan(SHIFT, trees)
    assert {f.condition for f in plan.fits} == {"clean"} and len(plan.fits) == 2
    clean = [c for c in plan.cells if c.variant.sweep is None]
    assert [c.condition for c in clean] == ["clean", "clean"]  # the family has no mixed shift
    variant = [c for c in plan.cells if c.variant.sweep is not None]
    # 2 types x 2 severities x 2 kinds (shift/none, shift/threshold) x 2 categories
    assert len(variant) == 16
    for cell in variant:
        assert cell.fit.condition == "clean" and cell.condition == "shift"
        assert cell.variant.family == "corruptions" and cell.variant.factors in TYPES
    paths = {str(planned_relpath(c, False)) for c in variant}
    assert "patchcore/per_class/none/shift/zipper__shift.factors=fog.json" in paths
    assert "patchcore/per_class/threshold/shift/carpet__shift.factors=brightness-s4.json" in paths
    assert len(paths) == 16  # every (type, severity, kind, category) has its own record
    values = {c.variant.sweep[1]: c.variant.severity for c in variant}
    assert values == {"brightness": 2, "fog": 2, "brightness@s4": 4, "fog@s4": 4}
    # the tree's fingerprint is in the keys: another tree, other cells (that tree's only)
    other = _plan(SHIFT, {**trees, "corruptions-s4-fog": "changed"})
    changed = {c.id for c in plan.cells} ^ {c.id for c in other.cells}
    assert len(changed) == 2 * 4
    # retrain only where asked, each on its own tree
    retrained = _plan({**SHIFT, "factor_kinds": ["shift/retrain"]}, trees)
    fits = {c.fit.id: c.fit for c in retrained.cells if c.variant.sweep is not None}
    assert len(fits) == 2 * 2 * 2
    assert all(f.key["shift_family"] == "corruptions" for f in fits.values())


def test_mvtec_severities_add_the_mixed_shift_and_variants_at_each() -> None:
    trees = {"shift-s2-exposure": "e2", "shift-s3-exposure": "e3"}
    plan = _plan({"factors": ["all", "exposure"], "severities": [2, 3]}, trees)
    base = _plan({"factors": ["all", "exposure"]}, trees)
    assert {c.id for c in base.cells} < {c.id for c in plan.cells}
    added = [c for c in plan.cells if c.id not in {b.id for b in base.cells}]
    assert {(c.variant.sweep[1], c.variant.factors, c.variant.severity) for c in added} == {
        ("all@s3", "all", 3),
        ("exposure@s3", "exposure", 3),
    }
    assert all(c.fit.condition == "clean" for c in added) and len(added) == 2 * 2 * 2


def _toml(tmp_path: Path, shift: str, sweeps: str = "") -> Path:
    path = tmp_path / "study.toml"
    path.write_text(f'detectors = [{{name = "patchcore"}}]\n{sweeps}[shift]\n{shift}\n')
    return path


@pytest.mark.parametrize(
    ("shift", "message"),
    [
        (
            'family = "corruptions"\nfactors = ["fog", "glare"]',
            r"shift\.factors: item 1: unknown corruption type 'glare'; use one of: "
            r"gaussian_noise, shot_noise",
        ),
        (
            'family = "corruptions"\nfactors = ["rotation"]',
            r"shift\.factors: item 0: 'rotation' is an MVTec-Shift variant.*"
            r'shift\.family = "mvtec_shift"',
        ),
        (
            'family = "corruptions"\nfactors = ["all"]',
            r"shift\.factors: item 0: 'all' is an MVTec-Shift variant",
        ),
        (
            'factors = ["all", "fog"]',
            r"shift\.factors: item 1: 'fog' is a corruption type.*shift\.family = \"corruptions\"",
        ),
        ("severities = [2, 4]", r"shift\.severities: item 1: severity 4 is not one of MVTec"),
        ("severity = 4", r"shift\.severity: severity 4 is not one of MVTec-Shift's severities"),
        (
            'family = "corruptions"\nseverities = [5, 6]',
            r"shift\.severities: item 1: severity 6 is not one of the corruption family's",
        ),
        ('family = "corruptions"\nseverities = [3, 3]', r"shift\.severities: \[3, 3\] repeats"),
        ('family = "imagenet_c"', r"shift\.family: Input should be 'mvtec_shift' or"),
    ],
)
def test_bad_shift_values_are_refused_naming_the_key(
    tmp_path: Path, shift: str, message: str
) -> None:
    path = _toml(tmp_path, shift)
    with pytest.raises(ConfigError, match=message):
        load_config(None, path)
    shown = CliRunner().invoke(main, ["config", "show", "--config", str(path)])
    assert shown.exit_code == 2 and "Traceback" not in shown.output


def test_sweeps_of_the_mixed_shift_are_refused_in_the_corruption_family(tmp_path: Path) -> None:
    family = 'family = "corruptions"'
    severity = '[[sweeps]]\ndetector = "patchcore"\nparam = "shift.severity"\nvalues = [3]\n'
    with pytest.raises(ConfigError, match=r"sweeps\.0: shift\.severity sweeps MVTec-Shift"):
        load_config(None, _toml(tmp_path, family, severity))
    params = '[[sweeps]]\ndetector = "patchcore"\nparam = "params.k"\nvalues = [3]\n'
    with pytest.raises(ConfigError, match=r"sweeps\.0: kinds \['shift/none'\] read the mixed"):
        load_config(None, _toml(tmp_path, family, params))
    types = '[[sweeps]]\ndetector = "patchcore"\nparam = "shift.factors"\nvalues = ["fog"]\n'
    assert load_config(None, _toml(tmp_path, family, types)).sweeps[0].values == ["fog"]
    with pytest.raises(ConfigError, match=r"sweeps\.0\.values\.0: shift\.factors = 'rotation'"):
        load_config(None, _toml(tmp_path, family, types.replace("fog", "rotation")))


def _small_study() -> dict[str, Any]:
    return one_category_study("hazelnut", ["clean/none"], {**SHIFT, "seed": 3})


def test_a_corruption_study_prices_runs_and_records_its_variants(tmp_path: Path) -> None:
    study = _small_study()
    report = estimate_report(study, tmp_path)
    images = 8 + 15  # the category's train and test images
    prepared = report["estimate"]["data_preparation"]
    names = [f"corruptions-s{s}-{t}" for s in (2, 4) for t in TYPES]
    assert prepared["shifted_trees_written"] == names  # no MVTec-Shift tree
    assert report["counts"]["cells"] == 1 + 4 * 2 and report["counts"]["fits"] == 1

    config = StudyConfig.model_validate(study)
    out = tmp_path / "out"
    summary = run_study(config, out, cache_dir=tmp_path / "c", progress=False)
    assert len(summary.cells) == 9 and not summary.failed
    manifest = results.read_manifest(out)
    assert manifest["counts"]["fits"] == 1  # the clean fit serves every variant
    cells = out / "cells/patchcore/per_class"
    clean = results.read_cell(cells / "none/clean/hazelnut.json")
    data = prepare(config, tmp_path / "c", progress=False)[0]
    # no cell retrains on a corrupted tree: each holds the val and test images alone
    read = [s for s in data.clean.samples if data.splits[0].split_of(s) != "train"]
    assert len(read) < images and prepared["shift_images"] == 4 * len(read)
    prints = set()
    for corruption in TYPES:
        for severity in (2, 4):
            value = corruption if severity == 2 else f"{corruption}@s{severity}"
            name = f"corruptions-s{severity}-{corruption}"
            for regime in ("none", "threshold"):
                stem = value.replace("@", "-")
                record = results.read_cell(
                    cells / f"{regime}/shift/hazelnut__shift.factors={stem}.json"
                )
                assert record["fit_id"] == clean["fit_id"]
                assert record["sweep"] == {"param": "shift.factors", "value": value}
                assert record["config"]["shift"] == {
                    "severity": severity,
                    "seed": 3,
                    "family": "corruptions",
                    "factors": [corruption],
                }
                assert (
                    record["provenance"]["dataset_fingerprint_shift"]
                    == (data.factor_fingerprints[name])
                )
                prints.add(record["provenance"]["dataset_fingerprint_shift"])
            # the per-image draws of every variant tree, in the results folder
            assert manifest["shift_parameters"][name] == f"splits/{name}.json"
            document = json.loads((out / "splits" / f"{name}.json").read_text())
            assert document["family"] == "corruptions" and document["factors"] == corruption
            assert document["severity"] == severity and "source" not in document
            tree = data.factored[("corruptions", severity, corruption)]
            for sample in read[::7]:
                image = read_image(sample.path)
                drawn = draw_corruption(sample.id, 3, corruption, severity, side=64)
                assert document["images"][sample.id] == json.loads(json.dumps(drawn.to_dict()))
                shifted = read_image(tree.root / sample.path.relative_to(data.clean.root))
                assert np.array_equal(shifted, corrupt_image(image, drawn))
                assert not np.array_equal(shifted, image)
            # masks byte for byte, labels and ids unchanged
            for clean_sample, sample in zip(read, tree.samples, strict=True):
                assert (clean_sample.id, clean_sample.label) == (sample.id, sample.label)
                if clean_sample.mask_path is not None:
                    assert sample.mask_path is not None
                    assert sample.mask_path.read_bytes() == clean_sample.mask_path.read_bytes()
    assert len(prints) == 4 and not data.shifted  # no MVTec-Shift tree was read
    # the run-info page and the estimate name the family, not MVTec-Shift
    facts = dict(run_info(load_results(out)).data)
    assert facts["ImageNet-C corruption severity"] == "2, 4"
    assert not [label for label in facts if "MVTec-Shift" in label]
    assert report["estimate"]["shift_family"] == "corruptions"
    said = list(estimate_lines(report["estimate"]))[-1]
    assert said.startswith("data preparation: this plan wrote 4 ImageNet-C corruption tree(s)")
    assert set(manifest["shift_parameters"]) == set(names)


def test_data_shift_writes_a_corruption_and_refuses_what_the_family_lacks(
    make_tree: Any, tmp_path: Path
) -> None:
    src = make_tree(categories=("alpha",))
    args = ["data", "shift", "--src", str(src), "--quiet", "--family", "corruptions"]
    for extra, message in (
        ([], "name the corruption type with --factors"),
        (["--factors", "rotation"], "'rotation' is an MVTec-Shift variant"),
        (["--factors", "fog", "--severity", "6"], "'6' is not one of"),
    ):
        refused = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "x"), *extra])
        assert refused.exit_code == 2 and message in refused.output, refused.output
        assert not (tmp_path / "x").exists()
    mvtec = ["data", "shift", "--src", str(src), "--out", str(tmp_path / "x"), "--severity", "4"]
    refused = CliRunner().invoke(main, mvtec)
    assert refused.exit_code == 2 and "severity 4 is not one of MVTec-Shift's" in refused.output
    out = tmp_path / "fog"
    written = CliRunner().invoke(
        main, [*args, "--out", str(out), "--factors", "fog", "--severity", "5", "--seed", "1"]
    )
    assert written.exit_code == 0, written.output
    marker = json.loads((out / "evalsuite-shift.json").read_text())
    assert (marker["family"], marker["factors"], marker["severity"]) == ("corruptions", "fog", 5)
    assert marker["relabelled"] == {} and marker["seed"] == 1
    checked = CliRunner().invoke(main, ["data", "check", str(out)])
    assert checked.exit_code == 0 and "corruption fog severity 5" in checked.output
    for sample in read_dataset(src).samples:
        image = read_image(sample.path)
        drawn = draw_corruption(sample.id, 1, "fog", 5, side=min(image.shape[:2]))
        assert marker["images"][sample.id] == json.loads(json.dumps(drawn.to_dict()))
        written_image = read_image(out / sample.path.relative_to(src))
        assert np.array_equal(written_image, corrupt_image(image, drawn))
        if sample.mask_path is not None:
            copied = out / sample.mask_path.relative_to(src)
            assert copied.read_bytes() == sample.mask_path.read_bytes()
