"""`data.layout`: a study runs end to end on an MVTec AD 2 and a VisA mimic tree (clean and
MVTec-Shift cells with metrics), the key is refused where it cannot apply, and an MVTec study
dumps as it always has."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evalsuite import results
from evalsuite.cli import main
from evalsuite.config import StudyConfig, load_config
from evalsuite.data.layouts.mimic import write_mimic
from evalsuite.data.synthetic.config import SyntheticConfig
from evalsuite.errors import ConfigError, DatasetError
from evalsuite.runner.planning.study_data import prepare_data

MEAN_STD = {"strategy": "mean_std"}  # MVTec AD 2's val holds no anomaly: no f1 threshold


def _study(root: Path, layout: str) -> dict[str, Any]:
    return {
        "name": f"tiny-{layout}",
        "kinds": ["clean/none", "shift/none"],
        "scopes": ["per_class"],
        "data": {"source": "mvtec", "root": str(root), "layout": layout, "categories": ["zipper"]},
        "detectors": [
            {
                "name": "patchcore",
                "backbone": {"resize": 64, "crop": 64},
                "params": {"coreset_ratio": 0.25, "target_dim": "none"},
            }
        ],
        # MVTec AD 2's protocol sets mean_std thresholds itself (`evaluation.protocols`)
        "evaluation": {"bootstrap": 10, "artifacts_per_cell": 1}
        | (
            {}
            if layout == "mvtec_ad2"
            else {"image_threshold": MEAN_STD, "pixel_threshold": MEAN_STD}
        ),
    }


@pytest.mark.parametrize(
    ("layout", "counts"),
    [("mvtec_ad2", (6, 2, 1, 2)), ("visa", (8, 2, 3, 3))],
)
def test_a_study_runs_end_to_end_on_a_mimic_tree(
    tmp_path: Path, layout: str, counts: tuple[int, int, int, int], one_thread: None
) -> None:
    """Through `evalsuite run --config`: every cell ok with image and pixel metrics, the
    split file as the layout says, the layout in the manifest's configuration."""
    config = SyntheticConfig(
        categories=("zipper",), size=64, n_train=6, n_test_good=1, n_test_defect=2
    )
    if layout == "visa":
        config = SyntheticConfig(
            **{**config.as_dict(), "n_train": 10, "n_test_good": 3, "n_test_defect": 4}
        )
    root = write_mimic(tmp_path / "tree", layout, config)  # type: ignore[arg-type]
    study = tmp_path / "study.json"
    study.write_text(json.dumps(_study(root, layout)))
    out = tmp_path / "out"
    args = ["run", "--config", str(study), "--out", str(out), "--cache", str(tmp_path / "c")]
    result = CliRunner().invoke(main, [*args, "--quiet", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    manifest = results.read_manifest(out)
    assert manifest["config"]["data"]["layout"] == layout
    for level in ("image_threshold", "pixel_threshold"):  # the layout's protocol, or the study's
        assert manifest["config"]["evaluation"][level]["strategy"] == "mean_std"
    cells = out / "cells/patchcore/per_class/none"
    for condition in ("clean", "shift"):
        record = results.read_cell(cells / condition / "zipper.json")
        metrics = record["metrics"]
        assert 0.0 <= metrics["image_auroc"]["value"] <= 1.0
        assert 0.0 <= metrics["pixel_auroc"]["value"] <= 1.0
    document = json.loads((out / "splits/seed0.json").read_text())
    members = document["categories"]["zipper"]
    train, val_normal, test_normal, test_anomalous = counts
    assert len(members["train"]) == train
    assert len(members["test"]) == test_normal + test_anomalous
    used = (document["val_normal_ratio"], document["val_anomaly_ratio"])
    recorded = results.read_cell(cells / "clean" / "zipper.json")["config"]["splits"]
    assert (recorded["val_normal_ratio"], recorded["val_anomaly_ratio"]) == used
    if layout == "mvtec_ad2":  # validation/good alone is val; test_public stays whole
        assert used == (0.0, 0.0)
        assert members["val"] == [
            "zipper/validation/good/000_regular",
            "zipper/validation/good/001_regular",
        ]
        conditions = {i.rsplit("/", 1)[1].split("_", 1)[1] for i in members["test"]}
        assert conditions == {"regular"}  # clean is the regular condition (the others: shifts)
    else:  # 20% of the 10 train normals and 30% of the 4 anomalies
        assert len(members["val"]) == val_normal + 1


def test_the_layout_dumps_only_when_it_is_not_mvtec(tmp_path: Path) -> None:
    base = {"detectors": [{"name": "patchcore"}], "data": {"source": "mvtec", "root": "x"}}
    plain = StudyConfig.model_validate(base)
    assert "layout" not in plain.model_dump(mode="json")["data"]
    assert plain.data.layout == "mvtec"
    named = StudyConfig.model_validate({**base, "data": {**base["data"], "layout": "mvtec"}})
    assert named.model_dump_json() == plain.model_dump_json()
    visa = StudyConfig.model_validate({**base, "data": {**base["data"], "layout": "visa"}})
    assert visa.model_dump(mode="json")["data"]["layout"] == "visa"
    assert StudyConfig.model_validate_json(visa.model_dump_json()) == visa
    path = tmp_path / "study.toml"
    path.write_text('[data]\nlayout = "mvtec_ad2"\n[[detectors]]\nname = "patchcore"\n')
    with pytest.raises(ConfigError, match=r'layout "mvtec_ad2" reads a tree on disk'):
        load_config(path=path)
    path.write_text('[data]\nlayout = "kolektor"\n[[detectors]]\nname = "patchcore"\n')
    with pytest.raises(ConfigError, match=r"data\.layout"):
        load_config(path=path)


def test_a_tree_of_another_layout_is_named(tmp_path: Path, make_tree: Any) -> None:
    ad2 = write_mimic(
        tmp_path / "ad2",
        "mvtec_ad2",
        SyntheticConfig(categories=("zipper",), size=64, n_train=2, n_test_good=1, n_test_defect=1),
    )
    study = _study(ad2, "mvtec")
    with pytest.raises(
        DatasetError, match=r'looks like the mvtec_ad2 layout.*set data.layout = "mvtec_ad2"'
    ):
        prepare_data(StudyConfig.model_validate(study), tmp_path / "c", progress=False)
    mvtec = make_tree()
    study = {
        **_study(mvtec, "visa"),
        "data": {**_study(mvtec, "visa")["data"], "categories": ["alpha"]},
    }
    with pytest.raises(
        DatasetError, match=r'looks like the mvtec layout, not data.layout = "visa"'
    ):
        prepare_data(StudyConfig.model_validate(study), tmp_path / "c", progress=False)


def test_an_mvtec_tree_reads_as_it_always_has(make_tree: Any) -> None:
    """Pinned from the reader before layouts existed: the same rows and the same splits, the
    layout detected as MVTec and named or not alike, no sample with a condition."""
    import hashlib

    from evalsuite.data.layouts.detect import detect_layout
    from evalsuite.data.reader import fingerprint, read_dataset
    from evalsuite.data.splits import SplitConfig, make_splits

    root = make_tree()
    assert detect_layout(root) == "mvtec"
    dataset = read_dataset(root)
    rows = [
        (s.id, str(s.path.relative_to(root)), s.category, s.folder, s.label, s.defect,
         str(s.mask_path.relative_to(root)) if s.mask_path else None)
        for s in dataset.samples
    ]  # fmt: skip
    assert hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16] == "bae09a612ea14375"
    splits = make_splits(dataset.samples, SplitConfig(seed=0)).to_json()
    digest = hashlib.sha256(json.dumps(splits, sort_keys=True).encode()).hexdigest()[:16]
    assert digest == "3e56cd883283dde8"
    assert dataset.layout == "mvtec" and {s.condition for s in dataset.samples} == {None}
    named = read_dataset(root, layout="mvtec")
    assert named == dataset and fingerprint(named) == fingerprint(dataset)


def test_mvtec_ad2_studies_get_its_protocols_thresholds_unless_they_set_their_own() -> None:
    """`f1` thresholds need anomalous val images, which MVTec AD 2's val split never has: a
    study on that layout gets mean + 3 sd at both levels; what it sets itself is kept."""
    from evalsuite.config import StudyConfig

    base = {"detectors": [{"name": "patchcore"}], "data": {"source": "mvtec", "root": "/d"}}
    ad2 = {**base, "data": {**base["data"], "layout": "mvtec_ad2"}}
    chosen = StudyConfig.model_validate(ad2).evaluation
    for level in (chosen.image_threshold, chosen.pixel_threshold):
        assert (level.strategy, level.k) == ("mean_std", 3.0)
    own = {**ad2, "evaluation": {"image_threshold": {"strategy": "quantile"}, "bootstrap": 5}}
    kept = StudyConfig.model_validate(own).evaluation
    assert kept.image_threshold.strategy == "quantile" and kept.bootstrap == 5
    assert kept.pixel_threshold.strategy == "mean_std"
    for layout in ("mvtec", "visa"):
        other = {**base, "data": {**base["data"], "layout": layout}}
        assert StudyConfig.model_validate(other).evaluation.image_threshold.strategy == "f1"
