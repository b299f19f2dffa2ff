"""MVTec AD 2's real acquisition conditions as shift conditions of a study (`shift.conditions`).

On an MVTec AD 2 tree the clean data is the `regular` condition: train and validation images
(all regular) and the `test_public` images named `<NNN>_regular` (`regular_only`). Each other
condition `c` is a real shift: its test set is the `test_public` images named `<NNN>_<c>`, each
re-identified as the regular image of the same object (`can/test_public/bad/000_overexposed` ->
`can/test_public/bad/000_regular`), so that its per-image scores pair by id with the clean and
MVTec-Shift cells; an object the tree lacks under `regular` keeps its own id (unpaired). Its
train and val images are the clean ones (`condition_test_set`). Nothing is copied on disk.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from evalsuite.data.samples import Dataset, Sample
from evalsuite.errors import ConfigError, DatasetError

CONDITIONS_PARAM = "shift.conditions"
"""The `sweep` param of a real condition's cell records (`sweep.value`: the condition)."""
REGULAR = "regular"
"""The clean condition (the train and validation images' only one)."""
CONDITIONS = ("overexposed", "underexposed", "shift_1", "shift_2", "shift_3")
"""The real conditions of the published dataset's `test_public`: `shift.conditions`' default
on an MVTec AD 2 tree."""
_CONDITION = re.compile(r"overexposed|underexposed|shift_[1-9][0-9]*")
"""A real condition's name (the reader's `shift_<k>` takes any further lighting shift)."""


def check_condition(name: str) -> str:
    """`name` when it names a real condition.

    Raises:
        ConfigError: `regular` (the clean condition), or an unknown name, listing valid ones.
    """
    if name == REGULAR:
        raise ConfigError(
            "'regular' is the clean condition, evaluated by every clean cell; list only the "
            f"conditions to compare with it: {', '.join(CONDITIONS)}"
        )
    if not _CONDITION.fullmatch(name):
        raise ConfigError(
            f"unknown condition {name!r}; use one of: {', '.join(CONDITIONS)} (or shift_<k> "
            "for a further lighting shift the tree holds)"
        )
    return name


def regular_only(dataset: Dataset) -> Dataset:
    """`dataset` with the test images of the regular condition only (and those whose name
    carries no condition); train and validation images are all kept."""
    kept = tuple(
        s
        for s in dataset.samples
        if s.folder != "test" or s.condition is None or s.condition == REGULAR
    )
    return dataclasses.replace(dataset, samples=kept)


def paired_id(sample: Sample, regular_ids: frozenset[str]) -> str:
    """The id of `sample` (an image of a real condition) in the study: the id of the regular
    image of the same object (the same folder and `<NNN>`) when the tree holds it, else its
    own id (unpaired)."""
    suffix = f"_{sample.condition}"
    if sample.condition is None or not sample.id.endswith(suffix):
        return sample.id
    regular = f"{sample.id[: -len(suffix)]}_{REGULAR}"
    return regular if regular in regular_ids else sample.id


def condition_test_set(
    dataset: Dataset, condition: str, categories: Sequence[str] | None = None
) -> Dataset:
    """The test set of real condition `condition` of an MVTec AD 2 tree, as a dataset of the
    same root: its `test_public` images of that condition, re-identified by `paired_id`, in id
    order. `dataset` is the tree as read (every condition).

    Raises:
        DatasetError: a category without any test image of the condition, naming what to do.
    """
    regular_ids = frozenset(
        s.id for s in dataset.samples if s.folder == "test" and s.condition == REGULAR
    )
    chosen = [s for s in dataset.samples if s.folder == "test" and s.condition == condition]
    present = {s.category for s in chosen}
    lacking = [c for c in categories or dataset.categories if c not in present]
    if lacking:
        raise DatasetError(
            f"{dataset.root}: no test_public image of condition {condition!r} in "
            f"{', '.join(lacking)}; list shift.conditions without it (or restore its images)"
        )
    samples = tuple(
        sorted(
            (dataclasses.replace(s, id=paired_id(s, regular_ids)) for s in chosen),
            key=lambda s: s.id,
        )
    )
    return dataclasses.replace(
        dataset,
        samples=samples,
        has_masks=any(s.mask_path is not None for s in samples),
        skipped=(),
    )
