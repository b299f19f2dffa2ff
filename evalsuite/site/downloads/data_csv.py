"""CSV downloads beyond the metrics: the shortcut matrices, ROC points, per-image scores,
thresholds, gallery strips and the published anchor numbers, and the raw records shipped with
the site.

Units: every rate, share, metric and curve point is a fraction in [0, 1] (the pages show %);
scores and thresholds are the detector's own units. Every `path` column is relative to the
site root (the folder of index.html) and names a file the site ships: a cell's record under
`downloads/records/cells/`, a gallery strip under `artifacts/`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

from evalsuite.site.catalogue import Download
from evalsuite.site.read.anchors import ANCHOR_METRICS, ANCHORS
from evalsuite.site.read.records import Cell, Results

RECORDS = "downloads/records"
"""Where the site ships the raw records: `manifest.json`, `cells/...json`, `splits/...json`."""
CELL = ("path", "label", "scope", "condition", "regime", "category", "sweep_param", "sweep_value")
CELL_SEED = (*CELL, "seed")


def csv_text(rows: Sequence[Sequence[object]]) -> str:
    """`rows` as CSV text (the first row is the header; "\\n" line ends)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def record_path(relpath: str) -> str:
    """The site path of a cell record whose path under the results' `cells/` is `relpath`."""
    return f"{RECORDS}/cells/{relpath}"


def _cell_fields(cell: Cell) -> tuple[object, ...]:
    group = cell.key.group
    param, value = group.sweep if group.sweep else ("", "")
    fields = (record_path(cell.relpath), group.label, group.scope, group.condition, group.regime)
    return (*fields, group.category, param, value, cell.key.seed)


def _ok(results: Results) -> Iterator[Cell]:
    return (cell for cell in results.cells if cell.ok)


def roc_points_csv(results: Results) -> str:
    """Every ROC curve point of every ok cell, image and pixel level, in curve order `i`."""
    rows: list[Sequence[object]] = [(*CELL_SEED, "level", "i", "fpr", "tpr")]
    for cell in _ok(results):
        for level in ("image", "pixel"):
            roc = (cell.record["roc"] or {}).get(level)
            if roc is None:
                continue
            for i, (fpr, tpr) in enumerate(zip(roc["fpr"], roc["tpr"], strict=True)):
                rows.append((*_cell_fields(cell), level, i, fpr, tpr))
    return csv_text(rows)


def scores_csv(results: Results) -> str:
    """The image score of every test image of every ok cell (label 1 = defective)."""
    rows: list[Sequence[object]] = [(*CELL_SEED, "sample_id", "label", "defect", "score")]
    for cell in _ok(results):
        for s in cell.record["scores"] or ():
            rows.append((*_cell_fields(cell), s["id"], s["label"], s["defect"], s["score"]))
    return csv_text(rows)


def thresholds_csv(results: Results) -> str:
    """The image and pixel thresholds of every ok cell: strategy, value, split, parameters."""
    rows: list[Sequence[object]] = [(*CELL_SEED, "level", "strategy", "value", "split", "params")]
    for cell in _ok(results):
        for level in ("image", "pixel"):
            found = (cell.record["threshold"] or {}).get(level)
            if found is not None:
                params = json.dumps(found["params"], sort_keys=True)
                what = (level, found["strategy"], found["value"], found["split"], params)
                rows.append((*_cell_fields(cell), *what))
    return csv_text(rows)


def artifacts_csv(results: Results) -> str:
    """Every gallery strip: its cell, kind, test image and the PNG (`path`, under artifacts/)."""
    rows: list[Sequence[object]] = [
        ("path", "record", *CELL_SEED[1:], "kind", "sample_id", "score")
    ]
    for cell in results.cells:
        for a in cell.artifacts:
            fields = _cell_fields(cell)
            score = "" if a.score is None else a.score
            rows.append((a.path, fields[0], *fields[1:], a.kind, a.sample, score))
    return csv_text(rows)


