"""Downloads: every metric as CSV, the means over seeds as CSV (LaTeX: `downloads.latex`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from evalsuite.site.downloads.data_csv import record_path
from evalsuite.site.read.records import METRICS, GroupKey, Results
from evalsuite.site.views.means import CategoryMeans
from evalsuite.site.views.stats import summarise
from evalsuite.site.views.tables import MEAN, categoryless

CELL_FIELDS = (
    "path",
    "id",
    "detector",
    "label",
    "scope",
    "condition",
    "regime",
    "category",
    "sweep_param",
    "sweep_value",
    "seed",
    "status",
)


def _text(rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()


def _cell_fields(
    path: str, cell_id: str, detector: str, group: GroupKey, seed: int, status: str
) -> tuple[object, ...]:
    param, value = group.sweep if group.sweep else ("", "")
    fields = (path, cell_id, detector, group.label, group.scope, group.condition, group.regime)
    return (*fields, group.category, param, value, seed, status)


def metrics_csv(results: Results) -> str:
    """One row per cell and metric (a failed or missing cell: one row, without metric); `path`
    is the shipped record (site-relative), empty for a missing cell."""
    header = (*CELL_FIELDS, "metric", "value", "ci95_low", "ci95_high", "reason")
    rows: list[Sequence[object]] = [header]
    for cell in results.cells:
        group = cell.key.group
        fields = _cell_fields(
            record_path(cell.relpath),
            cell.record["id"],
            cell.detector,
            group,
            cell.key.seed,
            cell.status,
        )
        if not cell.ok:
            rows.append((*fields, "", "", "", "", cell.record["error"]["message"]))
            continue
        for name in METRICS:
            metric = cell.metrics[name]
            low, high = metric.ci if metric.ci else ("", "")
            rows.append((*fields, name, _number(metric.value), low, high, metric.reason or ""))
    for key in results.missing:
        fields = _cell_fields("", "", "", key.group, key.seed, "missing")  # no record to ship
        rows.append((*fields, "", "", "", "", ""))
    return _text(rows)


def summary_csv(results: Results, means: CategoryMeans | None = None) -> str:
    """Means over seeds per group and metric, with sd, n and the 95% interval; then the means
    over categories (category "mean", interval "categories"; `views.means`), when `means`."""
    header = ("label", "scope", "condition", "regime", "category", "sweep_param", "sweep_value")
    rows: list[Sequence[object]] = [
        (*header, "metric", "mean", "sd", "n", "ci95_low", "ci95_high", "interval", "reason")
    ]
    for group, cells in results.groups().items():
        param, value = group.sweep if group.sweep else ("", "")
        fields = (group.label, group.scope, group.condition, group.regime, group.category)
        for name in METRICS:
            s = summarise(cells, name)
            low, high = s.ci if s.ci else ("", "")
            numbers = (_number(s.mean), _number(s.sd), s.n, low, high)
            rows.append((*fields, param, value, name, *numbers, s.interval or "", s.reason or ""))
    if means is not None:
        rows += _mean_rows(results, means)
    return _text(rows)


def _mean_rows(results: Results, means: CategoryMeans) -> list[Sequence[object]]:
    """summary.csv's rows of the means over categories, one per group less its category."""
    rows: list[Sequence[object]] = []
    for group in dict.fromkeys(categoryless(g) for g in results.groups()):
        param, value = group.sweep if group.sweep else ("", "")
        fields = (group.label, group.scope, group.condition, group.regime, MEAN)
        for name in METRICS:
            s = means.summary(group, name)
            low, high = s.ci if s.ci else ("", "")
            numbers = (_number(s.mean), _number(s.sd), s.n, low, high)
            rows.append((*fields, param, value, name, *numbers, s.interval or "", s.reason or ""))
    return rows


def _number(value: float | None) -> object:
    return "" if value is None else value
