"""Study splits: disjoint, seeded, stratified, paired between clean and shifted copies."""

from __future__ import annotations

from collections import Counter

import pytest

from evalsuite.data.reader import read_dataset
from evalsuite.data.shift_tree import shift_tree
from evalsuite.data.splits import SplitConfig, make_splits, read_splits, write_splits
from evalsuite.errors import ConfigError, DatasetError


def test_splits_are_disjoint_complete_and_normal_only_in_train(make_tree) -> None:
    dataset = read_dataset(make_tree(n_train=10, n_defect=4))
    splits = make_splits(dataset.samples, SplitConfig(0.2, 0.5, seed=0))
    assert set(splits.assignment) == {s.id for s in dataset.samples}
    train = splits.select(dataset.samples, "train")
    val = splits.select(dataset.samples, "val")
    test = splits.select(dataset.samples, "test")
    assert len(train) + len(val) + len(test) == len(dataset.samples)
    assert all(s.label == 0 and s.folder == "train" for s in train)
    # 2 of 10 normals per category, half of each defect type's 4 anomalies
    tally = Counter((s.category, s.label, s.defect) for s in val)
    assert tally[("alpha", 0, "good")] == 2
    assert tally[("alpha", 1, "dent")] == 2 and tally[("beta", 1, "scratch")] == 2
    assert {s.label for s in test} == {0, 1}


def test_splits_are_seeded(make_tree) -> None:
    samples = read_dataset(make_tree(n_train=10)).samples
    a = make_splits(samples, SplitConfig(seed=1))
    assert a.assignment == make_splits(samples, SplitConfig(seed=1)).assignment
    assert a.assignment != make_splits(samples, SplitConfig(seed=2)).assignment


def test_clean_and_shifted_copies_share_their_split(make_tree, tmp_path) -> None:
    src = make_tree()
    clean = read_dataset(src)
    shifted = read_dataset(shift_tree(src, tmp_path / "s", progress=False))
    splits = make_splits(clean.samples, SplitConfig(seed=0))
    for split in ("train", "val", "test"):
        a = [s.id for s in splits.select(clean.samples, split)]
        b = [s.id for s in splits.select(shifted.samples, split)]
        assert a == b and a


def test_round_trip_through_json(make_tree, tmp_path) -> None:
    samples = read_dataset(make_tree()).samples
    splits = make_splits(samples, SplitConfig(seed=3))
    write_splits(tmp_path / "splits.json", splits)
    assert read_splits(tmp_path / "splits.json") == splits


def test_bad_ratios_and_impossible_splits(make_tree) -> None:
    with pytest.raises(ConfigError, match=r"val_normal_ratio = 1\.0"):
        SplitConfig(val_normal_ratio=1.0)
    samples = read_dataset(make_tree(n_defect=2)).samples
    with pytest.raises(DatasetError, match="test split needs normal and anomalous"):
        make_splits(samples, SplitConfig(val_anomaly_ratio=0.99))


def test_unknown_sample_names_the_file(make_tree, tmp_path) -> None:
    a = read_dataset(make_tree("a"))
    b = read_dataset(make_tree("b", categories=("gamma",)))
    splits = make_splits(a.samples, SplitConfig())
    with pytest.raises(
        DatasetError,
        match=r"gamma/test/dent/000.png: sample gamma/test/dent/000 is not in the split",
    ):
        splits.select(b.samples, "train")
