"""What the page "What the shift does" shows, block by block: the rows of an `AttributionView`
grouped into one block per detector (label and scope) and shift family, each with its chart
(`charts.attribution`) and the table rows that carry every number, its interval and its cells:
here the drops, mean drops and line rates, and the helpers every block uses; the shares and
per-image dependence are in `attribution_curves`.

Charts are in percent (drops in points); the template writes the tables' texts. Orders are
the view's (first appearance), with categories' "mean" last and severities ascending, so the
same view gives the same blocks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from evalsuite.site.charts.attribution import drop_heatmap
from evalsuite.site.charts.specs import Chart, Rows
from evalsuite.site.read.records import METRIC_NAMES, Cell
from evalsuite.site.views.attribution_rows import (
    FAMILIES,
    FactorDrop,
    LineRates,
    MeanDrop,
)
from evalsuite.site.views.difference_rows import DIFF_METRICS

T = TypeVar("T")


def grouped(items: Iterable[T], key: Callable[[T], Hashable]) -> list[list[T]]:
    """`items` in groups of equal `key`, groups in order of first appearance."""
    found: dict[Hashable, list[T]] = {}
    for item in items:
        found.setdefault(key(item), []).append(item)
    return list(found.values())


def categories(names: Iterable[str]) -> list[str]:
    """Category names in order of first appearance, "mean" last."""
    found = list(dict.fromkeys(names))
    return [c for c in found if c != "mean"] + (["mean"] if "mean" in found else [])


def panel(metric: str, regime: str) -> str:
    """A metric's name, with its regime unless none."""
    name = METRIC_NAMES.get(metric, metric)
    return name if regime == "none" else f"{name} · {regime}"


def family_order(family: str) -> int:
    """The page's order of the shift families (`FAMILIES`, then any other)."""
    return FAMILIES.index(family) if family in FAMILIES else len(FAMILIES)


K = TypeVar("K", FactorDrop, LineRates)


def by_detector(items: Sequence[K]) -> list[list[K]]:
    """`items` grouped per (label, scope, family): detectors in order of first appearance,
    each detector's families in page order."""
    detectors = list(dict.fromkeys((i.label, i.scope) for i in items))
    groups = grouped(items, lambda i: (i.label, i.scope, i.family))
    return sorted(
        groups,
        key=lambda g: (detectors.index((g[0].label, g[0].scope)), family_order(g[0].family)),
    )


def anchor(label: str, scope: str, family: str) -> str:
    """The page's id of a detector's drops under one family (the mean rows link to it)."""
    return "drops-" + re.sub(r"[^A-Za-z0-9_-]+", "-", f"{label}-{scope}-{family}")


def complete(data: Rows, columns: Sequence[str], panels: Sequence[str], **blank: object) -> Rows:
    """`data` with a `blank` row (drawn by no mark) in every panel (`col`, `row`) it lacks:
    Vega-Lite lays a two-way facet's cells out in data order and would shift every cell after
    a missing one into the wrong panel."""
    present = {(r["col"], r["row"]) for r in data}
    missing = [(c, p) for p in panels for c in columns if (c, p) not in present]
    return data + [{**blank, "col": c, "row": p, "blank": True} for c, p in missing]


def row_anchor(drop: FactorDrop) -> str:
    """The page's id of the drop table row that holds `drop` (the sentences link to it)."""
    where = f"{drop.regime}-{drop.category}-{drop.variant}-s{drop.severity}"
    return f"{anchor(drop.label, drop.scope, drop.family)}-{re.sub(r'[^A-Za-z0-9_-]+', '-', where)}"


@dataclass(frozen=True)
class DropRow:
    """One row of a drop table: a variant at a severity, one value per `DIFF_METRICS`."""

    regime: str
    category: str
    variant: str
    severity: int
    values: tuple[FactorDrop | None, ...]
    cells: tuple[tuple[Cell, Cell], ...]
    anchor: str = ""


@dataclass(frozen=True)
class DropBlock:
    """The drops of one detector and shift family: the heatmap and the table."""

    label: str
    scope: str
    family: str
    chart: Chart | None
    rows: tuple[DropRow, ...]
    metrics: tuple[str, ...] = DIFF_METRICS

    @property
    def anchor(self) -> str:
        """Its id on the page."""
        return anchor(self.label, self.scope, self.family)


