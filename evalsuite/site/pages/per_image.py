"""The "Per-image statistics" page: what it shows, computed once for the page and its
downloads (`evalsuite.site.downloads.per_image_exports`)."""

from __future__ import annotations

from dataclasses import dataclass

from evalsuite.site.pages.study import Page
from evalsuite.site.read.records import Results
from evalsuite.site.views.per_image import (
    ALPHA,
    AUPIMO_RESAMPLES,
    CellStats,
    PairedRow,
    PerImageValues,
    cell_stats,
    paired_rows,
)
from evalsuite.site.views.per_image_findings import per_image_findings, row_anchor
from evalsuite.site.views.rankings import RankingView, ranking_views
from evalsuite.site.views.tables import Grid

PATH = "statistics.html"


@dataclass(frozen=True)
class PerImage:
    """Everything the page and its downloads show."""

    stats: list[CellStats]
    tests: list[PairedRow]
    rankings: list[RankingView]


def per_image(results: Results, grid: Grid) -> PerImage:
    """The per-image statistics of every finished cell."""
    values = PerImageValues(results.source)
    stats = [cell_stats(cell, values) for cell in results.cells if cell.ok]
    by_path = {s.cell.relpath: s for s in stats}
    return PerImage(stats, paired_rows(results, values), ranking_views(results, grid, by_path))


def per_image_page(found: PerImage) -> Page:
    """The page."""
    data = {
        "stats": found.stats,
        "tests": found.tests,
        "findings": per_image_findings(found.tests),
        "anchor": row_anchor,
        "rankings": found.rankings,
        "n_stars": sum(t.star_wilcoxon for t in found.tests),
        "alpha": ALPHA,
        "resamples": AUPIMO_RESAMPLES,
    }
    return Page(PATH, "statistics.html.j2", "Per-image statistics", PATH, data, charts=True)
