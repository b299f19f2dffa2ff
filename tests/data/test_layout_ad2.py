"""The MVTec AD 2 layout: its reader on a mimic tree (counts, labels, masks, conditions, the
validation split), the private test sets, bad trees named by path, and the mimic writer."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from studies import copied

from evalsuite.cli import main
from evalsuite.data.imageio import read_image, read_mask
from evalsuite.data.layouts.detect import detect_layout
from evalsuite.data.layouts.mimic import CONDITIONS, write_mimic
from evalsuite.data.layouts.mvtec_ad2 import parse_name, private_images
from evalsuite.data.reader import check_dataset, read_dataset
from evalsuite.data.splits import SplitConfig, make_splits
from evalsuite.data.synthetic.config import SyntheticConfig
from evalsuite.errors import DatasetError

SMALL = SyntheticConfig(
    categories=("hazelnut", "zipper"), size=64, n_train=8, n_test_good=2, n_test_defect=3
)
"""Per category: 8 train, 2 validation, (2 + 3) objects x 6 conditions public, 5 + 5 private."""


@pytest.fixture(scope="module")
def mimic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mimic(tmp_path_factory.mktemp("ad2") / "tree", "mvtec_ad2", SMALL)


def test_reads_the_mimic_with_counts_labels_masks_and_conditions(mimic: Path) -> None:
    assert detect_layout(mimic) == "mvtec_ad2"
    dataset = read_dataset(mimic)  # detected
    assert dataset.layout == "mvtec_ad2" and dataset.synthetic is not None
    assert dataset.categories == ("hazelnut", "zipper") and dataset.has_masks
    hazelnut = dataset.of_category("hazelnut")
    by_folder = {f: [s for s in hazelnut if s.folder == f] for f in ("train", "val", "test")}
    assert [len(by_folder[f]) for f in ("train", "val", "test")] == [8, 2, 30]
    assert {s.label for s in by_folder["train"] + by_folder["val"]} == {0}
    anomalous = [s for s in by_folder["test"] if s.label == 1]
    assert len(anomalous) == 18 and {s.defect for s in anomalous} == {"bad"}
    for sample in anomalous:
        assert sample.mask_path is not None and sample.mask_path.name == (
            f"{sample.path.stem}_mask.png"
        )
        assert sample.mask_path.parent == mimic / "hazelnut/test_public/ground_truth/bad"
        assert read_mask(sample.mask_path).any()
    assert all(s.mask_path is None for s in hazelnut if s.label == 0)
    assert "hazelnut/test_public/bad/002_shift_3" in {s.id for s in anomalous}
    assert "hazelnut/validation/good/001_regular" in {s.id for s in by_folder["val"]}
    conditions = {s.condition for s in by_folder["test"]}
    assert conditions == set(CONDITIONS)
    assert {s.condition for s in by_folder["train"] + by_folder["val"]} == {"regular"}


def test_the_conditions_of_an_object_pair_up_under_their_lighting(mimic: Path) -> None:
    """One render per object: its six conditions share the mask and differ only by light."""
    folder = mimic / "hazelnut/test_public/bad"
    regular = read_image(folder / "001_regular.png").astype(float)
    over = read_image(folder / "001_overexposed.png").astype(float)
    under = read_image(folder / "001_underexposed.png").astype(float)
    assert under.mean() < regular.mean() < over.mean()
    masks = mimic / "hazelnut/test_public/ground_truth/bad"
    digests = {hashlib.sha256((masks / f"001_{c}_mask.png").read_bytes()).digest()
               for c in CONDITIONS}  # fmt: skip
    assert len(digests) == 1
    assert parse_name("001_shift_2") == ("001", "shift_2")
    assert parse_name("001_overexposed") == ("001", "overexposed")
    assert parse_name("001") is None and parse_name("001_blurry") is None


def test_validation_good_is_the_val_split_and_nothing_else_moves(mimic: Path) -> None:
    from evalsuite.config import StudyConfig
    from evalsuite.runner.planning.study_data import split_config

    dataset = read_dataset(mimic, layout="mvtec_ad2")
    study = {
        "data": {"source": "mvtec", "root": str(mimic), "layout": "mvtec_ad2"},
        "detectors": [{"name": "patchcore"}],
        "splits": {"val_normal_ratio": 0.5, "val_anomaly_ratio": 0.5},  # ignored here
    }
    config = split_config(StudyConfig.model_validate(study), 3)
    assert config == SplitConfig(0.0, 0.0, 3)
    splits = make_splits(dataset.samples, config)
    for sample in dataset.samples:
        expected = {"train": "train", "val": "val", "test": "test"}[sample.folder]
        assert splits.split_of(sample) == expected, sample.id
    val = splits.select(dataset.samples, "val")
    assert val and all(s.label == 0 and "/validation/" in s.id for s in val)


def test_private_images_lists_both_private_sets_sorted(mimic: Path, tmp_path: Path) -> None:
    listed = private_images(mimic, "zipper")
    assert list(listed) == ["test_private", "test_private_mixed"]
    assert [p.name for p in listed["test_private"]][:2] == [
        "000_regular.png",
        "001_overexposed.png",
    ]
    assert len(listed["test_private"]) == len(listed["test_private_mixed"]) == 5
    assert listed["test_private_mixed"] == sorted(listed["test_private_mixed"])
    ids = {s.path for s in read_dataset(mimic).samples}
    assert not ids & set(listed["test_private"])  # unlabelled: never a sample
    copy = copied(mimic, tmp_path)
    shutil.rmtree(copy / "zipper/test_private_mixed")
    with pytest.raises(DatasetError, match=r"zipper/test_private_mixed: missing folder"):
        private_images(copy, "zipper")


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        ("hazelnut/validation/good", r"hazelnut/validation/good: missing folder"),
        ("hazelnut/validation", r"hazelnut/validation: missing folder"),
        (
            "hazelnut/test_public/ground_truth/bad/002_underexposed_mask.png",
            r"bad/002_underexposed\.png: anomalous image without mask \(expected .*"
            r"ground_truth/bad/002_underexposed_mask\.png\)",
        ),
        ("zipper/test_private", r"zipper/test_private: missing folder"),
    ],
)
def test_a_bad_tree_is_refused_naming_the_path(
    mimic: Path, tmp_path: Path, damage: str, named: str
) -> None:
    copy = copied(mimic, tmp_path)
    target = copy / damage
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(DatasetError, match=named) as caught:
        read_dataset(copy, layout="mvtec_ad2")
    assert caught.value.exit_code == 2
    result = CliRunner().invoke(main, ["data", "check", str(copy)])
    assert result.exit_code == 1 and "layout: mvtec_ad2 (detected" in result.output
    assert "1 problem(s):" in result.output and str(copy / damage.split("/ground")[0]) in (
        result.output
    )


def test_unknown_category_and_single_category_root(mimic: Path) -> None:
    with pytest.raises(DatasetError, match=r"unknown category carpet; this tree holds: hazelnut"):
        read_dataset(mimic, ["carpet"], layout="mvtec_ad2")
    with pytest.raises(DatasetError, match="single MVTec AD 2 category folder"):
        read_dataset(mimic / "hazelnut")


def test_check_reports_conditions_and_private_counts(mimic: Path) -> None:
    result = CliRunner().invoke(main, ["data", "check", str(mimic), "--layout", "mvtec_ad2"])
    assert result.exit_code == 0, result.output
    assert "layout: mvtec_ad2 (detected" not in result.output  # named, not detected
    assert "hazelnut: conditions overexposed 5, regular 15, shift_1 5" in result.output
    assert "zipper: unlabelled (not scored here) test_private 5, test_private_mixed 5" in (
        result.output
    )
    assert check_dataset(mimic).ok


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_the_mimic_is_deterministic_and_all_or_nothing(mimic: Path, tmp_path: Path) -> None:
    again = write_mimic(tmp_path / "again", "mvtec_ad2", SMALL)
    assert _digests(again) == _digests(mimic)
    assert write_mimic(again, "mvtec_ad2", SMALL) == again  # the same tree: kept
    other = write_mimic(
        tmp_path / "other", "mvtec_ad2", SyntheticConfig(**{**SMALL.as_dict(), "seed": 1})
    )
    assert _digests(other).keys() == _digests(mimic).keys()
    assert _digests(other) != _digests(mimic)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    result = CliRunner().invoke(
        main,
        ["data", "synth", "--layout", "mvtec_ad2", "--out", str(tmp_path / "cli"),
         "--categories", "hazelnut,zipper", "--size", "64", "--train", "8",
         "--test-good", "2", "--test-defect", "3"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _digests(tmp_path / "cli") == _digests(mimic)


def test_regular_images_are_the_generator_render(mimic: Path) -> None:
    """The regular condition is the synthetic render unchanged (no light added)."""
    from evalsuite.data.synthetic.scenes import render, sample_seed

    defect = "fabric_interior"  # zipper's second defect type, the second object's
    seed = sample_seed(SMALL, "zipper", "test_public/bad", defect, 1)
    image, mask = render("zipper", SMALL, seed, defect)
    assert np.array_equal(read_image(mimic / "zipper/test_public/bad/001_regular.png"), image)
    stored = read_mask(mimic / "zipper/test_public/ground_truth/bad/001_regular_mask.png")
    assert np.array_equal(stored, mask)