def drop_blocks(drops: Sequence[FactorDrop]) -> list[DropBlock]:
    """One block per (label, scope, family), families in page order."""
    blocks = []
    for group in by_detector(drops):
        first = group[0]
        rows = []
        for same in grouped(group, lambda d: (d.regime, d.category, d.variant, d.severity)):
            by_metric = {d.metric: d for d in same}
            values = tuple(by_metric.get(m) for m in DIFF_METRICS)
            d = same[0]
            rows.append(
                DropRow(d.regime, d.category, d.variant, d.severity, values, d.cells, row_anchor(d))
            )
        chart = _heatmap(group)
        blocks.append(DropBlock(first.label, first.scope, first.family, chart, tuple(rows)))
    return blocks


def _heatmap(drops: Sequence[FactorDrop]) -> Chart | None:
    data: Rows = []
    for d in drops:
        if d.value.zero:
            continue
        diff = d.value.diff
        row: dict[str, object] = {
            "variant": d.variant,
            "severity": str(d.severity),
            "col": d.category,
            "row": panel(d.metric, d.regime),
            "delta": None if diff is None else round(100 * diff.delta, 6),
            "interval": d.value.ci_text,
            "p_holm": d.value.p_holm_text,
            "cells": ", ".join(b.relpath for _, b in d.cells),
            "reason": d.value.reason or "",
        }
        if d.category != "mean" and d.cells:
            row["href"] = d.cells[0][1].page
        data.append(row)
    if not data:
        return None
    deltas = [abs(float(r["delta"])) for r in data if isinstance(r["delta"], float)]
    limit = max(5.0, 5.0 * math.ceil(max(deltas, default=0.0) / 5.0))
    order = [(m, r) for r in ("none", "threshold", "retrain") for m in DIFF_METRICS]
    present = {(d.metric, d.regime) for d in drops if not d.value.zero}
    panels = [panel(m, r) for m, r in order if (m, r) in present]
    panels += sorted({str(r["row"]) for r in data} - set(panels))
    variants = list(dict.fromkeys(d.variant for d in drops))
    severities = [str(s) for s in sorted({d.severity for d in drops})]
    columns = categories(d.category for d in drops)
    spec = drop_heatmap(
        complete(data, columns, panels, variant=variants[0], severity=severities[0], delta=None),
        variants=variants,
        severities=severities,
        columns=columns,
        panels=panels,
        limit=limit,
    )
    caption = (
        "Each cell: variant − clean on the same test images (paired), in percentage points; "
        f"vermillion: worse under the variant, blue: better (scale ±{limit:g} points). Hover "
        "for the paired 95% interval, the Holm-adjusted p and the cells; click a cell for the "
        "variant cell's page. Grey: no drop (hover for why). Columns: categories; rows: metrics."
    )
    return Chart("", caption, spec)


@dataclass(frozen=True)
class MeanRow:
    """The mean drop of one family and metric per severity (and over every severity)."""

    label: str
    scope: str
    regime: str
    family: str
    metric: str
    values: tuple[MeanDrop | None, ...]

    @property
    def anchor(self) -> str:
        """The id of the drops it averages."""
        return anchor(self.label, self.scope, self.family)


def mean_rows(means: Sequence[MeanDrop]) -> tuple[list[int | None], list[MeanRow]]:
    """The severities shown as columns (None last: every severity) and the rows."""
    levels = sorted({m.severity for m in means if m.severity is not None})
    columns: list[int | None] = [*levels, None]
    rows = []
    for same in grouped(means, lambda m: (m.label, m.scope, m.regime, m.family, m.metric)):
        by = {m.severity: m for m in same}
        m = same[0]
        values = tuple(by.get(c) for c in columns)
        rows.append(MeanRow(m.label, m.scope, m.regime, m.family, m.metric, values))
    return columns, rows


@dataclass(frozen=True)
class RatesBlock:
    """The false-alarm table of one detector and shift family."""

    label: str
    scope: str
    family: str
    rows: tuple[LineRates, ...]


def rates_blocks(rates: Sequence[LineRates]) -> list[RatesBlock]:
    """One block per (label, scope, family), families in page order."""
    return [RatesBlock(g[0].label, g[0].scope, g[0].family, tuple(g)) for g in by_detector(rates)]
