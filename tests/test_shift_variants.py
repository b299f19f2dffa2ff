"""`shift.factors`: the shift variants of a study are planned and run on the clean fits, their
records name them, their trees are priced; the mixed shift alone keeps every id it had."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from studies import SMALL, estimate_report, one_category_study
from test_plan import DATA, STUDY, WEIGHTS

from evalsuite import results
from evalsuite.cli import main
from evalsuite.config import StudyConfig, load_config
from evalsuite.data.shift_factors import variant_names
from evalsuite.digest import file_sha256
from evalsuite.errors import ConfigError
from evalsuite.presets import preset
from evalsuite.runner import run_study
from evalsuite.runner.planning.plan import Plan, make_plan, planned_relpath
from evalsuite.runner.preparation.context import prepare

FACTORS = ["all", "exposure", "rotation"]


def _digest(config: StudyConfig) -> str:
    plan = make_plan(config, DATA, WEIGHTS)
    multi_seed = len(config.seeds) > 1
    rows = [[str(planned_relpath(c, multi_seed)), c.id, c.fit.id, c.fit.family] for c in plan.cells]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def test_the_mixed_shift_alone_keeps_every_id_and_dump() -> None:
    """Pinned from the code before `shift.factors` existed: paths, cell, fit and unit ids."""
    for study, expected in ((STUDY, "cf5e25081d5a2ee2"), (SMALL, "a1cba2852e1ebc40")):
        config = StudyConfig.model_validate(study)
        assert _digest(config) == expected
        assert config.model_dump(mode="json")["shift"] == {"severity": 2, "seed": 0}
        explicit = StudyConfig.model_validate({**study, "shift": {"factors": ["all"]}})
        assert _digest(explicit) == expected
    shown = StudyConfig.model_validate({**STUDY, "shift": {"factors": FACTORS}})
    assert shown.model_dump(mode="json")["shift"] == {
        "severity": 2,
        "seed": 0,
        "factors": FACTORS,
        "factor_kinds": ["shift/none", "shift/threshold"],
    }
    assert StudyConfig.model_validate_json(shown.model_dump_json()) == shown


def _factor_plan(**shift: Any) -> Plan:
    study = {
        "data": {"categories": ["carpet", "zipper"]},
        "detectors": [{"name": "patchcore"}],
        "shift": {"factors": FACTORS, **shift},
    }
    trees = {"shift-s2-exposure": "e", "shift-s2-rotation": "r"}
    return make_plan(StudyConfig.model_validate(study), DATA, WEIGHTS, trees=trees)


def test_variant_cells_read_the_clean_fits_and_change_no_other_id() -> None:
    plan = _factor_plan()
    mixed = make_plan(
        StudyConfig.model_validate(
            {"data": {"categories": ["carpet", "zipper"]}, "detectors": [{"name": "patchcore"}]}
        ),
        DATA,
        WEIGHTS,
    )
    assert plan.fits == mixed.fits  # no fit of its own for regimes none and threshold
    ids = {c.id for c in plan.cells}
    assert {c.id for c in mixed.cells} <= ids
    variant = [c for c in plan.cells if c.variant.factors != "all"]
    # 2 variants x 2 scopes x 2 kinds (shift/none, shift/threshold) x 2 categories
    assert len(variant) == len(plan.cells) - len(mixed.cells) == 16
    clean_fits = {f.id for f in plan.fits if f.condition == "clean"}
    for cell in variant:
        assert cell.fit.id in clean_fits and cell.condition == "shift"
        assert cell.variant.sweep == ("shift.factors", cell.variant.factors)
        assert cell.regime in ("none", "threshold")
    paths = {str(planned_relpath(c, False)) for c in variant}
    assert "patchcore/per_class/threshold/shift/zipper__shift.factors=exposure.json" in paths
    # the variant's tree enters its cells' keys: another tree, other cells
    other = make_plan(
        StudyConfig.model_validate(
            {
                "data": {"categories": ["carpet", "zipper"]},
                "detectors": [{"name": "patchcore"}],
                "shift": {"factors": FACTORS},
            }
        ),
        DATA,
        WEIGHTS,
        trees={"shift-s2-exposure": "E2", "shift-s2-rotation": "r"},
    )
    changed = {c.id for c in plan.cells} ^ {c.id for c in other.cells}
    assert len(changed) == 2 * 8 and all(
        c.variant.factors == "exposure" for c in plan.cells if c.id in changed
    )


def test_variants_are_evaluated_in_the_factor_scopes_only(tmp_path: Path) -> None:
    """`shift.factor_scopes` keeps the variants' cells to those scopes (the mixed shift keeps
    the study's), the other cells unchanged; a scope outside the study's is refused."""
    every, per_class = _factor_plan(), _factor_plan(factor_scopes=["per_class"])
    variant = [c for c in per_class.cells if c.variant.factors != "all"]
    assert {c.fit.scope for c in variant} == {"per_class"} and len(variant) == 8
    assert {c.id for c in per_class.cells} == {
        c.id for c in every.cells if c.variant.factors == "all" or c.fit.scope == "per_class"
    }
    assert (
        "factor_scopes"
        not in StudyConfig.model_validate({"detectors": [{"name": "patchcore"}]}).model_dump(
            mode="json"
        )["shift"]
    )
    with pytest.raises(ConfigError, match=r"shift.factor_scopes \['unified'\] are not among"):
        text = 'scopes = ["per_class"]\nshift = { factor_scopes = ["unified"] }\n'
        load_config(path=_toml(tmp_path, text))


def test_retrain_on_a_variant_only_where_the_study_asks() -> None:
    plan = _factor_plan(factor_kinds=["shift/retrain"])
    variant_fits = {c.fit.id: c.fit for c in plan.cells if c.variant.factors != "all"}
    assert len(variant_fits) == 2 * (2 + 1)  # 2 variants x (2 per_class + 1 unified)
    for fit in variant_fits.values():
        assert fit.condition == "shift" and fit.key["shift_factors"] in ("exposure", "rotation")
        assert fit.key["shift_tree"] in ("e", "r")
    assert not set(variant_fits) & {c.fit.id for c in plan.cells if c.variant.factors == "all"}


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text('detectors = [{name = "patchcore"}]\n' + text)
    return path


def test_unknown_factors_are_refused_with_the_key_and_the_valid_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"shift\.factors: item 1: unknown shift factor 'glare'"):
        load_config(None, _toml(tmp_path, '[shift]\nfactors = ["all", "glare"]\n'))
    with pytest.raises(ConfigError, match=r"exposure, contrast, gamma.*all-minus:<factor>"):
        load_config(None, _toml(tmp_path, '[shift]\nfactors = ["all-minus:geometric"]\n'))
    with pytest.raises(ConfigError, match=r"sweeps\.0\.values\.0: shift\.factors = 'glare'"):
        load_config(
            None,
            _toml(
                tmp_path,
                '[[sweeps]]\ndetector = "patchcore"\nparam = "shift.factors"\nvalues = ["glare"]\n',
            ),
        )
    with pytest.raises(ConfigError, match=r"shift\.factor_kinds: clean/none reads no shifted"):
        load_config(None, _toml(tmp_path, '[shift]\nfactor_kinds = ["clean/none"]\n'))
    shown = CliRunner().invoke(
        main, ["config", "show", "--config", str(_toml(tmp_path, '[shift]\nfactors = ["x"]\n'))]
    )
    assert shown.exit_code == 2 and "shift.factors" in shown.output
    assert "Traceback" not in shown.output


def _small_study() -> dict[str, Any]:
    return one_category_study(
        "zipper", ["clean/none", "shift/none", "shift/threshold"], {"factors": FACTORS}
    )


def test_a_factor_study_prices_and_runs_its_variants_on_the_clean_fit(tmp_path: Path) -> None:
    study = _small_study()
    report = estimate_report(study, tmp_path)
    images = 8 + 15  # the category's train and test images
    prepared = report["estimate"]["data_preparation"]
    assert prepared["shifted_trees_written"] == [2, "shift-s2-exposure", "shift-s2-rotation"]
    assert report["counts"]["cells"] == 1 + 2 + 2 * 2 and report["counts"]["fits"] == 1

    config = StudyConfig.model_validate(study)
    summary = run_study(config, tmp_path / "out", cache_dir=tmp_path / "c", progress=False)
    assert len(summary.cells) == 7 and not summary.failed
    manifest = results.read_manifest(tmp_path / "out")
    assert manifest["counts"]["fits"] == 1  # the clean fit serves every variant
    # each variant tree's applied parameters are in the results folder beside the mixed shift's
    assert manifest["shift_parameters"] == {
        "2": "splits/shift-s2.json",
        "shift-s2-exposure": "splits/shift-s2-exposure.json",
        "shift-s2-rotation": "splits/shift-s2-rotation.json",
    }
    # no cell retrains on a variant: its tree holds the val and test images alone
    data = prepare(config, tmp_path / "c", progress=False)[0]
    read_ids = {s.id for s in data.clean.samples if data.splits[0].split_of(s) != "train"}
    assert len(read_ids) < images and prepared["shift_images"] == images + 2 * len(read_ids)
    mixed_draws = json.loads((tmp_path / "out/splits/shift-s2.json").read_text())["images"]
    alone = json.loads((tmp_path / "out/splits/shift-s2-rotation.json").read_text())
    assert alone["factors"] == "rotation" and alone["images"].keys() == read_ids
    assert alone["subset"]["images"] == len(read_ids) and len(mixed_draws) == images
    for sample_id, params in alone["images"].items():
        assert params["rotation_deg"] == mixed_draws[sample_id]["rotation_deg"]
        assert params["contrast"] == 1.0 and params["noise_sigma"] == 0.0
    cells = tmp_path / "out/cells/patchcore/per_class"
    clean = results.read_cell(cells / "none/clean/zipper.json")
    mixed = results.read_cell(cells / "threshold/shift/zipper.json")
    assert "factors" not in mixed["config"]["shift"]
    prints = {mixed["provenance"]["dataset_fingerprint_shift"]}
    for factor in ("exposure", "rotation"):
        for regime in ("none", "threshold"):
            record = results.read_cell(
                cells / f"{regime}/shift/zipper__shift.factors={factor}.json"
            )
            assert record["fit_id"] == clean["fit_id"]
            assert record["sweep"] == {"param": "shift.factors", "value": factor}
            assert record["config"]["shift"] == {"severity": 2, "seed": 0, "factors": [factor]}
            # paired by id with the mixed shift and the clean images; other pixels
            assert [s["id"] for s in record["scores"]] == [s["id"] for s in mixed["scores"]]
            assert [s["score"] for s in record["scores"]] != [s["score"] for s in mixed["scores"]]
        prints.add(record["provenance"]["dataset_fingerprint_shift"])
    assert len(prints) == 3
    # each variant adds only its own images' forward passes: its val and test images
    read = {s.path for s in data.clean.samples}
    for factors in FACTORS:
        for split in ("val", "test"):
            read.update(s.path for s in data.samples("shift", 2, split, ["zipper"], 0, factors))
    assert images < len(read) < 4 * images  # the variants' train-only images are not read
    counts = manifest["counts"]
    assert counts["forward_passes"] == counts["distinct_inputs"]
    assert counts["forward_passes"] == len({file_sha256(path) for path in read})


def test_the_site_reads_a_variant_as_other_images_for_the_same_model() -> None:
    """A variant's cells share the clean cells' model and the mixed shift's model; their
    shifted val and test images are the variant's own (so nothing is zero by construction)."""
    from evalsuite.site.read.records import GroupKey
    from evalsuite.site.views.differences import inputs

    def key(kind: str, sweep: tuple[str, str] | None) -> GroupKey:
        return GroupKey("patchcore", "per_class", kind, "zipper", sweep)

    exposure = ("shift.factors", "exposure")
    mixed, variant = inputs(key("shift/threshold", None)), inputs(key("shift/threshold", exposure))
    assert variant.model == mixed.model == inputs(key("clean/none", None)).model
    assert variant.val != mixed.val and variant.test != mixed.test
    clean = inputs(key("clean/none", exposure))
    assert clean == inputs(key("clean/none", None))  # a variant changes no clean image
    assert inputs(key("shift/none", ("shift.factors", "all"))) == inputs(key("shift/none", None))
    assert inputs(key("shift/none", exposure)).val == inputs(key("shift/none", None)).val


