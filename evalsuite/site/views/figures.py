"""The study's figures: data rows from the records, drawn with the builders of `charts`.

Values are plotted in percent (differences in percentage points). Error bars are the 95%
intervals of `stats.summarise` (bootstrap for one seed, over seeds for several); for paired
differences, the paired 95% bootstrap interval of the site's difference tables
(`differences.difference_tables`, pooled over seeds), the ends of the interval the tables show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evalsuite.site.charts.specs import Chart, Rows, grouped_bars, roc_curves
from evalsuite.site.read.records import METRIC_NAMES, Cell, GroupKey, Results
from evalsuite.site.views.stats import Delta, Summary, summarise
from evalsuite.site.views.tables import HEADLINE_METRICS, REGIME_METRICS, DeltaRow, Grid, Row

LEVELS = ("image", "pixel")
"""The two levels a cell has ROC curves at."""


def percent(summary: Summary) -> dict[str, float | None]:
    """{"y", "lo", "hi"} of a summary in percent (None where undefined)."""
    if summary.mean is None:
        return {"y": None, "lo": None, "hi": None}
    low, high = summary.ci if summary.ci is not None else (None, None)
    return {
        "y": 100 * summary.mean,
        "lo": None if low is None else 100 * low,
        "hi": None if high is None else 100 * high,
    }


Intervals = Mapping[tuple[GroupKey, str], tuple[float, float]]
"""(compared group b, metric) -> the paired 95% interval of b − a
(`difference_rows.paired_intervals`)."""


def points(delta: Delta, ci: tuple[float, float] | None = None) -> dict[str, float | None]:
    """{"y", "lo", "hi"} of a difference in percentage points: its paired 95% interval `ci` as
    the error bar (none without one)."""
    if delta.mean is None:
        return {"y": None, "lo": None, "hi": None}
    return {
        "y": 100 * delta.mean,
        "lo": None if ci is None else 100 * ci[0],
        "hi": None if ci is None else 100 * ci[1],
    }


def overview(rows: Sequence[Row], grid: Grid) -> Chart | None:
    """Headline metrics per category and condition/regime, one row of panels per detector."""
    data: Rows = [
        {"x": r.category, "group": r.kind, "col": METRIC_NAMES[m], "row": r.label, **percent(v)}
        for r in rows
        for m, v in zip(HEADLINE_METRICS, r.values, strict=True)
        if v.mean is not None
    ]
    if not data:
        return None
    spec = grouped_bars(
        data,
        x_order=grid.categories,
        groups=grid.kinds,
        group_title="condition/regime",
        columns=[METRIC_NAMES[m] for m in HEADLINE_METRICS],
        facet_rows=grid.labels,
        y_title="%",
    )
    return Chart(
        "At a glance (per_class)",
        "Bars: mean over seeds; error bars: 95% interval. Rows: detectors.",
        spec,
    )


def drop(rows: Sequence[DeltaRow], grid: Grid, intervals: Intervals | None = None) -> Chart | None:
    """shift/none − clean/none per category and detector, one row of panels per scope; error
    bars from `intervals` (the shift family's paired differences)."""
    found = intervals or {}

    def shifted(r: DeltaRow, metric: str) -> tuple[float, float] | None:
        return found.get((GroupKey(r.label, r.scope, "shift/none", r.category, None), metric))

    data: Rows = [
        {
            "x": r.category,
            "group": r.label,
            "col": METRIC_NAMES[m],
            "row": r.scope,
            **points(d, shifted(r, m)),
        }
        for r in rows
        for m, d in zip(HEADLINE_METRICS, r.delta, strict=True)
        if d.mean is not None
    ]
    if not data:
        return None
    spec = grouped_bars(
        data,
        x_order=grid.categories,
        groups=grid.labels,
        group_title="detector",
        columns=[METRIC_NAMES[m] for m in HEADLINE_METRICS],
        facet_rows=grid.scopes,
        y_title="shift − clean (points)",
        zero_line=True,
    )
    return Chart(
        "",
        "shift/none − clean/none in percentage points (same model, same threshold), paired by "
        "seed; below zero means worse under shift; error bars: paired 95% bootstrap interval. "
        "Rows: scopes.",
        spec,
    )


def regimes(results: Results, grid: Grid) -> Chart | None:
    """Every kind side by side on the regime metrics (per_class), one row per detector."""
    groups = results.groups()
    data: Rows = []
    for label in grid.labels:
        for category in grid.categories:
            for kind in grid.kinds:
                cells = groups.get(GroupKey(label, "per_class", kind, category, None), [])
                for metric in REGIME_METRICS:
                    value = percent(summarise(cells, metric))
                    if value["y"] is not None:
                        col = METRIC_NAMES[metric]
                        data.append(
                            {"x": category, "group": kind, "col": col, "row": label, **value}
                        )
    if not data:
        return None
    spec = grouped_bars(
        data,
        x_order=grid.categories,
        groups=grid.kinds,
        group_title="condition/regime",
        columns=[METRIC_NAMES[m] for m in REGIME_METRICS],
        facet_rows=grid.labels,
        y_title="%",
    )
    return Chart(
        "",
        "AUROC is threshold-free, so none and threshold share it; clean/none is shown as the "
        "reference. Error bars: 95% interval where the record has one.",
        spec,
    )


def gap(rows: Sequence[DeltaRow], grid: Grid, intervals: Intervals | None = None) -> Chart | None:
    """unified − per_class per category and kind, one row of panels per detector; error bars
    from `intervals` (the unified family's paired differences)."""
    found = intervals or {}

    def unified(r: DeltaRow, metric: str) -> tuple[float, float] | None:
        return found.get((GroupKey(r.label, "unified", r.kind, r.category, None), metric))

    data: Rows = [
        {
            "x": r.category,
            "group": r.kind,
            "col": METRIC_NAMES[m],
            "row": r.label,
            **points(d, unified(r, m)),
        }
        for r in rows
        for m, d in zip(HEADLINE_METRICS, r.delta, strict=True)
        if d.mean is not None
    ]
    if not data:
        return None
    spec = grouped_bars(
        data,
        x_order=grid.categories,
        groups=grid.kinds,
        group_title="condition/regime",
        columns=[METRIC_NAMES[m] for m in HEADLINE_METRICS],
        facet_rows=grid.labels,
        y_title="unified − per_class (points)",
        zero_line=True,
    )
    return Chart(
        "",
        "One model on the pooled categories (per-class thresholds) minus one model per "
        "category, in percentage points, paired by seed; error bars: paired 95% bootstrap "
        "interval.",
        spec,
    )


def _roc_rows(cell: Cell, level: str, col: str, row: str) -> Rows:
    """Curve points (and, at image level, the operating point) of one cell."""
    roc = (cell.record["roc"] or {}).get(level)
    if not cell.ok or roc is None:
        return []
    common = {"col": col, "row": row, "kind": cell.key.group.kind, "seed": cell.key.seed}
    rows: Rows = [
        {"layer": "curve", **common, "i": i, "fpr": f, "tpr": t}
        for i, (f, t) in enumerate(zip(roc["fpr"], roc["tpr"], strict=True))
    ]
    fpr, recall = cell.metrics["image_fpr"].value, cell.metrics["image_recall"].value
    if level == "image" and fpr is not None and recall is not None:
        rows.append({"layer": "point", **common, "i": 0, "fpr": fpr, "tpr": recall})
    return rows


def _chance(columns: Sequence[str], panels: Sequence[str]) -> Rows:
    """The ends of the chance diagonal in every panel."""
    return [
        {
            "layer": "chance",
            "col": col,
            "row": row,
            "kind": "",
            "seed": 0,
            "i": i,
            "fpr": v,
            "tpr": v,
        }
        for col in columns
        for row in panels
        for i, v in enumerate((0.0, 1.0))
    ]


def _legend(cells_by_kind: dict[str, list[Cell]], level: str, col: str, row: str) -> Rows:
    """A panel's legend: one line per kind with its AUROC at `level` (mean over its finished
    seeds), stacked upwards from the lower right corner."""
    rows: Rows = []
    for kind, cells in cells_by_kind.items():
        values = [
            value
            for cell in cells
            if cell.ok and (value := cell.metrics[f"{level}_auroc"].value) is not None
        ]
        if not values:
            continue
        auroc = sum(values) / len(values)
        rows.append(
            {
                "layer": "legend",
                "col": col,
                "row": row,
                "kind": kind,
                "seed": 0,
                "text": f"{kind} ({auroc:.3f})",
            }
        )
    for i, line in enumerate(reversed(rows)):
        line.update(i=i, fpr=0.97, tpr=0.06 + 0.1 * i)
    return rows


def roc(results: Results, grid: Grid, label: str, scope: str) -> Chart | None:
    """ROC curves of one detector and scope: a column per category, a row per level."""
    groups = results.groups()
    data: Rows = []
    for category in grid.categories:
        by_kind = {
            kind: groups.get(GroupKey(label, scope, kind, category, None), [])
            for kind in grid.kinds
        }
        for level in LEVELS:
            panel: Rows = []
            for cells in by_kind.values():
                for cell in cells:
                    panel.extend(_roc_rows(cell, level, category, f"{level} level"))
            if panel:
                data.extend(panel + _legend(by_kind, level, category, f"{level} level"))
    if not data:
        return None
    columns = [c for c in grid.categories if any(r["col"] == c for r in data)]
    panels = [
        f"{level} level" for level in LEVELS if any(r["row"] == f"{level} level" for r in data)
    ]
    spec = roc_curves(
        data + _chance(columns, panels), columns=columns, panels=panels, kinds=grid.kinds
    )
    return Chart(
        f"{label} · {scope}",
        "Each panel names every condition/regime with its AUROC (mean over seeds).",
        spec,
    )


def cell_roc(cell: Cell) -> Chart | None:
    """The image- and pixel-level ROC curves of one cell."""
    data: Rows = []
    for level in LEVELS:
        panel = _roc_rows(cell, level, level, "")
        if panel:
            data.extend(panel + _legend({cell.key.group.kind: [cell]}, level, level, ""))
    if not data:
        return None
    columns = [level for level in LEVELS if any(row["col"] == level for row in data)]
    spec = roc_curves(
        data + _chance(columns, [""]), columns=columns, panels=None, kinds=[cell.key.group.kind]
    )
    return Chart(
        "ROC curves",
        "Image level (dot: the operating point) and pixel level; each legend line gives the AUROC.",
        spec,
    )
