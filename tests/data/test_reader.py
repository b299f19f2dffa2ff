"""The MVTec-layout reader and its checks, on generated and broken trees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evalsuite.data.reader import check_dataset, counts, fingerprint, read_dataset
from evalsuite.errors import DatasetError


def test_reads_every_image_with_labels_and_masks(make_tree) -> None:
    root = make_tree()
    dataset = read_dataset(root)
    assert dataset.categories == ("alpha", "beta")
    assert len(dataset.samples) == 2 * (5 + 3 + 2 * 3)
    assert dataset.has_masks and dataset.synthetic is None and dataset.shift is None
    defective = [s for s in dataset.samples if s.label == 1]
    assert len(defective) == 12
    assert all(s.mask_path is not None and s.mask_path.is_file() for s in defective)
    assert all(s.mask_path is None for s in dataset.samples if s.label == 0)
    sample = next(s for s in dataset.samples if s.id == "alpha/test/dent/001")
    assert sample.defect == "dent" and sample.folder == "test"
    assert sample.mask_path == root / "alpha/ground_truth/dent/001_mask.png"
    assert ("alpha", "train", "good", 5) in counts(dataset)


def test_masks_are_optional_per_dataset(make_tree) -> None:
    dataset = read_dataset(make_tree(masks=False))
    assert not dataset.has_masks
    assert all(s.mask_path is None for s in dataset.samples)
    assert sum(s.label for s in dataset.samples) == 12


def test_category_filter_and_unknown_category(make_tree) -> None:
    root = make_tree()
    assert read_dataset(root, ["beta"]).categories == ("beta",)
    with pytest.raises(DatasetError, match=r"unknown category gamma.*alpha, beta"):
        read_dataset(root, ["gamma"])


def test_missing_root_and_unknown_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="dataset folder not found"):
        read_dataset(tmp_path / "nope")
    (tmp_path / "flat").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "flat" / "a.png")
    with pytest.raises(DatasetError, match="unknown layout"):
        read_dataset(tmp_path / "flat")


def test_single_category_folder_is_named(make_tree) -> None:
    root = make_tree()
    with pytest.raises(DatasetError, match="single category folder"):
        read_dataset(root / "alpha")


def test_missing_mask_is_reported_with_its_path(make_tree) -> None:
    root = make_tree()
    (root / "alpha/ground_truth/dent/002_mask.png").unlink()
    with pytest.raises(
        DatasetError, match=r"alpha/test/dent/002.png: defective image without mask"
    ):
        read_dataset(root)


def test_empty_folder_is_reported(make_tree) -> None:
    root = make_tree()
    for path in (root / "beta/train/good").iterdir():
        path.unlink()
    with pytest.raises(DatasetError, match=r"beta/train/good: empty folder"):
        read_dataset(root)


def test_check_finds_corrupt_truncated_nonbinary_and_mismatched(make_tree) -> None:
    root = make_tree()
    (root / "alpha/train/good/000.png").write_bytes(b"not a png at all")
    truncated = root / "alpha/test/good/001.png"
    truncated.write_bytes(truncated.read_bytes()[:200])
    gray = np.full((48, 48), 128, np.uint8)
    Image.fromarray(gray).save(root / "beta/ground_truth/scratch/000_mask.png")
    Image.fromarray(np.zeros((40, 48), np.uint8)).save(root / "beta/ground_truth/dent/001_mask.png")
    report = check_dataset(root)
    text = "\n".join(report.problems)
    assert not report.ok and len(report.problems) == 4
    assert "alpha/train/good/000.png: unreadable or truncated image" in text
    assert "alpha/test/good/001.png: unreadable or truncated image" in text
    assert "scratch/000_mask.png: mask is not binary (values 128)" in text
    assert "dent/001_mask.png: mask size 48x40 does not match" in text


def test_check_passes_a_good_tree(make_tree) -> None:
    assert check_dataset(make_tree()).ok


def test_fingerprint_follows_content(make_tree) -> None:
    first, second = make_tree("a"), make_tree("b")
    assert fingerprint(read_dataset(first)) == fingerprint(read_dataset(second))
    image = np.zeros((48, 48, 3), np.uint8)
    Image.fromarray(image).save(second / "alpha/train/good/000.png")
    assert fingerprint(read_dataset(first)) != fingerprint(read_dataset(second))
