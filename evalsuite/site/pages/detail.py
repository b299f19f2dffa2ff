"""Per-cell pages, the list of cells, the failures page and the downloads page."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from evalsuite.site.catalogue import PRINT_FORMATS, PRINT_WIDTHS, Download, Figure
from evalsuite.site.charts.specs import Chart
from evalsuite.site.pages.study import Page
from evalsuite.site.read.records import (
    KINDS,
    METRIC_NAMES,
    METRICS,
    Cell,
    CellKey,
    GroupKey,
    Metric,
    Results,
)
from evalsuite.site.views import figures
from evalsuite.site.views.explorer import explorer_path, has_explorer, presets, row_anchor
from evalsuite.site.views.gallery import StripView, strip_view
from evalsuite.site.views.heatmaps import Recoloured

Rows = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sibling:
    """The same cell under another condition/regime (a link on the detail page)."""

    kind: str
    page: str | None
    current: bool


@dataclass(frozen=True)
class CellDetail:
    """Everything a cell's page shows.

    Attributes:
        cell: the cell.
        fields: (name, value) of its identity.
        metrics: (name shown, Metric) in schema order.
        thresholds: (level, strategy, value, split, params) rows.
        timing: (name, seconds) rows.
        provenance: (name, value) rows.
        config: the resolved configuration as indented JSON text.
        chart: its ROC curves (None for a failed cell).
        strips: its gallery strips by kind.
        siblings: the same cell under each condition/regime.
        scores: (sample id, label, defect, score, its row's id in the explorer) of every test
            image, highest score first.
        explorer: the cell's image explorer ("" without one: a failed cell).
        explorer_views: (title, link) of the explorer's preset views (worst false negatives...).
        compare: (the other cell, link from the site root) of each pair of the Compare page
            it belongs to.
    """

    cell: Cell
    fields: Rows
    metrics: tuple[tuple[str, Metric], ...]
    thresholds: tuple[tuple[str, str, str, str, str], ...]
    timing: Rows
    provenance: Rows
    config: str
    chart: Chart | None
    strips: StripView
    siblings: tuple[Sibling, ...]
    scores: tuple[tuple[str, str, str, str, str], ...]
    explorer: str
    explorer_views: tuple[tuple[str, str], ...]
    compare: tuple[tuple[str, str], ...] = ()


def _fields(cell: Cell) -> Rows:
    g, record = cell.key.group, cell.record
    sweep = f"{g.sweep[0]} = {g.sweep[1]}" if g.sweep else "— (baseline)"
    return (
        ("detector", f"{record['label']} ({record['detector']})"),
        ("scope", g.scope),
        ("condition / regime", g.kind),
        ("threshold from val of", record["config"].get("threshold_condition", "—")),
        ("category", g.category),
        ("sweep", sweep),
        ("seed", str(cell.key.seed)),
        ("status", cell.status),
        ("record", f"cells/{cell.relpath}"),
        ("cell id / fit id", f"{record['id']} / {record['fit_id'] or '—'}"),
    )


def _provenance(cell: Cell) -> Rows:
    p = cell.record["provenance"]
    weights = p["weights"]
    rows = [
        ("evalsuite", f"{p['evalsuite']} (results version {p['code_version']})"),
        ("git commit", p["git_commit"] or "—"),
        ("data", "synthetic" if p["synthetic"] else "real (MVTec layout)"),
        ("dataset fingerprint", p["dataset_fingerprint"]),
        ("weights", f"{weights['source']}: {weights['path'] or '—'}"),
        ("weights SHA-256", weights["sha256"] or "— (random weights)"),
        ("split file", p.get("splits") or "— (not recorded)"),
    ]
    rows += [(name, version) for name, version in sorted(p["versions"].items())]
    return tuple(rows)


def _thresholds(cell: Cell) -> tuple[tuple[str, str, str, str, str], ...]:
    found = cell.record["threshold"] or {}
    rows = []
    for level in ("image", "pixel"):
        t = found.get(level)
        if t is not None:
            params = ", ".join(f"{k} = {v}" for k, v in sorted(t["params"].items())) or "—"
            rows.append((level, t["strategy"], f"{t['value']:.6g}", t["split"], params))
    return tuple(rows)


def _siblings(cell: Cell, index: dict[CellKey, Cell]) -> tuple[Sibling, ...]:
    g = cell.key.group
    found = []
    for kind in KINDS:
        key = CellKey(GroupKey(g.label, g.scope, kind, g.category, g.sweep), cell.key.seed)
        other = index.get(key)
        found.append(Sibling(kind, other.page if other else None, kind == g.kind))
    return tuple(s for s in found if s.page is not None)


def cell_detail(
    cell: Cell,
    index: dict[CellKey, Cell],
    results_dir: Path,
    recoloured: Recoloured,
    compare: tuple[tuple[str, str], ...] = (),
) -> CellDetail:
    """The view model of one cell's page; `compare`: its links to the Compare page."""
    record = cell.record
    scores = sorted(record["scores"] or (), key=lambda s: (-s["score"], s["id"]))
    timing = tuple((name, f"{seconds:.2f} s") for name, seconds in record["timing_s"].items())
    return CellDetail(
        cell=cell,
        fields=_fields(cell),
        metrics=tuple((METRIC_NAMES[m], cell.metrics[m]) for m in METRICS if m in cell.metrics),
        thresholds=_thresholds(cell),
        timing=tuple(sorted(timing)),
        provenance=_provenance(cell),
        config=json.dumps(record["config"], indent=2, sort_keys=True),
        chart=figures.cell_roc(cell),
        strips=strip_view(cell, results_dir, recoloured),
        siblings=_siblings(cell, index),
        scores=tuple(
            (
                s["id"],
                "defective" if s["label"] else "normal",
                s["defect"],
                f"{s['score']:.5g}",
                row_anchor(s["id"]),
            )
            for s in scores
        ),
        explorer=explorer_path(cell) if has_explorer(cell) else "",
        explorer_views=tuple(
            (title, f"{explorer_path(cell)}#{fragment}") for title, fragment in presets(False)
        ),
        compare=compare,
    )


def cell_pages(
    results: Results,
    recoloured: Recoloured,
    compare: Mapping[str, tuple[tuple[str, str], ...]] | None = None,
) -> list[Page]:
    """One page per cell record (`recoloured`: the strips' shared colour scales; `compare`: a
    cell's record path -> its links to the Compare page)."""
    index = {cell.key: cell for cell in results.cells}
    pages = []
    for cell in results.cells:
        links = (compare or {}).get(cell.relpath, ())
        detail = cell_detail(cell, index, results.source, recoloured, links)
        g = cell.key.group
        title = f"{g.label} · {g.scope} · {g.kind} · {g.category}"
        if g.sweep:
            title += f" · {g.sweep[0]}={g.sweep[1]}"
        if results.multi_seed:
            title += f" · seed {cell.key.seed}"
        pages.append(
            Page(cell.page, "cell.html.j2", title, "cells.html", {"detail": detail}, charts=True)
        )
    return pages


@dataclass(frozen=True)
class Listed:
    """A row of the list of cells: a present cell or a missing one.

    Attributes:
        key: the cell's fields.
        status: ok, failed or missing.
        page: its detail page (None when missing).
        auroc: its image AUROC (None when it has none).
        path: its record path under `cells/`.
    """

    key: CellKey
    status: str
    page: str | None
    auroc: float | None
    path: str


def listing_page(results: Results) -> Page:
    """Every cell, present or missing, in the site's order."""
    rows = [
        Listed(c.key, c.status, c.page, c.metrics["image_auroc"].value if c.ok else None, c.relpath)
        for c in results.cells
    ]
    rows += [
        Listed(key, "missing", None, None, key.relpath(results.multi_seed))
        for key in results.missing
    ]
    rows.sort(key=lambda row: row.key.order())
    data = {"rows": rows, "multi_seed": results.multi_seed}
    return Page("cells.html", "cells.html.j2", "Cells", "cells.html", data)


def failures_page(results: Results) -> Page:
    """Failed cells with their errors, missing cells, and failures only the manifest lists."""
    failed_paths = {cell.relpath for cell in results.failed}
    manifest_only = [
        (entry["path"], entry["error"])
        for entry in (results.manifest or {}).get("failed", [])
        if entry["path"] not in failed_paths
    ]
    data = {
        "failed": results.failed,
        "missing": [(key, key.relpath(results.multi_seed)) for key in results.missing],
        "manifest_only": sorted(manifest_only),
        "finished": results.manifest is not None,
    }
    return Page(
        "failures.html", "failures.html.j2", "Failures and missing cells", "failures.html", data
    )


DOWNLOADS = (
    Download(
        "downloads/metrics.csv",
        "metrics.csv",
        "Every metric of every cell (one row per cell and metric; failed and missing cells "
        "as rows without metric), with the bootstrap 95% interval and the reason when a "
        "metric is undefined; path: the cell's record.",
    ),
    Download(
        "downloads/summary.csv",
        "summary.csv",
        "Means over seeds per group of cells and metric: sd, n and the 95% interval.",
    ),
    Download(
        "downloads/headline.tex",
        "headline.tex",
        "The headline table (per_class): detector × category × condition/regime, LaTeX booktabs.",
    ),
    Download(
        "downloads/differences.csv",
        "differences.csv",
        "Every paired difference b − a the site reports (shift − clean, threshold − none, "
        "retrain − none, unified − per_class, swept value − baseline) per metric: both cells' "
        "ids and paths, a, b, delta, the paired 95% bootstrap interval, p, Holm-adjusted p "
        "within its table, significant (the star: Holm-adjusted p < 0.05), the smallest "
        "Holm-adjusted p the resamples allow (significance_possible 0: none can be "
        "significant), images, resamples, seed; fractions 0–1. Comparisons zero by "
        "construction are not tested (empty numbers, a reason).",
    ),
)


def downloads_page(
    headline_tex: str, extra: Sequence[Download] = (), figures: Sequence[Figure] = ()
) -> Page:
    """The downloads page, with the headline LaTeX table shown; `extra`: the study's other
    downloads (the LaTeX tables of its differences, the data files); `figures`: the exported
    figures."""
    data = {
        "downloads": (*DOWNLOADS, *extra),
        "preview": headline_tex,
        "figures": figures,
        "print_widths": PRINT_WIDTHS,
        "print_formats": PRINT_FORMATS,
    }
    return Page("downloads.html", "downloads.html.j2", "Downloads", "downloads.html", data)
