"""Hyperparameter sweeps: metric vs swept value, the baseline's own value marked.

A sweep (detector label, param) has cells per swept value (per_class scope, its sweep's kinds);
the baseline cells of the same detector give the point at the configured value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evalsuite.results.paths import render_value
from evalsuite.site.charts.specs import Chart, Rows, sweep_lines
from evalsuite.site.read.records import KINDS, METRIC_NAMES, Cell, GroupKey, Results, value_order
from evalsuite.site.views.figures import percent
from evalsuite.site.views.stats import Summary, summarise
from evalsuite.site.views.tables import HEADLINE_METRICS, Grid


@dataclass(frozen=True)
class SweepPoint:
    """One swept value (or the baseline) on one kind and category.

    Attributes:
        value: the value as text.
        baseline: True for the detector's configured value (the baseline cells).
        kind, category: where it was evaluated.
        values: one Summary per HEADLINE_METRICS metric.
        cells: its cells (all seeds).
        mean: a mean row (category "mean", no cells; `views.means`).
    """

    value: str
    baseline: bool
    kind: str
    category: str
    values: tuple[Summary, ...]
    cells: tuple[Cell, ...]
    mean: bool = False


@dataclass(frozen=True)
class SweepView:
    """One sweep: its table rows and its chart."""

    label: str
    param: str
    baseline_value: str | None
    points: tuple[SweepPoint, ...]
    chart: Chart | None


def baseline_value(cells: Sequence[Cell], param: str) -> Any:
    """The value of `param` (`params.<key>`, `backbone.<key>`, `shift.severity` or
    `shift.factors`) in the configuration of a baseline cell."""
    config = cells[0].record["config"]
    if param == "shift.factors":  # the mixed shift's records do not name it
        return config.get("shift", {}).get("factors", "all")
    section, _, key = param.partition(".")
    if section == "params":
        return config["detector"]["params"].get(key)
    if section == "backbone":
        return config["detector"]["backbone"].get(key)
    return config.get(section, {}).get(key)


def sweep_kinds(results: Results, label: str, param: str) -> tuple[str, ...]:
    """The kinds a sweep evaluates: its configuration's, or those its records hold."""
    kinds = {
        c.key.group.kind
        for c in results.cells
        if c.key.group.label == label and c.key.group.sweep and c.key.group.sweep[0] == param
    }
    if results.manifest is not None:
        for sweep in results.manifest["config"]["sweeps"]:
            if (sweep["detector"], sweep["param"]) == (label, param):
                kinds.update(sweep["kinds"])
    return tuple(k for k in KINDS if k in kinds)


def sweep_view(results: Results, grid: Grid, label: str, param: str) -> SweepView:
    """Table rows and chart of one sweep."""
    groups = results.groups()
    swept = {
        g.sweep[1]
        for g in groups
        if g.label == label and g.sweep is not None and g.sweep[0] == param
    }
    if results.manifest is not None:
        for sweep in results.manifest["config"]["sweeps"]:
            if (sweep["detector"], sweep["param"]) == (label, param):
                swept.update(render_value(v) for v in sweep["values"])
    base_cells = [
        cell
        for group, cells in groups.items()
        if group.label == label and group.scope == "per_class" and group.sweep is None
        for cell in cells
    ]
    base = render_value(baseline_value(base_cells, param)) if base_cells else None
    kinds = sweep_kinds(results, label, param)
    entries = [(value, False) for value in sorted(swept, key=value_order)]
    if base is not None:
        entries.append((base, True))
    points = []
    for kind in kinds:
        for category in grid.categories:
            for value, is_base in sorted(entries, key=lambda e: (value_order(e[0]), e[1])):
                sweep = None if is_base else (param, value)
                cells = groups.get(GroupKey(label, "per_class", kind, category, sweep), [])
                metrics = tuple(summarise(cells, m) for m in HEADLINE_METRICS)
                points.append(SweepPoint(value, is_base, kind, category, metrics, tuple(cells)))
    values = sorted({value for value, _ in entries}, key=value_order)
    return SweepView(label, param, base, tuple(points), _chart(points, values, grid, kinds, param))


def _chart(
    points: Sequence[SweepPoint],
    values: Sequence[str],
    grid: Grid,
    kinds: Sequence[str],
    param: str,
) -> Chart | None:
    rows: Rows = [
        {
            "x": p.value,
            "category": p.category,
            "col": METRIC_NAMES[metric],
            "row": p.kind,
            "marker": "baseline" if p.baseline else "swept",
            **percent(summary),
        }
        for p in points
        for metric, summary in zip(HEADLINE_METRICS, p.values, strict=True)
        if summary.mean is not None
    ]
    if not rows:
        return None
    spec = sweep_lines(
        rows,
        values=values,
        categories=grid.categories,
        columns=[METRIC_NAMES[m] for m in HEADLINE_METRICS],
        panels=kinds,
        param=param,
    )
    return Chart(
        "",
        "Metric (%) vs swept value, per category; bars: 95% interval (bootstrap for one seed, "
        "over seeds for several); diamond: the detector's baseline value. Rows: "
        "condition/regime.",
        spec,
    )


def sweep_views(results: Results, grid: Grid) -> list[SweepView]:
    """Every sweep of the study, sorted by detector and param."""
    return [sweep_view(results, grid, label, param) for label, param in grid.sweeps]
