"""The format check of an MVTec AD 2 submission, against the dataset tree it was made from.

It mirrors the rules of MVTec's upload checker (`check_and_prepare_data_for_upload.py` and its
`utils.py` in the dataset's public code): only `anomaly_images/` (required) and
`anomaly_images_thresholded/` (optional) at the top; in each, exactly the categories, in each
exactly `test_private` and `test_private_mixed`; in each split folder exactly one file per
private image, named after it (`.tiff` maps, `.png` masks), nothing else; maps single-channel
float16, masks single-channel with values 0 and 255 only. It adds what the server needs but
its checker does not test: each file has its image's size, and every map value is finite.

Expected counts and names come from the tree, so a mimic tree checks like the real one; where
the categories are MVTec AD 2's objects, what the server would still refuse (an object left
out, a count other than the official one) is reported as a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from evalsuite.errors import SubmissionError
from evalsuite.submission.layout import (
    AD2_PRIVATE_COUNTS,
    MAP_SUFFIX,
    MAPS_DIR,
    MASK_SUFFIX,
    MASKS_DIR,
    PRIVATE_SPLITS,
    private_images,
)

SHOWN = 4
"""Names listed in a refusal."""

Expected = dict[str, dict[str, dict[str, tuple[int, int]]]]
"""category -> split -> image stem -> (H, W) of the image."""


@dataclass(frozen=True)
class CheckReport:
    """What a passed check found.

    Attributes:
        maps: anomaly maps checked.
        masks: binary masks checked (0 without `anomaly_images_thresholded/`).
        notes: what the server may still object to (an MVTec AD 2 object left out, ...).
    """

    maps: int
    masks: int
    notes: list[str] = field(default_factory=list)


def expected_from_tree(root: Path, categories: list[str]) -> Expected:
    """The private images of `categories` in the tree at `root`, with their sizes.

    Raises:
        SubmissionError: a private split is missing or empty, or an image is unreadable.
    """
    expected: Expected = {}
    for category in categories:
        expected[category] = {}
        for split, paths in private_images(root, category).items():
            expected[category][split] = {path.stem: _image_size(path) for path in paths}
    return expected


def check_submission(folder: Path, expected: Expected) -> CheckReport:
    """Check the submission at `folder` against the private images `expected`.

    Raises:
        SubmissionError: at the first broken rule, naming the file (relative to `folder`) and
            the rule.
    """
    if not folder.is_dir():
        raise SubmissionError(f"submission folder {folder} does not exist; write it first")
    _entries(folder, folder, {MAPS_DIR}, {MAPS_DIR, MASKS_DIR}, "the top")
    maps = _tree(folder, MAPS_DIR, MAP_SUFFIX, expected)
    masks = _tree(folder, MASKS_DIR, MASK_SUFFIX, expected) if (folder / MASKS_DIR).exists() else 0
    return CheckReport(maps, masks, _notes(expected, masks > 0))


def _tree(folder: Path, top: str, suffix: str, expected: Expected) -> int:
    """Check one of the two trees; the number of files checked."""
    root = folder / top
    _entries(folder, root, set(expected), set(expected), "its categories")
    checked = 0
    for category, splits in sorted(expected.items()):
        _entries(folder, root / category, set(PRIVATE_SPLITS), set(PRIVATE_SPLITS), "its splits")
        for split, images in splits.items():
            where = root / category / split
            names = {f"{stem}{suffix}" for stem in images}
            _folder(folder, where)
            found = sorted(p.name for p in where.iterdir())
            if len(found) != len(names):
                raise SubmissionError(
                    f"{_rel(folder, where)}: expected {len(names)} files (one per image of "
                    f"{category}/{split}), found {len(found)}; write one {suffix} per image"
                )
            _entries(folder, where, names, names, f"its {suffix} files")
            for stem, size in sorted(images.items()):
                path = where / f"{stem}{suffix}"
                if suffix == MAP_SUFFIX:
                    _check_map(folder, path, size)
                else:
                    _check_mask(folder, path, size)
                checked += 1
    return checked


def _entries(folder: Path, where: Path, required: set[str], allowed: set[str], what: str) -> None:
    """`where` holds every `required` name, and only `allowed` ones."""
    _folder(folder, where)
    found = {p.name for p in where.iterdir()}
    missing, extra = sorted(required - found), sorted(found - allowed)
    if extra:
        raise SubmissionError(
            f"{_rel(folder, where)}: superfluous {_names(extra)} beside {what}; the server "
            "accepts nothing else, remove them"
        )
    if missing:
        raise SubmissionError(f"{_rel(folder, where)}: missing {_names(missing)}; write them")


def _folder(folder: Path, where: Path) -> None:
    """`where` is a folder (not a file, not missing)."""
    if not where.is_dir():
        problem = "a file where a folder belongs" if where.exists() else "missing folder"
        raise SubmissionError(f"{_rel(folder, where)}: {problem}; write it as a folder")


def _check_map(folder: Path, path: Path, size: tuple[int, int]) -> None:
    import tifffile

    try:
        amap = tifffile.imread(path)
    except Exception as error:  # tifffile raises many types on a broken file
        raise _broken(folder, path, f"unreadable TIFF ({error})") from error
    if amap.ndim != 2:
        raise _broken(folder, path, f"not a single-channel image (shape {amap.shape})")
    if amap.dtype != np.float16:
        raise _broken(folder, path, f"dtype {amap.dtype}, the server expects float16")
    if amap.shape != size:
        raise _broken(folder, path, f"shape {amap.shape}, its image's size is {size}")
    if not np.isfinite(amap).all():
        raise _broken(folder, path, "holds values that are not finite (nan, or beyond ±65504)")


def _check_mask(folder: Path, path: Path, size: tuple[int, int]) -> None:
    try:
        with Image.open(path) as image:
            mask = np.asarray(image)
    except Exception as error:  # Pillow raises many types on a broken file
        raise _broken(folder, path, f"unreadable PNG ({error})") from error
    if mask.ndim != 2:
        raise _broken(folder, path, f"not a single-channel image (shape {mask.shape})")
    if mask.shape != size:
        raise _broken(folder, path, f"shape {mask.shape}, its image's size is {size}")
    values = set(np.unique(mask).tolist())
    if not values <= {0, 255}:
        odd = sorted(values - {0, 255})[:SHOWN]
        raise _broken(folder, path, f"values {odd} besides 0 (normal) and 255 (anomalous)")


def _image_size(path: Path) -> tuple[int, int]:
    """(H, W) of an image file, from its header."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except Exception as error:  # Pillow raises many types on a broken file
        raise SubmissionError(f"{path}: unreadable image ({error}); restore the file") from error
    return height, width


def _notes(expected: Expected, masks: bool) -> list[str]:
    notes = []
    if not masks:
        notes.append(f"no {MASKS_DIR}/: the server reports no threshold-dependent metric (SegF1)")
    ad2 = [c for c in expected if c in AD2_PRIVATE_COUNTS]
    if ad2:
        missing = sorted(set(AD2_PRIVATE_COUNTS) - set(expected))
        if missing:
            notes.append(f"the server expects all 8 MVTec AD 2 objects; missing: {missing}")
        for category in ad2:
            for split, images in expected[category].items():
                official = AD2_PRIVATE_COUNTS[category]
                if len(images) != official:
                    notes.append(
                        f"{category}/{split} has {len(images)} images, MVTec AD 2 has {official}"
                    )
    return notes


def _broken(folder: Path, path: Path, problem: str) -> SubmissionError:
    return SubmissionError(f"{_rel(folder, path)}: {problem}; write it again")


def _rel(folder: Path, path: Path) -> str:
    return path.relative_to(folder).as_posix() if path != folder else str(folder)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown if len(names) <= SHOWN else f"{shown} and {len(names) - SHOWN} more"