def test_the_sweep_page_names_the_mixed_shift_the_baseline() -> None:
    from evalsuite.site.views.sweeps import baseline_value

    cell = type("Cell", (), {"record": {"config": {"shift": {"severity": 2, "seed": 0}}}})()
    assert baseline_value([cell], "shift.factors") == "all"  # type: ignore[list-item]
    assert baseline_value([cell], "shift.severity") == 2  # type: ignore[list-item]


def test_the_paper_preset_evaluates_every_variant_on_its_clean_fits() -> None:
    raw = preset("paper")
    config = StudyConfig.model_validate(raw)
    assert config.shift.factors == variant_names()
    weights = {d.backbone.name: "w" for d in config.detectors}
    plan = make_plan(config, DATA, weights)
    swept = {
        c.variant.sweep[1]
        for c in plan.cells
        if c.variant.sweep and c.variant.sweep[0] == "shift.factors"
    }
    assert swept == set(variant_names()) - {"all"}
    # 24 variants x the detectors' scopes and categories x shift/none, shift/threshold
    mixed = StudyConfig.model_validate({**raw, "shift": {}})
    base = make_plan(mixed, DATA, weights)
    per_variant = sum(len(config.scopes) * len(config.data.categories) for _ in config.detectors)
    assert len(plan.cells) == len(base.cells) + 24 * 2 * per_variant
    assert {f.id for f in plan.fits} == {f.id for f in base.fits}  # no fit added
