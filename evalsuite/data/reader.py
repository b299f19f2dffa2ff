"""Reading an MVTec-layout tree into a `Dataset`, and validating it at that boundary.

`read_dataset` and `check_dataset` also read the MVTec AD 2 and VisA layouts
(`evalsuite.data.layouts`): named, or detected from the tree when no layout is given.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from evalsuite.data.imageio import image_size, read_image, read_mask
from evalsuite.data.samples import NORMAL, Dataset, Folder, Layout, Sample
from evalsuite.data.skipped import SkippedFile
from evalsuite.data.synthetic.writer import SYNTHETIC_MARKER
from evalsuite.data.tree_parts import (
    SHIFT_MARKER,
    CheckReport,
    folder_images,
    name_clashes,
    read_marker_file,
)
from evalsuite.digest import file_sha256
from evalsuite.errors import DatasetError
from evalsuite.limits import MIN_IMAGE_SIDE

MAX_PROBLEMS_SHOWN = 20


def _category_dirs(root: Path, categories: Sequence[str] | None) -> list[Path]:
    if not root.is_dir():
        raise DatasetError(
            f"{root}: dataset folder not found; pass an MVTec-layout root "
            "(<root>/<category>/train/good, <root>/<category>/test/<defect>) or generate one "
            "with `evalsuite data synth --out DIR`"
        )
    if (root / "train").is_dir() and (root / "test").is_dir():
        raise DatasetError(
            f"{root}: this is a single category folder; pass its parent folder as the dataset root"
        )
    found = sorted(p for p in root.iterdir() if p.is_dir() and (p / "train").is_dir())
    if not found:
        raise DatasetError(
            f"{root}: unknown layout: no <category>/train folder found; expected "
            "<root>/<category>/train/good/*.png and <root>/<category>/test/<defect>/*.png"
        )
    if categories is None:
        return found
    by_name = {p.name: p for p in found}
    missing = [name for name in categories if name not in by_name]
    if missing:
        raise DatasetError(
            f"{root}: unknown categor{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}; "
            f"this tree holds: {', '.join(sorted(by_name))}"
        )
    return [by_name[name] for name in categories]


def _read_category(
    directory: Path,
    with_masks: bool,
    relabelled: dict[str, str],
    problems: list[str],
    skipped: list[SkippedFile],
) -> list[Sample]:
    samples: list[Sample] = []
    for folder_name in ("train", "test"):
        folder: Folder = "train" if folder_name == "train" else "test"
        base = directory / folder_name
        if not base.is_dir():
            problems.append(f"{base}: missing folder (every category needs train/ and test/)")
            continue
        defects = sorted(p for p in base.iterdir() if p.is_dir())
        skipped += [SkippedFile(p, "outside") for p in sorted(base.iterdir()) if not p.is_dir()]
        if folder == "train" and [p.name for p in defects] != [NORMAL]:
            problems.append(f"{base}: must hold exactly one folder, good/ (normal images only)")
        if not defects:
            problems.append(f"{base}: empty folder (no defect-type subfolders)")
        for defect_dir in defects:
            images = folder_images(defect_dir, skipped)
            if not images:
                problems.append(
                    f"{defect_dir}: empty folder (no images); add images or delete the folder"
                )
            for path in images:
                samples.append(
                    _sample(
                        directory, folder, defect_dir.name, path, with_masks, relabelled, problems
                    )
                )
    return samples


def _sample(
    directory: Path,
    folder: Folder,
    defect: str,
    path: Path,
    with_masks: bool,
    relabelled: dict[str, str],
    problems: list[str],
) -> Sample:
    category = directory.name
    sample_id = f"{category}/{folder}/{defect}/{path.stem}"
    if defect == NORMAL or sample_id in relabelled:
        return Sample(sample_id, path, category, folder, 0, NORMAL, None)
    mask_path = None
    if with_masks:
        mask_path = directory / "ground_truth" / defect / f"{path.stem}_mask.png"
        if not mask_path.is_file():
            problems.append(
                f"{path}: defective image without mask (expected {mask_path}); add the mask, "
                "or move the image to test/good if it is normal"
            )
            mask_path = None
    return Sample(sample_id, path, category, folder, 1, defect, mask_path)


def read_dataset(
    root: Path, categories: Sequence[str] | None = None, layout: Layout | None = None
) -> Dataset:
    """Read a tree (structure only; `check_dataset` also opens every file).

    Args:
        root: the dataset root.
        categories: restrict to these categories (all when None).
        layout: the tree's layout; None: detected (`layouts.detect_layout`), MVTec unless the
            tree is clearly MVTec AD 2's or VisA's.

    Raises:
        DatasetError: listing every structural problem found.
    """
    report = _read(root, categories, layout)
    if report.problems or report.dataset is None:
        raise DatasetError(problem_text(root, report.problems))
    return report.dataset


def _read(root: Path, categories: Sequence[str] | None, layout: Layout | None) -> CheckReport:
    from evalsuite.data.layouts.detect import detect_layout, read_layout

    root = Path(root)
    layout = detect_layout(root) if layout is None else layout
    if layout != "mvtec":
        return read_layout(root, categories, layout)
    problems: list[str] = []
    directories = _category_dirs(root, categories)
    shift = read_marker_file(root / SHIFT_MARKER)
    relabelled = dict(shift.get("relabelled", {})) if shift else {}  # type: ignore[call-overload]
    with_masks = any((d / "ground_truth").is_dir() for d in directories)
    samples: list[Sample] = []
    skipped: list[SkippedFile] = []
    for directory in directories:
        samples.extend(_read_category(directory, with_masks, relabelled, problems, skipped))
    problems.extend(name_clashes(samples))
    if shift is not None:
        shift = {k: v for k, v in shift.items() if k != "images"}
    dataset = Dataset(
        root=root,
        samples=tuple(sorted(samples, key=lambda s: s.id)),
        categories=tuple(d.name for d in directories),
        has_masks=with_masks,
        synthetic=read_marker_file(root / SYNTHETIC_MARKER),
        shift=shift,
        skipped=tuple(sorted(skipped, key=lambda s: str(s.path))),
    )
    return CheckReport(dataset, problems)


def check_dataset(
    root: Path, categories: Sequence[str] | None = None, layout: Layout | None = None
) -> CheckReport:
    """Validate a tree fully: structure, then every image and mask opened and compared
    (`layout` as for `read_dataset`).

    Checks: unknown layout, empty folders, missing masks, images sharing a sample id or file
    name, unreadable, truncated, too large or too small images, non-binary masks, mask/image
    size mismatch.
    """
    report = _read(root, categories, layout)
    assert report.dataset is not None
    report.problems.extend(check_files(report.dataset))
    return report


def check_files(dataset: Dataset) -> list[str]:
    """Open every image and mask of `dataset` fully; one problem (naming the file) per bad one.

    Checks: unreadable or truncated images and masks, images too large (a decompression bomb)
    or smaller than `MIN_IMAGE_SIDE` on a side, non-binary masks, mask/image size mismatch.
    """
    problems: list[str] = []
    for sample in dataset.samples:
        try:
            pixels = read_image(sample.path)
        except DatasetError as error:
            problems.append(str(error))
            continue
        if min(pixels.shape[:2]) < MIN_IMAGE_SIDE:
            problems.append(
                f"{sample.path}: image of {pixels.shape[1]}x{pixels.shape[0]} pixels is smaller "
                f"than {MIN_IMAGE_SIDE} pixels on a side, too small for the backbone and the "
                "MVTec-Shift warp; use larger images or remove it"
            )
            continue
        if sample.mask_path is None:
            continue
        try:
            mask = read_mask(sample.mask_path)
        except DatasetError as error:
            problems.append(str(error))
            continue
        width, height = image_size(sample.path)
        if mask.shape != (height, width):
            problems.append(
                f"{sample.mask_path}: mask size {mask.shape[1]}x{mask.shape[0]} does not match "
                f"its image {sample.path} ({width}x{height}); give the mask its image's size"
            )
    return problems


def problem_text(root: Path, problems: list[str]) -> str:
    """The message of a DatasetError listing `problems` of the tree at `root` (at most 20)."""
    shown = problems[:MAX_PROBLEMS_SHOWN]
    more = len(problems) - len(shown)
    lines = [f"{root}: {len(problems)} problem(s) in the dataset:"] + [f"  - {p}" for p in shown]
    if more:
        lines.append(f"  ... and {more} more (run `evalsuite data check {root}` for all)")
    lines.append(
        f"Fix or remove these files, then rerun; `evalsuite data check {root}` checks the tree."
    )
    return "\n".join(lines)


def counts(dataset: Dataset) -> list[tuple[str, str, str, int]]:
    """(category, folder, defect, number of images) rows, sorted."""
    tally = Counter((s.category, s.folder, s.defect) for s in dataset.samples)
    return sorted((c, f, d, n) for (c, f, d), n in tally.items())


def fingerprint(dataset: Dataset) -> str:
    """SHA-256 over every sample's id, label and file content (images and masks)."""
    digest = hashlib.sha256()
    for sample in dataset.samples:
        digest.update(f"{sample.id}|{sample.label}|".encode())
        digest.update(file_sha256(sample.path).encode())
        if sample.mask_path is not None:
            digest.update(file_sha256(sample.mask_path).encode())
    return digest.hexdigest()
