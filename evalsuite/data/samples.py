"""The sample table: one row per image of an MVTec-layout tree.

Layout read by `evalsuite.data.reader` (category names are free)::

    <root>/<category>/train/good/<name>.png
    <root>/<category>/test/<defect|good>/<name>.png
    <root>/<category>/ground_truth/<defect>/<name>_mask.png    (optional per dataset)

The MVTec AD 2 and VisA layouts (`evalsuite.data.layouts`) read into the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evalsuite.data.skipped import SkippedFile

Folder = Literal["train", "val", "test"]
NORMAL = "good"
Layout = Literal["mvtec", "mvtec_ad2", "visa"]
LAYOUTS: tuple[Layout, ...] = ("mvtec", "mvtec_ad2", "visa")
"""The tree layouts read: MVTec AD (the default), MVTec AD 2 and VisA."""


@dataclass(frozen=True)
class Sample:
    """One image of a dataset.

    Attributes:
        id: stable identifier `<category>/<folder>/<defect>/<stem>`, the same for the clean and
            the shifted copy of an image (clean/shift comparisons pair on it).
        path: the image file.
        category: e.g. `hazelnut`.
        folder: the folder the image lives in (`train` or `test`; `val` for MVTec AD 2's
            `validation`, which always goes to the study's `val` split); not the study's split.
        label: 0 normal, 1 anomalous.
        defect: `good` for normal images, else the defect type.
        mask_path: binary ground-truth mask (255 = defect), None for normal images and for
            datasets without masks.
        condition: the acquisition condition an MVTec AD 2 image name carries (`regular`,
            `overexposed`, `underexposed`, `shift_1`, ...); None in the other layouts.
    """

    id: str
    path: Path
    category: str
    folder: Folder
    label: int
    defect: str
    mask_path: Path | None
    condition: str | None = None


@dataclass(frozen=True)
class Dataset:
    """A read MVTec-layout tree.

    Attributes:
        root: the tree's root folder.
        samples: every image, sorted by id.
        categories: category names, sorted.
        has_masks: whether the tree has ground-truth masks (pixel metrics need them).
        synthetic: the synthetic generator's marker content, None for real data.
        shift: the MVTec-Shift marker content (without per-image parameters), None for
            an unshifted tree.
        skipped: the files of the tree the reader did not read, and why (see
            `evalsuite.data.skipped`), sorted by path.
        layout: the tree's layout (`LAYOUTS`).
    """

    root: Path
    samples: tuple[Sample, ...]
    categories: tuple[str, ...]
    has_masks: bool
    synthetic: dict[str, object] | None
    shift: dict[str, object] | None
    skipped: tuple[SkippedFile, ...] = ()
    layout: Layout = "mvtec"

    def of_category(self, category: str) -> list[Sample]:
        """The samples of one category, in id order."""
        return [sample for sample in self.samples if sample.category == category]
