"""Small mimic trees of the MVTec AD 2 and VisA layouts, drawn by the synthetic generator, so
that tests and demos exercise the layout readers offline (`evalsuite data synth --layout`).

Each is written all-or-nothing (`data.tree.staged_tree`) and carries the synthetic marker
(with its `layout`), so it is reported and recorded as synthetic data.

MVTec AD 2 mimic, per category: `train/good` (`n_train`), `validation/good` (a quarter of
`n_train`, at least 2), `test_public/good` (`n_test_good` objects) and `test_public/bad`
(`n_test_defect` objects, masks in `ground_truth/bad`), each test object under every condition
of `CONDITIONS` (`<NNN>_<condition>.png`: one render, so the conditions of an object pair up
pixel for pixel but for the lighting), and `test_private` / `test_private_mixed` (as many
unlabelled objects, normal and defective alternating, one condition each; `_mixed` images get
an exposure and a gradient together).

VisA mimic, per category (its objects): `Data/Images/Normal/<NNNN>.JPG` (`n_train` train plus
`n_test_good` test rows), `Data/Images/Anomaly/<NNN>.JPG` and `Data/Masks/Anomaly/<NNN>.png`
(region label 1 on the defect) for `n_test_defect` test rows, and `split_csv/1cls.csv`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from evalsuite.data.layouts.visa import VISA_SPLIT
from evalsuite.data.samples import Layout
from evalsuite.data.shift import photometric
from evalsuite.data.shift_params import ShiftParams
from evalsuite.data.synthetic.config import DEFECTS, SyntheticConfig
from evalsuite.data.synthetic.scenes import render, sample_seed
from evalsuite.data.synthetic.writer import SYNTHETIC_MARKER, marker_content
from evalsuite.data.tree import existing_matches, staged_tree
from evalsuite.errors import ConfigError
from evalsuite.outputs import remove_dead_staging

IDENTITY = ShiftParams(
    severity=2,
    lighting="regular",
    exposure_stops=0.0,
    contrast=1.0,
    gamma=1.0,
    temperature=0.0,
    blur_sigma=0.0,
    noise_sigma=0.0,
    noise_seed=0,
    gradient=0.0,
    gradient_angle_deg=0.0,
    spot=0.0,
    spot_center=(0.5, 0.5),
    spot_radius=0.3,
    rotation_deg=0.0,
    translation=(0.0, 0.0),
    scale=1.0,
    corners=((0.0, 0.0),) * 4,
)
"""MVTec-Shift's parameters at their identity: the regular image unchanged."""
CONDITIONS: dict[str, dict[str, Any]] = {
    "regular": {},
    "overexposed": {"lighting": "overexposed", "exposure_stops": 1.0},
    "underexposed": {"lighting": "underexposed", "exposure_stops": -1.0},
    "shift_1": {"gradient": 0.3, "gradient_angle_deg": 0.0},
    "shift_2": {"gradient": 0.3, "gradient_angle_deg": 120.0},
    "shift_3": {"gradient": 0.3, "gradient_angle_deg": 240.0},
}
"""The AD 2 mimic's conditions as MVTec-Shift photometric factors at their severity-2 limits:
one stop of exposure up or down, and an illumination gradient of 0.3 from three directions (a
moved light); everything else at its identity."""
MIXED: dict[str, Any] = {"exposure_stops": 0.5, "gradient": 0.3, "gradient_angle_deg": 60.0}
"""The `test_private_mixed` mimic's lighting: half a stop up and a gradient together."""
MIMIC_LAYOUTS: tuple[Layout, ...] = ("mvtec_ad2", "visa")


def write_mimic(out: Path, layout: Layout, config: SyntheticConfig) -> Path:
    """Write the mimic tree of `layout` drawn with `config` at `out` (nothing when `out`
    already holds it).

    Raises:
        ConfigError: an unknown layout, or `out` is a file or a folder holding something else.
    """
    if layout not in MIMIC_LAYOUTS:
        raise ConfigError(f"--layout {layout}: mimic trees exist for {', '.join(MIMIC_LAYOUTS)}")
    out = Path(out)
    remove_dead_staging(out.parent, out.name)
    expected = {**marker_content(config), "layout": layout}
    if existing_matches(out, SYNTHETIC_MARKER, expected, f"a {layout} mimic tree"):
        return out
    with staged_tree(out, SYNTHETIC_MARKER, expected) as staging:
        if layout == "mvtec_ad2":
            for category in config.categories:
                _write_ad2(staging / category, category, config)
        else:
            _write_visa(staging, config)
        text = json.dumps(expected, indent=2, sort_keys=True) + "\n"
        (staging / SYNTHETIC_MARKER).write_text(text, encoding="utf-8")
    return out


