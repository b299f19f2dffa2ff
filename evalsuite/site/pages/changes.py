"""The Changes page (`site --baseline DIR`): what moved since a baseline run, regressions first,
each cell linking to its page here and to the baseline's page of it; the baseline's pages of the
cells that changed; the one-line summary on the index; the diff as CSV and JSON downloads.

The comparison is `evalsuite.results.diff` (the same as `evalsuite diff BASE NEW`).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from evalsuite.results.diff import CellDiff, RunDiff, diff_runs
from evalsuite.results.diff_report import CSV_COLUMNS, csv_rows, diff_json, summary_line
from evalsuite.site.catalogue import Download
from evalsuite.site.pages import detail
from evalsuite.site.pages.study import Page
from evalsuite.site.read.load import load_results
from evalsuite.site.read.records import Results, cell_page
from evalsuite.site.views.gallery import StripView
from evalsuite.site.views.heatmaps import Recoloured

BASELINE_DIR = "baseline"
"""The site folder holding the baseline's pages of the changed cells."""
CHANGES_CSV = "downloads/changes.csv"
CHANGES_JSON = "downloads/changes.json"
DOWNLOADS = (
    Download(
        CHANGES_CSV,
        "changes.csv",
        "This run against its baseline (the Changes page): one row per cell and headline metric "
        "with both values, the delta, its paired 95% interval, p-value and verdict, and what "
        "changed in the cell's provenance; one row per added, removed or failed cell.",
    ),
    Download(
        CHANGES_JSON,
        "changes.json",
        "The same comparison as data, as `evalsuite diff --json` writes it.",
    ),
)


@dataclass(frozen=True)
class ChangeRow:
    """A cell of the Changes page.

    Attributes:
        diff: the cell as `evalsuite diff` sees it.
        page: its page in this site (None when the new run lacks it).
        base_page: the baseline's page of it (None when the baseline lacks it).
    """

    diff: CellDiff
    page: str | None
    base_page: str | None


@dataclass(frozen=True)
class Changes:
    """What the site shows of a baseline comparison: the page, the baseline's cell pages, the
    index's summary line and the download files."""

    pages: list[Page]
    summary: str
    files: dict[str, bytes]
    downloads: tuple[Download, ...]


def changes(results: Results, baseline: Path) -> Changes:
    """Compare `results` with the results folder `baseline`.

    Raises:
        ResultsError: the baseline folder is missing or holds a corrupt record.
    """
    base = load_results(baseline)
    run_diff = diff_runs(baseline, results.source)
    rows = [
        ChangeRow(
            cell,
            None if cell.new_path is None else cell_page(str(cell.new_path)),
            None if cell.base_path is None else f"{BASELINE_DIR}/{cell_page(str(cell.base_path))}",
        )
        for cell in run_diff.cells
    ]
    since = _when(run_diff.base_created) if run_diff.base_created else str(baseline)
    summary = index_line(run_diff, since)
    data = {
        "rows": [row for row in rows if row.diff.status != "unchanged"],
        "unchanged": run_diff.count("unchanged"),
        "counts": summary_line(run_diff),
        "since": since,
        "min_delta": run_diff.min_delta,
        "downloads": (CHANGES_CSV, CHANGES_JSON),
    }
    page = Page("changes.html", "changes.html.j2", f"Changes since {since}", "changes.html", data)
    changed = {str(row.diff.base_path) for row in rows if row.diff.status != "unchanged"}
    files = {
        CHANGES_CSV: _csv(run_diff),
        CHANGES_JSON: json.dumps(diff_json(run_diff), indent=2, sort_keys=True, allow_nan=False)
        + "\n",
    }
    return Changes(
        [page, *_baseline_pages(base, changed)],
        summary,
        {path: text.encode("utf-8") for path, text in files.items()},
        DOWNLOADS,
    )


def index_line(run_diff: RunDiff, since: str) -> str:
    """e.g. "3 cells regressed since 2026-12-02T02:17:00+00:00 (1 newly failed, 2 improved)"."""
    others = [
        f"{run_diff.count(status)} {status.replace('_', ' ')}"
        for status in ("newly_failed", "improved", "newly_fixed", "added", "removed")
        if run_diff.count(status)
    ]
    tail = f" ({', '.join(others)})" if others else ""
    regressed = run_diff.count("regressed")
    return f"{regressed} cell{'' if regressed == 1 else 's'} regressed since {since}{tail}"


def _when(created: str) -> str:
    """A manifest's `created` as e.g. "2026-12-02 02:17 UTC"."""
    return datetime.fromisoformat(created).strftime("%Y-%m-%d %H:%M %Z").strip()


def _csv(run_diff: RunDiff) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(run_diff))
    return buffer.getvalue()


def _baseline_pages(base: Results, relpaths: set[str]) -> list[Page]:
    """The baseline's pages of the cells at `relpaths`, under BASELINE_DIR; without heatmap
    strips (the baseline's images are not copied), image explorer or links to other
    conditions."""
    pages = []
    for page in detail.cell_pages(base, Recoloured(files={}, scales={})):
        cell = page.data["detail"].cell
        if cell.relpath not in relpaths:
            continue
        no_strips = StripView(groups=(), panels=(), scale=None)
        shown = dataclasses.replace(
            page.data["detail"], strips=no_strips, siblings=(), explorer="", explorer_views=()
        )
        pages.append(
            Page(
                f"{BASELINE_DIR}/{page.path}",
                page.template,
                f"baseline · {page.title}",
                "changes.html",
                {"detail": shown},
                charts=page.charts,
            )
        )
    return pages
