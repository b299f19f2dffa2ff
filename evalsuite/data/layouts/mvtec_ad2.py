"""Reading an MVTec AD 2 tree (Heckler-Kram et al., 2025) into a `Dataset`.

Layout (per category; see docs/data.md, "Layouts")::

    <root>/<category>/train/good/<NNN>_regular.png              -> folder train
    <root>/<category>/validation/good/<NNN>_regular.png         -> folder val (always split val)
    <root>/<category>/test_public/good/<NNN>_<condition>.png    -> folder test, normal
    <root>/<category>/test_public/bad/<NNN>_<condition>.png     -> folder test, anomalous
    <root>/<category>/test_public/ground_truth/bad/<NNN>_<condition>_mask.png
    <root>/<category>/test_private/*.png          (unlabelled: listed, never scored)
    <root>/<category>/test_private_mixed/*.png    (unlabelled: listed, never scored)

Sample ids keep the folder names (`can/test_public/bad/000_overexposed`). The condition an
image name carries (`regular`, `overexposed`, `underexposed`, `shift_<k>`) is each sample's
`condition`; the same `<NNN>` under several conditions is the same object.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from evalsuite.data.layouts.common import Markers, chosen, finish
from evalsuite.data.samples import NORMAL, Folder, Sample
from evalsuite.data.skipped import SkippedFile, skip_reason
from evalsuite.data.tree_parts import CheckReport, folder_images
from evalsuite.errors import DatasetError

ANOMALOUS = "bad"
LABELLED: tuple[tuple[str, str, Folder], ...] = (
    ("train", NORMAL, "train"),
    ("validation", NORMAL, "val"),
    ("test_public", NORMAL, "test"),
    ("test_public", ANOMALOUS, "test"),
)
"""(split folder, label folder, the sample's folder) of every labelled image folder."""
PRIVATE = ("test_private", "test_private_mixed")
"""The unlabelled test sets, scored only by MVTec's evaluation server."""
MASKS = Path("test_public") / "ground_truth" / ANOMALOUS
REGULAR = "regular"
"""The condition of the clean images (the train and validation images' only one)."""
_NAME = re.compile(r"^(?P<object>.+?)_(?P<condition>regular|overexposed|underexposed|shift_\d+)$")
_EXPECTED = (
    "an MVTec AD 2 category holds train/good, validation/good, test_public/good, "
    "test_public/bad, test_public/ground_truth/bad, test_private and test_private_mixed"
)


def parse_name(stem: str) -> tuple[str, str] | None:
    """(object id, condition) of an image name (`000_overexposed` -> `("000", "overexposed")`),
    None when the name carries no known condition."""
    match = _NAME.match(stem)
    return (match["object"], match["condition"]) if match else None


def read_ad2(root: Path, categories: Sequence[str] | None) -> CheckReport:
    """Read an MVTec AD 2 tree: every labelled image, its label, mask and condition.

    The private test folders must exist (a shifted copy, which holds only the labelled images,
    is exempt); their images are not samples (see `private_images`).

    Raises:
        DatasetError: a missing root, a single category folder given as the root, or an
            unknown category.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found; pass the MVTec AD 2 root")
    if any((root / mark).is_dir() for mark in ("test_public", "validation")):
        raise DatasetError(
            f"{root}: this is a single MVTec AD 2 category folder; pass its parent folder"
        )
    found = [
        p.name
        for p in root.iterdir()
        if p.is_dir() and any((p / name).is_dir() for name in ("train", "validation"))
    ]
    names = chosen(root, found, categories)
    markers = Markers(root)
    problems: list[str] = []
    skipped: list[SkippedFile] = []
    samples: list[Sample] = []
    for category in names:
        directory = root / category
        _check_folders(directory, markers, problems, skipped)
        for split, label, folder in LABELLED:
            samples.extend(_labelled(directory, split, label, folder, markers, problems, skipped))
    return finish(root, "mvtec_ad2", markers, samples, names, skipped, problems)


def _check_folders(
    directory: Path, markers: Markers, problems: list[str], skipped: list[SkippedFile]
) -> None:
    """Problems for split folders that are missing or hold unknown folders; files outside
    the image folders are skipped."""
    allowed = {
        "train": {NORMAL},
        "validation": {NORMAL},
        "test_public": {NORMAL, ANOMALOUS, "ground_truth"},
    }
    for split, names in allowed.items():
        base = directory / split
        if not base.is_dir():
            problems.append(f"{base}: missing folder; {_EXPECTED} (restore it from the archive)")
            continue
        for entry in sorted(base.iterdir()):
            if not entry.is_dir():
                skipped.append(SkippedFile(entry, "outside"))
            elif entry.name not in names:
                problems.append(
                    f"{entry}: unknown folder in {split}/ (it holds {', '.join(sorted(names))}); "
                    "move or remove it"
                )
    if markers.shift is not None:
        return  # a shifted copy holds the labelled images only
    for split in PRIVATE:
        if not (directory / split).is_dir():
            problems.append(
                f"{directory / split}: missing folder; {_EXPECTED} (restore it from the archive)"
            )


def _labelled(
    directory: Path,
    split: str,
    label: str,
    folder: Folder,
    markers: Markers,
    problems: list[str],
    skipped: list[SkippedFile],
) -> list[Sample]:
    """The samples of one labelled image folder (none when it is missing: `_check_folders`
    reports it)."""
    base = directory / split / label
    if not base.is_dir():
        if (directory / split).is_dir():
            problems.append(f"{base}: missing folder; {_EXPECTED}")
        return []
    images = folder_images(base, skipped)
    if not images:
        problems.append(f"{base}: empty folder (no images); restore its images from the archive")
    samples = []
    for path in images:
        sample_id = f"{directory.name}/{split}/{label}/{path.stem}"
        parsed = parse_name(path.stem)
        condition = parsed[1] if parsed else None
        if label == NORMAL or sample_id in markers.relabelled:
            samples.append(
                Sample(sample_id, path, directory.name, folder, 0, NORMAL, None, condition)
            )
            continue
        mask = directory / MASKS / f"{path.stem}_mask.png"
        if not mask.is_file():
            problems.append(
                f"{path}: anomalous image without mask (expected {mask}); restore the mask "
                "from the archive"
            )
        samples.append(
            Sample(
                sample_id,
                path,
                directory.name,
                folder,
                1,
                ANOMALOUS,
                mask if mask.is_file() else None,
                condition,
            )
        )
    return samples


def private_images(root: Path, category: str) -> dict[str, list[Path]]:
    """The unlabelled test images of one category: `test_private` and `test_private_mixed` ->
    their image files, sorted (what a server submission must cover).

    Raises:
        DatasetError: the category or one of the two folders is missing.
    """
    result: dict[str, list[Path]] = {}
    for split in PRIVATE:
        folder = Path(root) / category / split
        if not folder.is_dir():
            raise DatasetError(
                f"{folder}: missing folder; {_EXPECTED} (restore it from the archive)"
            )
        result[split] = sorted(p for p in folder.iterdir() if skip_reason(p) is None)
    return result
