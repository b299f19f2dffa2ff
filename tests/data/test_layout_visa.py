"""The VisA layout: its reader on a mimic tree (the 1cls split decides train and test, masks
binarised), the study's splits on it, bad trees named by CSV line and path, a shifted copy read
with its source's split, and the mimic writer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from studies import copied

from evalsuite.cli import main
from evalsuite.data.imageio import read_image, read_mask
from evalsuite.data.layouts.detect import detect_layout
from evalsuite.data.layouts.mimic import write_mimic
from evalsuite.data.reader import check_dataset, read_dataset
from evalsuite.data.splits import SplitConfig, make_splits
from evalsuite.data.synthetic.config import SyntheticConfig
from evalsuite.errors import DatasetError

SMALL = SyntheticConfig(
    categories=("carpet", "zipper"), size=64, n_train=8, n_test_good=3, n_test_defect=4
)
"""Per object: 8 train and 3 test normal rows, 4 anomaly rows."""
HEADER = "object,split,label,image,mask\n"


@pytest.fixture(scope="module")
def mimic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mimic(tmp_path_factory.mktemp("visa") / "tree", "visa", SMALL)


def test_reads_the_mimic_by_its_split_file(mimic: Path) -> None:
    assert detect_layout(mimic) == "visa"
    lines = (mimic / "split_csv/1cls.csv").read_text().splitlines()
    assert lines[0] == HEADER.strip() and len(lines) == 1 + 2 * 15
    assert lines[1] == "carpet,train,normal,carpet/Data/Images/Normal/0000.JPG,"
    dataset = read_dataset(mimic)
    assert dataset.layout == "visa" and dataset.categories == ("carpet", "zipper")
    carpet = dataset.of_category("carpet")
    tally = sorted({(s.folder, s.label, s.defect) for s in carpet})
    assert tally == [("test", 0, "good"), ("test", 1, "anomaly"), ("train", 0, "good")]
    assert [sum(s.folder == f for s in carpet) for f in ("train", "test")] == [8, 7]
    assert "carpet/test/anomaly/003" in {s.id for s in carpet}
    assert "carpet/test/good/0010" in {s.id for s in carpet}
    for sample in carpet:
        assert sample.path.suffix == ".JPG" and sample.condition is None
        with Image.open(sample.path) as image:
            assert image.format == "JPEG"
        if sample.label:
            assert sample.mask_path == mimic / f"carpet/Data/Masks/Anomaly/{sample.path.stem}.png"
            raw = np.asarray(Image.open(sample.mask_path))
            assert set(np.unique(raw).tolist()) == {0, 1}  # a region label, as VisA's
            assert np.array_equal(read_mask(sample.mask_path), raw > 0)
    assert check_dataset(mimic).ok


def test_region_label_masks_are_binarised_in_visa_only(tmp_path: Path) -> None:
    """VisA masks number their defect regions (0, 1, 2, ...): any non-zero is defect there;
    the same values in an MVTec tree's ground_truth stay refused as non-binary."""
    labels = np.zeros((40, 40), np.uint8)
    labels[2:8, 2:8], labels[20:30, 20:30] = 1, 2
    visa = tmp_path / "candle/Data/Masks/Anomaly/000.png"
    mvtec = tmp_path / "candle/ground_truth/crack/000_mask.png"
    for path in (visa, mvtec):
        path.parent.mkdir(parents=True)
        Image.fromarray(labels).save(path)
    assert np.array_equal(read_mask(visa), labels > 0)
    with pytest.raises(DatasetError, match="mask is not binary"):
        read_mask(mvtec)


def test_the_study_splits_hold_out_train_normals_and_a_share_of_anomalies(mimic: Path) -> None:
    dataset = read_dataset(mimic, layout="visa")
    splits = make_splits(dataset.samples, SplitConfig(0.25, 0.5, seed=0))
    for category in dataset.categories:
        members = dataset.of_category(category)
        val = splits.select(members, "val")
        assert sum(s.label == 0 for s in val) == 2 and sum(s.label == 1 for s in val) == 2
        assert all(s.folder == "train" for s in val if s.label == 0)
        assert len(splits.select(members, "train")) == 6
        test = splits.select(members, "test")
        assert sum(s.label == 0 for s in test) == 3 and sum(s.label == 1 for s in test) == 2