def _shortcuts(results: Results) -> Iterator[tuple[Cell, dict[str, Any]]]:
    """One ok unified cell per (label, condition/regime, seed) with its shortcut matrices
    (every unified cell of a model carries the same ones): the first category's."""
    seen = set()
    for cell in _ok(results):
        group, shortcut = cell.key.group, cell.record["shortcut"]
        key = (group.label, group.kind, cell.key.seed)
        if group.scope == "unified" and shortcut is not None and key not in seen:
            seen.add(key)
            yield cell, shortcut


def _model_fields(cell: Cell) -> tuple[object, ...]:
    group = cell.key.group
    return (record_path(cell.relpath), group.label, group.condition, group.regime, cell.key.seed)


MODEL = ("path", "label", "condition", "regime", "seed")


def threshold_transfer_csv(results: Results) -> str:
    """Rates of each test category's images under each category's threshold (unified model):
    `fpr` on normal images, `tpr` on defective ones; empty where the category lacks them."""
    rows: list[Sequence[object]] = [
        (*MODEL, "rate", "test_category", "threshold_category", "value")
    ]
    for cell, shortcut in _shortcuts(results):
        block = shortcut["threshold_transfer"]
        for rate in ("fpr", "tpr"):
            for a, line in zip(block["categories"], block[rate], strict=True):
                for b, v in zip(block["categories"], line, strict=True):
                    rows.append((*_model_fields(cell), rate, a, b, "" if v is None else v))
    return csv_text(rows)


def nn_provenance_csv(results: Results) -> str:
    """Share of each test category's defect (or normal) patches whose nearest memory-bank patch
    comes from each category, with the number of patches of the row (memory-bank detectors)."""
    rows: list[Sequence[object]] = [
        (*MODEL, "patches", "test_category", "memory_category", "share", "patches_in_row")
    ]
    for cell, shortcut in _shortcuts(results):
        block = shortcut["nn_provenance"]
        if block is None:
            continue
        for patches in ("defect", "normal"):
            counts = block[f"{patches}_patches"]
            for a, line, n in zip(block["categories"], block[patches], counts, strict=True):
                for b, v in zip(block["memory_categories"], line, strict=True):
                    share = "" if v is None else v
                    rows.append((*_model_fields(cell), patches, a, b, share, n))
    return csv_text(rows)


def score_distributions_csv(results: Results) -> str:
    """Histogram counts of normal and defective image scores per category on the model's
    common bins [bin_low, bin_high), with each class's share of its images."""
    rows: list[Sequence[object]] = [
        (*MODEL, "category", "class", "bin", "bin_low", "bin_high", "count", "share")
    ]
    for cell, shortcut in _shortcuts(results):
        block = shortcut["score_distributions"]
        edges = block["bin_edges"]
        for category in block["categories"]:
            entry = block["per_category"][category]
            for name in ("normal", "defective"):
                counts = entry[f"{name}_counts"]
                total = sum(counts)
                for i, count in enumerate(counts):
                    share = count / total if total else ""
                    bounds = (edges[i], edges[i + 1])
                    rows.append((*_model_fields(cell), category, name, i, *bounds, count, share))
    return csv_text(rows)


def score_overlap_csv(results: Results) -> str:
    """Per category of a unified model: the overlap (histogram intersection, 0 = separated)
    and AUROC of its normal vs defective scores."""
    rows: list[Sequence[object]] = [(*MODEL, "category", "overlap", "auroc")]
    for cell, shortcut in _shortcuts(results):
        per_category = shortcut["score_distributions"]["per_category"]
        for category in sorted(per_category):
            entry = per_category[category]
            overlap, auroc = entry.get("overlap"), entry.get("auroc")
            rows.append(
                (
                    *_model_fields(cell),
                    category,
                    "" if overlap is None else overlap,
                    "" if auroc is None else auroc,
                )
            )
    return csv_text(rows)