def lit(image: np.ndarray, changes: dict[str, Any]) -> np.ndarray:
    """`image` ((H, W[, 3]) uint8) under MVTec-Shift's photometric `changes` (no warp)."""
    if not changes:
        return image
    params = dataclasses.replace(IDENTITY, **changes)
    shifted = photometric(image.astype(np.float32) / 255.0, params)
    return np.round(shifted * 255.0).astype(np.uint8)


def _draw(
    config: SyntheticConfig, category: str, folder: str, index: int, defect: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """One render: (H, W[, 3]) uint8 image and (H, W) bool mask."""
    seed = sample_seed(config, category, folder, defect or "good", index)
    return render(category, config, seed, defect)


def _defect(category: str, index: int) -> str:
    """The defect type of the `index`-th defective object (the category's types in turn)."""
    types = DEFECTS[category]
    return types[index % len(types)]


def _write_ad2(base: Path, category: str, config: SyntheticConfig) -> None:
    """One MVTec AD 2 mimic category under `base`."""
    for split, count in (("train", config.n_train), ("validation", max(2, config.n_train // 4))):
        for index in range(count):
            image, _ = _draw(config, category, split, index, None)
            _png(base / split / "good" / f"{index:03d}_regular.png", image)
    for label, count in (("good", config.n_test_good), ("bad", config.n_test_defect)):
        for index in range(count):
            defect = _defect(category, index) if label == "bad" else None
            image, mask = _draw(config, category, f"test_public/{label}", index, defect)
            for condition, changes in CONDITIONS.items():
                stem = f"{index:03d}_{condition}"
                _png(base / "test_public" / label / f"{stem}.png", lit(image, changes))
                if defect is not None:
                    masks = base / "test_public" / "ground_truth" / "bad"
                    _png(masks / f"{stem}_mask.png", mask.astype(np.uint8) * 255)
    names = list(CONDITIONS)
    for split in ("test_private", "test_private_mixed"):
        (base / split).mkdir(parents=True, exist_ok=True)
        for index, defect in enumerate(_alternating(category, config)):
            image, _ = _draw(config, category, split, index, defect)
            if split == "test_private":
                condition = names[index % len(names)]
                name, changes = f"{index:03d}_{condition}", CONDITIONS[condition]
            else:
                name, changes = f"{index:03d}_mixed", MIXED
            _png(base / split / f"{name}.png", lit(image, changes))


def _alternating(category: str, config: SyntheticConfig) -> Iterator[str | None]:
    """The private objects: normal (None) and defective (their type) in turn, then the rest."""
    good, bad = config.n_test_good, config.n_test_defect
    order = [None, "bad"] * min(good, bad) + [None] * (good - bad) + ["bad"] * (bad - good)
    defective = 0
    for kind in order:
        if kind is None:
            yield None
        else:
            yield _defect(category, defective)
            defective += 1


def _write_visa(root: Path, config: SyntheticConfig) -> None:
    """Every VisA mimic object under `root`, and the split CSV."""
    rows: list[list[str]] = []
    for category in config.categories:
        images = Path(category) / "Data" / "Images"
        for index in range(config.n_train + config.n_test_good):
            image, _ = _draw(config, category, "Normal", index, None)
            relative = images / "Normal" / f"{index:04d}.JPG"
            _jpeg(root / relative, image)
            split = "train" if index < config.n_train else "test"
            rows.append([category, split, "normal", relative.as_posix(), ""])
        for index in range(config.n_test_defect):
            image, mask = _draw(config, category, "Anomaly", index, _defect(category, index))
            relative = images / "Anomaly" / f"{index:03d}.JPG"
            mask_path = Path(category) / "Data" / "Masks" / "Anomaly" / f"{index:03d}.png"
            _jpeg(root / relative, image)
            _png(root / mask_path, mask.astype(np.uint8))  # region label 1, as VisA's masks
            rows.append([category, "test", "anomaly", relative.as_posix(), mask_path.as_posix()])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["object", "split", "label", "image", "mask"])
    writer.writerows(rows)
    (root / VISA_SPLIT).parent.mkdir(parents=True, exist_ok=True)
    (root / VISA_SPLIT).write_text(buffer.getvalue(), encoding="utf-8")


def _png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="PNG", compress_level=3)


def _jpeg(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="JPEG", quality=95)
