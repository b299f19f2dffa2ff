"""Writing a synthetic dataset as an MVTec-layout tree, atomically, with its marker.

The tree is written into a hidden staging folder beside `out` and renamed into place once every
image and, last, the marker are written; so a tree with a marker is always complete. A rerun with
the same configuration finds the same marker and returns at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from evalsuite.data.synthetic.config import (
    GENERATOR,
    GENERATOR_VERSION,
    SyntheticConfig,
    defect_counts,
)
from evalsuite.data.synthetic.scenes import render, sample_seed
from evalsuite.data.tree import existing_matches, staged_tree
from evalsuite.errors import DatasetError
from evalsuite.outputs import remove_dead_staging

SYNTHETIC_MARKER = "evalsuite-synthetic.json"
"""Name of the file at the root of every synthetic tree that says it is synthetic."""

NORMAL = "good"


def marker_content(config: SyntheticConfig) -> dict[str, Any]:
    """The marker a tree generated with `config` holds."""
    return {"synthetic": True, "generator": GENERATOR, "version": GENERATOR_VERSION} | (
        config.as_dict()
    )


def read_marker(root: Path) -> dict[str, Any] | None:
    """The synthetic marker of the tree at `root`, or None when it has none.

    Raises:
        DatasetError: the marker exists but is not a JSON object marked synthetic.
    """
    path = Path(root) / SYNTHETIC_MARKER
    if not path.is_file():
        return None
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DatasetError(
            f"synthetic marker {path} is unreadable ({error}); delete the folder {root} and "
            "generate it again"
        ) from error
    if not isinstance(content, dict) or content.get("synthetic") is not True:
        raise DatasetError(
            f'synthetic marker {path} is not a JSON object with "synthetic": true; delete '
            f"the folder {root} and generate it again"
        )
    return content


def generate(out: Path, config: SyntheticConfig) -> Path:
    """Write the synthetic dataset `config` describes as an MVTec-layout tree at `out`.

    Returns:
        The root of the tree, `out`.

    Raises:
        ConfigError: `out` is a file, or a non-empty folder that is not a synthetic tree made
            with the same configuration.
    """
    out = Path(out)
    remove_dead_staging(out.parent, out.name)  # of a generation killed before it cleaned up
    expected = marker_content(config)
    if existing_matches(out, SYNTHETIC_MARKER, expected, "a synthetic tree"):
        return out
    with staged_tree(out, SYNTHETIC_MARKER, expected) as staging:
        for category in config.categories:
            _write_category(staging, category, config)
        text = json.dumps(expected, indent=2, sort_keys=True) + "\n"
        (staging / SYNTHETIC_MARKER).write_text(text, encoding="utf-8")
    return out


def _write_category(root: Path, category: str, config: SyntheticConfig) -> None:
    """Render and write every image (and mask) of one category under `root/category`."""
    for folder, defect, count in _folders(category, config):
        width = max(3, len(str(count - 1)))
        images = root / category / folder / defect
        images.mkdir(parents=True, exist_ok=True)
        masks = root / category / "ground_truth" / defect
        if defect != NORMAL:
            masks.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            seed = sample_seed(config, category, folder, defect, index)
            image, mask = render(category, config, seed, None if defect == NORMAL else defect)
            name = f"{index:0{width}d}"
            _save_png(image, images / f"{name}.png")
            if defect != NORMAL:
                _save_png(mask.astype(np.uint8) * 255, masks / f"{name}_mask.png")


def _folders(category: str, config: SyntheticConfig) -> Iterator[tuple[str, str, int]]:
    """(folder, defect, count) of every non-empty image folder of `category`."""
    plan = [("train", NORMAL, config.n_train), ("test", NORMAL, config.n_test_good)]
    plan += [("test", d, n) for d, n in defect_counts(category, config.n_test_defect).items()]
    yield from ((folder, defect, count) for folder, defect, count in plan if count > 0)


def _save_png(pixels: np.ndarray, path: Path) -> None:
    """Write (H, W) uint8 as an 8-bit grayscale PNG or (H, W, 3) uint8 as RGB."""
    Image.fromarray(pixels).save(path, format="PNG", compress_level=3)
