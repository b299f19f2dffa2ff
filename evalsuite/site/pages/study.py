"""The pages of the site as view models: one `Page` per HTML file, with its template and the
objects the template shows. Nothing here formats HTML.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evalsuite.site.charts.specs import Chart
from evalsuite.site.read.anchors import ANCHOR_METRICS, WORKS_CITED, anchors_for
from evalsuite.site.read.records import METRIC_NAMES, GroupKey, Results
from evalsuite.site.views import figures
from evalsuite.site.views.difference_rows import DIFF_METRICS, DiffTable, paired_intervals
from evalsuite.site.views.findings import FindingBlock, findings
from evalsuite.site.views.gallery import GalleryPage, gallery_pages
from evalsuite.site.views.heatmaps import Recoloured
from evalsuite.site.views.means import (
    CategoryMeans,
    drop_with_means,
    gap_with_means,
    regime_with_means,
    sweep_with_means,
    with_mean_rows,
)
from evalsuite.site.views.runinfo import run_info
from evalsuite.site.views.shortcut import shortcut_view
from evalsuite.site.views.stats import summarise
from evalsuite.site.views.sweeps import sweep_views
from evalsuite.site.views.tables import (
    HEADLINE_METRICS,
    REGIME_METRICS,
    SHIFT_REGIMES,
    Grid,
    drop_rows,
    gap_rows,
    metric_rows,
    regime_rows,
)

NAV = (
    ("index.html", "Overview"),
    ("shift.html", "Shift & regimes"),
    ("roc.html", "ROC curves"),
    ("galleries.html", "Heatmaps"),
    ("unified.html", "Unified"),
    ("hyperparameters.html", "Hyperparameters"),
    ("statistics.html", "Per-image statistics"),
    ("cells.html", "Cells"),
    ("failures.html", "Failures"),
    ("downloads.html", "Downloads"),
)
"""The navigation bar: (page, title)."""


def titles(metrics: tuple[str, ...]) -> list[str]:
    """How the site names `metrics`."""
    return [METRIC_NAMES[m] for m in metrics]


@dataclass(frozen=True)
class Page:
    """One HTML file of the site.

    Attributes:
        path: its path in the site, e.g. "index.html" or "cells/x.html".
        template: the Jinja template that renders it.
        title: the page title.
        nav: the NAV entry it belongs to.
        data: the objects its template shows (view models, by name).
        charts: whether it holds charts (then it loads the vendored Vega scripts).
    """

    path: str
    template: str
    title: str
    nav: str
    data: dict[str, Any] = field(default_factory=dict)
    charts: bool = False

    @property
    def root(self) -> str:
        """The relative path from the page to the site root ("" or "../")."""
        return "../" * self.path.count("/")


@dataclass(frozen=True)
class AnchorRow:
    """A row of the published-anchors table: ours (clean/none) or a published source.

    Attributes:
        category: the category.
        name: "ours: <label>" or the published source.
        scope: per_class or unified.
        citation: where the published numbers come from ("" for ours).
        ours: True for our row.
        values: percentages per ANCHOR_METRICS (None where not given).
        cis: our 95% intervals in percent (None for published rows).
        first_of_category: the first row of its category.
        label: our detector label ("" for a published row).
    """

    category: str
    name: str
    scope: str
    citation: str
    ours: bool
    values: tuple[float | None, ...]
    cis: tuple[tuple[float, float] | None, ...]
    first_of_category: bool
    label: str = ""


def anchor_rows(results: Results, grid: Grid) -> list[AnchorRow]:
    """Our clean/none numbers beside the published ones (empty for synthetic data)."""
    if results.synthetic:
        return []
    groups = results.groups()
    rows: list[AnchorRow] = []
    for category in grid.categories:
        for label in grid.labels:
            published = anchors_for(grid.detectors[label], category)
            if not published:
                continue
            for scope in grid.scopes:
                cells = groups.get(GroupKey(label, scope, "clean/none", category, None), [])
                summaries = [summarise(cells, m) for m in ANCHOR_METRICS]
                values = tuple(None if s.mean is None else 100 * s.mean for s in summaries)
                cis = tuple(
                    None if s.ci is None else (100 * s.ci[0], 100 * s.ci[1]) for s in summaries
                )
                first = not rows or rows[-1].category != category
                rows.append(
                    AnchorRow(
                        category, f"ours: {label}", scope, "", True, values, cis, first, label
                    )
                )
            for anchor in published:
                values = tuple(anchor.values[category][m] for m in ANCHOR_METRICS)
                nones = (None,) * len(ANCHOR_METRICS)
                rows.append(
                    AnchorRow(
                        category,
                        anchor.source,
                        anchor.scope,
                        anchor.citation,
                        False,
                        values,
                        nones,
                        False,
                    )
                )
    return rows


def main_pages(
    results: Results,
    grid: Grid,
    paired: Sequence[DiffTable] = (),
    means: CategoryMeans | None = None,
    more_findings: Sequence[FindingBlock] = (),
) -> list[Page]:
    """Overview, shift, ROC, unified and hyperparameter pages; `paired`: the study's paired
    differences (`differences.difference_tables`), shown on the pages they belong to; `means`:
    the tables' means over categories (made here when not given); `more_findings`: other
    pages' findings the overview sums up after the differences' (the per-image tests')."""
    means = means or CategoryMeans(results, grid.categories)
    shift_tables = [t for t in paired if t.family in ("shift", "threshold", "retrain")]
    unified_tables = [t for t in paired if t.family == "unified"]
    sweep_tables = [t for t in paired if t.family.startswith("sweep:")]
    headline = metric_rows(results, grid, "per_class", HEADLINE_METRICS, grid.kinds)
    anchors = anchor_rows(results, grid)
    index = Page(
        "index.html",
        "index.html.j2",
        "Overview",
        "index.html",
        {
            "run": run_info(results),
            "labels": grid.labels,
            "categories": grid.categories,
            "headline": with_mean_rows(headline, means, HEADLINE_METRICS),
            "metric_titles": titles(HEADLINE_METRICS),
            "overview": figures.overview(headline, grid),
            "anchors": anchors,
            "anchor_titles": titles(ANCHOR_METRICS),
            "works_cited": WORKS_CITED if anchors else (),
            "findings": findings(shift_tables, "shift.html")
            + findings(unified_tables, "unified.html")
            + findings(sweep_tables, "hyperparameters.html")
            + list(more_findings),
        },
        charts=True,
    )
    drops = drop_rows(results, grid)
    shift = Page(
        "shift.html",
        "shift.html.j2",
        "Shift and regimes",
        "shift.html",
        {
            "drops": drop_with_means(drops, means),
            "drop_chart": figures.drop(
                drops, grid, paired_intervals([t for t in paired if t.family == "shift"])
            ),
            "metric_titles": titles(HEADLINE_METRICS),
            "regimes": regime_with_means(regime_rows(results, grid), means),
            "regime_titles": titles(REGIME_METRICS),
            "shift_regimes": SHIFT_REGIMES,
            "shift_kinds": [f"shift/{regime}" for regime in SHIFT_REGIMES],
            "regime_chart": figures.regimes(results, grid),
            "paired": shift_tables,
            "paired_titles": titles(DIFF_METRICS),
            "findings": findings(shift_tables, "shift.html"),
        },
        charts=True,
    )
    return [
        index,
        shift,
        roc_page(results, grid),
        unified_page(results, grid, unified_tables, means),
        sweeps_page(results, grid, sweep_tables, means),
    ]


def roc_page(results: Results, grid: Grid) -> Page:
    """Image- and pixel-level ROC curves per detector and scope."""
    charts: list[Chart] = []
    for label in grid.labels:
        for scope in grid.scopes:
            chart = figures.roc(results, grid, label, scope)
            if chart is not None:
                charts.append(chart)
    return Page("roc.html", "roc.html.j2", "ROC curves", "roc.html", {"rocs": charts}, charts=True)


def unified_page(
    results: Results,
    grid: Grid,
    paired: Sequence[DiffTable] = (),
    means: CategoryMeans | None = None,
) -> Page:
    """per_class vs unified gap (with its means over categories), shortcut matrices and score
    distributions."""
    means = means or CategoryMeans(results, grid.categories)
    has_unified = "unified" in grid.scopes
    gaps = gap_rows(results, grid) if has_unified and "per_class" in grid.scopes else []
    views = [shortcut_view(results, grid, label) for label in grid.labels] if has_unified else []
    data = {
        "has_unified": has_unified,
        "gaps": gap_with_means(gaps, means),
        "gap_chart": figures.gap(gaps, grid, paired_intervals(paired)) if gaps else None,
        "metric_titles": titles(HEADLINE_METRICS),
        "shortcuts": views,
        "paired": paired,
        "paired_titles": titles(DIFF_METRICS),
        "findings": findings(paired, "unified.html"),
    }
    return Page(
        "unified.html", "unified.html.j2", "Unified model", "unified.html", data, charts=True
    )


def sweeps_page(
    results: Results,
    grid: Grid,
    paired: Sequence[DiffTable] = (),
    means: CategoryMeans | None = None,
) -> Page:
    """Metric vs swept value for each sweep (its table with the means over categories)."""
    means = means or CategoryMeans(results, grid.categories)
    views = sweep_views(results, grid)
    data = {
        "sweeps": views,
        "sweep_tables": [sweep_with_means(view, means) for view in views],
        "metric_titles": titles(HEADLINE_METRICS),
        "paired": paired,
        "paired_titles": titles(DIFF_METRICS),
        "findings": findings(paired, "hyperparameters.html"),
    }
    return Page(
        "hyperparameters.html",
        "hyperparameters.html.j2",
        "Hyperparameters",
        "hyperparameters.html",
        data,
        charts=True,
    )


def gallery_index(results: Results, grid: Grid, recoloured: Recoloured) -> list[Page]:
    """The galleries' index page and one page per detector and scope."""
    galleries: list[GalleryPage] = gallery_pages(results, grid.labels, grid.scopes, recoloured)
    pages = [
        Page(
            "galleries.html",
            "galleries.html.j2",
            "Heatmap galleries",
            "galleries.html",
            {"galleries": galleries},
        )
    ]
    for gallery in galleries:
        title = f"Heatmaps: {gallery.label} · {gallery.scope}"
        pages.append(
            Page(
                gallery.path,
                "gallery.html.j2",
                title,
                "galleries.html",
                {"gallery": gallery, "multi_seed": results.multi_seed},
            )
        )
    return pages
