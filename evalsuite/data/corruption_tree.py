"""Write the corrupted copy of an MVTec-layout tree: one ImageNet-C corruption type at one
severity (`corruption_params`, `corruptions`), every image of train and test (or those a study
reads, `only`, as `shift_tree`), masks unchanged.

The tree is written as MVTec-Shift's (`shift_tree`): staged and renamed into place, on a pool
of processes whose number does not change the bytes, reused when its marker matches. Its marker,
`evalsuite-shift.json`, holds the family (`corruptions`), the type (`factors`), the severity,
the seed and each image's draw (`CorruptionParams.to_dict()`); no image is relabelled.
"""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Collection
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from evalsuite.atomic import write_json
from evalsuite.data.corruption_params import CorruptionParams, draw_corruption
from evalsuite.data.corruptions import apply_corruption
from evalsuite.data.imageio import read_image, write_png
from evalsuite.data.reader import SHIFT_MARKER, SYNTHETIC_MARKER, read_dataset
from evalsuite.data.samples import Sample
from evalsuite.data.shift_family import CORRUPTIONS, check_name, check_severity
from evalsuite.data.shift_tree import chosen, map_samples, subset_key, written
from evalsuite.data.tree import existing_matches, staged_tree
from evalsuite.outputs import check_places, remove_dead_staging
from evalsuite.progress import bar

CORRUPTION_VERSION = "1"
KIND = "a corrupted tree"


def corruption_tree(
    src: Path,
    out: Path,
    corruption: str,
    severity: int,
    seed: int = 0,
    progress: bool = True,
    workers: int = 1,
    only: Collection[str] | None = None,
) -> Path:
    """Write the copy of `src` with `corruption` at `severity` into `out`, one seeded draw per
    image (`draw_corruption(sample id, seed, ...)`), on `workers` processes.

    The same relative paths (hence the same sample ids) are kept, so clean and corrupted images
    pair up; masks are copied byte for byte. A synthetic source stays labelled synthetic.
    Rerunning with the same parameters does nothing. With `only`, just those sample ids'
    images are written and the marker records which (`shift_tree.subset_key`).

    Raises:
        ConfigError: an unknown corruption type or severity; `out` holds something else.

    Returns:
        `out`.
    """
    check_name(CORRUPTIONS, corruption)
    check_severity(CORRUPTIONS, severity)
    src, out = Path(src), Path(out)
    check_places([("--out", out)], [("--src", src)])
    remove_dead_staging(out.parent, out.name)
    dataset = read_dataset(src)
    identity = _identity(src, corruption, severity, seed, only)
    if existing_matches(out, SHIFT_MARKER, identity, KIND):
        return out
    samples = chosen(dataset.samples, only)
    images: dict[str, object] = {}
    with staged_tree(out, SHIFT_MARKER, identity) as staging:
        shown = bar(len(samples), "corrupt", "img", disable=not progress)
        one = partial(_corrupt_one, src, staging, seed, corruption, severity)
        for sample, (params, _) in zip(samples, map_samples(samples, one, workers), strict=True):
            images[sample.id] = params
            shown.update()
        shown.close()
        if (src / SYNTHETIC_MARKER).exists():
            shutil.copyfile(src / SYNTHETIC_MARKER, staging / SYNTHETIC_MARKER)
        marker = {**written(identity), "relabelled": {}, "images": images}
        write_json(staging / SHIFT_MARKER, marker)
    return out


def corruption_tree_written(
    src: Path,
    out: Path,
    corruption: str,
    severity: int,
    seed: int = 0,
    only: Collection[str] | None = None,
) -> bool:
    """Whether `out` already holds the tree `corruption_tree` would write (then it writes
    nothing)."""
    identity = _identity(Path(src), corruption, severity, seed, only)
    return existing_matches(Path(out), SHIFT_MARKER, identity, KIND)


def corrupt_image(image: np.ndarray, params: CorruptionParams) -> np.ndarray:
    """One stored image corrupted as the tree stores it.

    Args:
        image: (H, W, 3) or (H, W) uint8.
        params: its draw.

    Returns:
        the corrupted image, same shape, uint8 (rounded from [0, 1]).
    """
    corrupted = apply_corruption(image.astype(np.float32) / 255.0, params)
    return np.round(corrupted * 255.0).astype(np.uint8)


def draw_for(
    sample_id: str, image: np.ndarray, corruption: str, severity: int, seed: int
) -> CorruptionParams:
    """The draw of one image of the tree (its shorter side scales the constants in pixels)."""
    return draw_corruption(sample_id, seed, corruption, severity, side=min(image.shape[:2]))


def seconds_per_image(sample: Sample, corruption: str, severity: int, seed: int = 0) -> float:
    """Seconds one process takes to read, corrupt and encode `sample`'s image, measured here."""
    started = time.perf_counter()
    image = read_image(sample.path)
    corrupted = corrupt_image(image, draw_for(sample.id, image, corruption, severity, seed))
    Image.fromarray(corrupted).save(io.BytesIO(), format="PNG")
    return time.perf_counter() - started


def _identity(
    src: Path, corruption: str, severity: int, seed: int, only: Collection[str] | None = None
) -> dict[str, object]:
    """What a corrupted tree's marker must hold for the tree to be reused (a full tree's
    holds no `subset`)."""
    identity: dict[str, object] = {
        "version": CORRUPTION_VERSION,
        "family": CORRUPTIONS,
        "factors": corruption,
        "seed": seed,
        "severity": severity,
        "source": str(src.resolve()),
    }
    # `None` matches a marker without the key (a full tree), which is written without it
    identity["subset"] = None if only is None else subset_key(only)
    return identity


def _corrupt_one(
    src: Path, staging: Path, seed: int, corruption: str, severity: int, sample: Sample
) -> tuple[dict[str, object], bool]:
    """Corrupt one image into `staging` and copy its mask; (its draw, False: never relabelled)."""
    image = read_image(sample.path)
    params = draw_for(sample.id, image, corruption, severity, seed)
    write_png(staging / sample.path.relative_to(src), corrupt_image(image, params))
    if sample.mask_path is not None:
        target = staging / sample.mask_path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample.mask_path, target)
    return params.to_dict(), False
