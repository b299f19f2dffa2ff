"""The folder structure MVTec's evaluation server accepts, and the private images of a tree.

As MVTec's upload checker (`check_and_prepare_data_for_upload.py` of the dataset's public code)
requires:

```
<submission>/anomaly_images/<category>/<split>/<image stem>.tiff              float16, (H, W)
<submission>/anomaly_images_thresholded/<category>/<split>/<image stem>.png   0 or 255, (H, W)
```

for `<split>` in `test_private` and `test_private_mixed` (their images are named `000_regular.png`
... and `000_mixed.png` ...), every category in both folders, nothing else at any level; the
thresholded folder is optional (without it the server reports no threshold-dependent metric).
"""

from __future__ import annotations

from pathlib import Path

from evalsuite.errors import DatasetError, SubmissionError

MAPS_DIR = "anomaly_images"
MASKS_DIR = "anomaly_images_thresholded"
PRIVATE_SPLITS = ("test_private", "test_private_mixed")
MAP_SUFFIX = ".tiff"
MASK_SUFFIX = ".png"
IMAGE_SUFFIX = ".png"
AD2_PRIVATE_COUNTS = {
    "can": 321,
    "fabric": 314,
    "fruit_jelly": 255,
    "rice": 277,
    "sheet_metal": 142,
    "vial": 276,
    "wallplugs": 232,
    "walnuts": 228,
}
"""Images per private split of each MVTec AD 2 object, as MVTec's upload checker expects."""


def private_images(root: Path, category: str) -> dict[str, list[Path]]:
    """The images of each private test split of `category` in the tree at `root`, sorted.

    Args:
        root: the dataset's root (one folder per category).
        category: e.g. `can`.

    Returns:
        split -> the `.png` files of `<root>/<category>/<split>`, sorted by name.

    Raises:
        SubmissionError: a split folder is missing or holds no image, naming it.
    """
    from evalsuite.data.layouts.mvtec_ad2 import private_images as listed

    try:
        found = listed(root, category)
    except DatasetError as error:
        raise SubmissionError(
            f"{error}; the submission needs MVTec AD 2's private test images of {category!r}: "
            "point --data-root at the full MVTec AD 2 tree"
        ) from error
    for split, paths in found.items():
        images = [p for p in paths if p.suffix == IMAGE_SUFFIX]
        if not images:
            folder = root / category / split
            raise SubmissionError(f"{folder} holds no {IMAGE_SUFFIX} image; restore its images")
        found[split] = images
    return found


def tree_categories(root: Path) -> list[str]:
    """The categories of the tree at `root` that have a private test split, sorted."""
    if not root.is_dir():
        raise SubmissionError(f"data root {root} does not exist; pass the MVTec AD 2 tree")
    found = sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and any((p / split).is_dir() for split in PRIVATE_SPLITS)
    )
    if not found:
        raise SubmissionError(
            f"no category of {root} has a test_private or test_private_mixed folder; pass the "
            "MVTec AD 2 tree as --data-root"
        )
    return found