def anchors_csv() -> str:
    """The published MVTec AD numbers the site shows beside ours, as fractions in [0, 1]
    (the sources print percentages); empty where a source gives no number."""
    rows: list[Sequence[object]] = [
        ("detector", "source", "citation", "scope", "category", "metric", "value")
    ]
    for anchor in ANCHORS:
        for category in sorted(anchor.values):
            for metric in ANCHOR_METRICS:
                value = anchor.values[category][metric]
                fraction = "" if value is None else round(value / 100, 6)
                fields = (anchor.detector, anchor.source, anchor.citation, anchor.scope)
                rows.append((*fields, category, metric, fraction))
    return csv_text(rows)


DOWNLOADS = (
    Download(
        "downloads/roc_points.csv",
        "roc_points.csv",
        "Every ROC curve point (false and true positive rate, fractions) of every cell, image "
        "and pixel level, in curve order.",
    ),
    Download(
        "downloads/scores.csv",
        "scores.csv",
        "The image score of every test image of every cell, with its label (1 = defective) "
        "and defect type.",
    ),
    Download(
        "downloads/thresholds.csv",
        "thresholds.csv",
        "The image and pixel thresholds of every cell: strategy, value (in score units), the "
        "split it was chosen on (val) and its parameters.",
    ),
    Download(
        "downloads/artifacts.csv",
        "artifacts.csv",
        "Every heatmap strip: its cell, kind (top_defect, hardest_normal, miss), test image, "
        "score and PNG file.",
    ),
    Download(
        "downloads/threshold_transfer.csv",
        "threshold_transfer.csv",
        "Threshold transfer of the unified models: FPR (normal images) and TPR (defective "
        "images) of each test category under each category's threshold, fractions.",
    ),
    Download(
        "downloads/nn_provenance.csv",
        "nn_provenance.csv",
        "Nearest-neighbour provenance of the unified memory banks: share of each test "
        "category's defect and normal patches matched to each memory-bank category, with the "
        "number of patches per row.",
    ),
    Download(
        "downloads/score_distributions.csv",
        "score_distributions.csv",
        "Histograms of normal and defective image scores per category on each unified model's "
        "common bins: counts and shares.",
    ),
    Download(
        "downloads/score_overlap.csv",
        "score_overlap.csv",
        "Per category of each unified model: overlap of normal and defective scores "
        "(histogram intersection, 0 = separated) and AUROC.",
    ),
    Download(
        "downloads/anchors.csv",
        "anchors.csv",
        "The published MVTec AD numbers shown beside ours, as fractions, with their sources.",
    ),
    Download(
        f"{RECORDS}/manifest.json",
        "records/",
        "The raw records: manifest.json, cells/ (one JSON record per cell, as the runner "
        "wrote it) and splits/ (the sample ids of train, val and test per seed and category).",
    ),
)
"""The downloads of this module, as the downloads page lists them."""


def data_files(results: Results) -> dict[str, str]:
    """Site path -> text of every CSV of this module (anchors only beside MVTec AD data, as
    on the overview page)."""
    files = {
        "downloads/roc_points.csv": roc_points_csv(results),
        "downloads/scores.csv": scores_csv(results),
        "downloads/thresholds.csv": thresholds_csv(results),
        "downloads/artifacts.csv": artifacts_csv(results),
        "downloads/threshold_transfer.csv": threshold_transfer_csv(results),
        "downloads/nn_provenance.csv": nn_provenance_csv(results),
        "downloads/score_distributions.csv": score_distributions_csv(results),
        "downloads/score_overlap.csv": score_overlap_csv(results),
    }
    if not results.synthetic:
        files["downloads/anchors.csv"] = anchors_csv()
    return files


def data_downloads(results: Results) -> tuple[Download, ...]:
    """The downloads of this module that the site of `results` ships."""
    skip = set()
    if results.synthetic:
        skip.add("downloads/anchors.csv")
    if results.manifest is None:  # the records are shipped, but there is no manifest to link
        skip.add(f"{RECORDS}/manifest.json")
    return tuple(d for d in DOWNLOADS if d.path not in skip)
