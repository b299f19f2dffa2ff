"""MVTec AD 2's real conditions as shift conditions (`shift.conditions`): clean is the regular
condition, each other condition a `real` shift variant whose test images are re-identified as
the regular image of the same object; the settings are refused where they cannot apply; MVTec
studies keep their ids, trees and records."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evalsuite import results
from evalsuite.cli import main
from evalsuite.config import StudyConfig, load_config
from evalsuite.data.layouts.mimic import write_mimic
from evalsuite.data.real_conditions import CONDITIONS, condition_test_set, regular_only
from evalsuite.data.samples import Dataset, Sample
from evalsuite.data.synthetic.config import SyntheticConfig
from evalsuite.errors import ConfigError, DatasetError
from evalsuite.presets import AD2_CATEGORIES, preset
from evalsuite.runner.planning.plan import make_plan, planned_relpath
from evalsuite.runner.planning.study_data import prepare_data

TINY = SyntheticConfig(categories=("zipper",), size=64, n_train=6, n_test_good=2, n_test_defect=2)
BASE = {"detectors": [{"name": "patchcore"}], "data": {"source": "mvtec", "root": "/d"}}
AD2 = {**BASE, "data": {**BASE["data"], "layout": "mvtec_ad2"}}


def _sample(sample_id: str, folder: str = "test", condition: str | None = None) -> Sample:
    label = 1 if "/bad/" in sample_id else 0
    mask = Path(f"{sample_id}_mask.png") if label else None
    return Sample(
        sample_id,
        Path(f"{sample_id}.png"),
        sample_id.split("/")[0],
        folder,  # type: ignore[arg-type]
        label,
        "bad" if label else "good",
        mask,
        condition,
    )


def _tree(*samples: Sample) -> Dataset:
    categories = tuple(sorted({s.category for s in samples}))
    ordered = tuple(sorted(samples, key=lambda s: s.id))  # as the reader gives them
    return Dataset(Path("/tree"), ordered, categories, True, None, None, (), "mvtec_ad2")


def test_a_real_condition_pairs_by_object_and_keeps_an_unpaired_id() -> None:
    tree = _tree(
        _sample("can/train/good/000_regular", "train", "regular"),
        _sample("can/validation/good/000_regular", "val", "regular"),
        _sample("can/test_public/bad/000_overexposed", condition="overexposed"),
        _sample("can/test_public/bad/000_regular", condition="regular"),
        _sample("can/test_public/good/000_overexposed", condition="overexposed"),
        _sample("can/test_public/good/000_regular", condition="regular"),
        _sample("can/test_public/good/001_overexposed", condition="overexposed"),  # no regular
        _sample("can/test_public/good/002_regular", condition="regular"),  # no overexposed
        _sample("can/test_public/good/003_shift_1", condition="shift_1"),
    )
    clean = regular_only(tree)
    assert [s.id for s in clean.samples] == [
        "can/test_public/bad/000_regular",
        "can/test_public/good/000_regular",
        "can/test_public/good/002_regular",
        "can/train/good/000_regular",
        "can/validation/good/000_regular",
    ]
    real = condition_test_set(tree, "overexposed")
    assert [(s.id, s.path.name, s.condition) for s in real.samples] == [
        ("can/test_public/bad/000_regular", "000_overexposed.png", "overexposed"),
        ("can/test_public/good/000_regular", "000_overexposed.png", "overexposed"),
        ("can/test_public/good/001_overexposed", "001_overexposed.png", "overexposed"),
    ]
    assert real.samples[0].mask_path == Path("can/test_public/bad/000_overexposed_mask.png")
    # the same object in another label folder is another object: never paired across them
    other = _tree(
        _sample("can/test_public/bad/000_underexposed", condition="underexposed"),
        _sample("can/test_public/good/000_regular", condition="regular"),
    )
    assert [s.id for s in condition_test_set(other, "underexposed").samples] == [
        "can/test_public/bad/000_underexposed"
    ]
    with pytest.raises(DatasetError, match=r"no test_public image of condition 'shift_2' in can"):
        condition_test_set(tree, "shift_2")


def test_conditions_default_by_layout_and_are_refused_where_they_cannot_apply(
    tmp_path: Path,
) -> None:
    assert StudyConfig.model_validate(AD2).real_conditions == CONDITIONS
    assert StudyConfig.model_validate(BASE).real_conditions == ()
    assert "conditions" not in StudyConfig.model_validate(AD2).model_dump(mode="json")["shift"]
    none = StudyConfig.model_validate({**AD2, "shift": {"conditions": []}})
    assert none.real_conditions == () and none.model_dump(mode="json")["shift"]["conditions"] == []
    assert StudyConfig.model_validate_json(none.model_dump_json()) == none
    chosen = StudyConfig.model_validate({**AD2, "shift": {"conditions": ["shift_2"]}})
    assert chosen.real_conditions == ("shift_2",)
    refused = {
        "visa": (
            {**BASE, "data": {**BASE["data"], "layout": "visa"}},
            r'data.layout "visa" has none; drop shift.conditions, or set data.layout',
        ),
        "mvtec": (BASE, r'data.layout "mvtec" has none'),
        "unknown": (AD2, r"unknown condition 'dim'; use one of: overexposed, underexposed"),
        "regular": (AD2, r"'regular' is the clean condition"),
        "twice": (AD2, r"repeats a condition"),
    }
    names = {"unknown": ["dim"], "regular": ["regular"], "twice": ["shift_1", "shift_1"]}
    for case, (study, message) in refused.items():
        raw = {**study, "shift": {"conditions": names.get(case, ["overexposed"])}}
        path = tmp_path / f"{case}.yaml"
        path.write_text(json.dumps(raw))  # JSON is YAML
        with pytest.raises(ConfigError, match=message):
            load_config(path=path)


def test_the_paper_ad2_preset_plans_every_real_condition_on_the_clean_fits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a mimic tree of the eight categories: a `shift/none` cell per real condition,
    detector, category and scope, each on its clean fit; MVTec-Shift's mixed shift beside."""
    zipper = write_mimic(
        tmp_path / "m",
        "mvtec_ad2",
        SyntheticConfig(categories=("zipper",), size=64, n_train=2, n_test_good=1, n_test_defect=1),
    )
    root = tmp_path / "ad2"
    for category in AD2_CATEGORIES:
        shutil.copytree(zipper / "zipper", root / category)
    monkeypatch.delenv("EVALSUITE_DATA_ROOT", raising=False)
    assert preset("paper_ad2")["data"]["root"] == "data/mvtec_ad2"
    config = load_config(preset_name="paper_ad2", data_root=root)
    assert config.data.layout == "mvtec_ad2" and config.data.categories == AD2_CATEGORIES
    assert config.real_conditions == CONDITIONS and config.shift.mixed
    data = prepare_data(config, tmp_path / "c", progress=False)
    weights = {d.backbone.name: "w" for d in config.detectors}
    plan = make_plan(config, data.key(), weights, trees=data.factor_fingerprints)
    real = [c for c in plan.cells if c.variant.sweep and c.variant.sweep[0] == "shift.conditions"]
    expected = {
        (d.label, scope, category, condition)
        for d in config.detectors
        for scope in config.scopes
        for category in AD2_CATEGORIES
        for condition in CONDITIONS
    }
    planned = {(c.variant.spec.label, c.fit.scope, c.category, c.variant.factors) for c in real}
    assert planned == expected
    assert all(c.variant.sweep == ("shift.conditions", c.variant.factors) for c in real)
    assert len(real) == len(expected) and {(c.condition, c.regime) for c in real} == {
        ("shift", "none")
    }
    clean_fits = {f.id for f in plan.fits if f.condition == "clean" and f.variant.sweep is None}
    assert {c.fit.id for c in real} == clean_fits
    mixed = [c for c in plan.cells if c.variant.sweep is None and c.condition == "shift"]
    assert {c.regime for c in mixed} == {"none", "threshold", "retrain"}
    # without a tree there: refused, naming where MVTec AD 2 comes from
    missing = load_config(preset_name="paper_ad2", data_root=tmp_path / "none")
    with pytest.raises(DatasetError, match=r"no MVTec AD 2 tree there.*--data-root"):
        prepare_data(missing, tmp_path / "c", progress=False)


