"""Study splits: `train` (normal only), `val` (thresholds only), `test` (metrics only).

`val` holds normal images held out of the MVTec train folder plus a share of the test
anomalies, stratified by category and defect type, for labelled calibration; `test` holds the
rest. The assignment is by sample id, so the clean and the shifted copy of an image always fall
in the same split and every clean/shift comparison is paired. Images of a `val` folder (MVTec
AD 2's `validation/good`) always go to `val`.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from evalsuite.atomic import write_json
from evalsuite.data.samples import Sample
from evalsuite.errors import ConfigError, DatasetError

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class SplitConfig:
    """How to split.

    Attributes:
        val_normal_ratio: share of each category's MVTec train images held out into `val`.
        val_anomaly_ratio: share of each (category, defect type)'s anomalies moved into `val`.
        seed: the only source of randomness.
    """

    val_normal_ratio: float = 0.2
    val_anomaly_ratio: float = 0.3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("val_normal_ratio", "val_anomaly_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"splits.{name} = {value}: must be in [0, 1)")


@dataclass(frozen=True)
class Splits:
    """A split assignment: sample id -> split."""

    config: SplitConfig
    assignment: dict[str, Split]

    def split_of(self, sample: Sample) -> Split:
        """The split a sample belongs to (by id, so clean and shifted copies agree)."""
        try:
            return self.assignment[sample.id]
        except KeyError as error:
            raise DatasetError(
                f"{sample.path}: sample {sample.id} is not in the split assignment; the splits "
                "were made for another dataset (delete the splits file to recompute them)"
            ) from error

    def select(self, samples: Sequence[Sample], split: Split) -> list[Sample]:
        """The samples of `split`, in the order given."""
        return [sample for sample in samples if self.split_of(sample) == split]

    def to_json(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"config": asdict(self.config), "assignment": dict(sorted(self.assignment.items()))}


def _rng(seed: int, *keys: str) -> np.random.Generator:
    words = [int.from_bytes(hashlib.sha256(k.encode()).digest()[:4], "little") for k in keys]
    return np.random.default_rng([seed, *words])


def _held_out(ids: list[str], ratio: float, rng: np.random.Generator) -> set[str]:
    count = round(ratio * len(ids))
    order = rng.permutation(len(ids))
    return {ids[i] for i in order[:count]}


def make_splits(samples: Sequence[Sample], config: SplitConfig) -> Splits:
    """Assign every sample to train, val or test (seeded, stratified, disjoint).

    Raises:
        DatasetError: when a category would end with no train images, no normal val images or
            a test set without both normal and anomalous images.
    """
    groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for sample in samples:
        groups[(sample.category, sample.folder, sample.defect)].append(sample.id)
    assignment: dict[str, Split] = {}
    for (category, folder, defect), ids in sorted(groups.items()):
        ids = sorted(ids)
        if folder == "val":
            assignment.update(dict.fromkeys(ids, "val"))
        elif folder == "train":
            val = _held_out(ids, config.val_normal_ratio, _rng(config.seed, category, "train"))
            assignment.update({i: ("val" if i in val else "train") for i in ids})
        elif defect == "good":
            assignment.update(dict.fromkeys(ids, "test"))
        else:
            rng = _rng(config.seed, category, "test", defect)
            val = _held_out(ids, config.val_anomaly_ratio, rng)
            assignment.update({i: ("val" if i in val else "test") for i in ids})
    splits = Splits(config, assignment)
    _check(samples, splits)
    return splits


def _check(samples: Sequence[Sample], splits: Splits) -> None:
    categories = sorted({s.category for s in samples})
    for category in categories:
        members = [s for s in samples if s.category == category]
        train = splits.select(members, "train")
        val_normal = [s for s in splits.select(members, "val") if s.label == 0]
        test_labels = {s.label for s in splits.select(members, "test")}
        if not train:
            raise DatasetError(f"category {category}: no train images left; lower val_normal_ratio")
        if not val_normal and splits.config.val_normal_ratio > 0:
            raise DatasetError(
                f"category {category}: no normal val images; it needs more train images "
                "or a larger val_normal_ratio"
            )
        if test_labels != {0, 1}:
            raise DatasetError(
                f"category {category}: the test split needs normal and anomalous images; "
                "lower val_anomaly_ratio or add test images"
            )


def write_splits(path: Path, splits: Splits) -> None:
    """Write the assignment as JSON (atomically)."""
    write_json(path, splits.to_json())


def read_splits(path: Path) -> Splits:
    """Read an assignment written by `write_splits`."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        config = SplitConfig(**content["config"])
        assignment = {str(k): v for k, v in content["assignment"].items()}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DatasetError(
            f"{path}: unreadable splits file ({error}); delete it to recompute"
        ) from error
    bad = sorted({v for v in assignment.values() if v not in SPLITS})
    if bad:
        raise DatasetError(f"{path}: unknown split names {bad}; expected one of {list(SPLITS)}")
    return Splits(config, assignment)
