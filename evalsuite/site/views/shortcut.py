"""The identical-shortcut views of the unified scope: threshold transfer, nearest-neighbour
provenance and per-category score distributions, from the records' `shortcut` field.

Every unified cell of one (detector, kind, seed) carries the same matrices (they span all
categories); the site shows those of the lowest seed. See `evalsuite.evaluation.shortcut`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evalsuite.site.charts.shortcut import histograms, matrices
from evalsuite.site.charts.specs import Chart, Rows
from evalsuite.site.read.records import Results
from evalsuite.site.views.tables import Grid


@dataclass(frozen=True)
class Overlap:
    """How far one category's normal and defective scores overlap (unified model).

    Attributes:
        kind, category: where.
        overlap: histogram intersection in [0, 1] (0 = separated).
        auroc: normal vs defective within the category.
    """

    kind: str
    category: str
    overlap: float | None
    auroc: float | None


@dataclass(frozen=True)
class ShortcutView:
    """One detector's shortcut views.

    Attributes:
        label: the detector.
        seed: the seed the matrices come from (None when no cell has them).
        transfer, provenance, distributions: the charts (None when the data is absent;
            provenance needs a memory bank, i.e. PatchCore; its defect patches need masks).
        overlaps: the distributions' overlap per kind and category.
    """

    label: str
    seed: int | None
    transfer: Chart | None
    provenance: Chart | None
    distributions: Chart | None
    overlaps: tuple[Overlap, ...]


def _sources(results: Results, label: str, kinds: Sequence[str]) -> dict[str, dict[str, Any]]:
    """kind -> shortcut of the lowest-seed ok unified baseline cell that has one."""
    found: dict[str, tuple[tuple[int, str], dict[str, Any]]] = {}
    for cell in results.cells:
        group = cell.key.group
        shortcut = cell.record["shortcut"]
        if group.label != label or group.scope != "unified" or group.sweep or shortcut is None:
            continue
        rank = (cell.key.seed, group.category)
        if group.kind in kinds and (group.kind not in found or rank < found[group.kind][0]):
            found[group.kind] = (rank, shortcut)
    return {kind: found[kind][1] for kind in kinds if kind in found}


def _matrix_rows(
    shortcut: dict[str, Any], kind: str, panels: Sequence[tuple[str, str, str]]
) -> Rows:
    rows: Rows = []
    for key, field, panel in panels:
        block = shortcut[key]
        if block is None:
            continue
        columns = block["memory_categories"] if key == "nn_provenance" else block["categories"]
        for a, line in zip(block["categories"], block[field], strict=True):
            for b, v in zip(columns, line or [None] * len(columns), strict=True):
                text = "n/a" if v is None else f"{100 * v:.0f}"
                rows.append({"row": panel, "col": kind, "a": a, "b": b, "v": v, "text": text})
    return rows


def _histogram_rows(shortcut: dict[str, Any], kind: str) -> Rows:
    block = shortcut["score_distributions"]
    edges = block["bin_edges"]
    rows: Rows = []
    for category in block["categories"]:
        entry = block["per_category"][category]
        for label, counts in (
            ("normal", entry["normal_counts"]),
            ("defective", entry["defective_counts"]),
        ):
            total = sum(counts)
            for i, count in enumerate(counts):
                if total and count:
                    rows.append(
                        {
                            "row": kind,
                            "col": category,
                            "label": label,
                            "x0": edges[i],
                            "x1": edges[i + 1],
                            "share": count / total,
                        }
                    )
    return rows


TRANSFER = (("threshold_transfer", "fpr", "FPR"), ("threshold_transfer", "tpr", "TPR"))
PROVENANCE = (
    ("nn_provenance", "defect", "defect"),
    ("nn_provenance", "normal", "normal"),
)


def shortcut_view(results: Results, grid: Grid, label: str) -> ShortcutView:
    """The shortcut charts and overlap table of one detector."""
    sources = _sources(results, label, grid.kinds)
    kinds = list(sources)
    seeds = [
        c.key.seed
        for c in results.cells
        if c.key.group.label == label and c.key.group.scope == "unified" and c.record["shortcut"]
    ]
    transfer = [r for k in kinds for r in _matrix_rows(sources[k], k, TRANSFER)]
    provenance = [r for k in kinds for r in _matrix_rows(sources[k], k, PROVENANCE)]
    hist = [r for k in kinds for r in _histogram_rows(sources[k], k)]
    overlaps = tuple(
        Overlap(k, c, entry.get("overlap"), entry.get("auroc"))
        for k in kinds
        for c, entry in sorted(sources[k]["score_distributions"]["per_category"].items())
    )
    return ShortcutView(
        label=label,
        seed=min(seeds) if seeds else None,
        transfer=_transfer_chart(transfer, grid, kinds),
        provenance=_provenance_chart(provenance, grid, kinds),
        distributions=_histogram_chart(hist, grid, kinds),
        overlaps=overlaps,
    )


def _transfer_chart(rows: Rows, grid: Grid, kinds: Sequence[str]) -> Chart | None:
    if not rows:
        return None
    spec = matrices(
        rows,
        axis_order=grid.categories,
        columns=kinds,
        panels=["FPR", "TPR"],
        x_title="threshold of category",
        y_title="test images of category",
    )
    return Chart(
        "Threshold transfer",
        "Rate (%) on the row category's test images with the column category's threshold: FPR "
        "on normal images, TPR on defective ones. The diagonal is each category's own.",
        spec,
    )


def _provenance_chart(rows: Rows, grid: Grid, kinds: Sequence[str]) -> Chart | None:
    """The defect and normal matrices; without masks (no defect patch known) only normal."""
    with_masks = any(r["row"] == "defect" and r["v"] is not None for r in rows)
    rows = rows if with_masks else [r for r in rows if r["row"] == "normal"]
    if not rows:
        return None
    spec = matrices(
        rows,
        axis_order=grid.categories,
        columns=kinds,
        panels=["defect", "normal"] if with_masks else ["normal"],
        x_title="memory-bank category of the nearest neighbour",
        y_title="test patches of category",
    )
    what = (
        "Share (%) of test patches (defect: patches of ground-truth defects; normal: patches of "
        "normal images) whose nearest memory-bank patch comes from each category. A defect "
        "patch matched to another category's normal patch is the memory-bank analogue of the "
        "identical shortcut."
        if with_masks
        else "Share (%) of the patches of normal test images whose nearest memory-bank patch "
        "comes from each category. The data has no ground-truth masks, so defect patches are "
        "unknown and only normal images are shown."
    )
    return Chart("Nearest-neighbour provenance", what, spec)


def _histogram_chart(rows: Rows, grid: Grid, kinds: Sequence[str]) -> Chart | None:
    if not rows:
        return None
    spec = histograms(rows, columns=grid.categories, panels=kinds)
    return Chart(
        "Score distributions",
        "Image scores of normal and defective test images per category, on bins common to all "
        "categories of one model. Rows: condition/regime.",
        spec,
    )