def _edit_csv(root: Path, old: str, new: str) -> None:
    path = root / "split_csv/1cls.csv"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        (
            "carpet/Data/Images/Normal/0002.JPG",
            "carpet/Data/Images/Normal/9999.JPG",
            r"1cls\.csv line 4: image .*carpet/Data/Images/Normal/9999\.JPG not found",
        ),
        ("carpet,train,normal", "carpet,training,normal", r"1cls\.csv line 2: unknown split "
                                                          r"'training'; the 1cls split uses"),
        (
            "Masks/Anomaly/001.png",
            "Masks/Anomaly/077.png",
            r"1cls\.csv line 14: anomaly without mask \(.*Masks/Anomaly/077\.png\)",
        ),
        ("zipper,test,anomaly", "zipper,test,broken", r"unknown label 'broken'"),
        ("carpet/Data/Images/Normal/0000.JPG", "../outside.JPG", r"must be relative"),
    ],
)  # fmt: skip
def test_a_bad_split_row_is_refused_naming_its_line_and_path(
    mimic: Path, tmp_path: Path, old: str, new: str, named: str
) -> None:
    copy = copied(mimic, tmp_path)
    _edit_csv(copy, old, new)
    with pytest.raises(DatasetError, match=named) as caught:
        read_dataset(copy, layout="visa")
    assert caught.value.exit_code == 2
    result = CliRunner().invoke(main, ["data", "check", str(copy)])
    assert result.exit_code == 1 and "layout: visa (detected" in result.output
    assert "1 problem(s):" in result.output


def test_images_no_row_names_are_skipped_with_a_warning(mimic: Path, tmp_path: Path) -> None:
    copy = copied(mimic, tmp_path)
    _edit_csv(copy, "zipper,test,normal,zipper/Data/Images/Normal/0010.JPG,\n", "")
    dataset = read_dataset(copy)
    assert len(dataset.of_category("zipper")) == 14
    assert [(s.path, s.reason) for s in dataset.skipped] == [
        (copy / "zipper/Data/Images/Normal/0010.JPG", "unlisted")
    ]
    result = CliRunner().invoke(main, ["data", "check", str(copy)])
    assert result.exit_code == 0, result.output
    assert "skipped 1 file" in result.output and "not named by the split file" in result.output


def test_a_missing_or_headless_split_file_is_refused(mimic: Path, tmp_path: Path) -> None:
    copy = copied(mimic, tmp_path)
    (copy / "split_csv/1cls.csv").write_text("object,split,image\ncarpet,train,x.JPG\n")
    with pytest.raises(DatasetError, match=r"1cls\.csv: split file without the column\(s\) "
                                           r"label, mask; its header must be"):  # fmt: skip
        read_dataset(copy, layout="visa")
    (copy / "split_csv/1cls.csv").unlink()
    assert detect_layout(copy) == "visa"  # from its Data/Images folders
    with pytest.raises(DatasetError, match=r"split_csv/1cls\.csv: VisA split file not found"):
        read_dataset(copy)
    result = CliRunner().invoke(main, ["data", "check", str(copy)])
    assert result.exit_code == 2 and "VisA split file not found" in result.output
    with pytest.raises(DatasetError, match="unknown category candle; this tree holds: carpet"):
        read_dataset(mimic, ["candle"], layout="visa")


def test_a_shifted_copy_reads_with_its_sources_split(mimic: Path, tmp_path: Path) -> None:
    from evalsuite.data.shift_tree import shift_tree

    shifted = shift_tree(mimic, tmp_path / "shifted", seed=0, severity=2, progress=False)
    assert not (shifted / "split_csv").exists()  # the shift writes the images and masks only
    clean, copy = read_dataset(mimic), read_dataset(shifted)
    assert copy.layout == "visa" and copy.shift is not None
    relabelled = set(copy.shift["relabelled"])  # type: ignore[call-overload]
    for before, after in zip(clean.samples, copy.samples, strict=True):
        assert (before.id, before.folder) == (after.id, after.folder)
        assert after.label == (0 if before.id in relabelled else before.label)
        assert after.path == shifted / before.path.relative_to(mimic)
    assert not np.array_equal(read_image(copy.samples[0].path), read_image(clean.samples[0].path))
    assert check_dataset(shifted).ok


def test_the_mimic_is_deterministic(mimic: Path, tmp_path: Path) -> None:
    def digests(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    assert digests(write_mimic(tmp_path / "again", "visa", SMALL)) == digests(mimic)
    other = SyntheticConfig(**{**SMALL.as_dict(), "seed": 5})
    assert digests(write_mimic(tmp_path / "other", "visa", other)) != digests(mimic)
