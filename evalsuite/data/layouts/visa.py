"""Reading a VisA tree (Zou et al., 2022) with its `1cls` split into a `Dataset`.

Layout (see docs/data.md, "Layouts")::

    <root>/split_csv/1cls.csv                          object,split,label,image,mask
    <root>/<object>/Data/Images/Normal/<NNNN>.JPG
    <root>/<object>/Data/Images/Anomaly/<NNN>.JPG
    <root>/<object>/Data/Masks/Anomaly/<NNN>.png       (any non-zero value is defect)

The CSV decides everything: each row is one image (`split` train or test, `label` normal or
anomaly, `image` and `mask` relative to the root); images no row names are not read. Sample ids
are `<object>/<split>/<good|anomaly>/<stem>`. A shifted copy of a VisA tree (which has no
`split_csv`) is read with the split of the tree it was written from.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from evalsuite.data.layouts.common import Markers, chosen, finish
from evalsuite.data.samples import NORMAL, Folder, Sample
from evalsuite.data.skipped import SkippedFile, skip_reason
from evalsuite.data.tree_parts import CheckReport
from evalsuite.errors import DatasetError

COLUMNS = ("object", "split", "label", "image", "mask")
SPLITS: dict[str, Folder] = {"train": "train", "test": "test"}
LABELS = {"normal": 0, "anomaly": 1}
ANOMALOUS = "anomaly"
VISA_SPLIT = Path("split_csv") / "1cls.csv"
"""Where a VisA tree keeps the split it is read with, relative to its root."""


def split_file(root: Path, markers: Markers) -> Path:
    """The `1cls` split CSV the tree at `root` is read with: its own, else (a shifted copy)
    the one of the tree it was written from.

    Raises:
        DatasetError: neither exists.
    """
    own = root / VISA_SPLIT
    if own.is_file() or markers.source is None:
        if not own.is_file():
            raise DatasetError(
                f"{own}: VisA split file not found; a VisA tree holds split_csv/1cls.csv "
                "(columns object,split,label,image,mask): restore it from the VisA archive"
            )
        return own
    inherited = markers.source / VISA_SPLIT
    if not inherited.is_file():
        raise DatasetError(
            f"{root}: shifted VisA copy whose source's split file {inherited} is gone; "
            "delete the copy to rewrite it from the source"
        )
    return inherited


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of every data row of a split CSV.

    Raises:
        DatasetError: unreadable, or without the columns object,split,label,image,mask.
    """
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DatasetError(
                    f"{path}: split file without the column(s) {', '.join(missing)}; its "
                    f"header must be {','.join(COLUMNS)}"
                )
            return [
                (reader.line_num, {k: (v or "").strip() for k, v in row.items() if k})
                for row in reader
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DatasetError(f"{path}: unreadable split file ({error}); restore it") from error


def read_visa(root: Path, categories: Sequence[str] | None) -> CheckReport:
    """Read a VisA tree with its `1cls` split: every row's image, label and mask.

    Raises:
        DatasetError: a missing root or split file, a split file without its columns, or an
            unknown category.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found; pass the VisA root")
    if (root / "Data" / "Images").is_dir():
        raise DatasetError(f"{root}: this is a single VisA object folder; pass its parent folder")
    markers = Markers(root)
    csv_path = split_file(root, markers)
    rows = read_rows(csv_path)
    names = chosen(root, sorted({row["object"] for _, row in rows if row["object"]}), categories)
    wanted = set(names)
    problems: list[str] = []
    samples = [
        sample
        for line, row in rows
        if row["object"] in wanted
        for sample in [_sample(root, csv_path, line, row, markers, problems)]
        if sample is not None
    ]
    for name in names:
        kinds = {(s.folder, s.label) for s in samples if s.category == name}
        if ("train", 0) not in kinds:
            problems.append(f"{csv_path}: object {name} has no train row; it needs normal ones")
    return finish(root, "visa", markers, samples, names, _unlisted(root, names, rows), problems)


def _unlisted(
    root: Path, names: Sequence[str], rows: list[tuple[int, dict[str, str]]]
) -> list[SkippedFile]:
    """The files of each object's `Data/Images/<label>/` folders that no row names."""
    listed = {root / row["image"] for _, row in rows}
    found = []
    for name in names:
        images = root / name / "Data" / "Images"
        if not images.is_dir():
            continue
        for folder in sorted(p for p in images.iterdir() if p.is_dir()):
            found += [
                SkippedFile(path, "unlisted")
                for path in sorted(folder.iterdir())
                if path not in listed
            ]
    return found


def _sample(
    root: Path,
    csv_path: Path,
    line: int,
    row: dict[str, str],
    markers: Markers,
    problems: list[str],
) -> Sample | None:
    """The sample of one CSV row; None (and a problem naming the row) when it is wrong."""
    where = f"{csv_path} line {line}"
    split, label = row["split"], row["label"]
    if split not in SPLITS:
        problems.append(f"{where}: unknown split {split!r}; the 1cls split uses train or test")
        return None
    if label not in LABELS:
        problems.append(f"{where}: unknown label {label!r}; use normal or anomaly")
        return None
    if split == "train" and label != "normal":
        problems.append(f"{where}: an anomaly in train; train rows must be normal")
        return None
    for column in ("image", "mask"):
        named = Path(row[column])
        if named.is_absolute() or ".." in named.parts:
            problems.append(f"{where}: {column} {row[column]!r} must be relative to the root")
            return None
    image = root / row["image"]
    if not row["image"] or not image.is_file():
        problems.append(f"{where}: image {image} not found; restore it or remove the row")
        return None
    if skip_reason(image) is not None:
        problems.append(f"{where}: {image} is not a readable image file (.png/.jpg/...)")
        return None
    defect = NORMAL if label == "normal" else ANOMALOUS
    sample_id = f"{row['object']}/{split}/{defect}/{image.stem}"
    if label == "normal" or sample_id in markers.relabelled:
        return Sample(sample_id, image, row["object"], SPLITS[split], 0, NORMAL, None)
    mask = root / row["mask"] if row["mask"] else None
    if mask is None or not mask.is_file():
        problems.append(
            f"{where}: anomaly without mask ({mask or 'the mask column is empty'}); "
            "restore the mask or remove the row"
        )
        mask = None
    return Sample(sample_id, image, row["object"], SPLITS[split], 1, ANOMALOUS, mask)
