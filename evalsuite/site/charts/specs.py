"""Altair chart builders: rows of plain dicts in, a Vega-Lite spec (a dict) out.

Every builder takes its data inline (`alt.Data(values=...)`), names no selection (Altair numbers
unnamed ones with a global counter, which would break byte-for-byte determinism) and returns
`to_dict(validate=False)` without `$schema` (vega-embed is told the mode). Facets and legends are
ordered explicitly. Rates are plotted in percent.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import altair as alt

from evalsuite.site.charts.palette import colors_for

Rows = list[dict[str, Any]]
PANEL = {"width": 170, "height": 150}
DATA = alt.Data(name="rows")
"""Every chart's data source: the dataset `with_rows` puts in the spec."""


@dataclass(frozen=True)
class Chart:
    """A chart as a page holds it.

    Attributes:
        title: the heading above it ("" when the page's own heading says it).
        caption: one or two sentences on how to read it.
        spec: the Vega-Lite specification (inline data).
    """

    title: str
    caption: str
    spec: dict[str, Any]


def palette(domain: Sequence[str]) -> alt.Scale:
    """A colour scale with a fixed colour per value (see `palette.colors_for`)."""
    return alt.Scale(domain=list(domain), range=colors_for(domain))


def finish(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The spec of a chart built on `DATA`, without `$schema`: a skeleton for `with_rows`."""
    spec = dict(chart.to_dict(validate=False))
    spec.pop("$schema", None)
    if spec.get("datasets"):
        raise ValueError("chart skeletons must use the named source DATA, not inline data")
    return spec


def with_rows(skeleton: dict[str, Any], rows: Rows) -> dict[str, Any]:
    """A copy of a chart skeleton with `rows` as its named dataset (top-level `datasets`).

    Skeletons depend only on the layout (orders and titles), so they are built once per layout
    and cached: Altair's object model costs far more than the rows, which it never sees.
    """
    spec = copy.deepcopy(skeleton)
    spec["datasets"] = {DATA.name: rows}
    return spec


def grouped_bars(
    rows: Rows,
    *,
    x_order: Sequence[str],
    groups: Sequence[str],
    group_title: str,
    columns: Sequence[str],
    facet_rows: Sequence[str] | None,
    y_title: str,
    zero_line: bool = False,
) -> dict[str, Any]:
    """Bars of `y` per `x`, side by side per `group`, faceted by `col` (and `row`).

    Args:
        rows: {"x", "group", "col", "row" (when faceted by row), "y", "lo", "hi"}; `lo`/`hi`
            (error bar) may be None.
        x_order, groups, columns, facet_rows: the orders of the values.
        group_title: the legend's title.
        y_title: the y axis title.
        zero_line: draw y = 0 (for differences).
    """
    panels = None if facet_rows is None else tuple(facet_rows)
    skeleton = _grouped_bars(
        tuple(x_order), tuple(groups), group_title, tuple(columns), panels, y_title, zero_line
    )
    return with_rows(skeleton, rows)


@cache
def _grouped_bars(
    x_order: tuple[str, ...],
    groups: tuple[str, ...],
    group_title: str,
    columns: tuple[str, ...],
    facet_rows: tuple[str, ...] | None,
    y_title: str,
    zero_line: bool,
) -> dict[str, Any]:
    tooltip = [alt.Tooltip("group:N", title=group_title), "x:N", alt.Tooltip("y:Q", format=".1f")]
    base = alt.Chart().encode(
        x=alt.X("x:N", sort=list(x_order), title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("group:N", sort=list(groups)),
    )
    bars = base.mark_bar().encode(
        y=alt.Y("y:Q", title=y_title),
        color=alt.Color(
            "group:N", scale=palette(groups), legend=alt.Legend(title=group_title, orient="top")
        ),
        tooltip=tooltip,
    )
    errors = (
        base.transform_filter("isValid(datum.lo) && isValid(datum.hi)")
        .mark_rule(color="#333")
        .encode(y="lo:Q", y2="hi:Q")
    )
    layers: list[alt.Chart] = [bars, errors]
    if zero_line:
        layers.append(alt.Chart().mark_rule(color="#888").encode(y=alt.datum(0)))
    layered = alt.layer(*layers, data=DATA).properties(**PANEL)
    column = alt.Column(
        "col:N", sort=list(columns), title=None, header=alt.Header(labelFontSize=12)
    )
    if facet_rows is None:
        return finish(layered.facet(column=column))
    row = alt.Row("row:N", sort=list(facet_rows), title=None, header=alt.Header(labelFontSize=12))
    return finish(layered.facet(column=column, row=row))


def roc_curves(
    rows: Rows,
    *,
    columns: Sequence[str],
    panels: Sequence[str] | None,
    kinds: Sequence[str],
) -> dict[str, Any]:
    """ROC curves per `col` (and `row`) panel, one colour per kind, operating points as dots,
    and in each panel's lower right a legend naming each kind with its AUROC.

    Args:
        rows: {"layer": "curve" | "point" | "chance" | "legend", "col", "row", "kind", "seed",
            "i", "fpr", "tpr", "text" (legend rows)}: curve points in order `i`, the operating
            point at the threshold, the two ends of the chance diagonal of each panel, and the
            legend's lines placed at (fpr, tpr).
        columns: the panel columns' order.
        panels: the panel rows' order, None for one row.
        kinds: the kinds (colours) present.
    """
    facet_rows = None if panels is None else tuple(panels)
    return with_rows(_roc_curves(tuple(columns), facet_rows, tuple(kinds)), rows)


@cache
def _roc_curves(
    columns: tuple[str, ...], panels: tuple[str, ...] | None, kinds: tuple[str, ...]
) -> dict[str, Any]:
    x = alt.X("fpr:Q", title="false positive rate", scale=alt.Scale(domain=[0, 1]))
    y = alt.Y("tpr:Q", title="true positive rate", scale=alt.Scale(domain=[0, 1]))
    color = alt.Color(
        "kind:N", scale=palette(kinds), legend=alt.Legend(title="condition/regime", orient="top")
    )
    chance = (
        alt.Chart()
        .transform_filter("datum.layer == 'chance'")
        .mark_line(color="#bbb", strokeDash=[4, 4])
        .encode(x=x, y=y)
    )
    curves = (
        alt.Chart()
        .transform_filter("datum.layer == 'curve'")
        .mark_line(strokeWidth=1.6, interpolate="linear")
        .encode(x=x, y=y, color=color, detail="seed:N", order="i:Q")
    )
    points = (
        alt.Chart()
        .transform_filter("datum.layer == 'point'")
        .mark_point(filled=True, size=60, stroke="white", strokeWidth=1)
        .encode(
            x=x,
            y=y,
            color=color,
            tooltip=[
                "kind:N",
                alt.Tooltip("fpr:Q", format=".3f"),
                alt.Tooltip("tpr:Q", format=".3f"),
            ],
        )
    )
    legend = (
        alt.Chart()
        .transform_filter("datum.layer == 'legend'")
        .mark_text(align="right", baseline="middle", fontSize=10, fontWeight="bold")
        .encode(x=x, y=y, text="text:N", color=color)
    )
    layered = alt.layer(chance, curves, points, legend, data=DATA).properties(width=160, height=160)
    column = alt.Column("col:N", sort=list(columns), title=None)
    if panels is None:
        return finish(layered.facet(column=column))
    row = alt.Row("row:N", sort=list(panels), title=None)
    return finish(layered.facet(column=column, row=row))


def sweep_lines(
    rows: Rows,
    *,
    values: Sequence[str],
    categories: Sequence[str],
    columns: Sequence[str],
    panels: Sequence[str],
    param: str,
) -> dict[str, Any]:
    """Metric vs swept value, one line per category, interval bars, the baseline as a diamond.

    Args:
        rows: {"x" (value as text), "category", "col" (metric), "row" (kind), "y", "lo", "hi",
            "marker": "baseline" | "swept"}.
        values: the swept values' order (baseline included).
        categories, columns, panels: the orders of colours, facet columns and rows.
        param: the swept parameter (x axis title).
    """
    skeleton = _sweep_lines(tuple(values), tuple(categories), tuple(columns), tuple(panels), param)
    return with_rows(skeleton, rows)


@cache
def _sweep_lines(
    values: tuple[str, ...],
    categories: tuple[str, ...],
    columns: tuple[str, ...],
    panels: tuple[str, ...],
    param: str,
) -> dict[str, Any]:
    x = alt.X("x:O", sort=list(values), title=param, axis=alt.Axis(labelAngle=0))
    y_title = "value (%)"  # the same on every layer, so the exported figure keeps it
    color = alt.Color(
        "category:N", scale=palette(categories), legend=alt.Legend(title="category", orient="top")
    )
    lines = (
        alt.Chart()
        .mark_line(strokeWidth=1.5)
        .encode(x=x, y=alt.Y("y:Q", title=y_title), color=color)
    )
    errors = (
        alt.Chart()
        .transform_filter("isValid(datum.lo) && isValid(datum.hi)")
        .mark_rule()
        .encode(x=x, y=alt.Y("lo:Q", title=y_title), y2="hi:Q", color=color)
    )
    points = (
        alt.Chart()
        .mark_point(filled=True, size=70)
        .encode(
            x=x,
            y=alt.Y("y:Q", title=y_title),
            color=color,
            shape=alt.Shape(
                "marker:N",
                scale=alt.Scale(domain=["baseline", "swept"], range=["diamond", "circle"]),
                legend=alt.Legend(title="value", orient="top"),
            ),
            tooltip=["category:N", "x:O", alt.Tooltip("y:Q", format=".1f")],
        )
    )
    layered = alt.layer(lines, errors, points, data=DATA).properties(**PANEL)
    return finish(
        layered.facet(
            column=alt.Column("col:N", sort=list(columns), title=None),
            row=alt.Row("row:N", sort=list(panels), title=None),
        )
    )