def _study(root: Path) -> dict[str, Any]:
    return {
        "name": "real",
        "kinds": ["clean/none", "shift/none"],
        "scopes": ["per_class"],
        "data": {
            "source": "mvtec",
            "root": str(root),
            "layout": "mvtec_ad2",
            "categories": ["zipper"],
        },
        "detectors": [
            {
                "name": "patchcore",
                "backbone": {"resize": 64, "crop": 64},
                "params": {"coreset_ratio": 0.25, "target_dim": "none"},
            }
        ],
        "shift": {"factors": ["all", "exposure"], "factor_kinds": ["shift/none"]},
        "evaluation": {"bootstrap": 10, "artifacts_per_cell": 1},
    }


def test_a_study_on_a_mimic_tree_evaluates_each_real_condition_beside_mvtec_shift(
    tmp_path: Path, one_thread: None
) -> None:
    root = write_mimic(tmp_path / "tree", "mvtec_ad2", TINY)
    (root / "zipper/test_public/good/001_regular.png").unlink()  # object 001: unpaired
    study = tmp_path / "study.json"
    study.write_text(json.dumps(_study(root)))
    out = tmp_path / "out"
    args = ["run", "--config", str(study), "--out", str(out), "--cache", str(tmp_path / "c")]
    done = CliRunner().invoke(main, [*args, "--quiet", "--device", "cpu"])
    assert done.exit_code == 0, done.output
    cells = out / "cells/patchcore/per_class/none"
    clean = results.read_cell(cells / "clean/zipper.json")
    ids = [s["id"] for s in clean["scores"]]
    assert ids == [
        "zipper/test_public/bad/000_regular",
        "zipper/test_public/bad/001_regular",
        "zipper/test_public/good/000_regular",
    ]
    members = json.loads((out / "splits/seed0.json").read_text())["categories"]["zipper"]
    assert members["test"] == ids
    mixed = results.read_cell(cells / "shift/zipper.json")
    exposure = results.read_cell(cells / "shift/zipper__shift.factors=exposure.json")
    for record in (mixed, exposure):  # MVTec-Shift on the regular images only
        assert [s["id"] for s in record["scores"]] == ids
    assert mixed["sweep"] is None and mixed["config"]["shift"] == {"severity": 2, "seed": 0}
    fingerprints = set()
    for condition in CONDITIONS:
        record = results.read_cell(cells / f"shift/zipper__shift.conditions={condition}.json")
        assert record["status"] == "ok"
        assert (record["condition"], record["regime"]) == ("shift", "none")
        assert record["sweep"] == {"param": "shift.conditions", "value": condition}
        assert record["config"]["shift"] == {"family": "real", "condition": condition}
        assert record["config"]["threshold_condition"] == "clean"
        assert record["fit_id"] == clean["fit_id"]
        assert record["threshold"]["image"] == clean["threshold"]["image"]
        scored = [s["id"] for s in record["scores"]]
        assert scored == [*ids, f"zipper/test_public/good/001_{condition}"]
        fingerprints.add(record["provenance"]["dataset_fingerprint_shift"])
    assert len(fingerprints) == len(CONDITIONS) and None not in fingerprints
    # the estimate prices their scoring and names them
    estimated = CliRunner().invoke(main, ["plan", *args[1:], "--estimate", "--json"])
    assert estimated.exit_code == 0, estimated.output
    report = json.loads(estimated.output[estimated.output.index("{") :])
    assert report["estimate"]["real_conditions"] == dict.fromkeys(CONDITIONS, 4)
    (fit,) = report["estimate"]["fits"]
    # val; the clean, mixed-shift and exposure test images; each real condition's
    assert fit["searched_images"] == 2 + 3 * len(ids) + 4 * len(CONDITIONS)
    site = tmp_path / "site"
    built = CliRunner().invoke(main, ["site", "--results", str(out), "--out", str(site)])
    assert built.exit_code == 0, built.output
    page = site / "cells/patchcore--per_class--none--shift--zipper__shift.conditions=shift_1.html"
    assert "shift.conditions = shift_1" in page.read_text(encoding="utf-8")
    assert "shift.conditions" not in (site / "hyperparameters.html").read_text(encoding="utf-8")
    assert ", ".join(CONDITIONS) in (site / "index.html").read_text(encoding="utf-8")  # run info
    from evalsuite.site.read.load import load_results
    from evalsuite.site.views.attribution_cells import variant_of

    loaded = load_results(out)
    real = [c for c in loaded.cells if c.key.group.sweep and "conditions" in c.key.group.sweep[0]]
    assert len(real) == len(CONDITIONS) and all(variant_of(c) is None for c in real)
    # the page "Synthetic vs real shift" sets each condition beside MVTec-Shift, its MVTec-Shift
    # drop the very difference of the Shift page's table (the study's resamples)
    from evalsuite.site.views.differences import difference_tables
    from evalsuite.site.views.real_shift import real_shift_view
    from evalsuite.site.views.resamples import paired_resamples
    from evalsuite.site.views.tables import grid_of

    text = (site / "real_shift.html").read_text(encoding="utf-8")
    assert all(f"real: {condition}" in text for condition in CONDITIONS)
    grid = grid_of(loaded)
    resamples = paired_resamples(loaded, grid)
    view = real_shift_view(loaded, resamples)
    assert {d.shift.title for d in view.drops} >= {f"real: {c}" for c in CONDITIONS}
    (table,) = (t for t in difference_tables(loaded, grid, resamples) if t.family == "shift")
    expected = {(r.b.label, r.b.scope, r.b.category): r.values[0].diff for r in table.rows}
    for drop in (d for d in view.drops if d.shift.title == "MVTec-Shift"):
        mine, theirs = drop.row.values[0].diff, expected[(drop.row.b.label, drop.row.b.scope,
                                                         drop.row.b.category)]  # fmt: skip
        assert mine is not None and theirs is not None
        assert (mine.delta, mine.ci95, mine.n_resamples) == (
            theirs.delta, theirs.ci95, theirs.n_resamples)  # fmt: skip
        assert mine.n_resamples == resamples


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def test_mvtec_studies_keep_their_ids_and_trees(
    tmp_path: Path, make_tree: Callable[..., Path]
) -> None:
    """Pinned from the code before real conditions existed: the cells (paths, cell, fit and
    unit ids) of MVTec-Shift and corruption studies with variants, and the data key, variant
    fingerprints and cache folders (the source's path digest aside) of a prepared study."""
    from test_plan import DATA, STUDY, WEIGHTS

    variants = {
        **STUDY,
        "shift": {"factors": ["all", "exposure", "geometric"], "severities": [1, 2]},
    }
    corruptions = {
        **STUDY,
        "kinds": ["clean/none"],
        "sweeps": [],
        "shift": {"family": "corruptions", "factors": ["fog"], "severities": [2, 3]},
    }
    trees = {"shift-s2-exposure": "e", "shift-s1-geometric": "g", "corruptions-s3-fog": "f"}
    rows = []
    for study in (variants, corruptions):
        config = StudyConfig.model_validate(study)
        plan = make_plan(config, DATA, WEIGHTS, trees=trees)
        rows.append(
            [[str(planned_relpath(c, True)), c.id, c.fit.id, c.fit.family] for c in plan.cells]
        )
    assert _digest(rows) == "7ed26be8ccf5ff54"
    root = make_tree("data", categories=("alpha",), n_train=4, n_good=2, n_defect=1)
    study = {
        "data": {"source": "mvtec", "root": str(root), "categories": ["alpha"]},
        "detectors": [{"name": "patchcore"}],
        "scopes": ["per_class"],
        "shift": {"factors": ["all", "exposure"], "factor_kinds": ["shift/none"]},
    }
    data = prepare_data(StudyConfig.model_validate(study), tmp_path / "c", progress=False)
    folders = sorted(
        re.sub(r"^([0-9a-f]{16})-[0-9a-f]{8}-", r"\1-", name)
        for name in os.listdir(tmp_path / "c" / "shift")
    )
    assert folders == [
        "bac6a1f20532c5cf-s2-seed0",
        "bac6a1f20532c5cf-s2-seed0-exposure-valtest-ffcc2367",
    ]
    assert _digest([data.key(), data.factor_fingerprints]) == "2c354047de31fd01"


def test_the_site_reads_a_real_condition_as_other_test_images_for_the_same_model() -> None:
    """A real condition's cells share the clean cells' model and val images (its threshold is
    the clean one); its test images are its own, neither clean nor MVTec-Shift's."""
    from evalsuite.site.read.records import GroupKey
    from evalsuite.site.views.differences import inputs

    def key(kind: str, sweep: tuple[str, str] | None) -> GroupKey:
        return GroupKey("patchcore", "per_class", kind, "can", sweep)

    clean, mixed = inputs(key("clean/none", None)), inputs(key("shift/none", None))
    real = inputs(key("shift/none", ("shift.conditions", "overexposed")))
    other = inputs(key("shift/none", ("shift.conditions", "shift_1")))
    assert real.model == clean.model == mixed.model and real.val == clean.val
    assert len({real.test, other.test, clean.test, mixed.test}) == 4
