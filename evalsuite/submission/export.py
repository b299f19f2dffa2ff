"""`export_submission`: a study's clean models scored on MVTec AD 2's private test images,
written in the server's format, checked, then moved into place all or nothing.

For each category of the study, the model is the one the detector's clean cell was evaluated
with (condition clean, regime none, no sweep; per_class scope when the study has it, else
unified; the lowest seed when there are several). Its maps of every private image are brought
back to the image's size (`geometry`), written as float16 TIFF and, with masks, binarised at
that cell's pixel threshold (chosen on val; a pixel is anomalous when its score reaches it,
compared before the float16 rounding). The tree is written into a staging folder, checked
(`check`), and only then renamed to `out`; `out` must be new or empty (`owned_tree`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from evalsuite.errors import ResultsError, SubmissionError
from evalsuite.owned import owned_tree
from evalsuite.submission.check import CheckReport, check_submission, expected_from_tree
from evalsuite.submission.geometry import to_original_size
from evalsuite.submission.layout import MAP_SUFFIX, MAPS_DIR, MASK_SUFFIX, MASKS_DIR

WHAT = "evalsuite export ad2-submission"


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote.

    Attributes:
        label: the detector exported.
        categories: category -> the clean cell's id its model comes from.
        check: the format check of the written tree.
    """

    label: str
    categories: dict[str, str]
    check: CheckReport


def export_submission(
    results_dir: Path,
    out: Path,
    *,
    detector: str | None = None,
    masks: bool = True,
    data_root: Path | None = None,
    cache_dir: Path | None = None,
    device: str | None = None,
) -> ExportReport:
    """Write the MVTec AD 2 submission of one detector of the study in `results_dir` to `out`.

    Args:
        results_dir: a finished results folder (manifest, cells, fits).
        out: the submission folder to create (new or empty).
        detector: the detector's label; None when the study has only one.
        masks: also write the binary masks (`anomaly_images_thresholded/`).
        data_root: the tree holding the private images; None: the one the manifest names.
        cache_dir: the feature cache (default as `evalsuite run`).
        device: `auto`, `cpu` or `cuda`; None: the study's.

    Raises:
        SubmissionError: no such detector, a category without a usable clean cell, missing
            private images, or a written file breaking a format rule.
        OwnershipError: `out` holds files.
    """
    from evalsuite.config import StudyConfig
    from evalsuite.results import iter_cells, read_manifest
    from evalsuite.runner.guard.places import cache_folder

    manifest = read_manifest(results_dir)
    try:
        config = StudyConfig.model_validate(manifest["config"])
    except ValueError as error:
        raise ResultsError(
            f"{results_dir}/manifest.json: its study configuration no longer loads ({error}); "
            "export with the evalsuite version that ran it"
        ) from error
    root = data_root or Path(manifest["dataset"]["root"])
    _apart(out, {"the data root": root, "the results folder": results_dir})
    records = [record for _, record in iter_cells(results_dir)]
    label = _label(records, detector)
    cells = _clean_cells(records, label, config.data.categories, masks)
    expected = expected_from_tree(root, sorted(cells))  # before any model is loaded
    with owned_tree(out, None, WHAT) as staging:
        from evalsuite.submission.model import Models, private_sample

        models = Models(config, results_dir, cache_folder(cache_dir), device)
        for category, record in sorted(cells.items()):
            model = models.load(record)
            threshold = _pixel_threshold(record) if masks else None
            for split, images in expected[category].items():
                samples = [
                    private_sample(root / category / split / f"{stem}.png", category, split)
                    for stem in images
                ]
                for sample, amap in zip(samples, model.maps(samples), strict=True):
                    full = to_original_size(
                        amap, images[sample.path.stem], model.preprocessing.resize
                    )
                    _write(staging, f"{category}/{split}/{sample.path.stem}", full, threshold)
        check = check_submission(staging, expected)
    return ExportReport(label, {c: str(r["id"]) for c, r in sorted(cells.items())}, check)


def _apart(out: Path, inputs: dict[str, Path]) -> None:
    """Refuse an `out` inside an input or holding one: the export never writes into the data
    tree (its fingerprint would change) or the results folder."""
    mine = out.resolve()
    for what, path in inputs.items():
        theirs = path.resolve()
        if mine.is_relative_to(theirs) or theirs.is_relative_to(mine):
            raise SubmissionError(
                f"--out {out} overlaps {what} {path}; write the submission elsewhere"
            )


def _write(staging: Path, name: str, amap: np.ndarray, threshold: float | None) -> None:
    """Write one map (float16 TIFF) and, with a threshold, its binary mask (PNG, 0/255)."""
    import tifffile

    path = staging / MAPS_DIR / f"{name}{MAP_SUFFIX}"
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, amap.astype(np.float16))
    if threshold is not None:
        mask = np.where(amap >= threshold, 255, 0).astype(np.uint8)
        path = staging / MASKS_DIR / f"{name}{MASK_SUFFIX}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask).save(path)


def _label(records: list[dict[str, Any]], detector: str | None) -> str:
    """The detector label to export: `detector`, or the study's only one."""
    labels = sorted({str(r["label"]) for r in records})
    if detector is None:
        if len(labels) != 1:
            raise SubmissionError(
                f"the study has detectors {labels}; choose one with --detector LABEL"
            )
        return labels[0]
    if detector not in labels:
        raise SubmissionError(f"no detector {detector!r} in the study; its labels: {labels}")
    return detector


def _clean_cells(
    records: list[dict[str, Any]], label: str, categories: tuple[str, ...], masks: bool
) -> dict[str, dict[str, Any]]:
    """category -> the clean cell whose model is exported (see the module's docstring)."""
    clean = [
        r
        for r in records
        if r["label"] == label
        and (r["condition"], r["regime"]) == ("clean", "none")
        and r["sweep"] is None
    ]
    chosen: dict[str, dict[str, Any]] = {}
    for category in categories:
        mine = [r for r in clean if r["category"] == category]
        scopes = {str(r["scope"]) for r in mine}
        scope = "per_class" if "per_class" in scopes else "unified"
        mine = sorted((r for r in mine if r["scope"] == scope), key=lambda r: int(r["seed"]))
        if not mine or mine[0]["status"] != "ok":
            raise SubmissionError(
                f"detector {label!r} has no finished clean cell (clean/none) of {category!r}; "
                "the export needs the study's `clean/none` kind run without failure"
            )
        chosen[category] = mine[0]
        if masks:
            _pixel_threshold(mine[0])
    return chosen


def _pixel_threshold(record: dict[str, Any]) -> float:
    """The pixel threshold the clean cell chose on val."""
    threshold = (record.get("threshold") or {}).get("pixel")
    if not threshold or threshold.get("value") is None:
        raise SubmissionError(
            f"cell {record['id']} has no pixel threshold (a dataset without masks chooses "
            "none); export the maps alone with --no-masks"
        )
    return float(threshold["value"])
