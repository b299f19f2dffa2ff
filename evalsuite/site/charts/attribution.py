"""Altair builders of "What the shift does": the drop heatmaps and the per-image dependence
curves (the share-of-drop bars are `specs.grouped_bars`).

As every builder of `specs`: rows of plain dicts in, a cached skeleton per layout, data as the
named dataset, no named selection, orders explicit, so the same rows give the same spec bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import altair as alt

from evalsuite.site.charts.palette import DROP_RANGE, STATUS_COLORS
from evalsuite.site.charts.specs import DATA, Rows, finish, with_rows

CELL_STEP = {"x": 30, "y": 14}
"""A heatmap cell's width (per severity) and height (per variant), px."""
CURVE_PANEL = {"width": 130, "height": 100}


def drop_heatmap(
    rows: Rows,
    *,
    variants: Sequence[str],
    severities: Sequence[str],
    columns: Sequence[str],
    panels: Sequence[str],
    limit: float,
) -> dict[str, Any]:
    """Variant (rows) x severity (columns) coloured by the drop, a panel per category (`col`)
    and metric (`row`); a cell without a drop is grey and says why.

    Args:
        rows: {"variant", "severity" (text), "col", "row", "delta" (points, None without
            one), "interval", "p_holm", "cells", "reason", and "href" (the variant cell's
            page) where the cell has one}; rows with "blank" true are drawn by no mark.
        variants, severities, columns, panels: the orders of the values.
        limit: the colour scale's end (points): -limit vermillion, 0 white, +limit blue.
    """
    skeleton = _drop_heatmap(
        tuple(variants), tuple(severities), tuple(columns), tuple(panels), limit
    )
    return with_rows(skeleton, rows)


@cache
def _drop_heatmap(
    variants: tuple[str, ...],
    severities: tuple[str, ...],
    columns: tuple[str, ...],
    panels: tuple[str, ...],
    limit: float,
) -> dict[str, Any]:
    x = alt.X("severity:O", sort=list(severities), title="severity", axis=alt.Axis(labelAngle=0))
    y = alt.Y("variant:N", sort=list(variants), title=None)
    where = [
        alt.Tooltip("col:N", title="category"),
        alt.Tooltip("row:N", title="metric"),
        alt.Tooltip("variant:N", title="variant"),
        alt.Tooltip("severity:O", title="severity"),
    ]
    scale = alt.Scale(domain=[-limit, 0, limit], range=list(DROP_RANGE), clamp=True)
    shown = (
        alt.Chart()
        .transform_filter("isValid(datum.delta)")
        .mark_rect()
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "delta:Q", scale=scale, legend=alt.Legend(title="variant − clean (points)")
            ),
            href="href:N",
            tooltip=[
                *where,
                alt.Tooltip("delta:Q", title="variant − clean (points)", format="+.1f"),
                alt.Tooltip("interval:N", title="paired 95% interval"),
                alt.Tooltip("p_holm:N", title="p (Holm)"),
                alt.Tooltip("cells:N", title="cells"),
            ],
        )
    )
    missing = (
        alt.Chart()
        .transform_filter("!isValid(datum.delta) && !datum.blank")
        .mark_rect(color="#DDDDDD")
        .encode(x=x, y=y, tooltip=[*where, alt.Tooltip("reason:N", title="no drop")])
    )
    layered = alt.layer(shown, missing, data=DATA).properties(
        width=alt.Step(CELL_STEP["x"]), height=alt.Step(CELL_STEP["y"])
    )
    column = alt.Column("col:N", sort=list(columns), title=None)
    header = alt.Header(labelAngle=0, labelAlign="left", labelLimit=160)
    row = alt.Row("row:N", sort=list(panels), title=None, header=header)
    return finish(layered.facet(column=column, row=row))


def dependence_curves(
    rows: Rows, *, params: Sequence[str], panels: Sequence[str], y_title: str
) -> dict[str, Any]:
    """Binned mean score change vs a recorded parameter, a panel per parameter (`col`) and
    category (`row`), a line per image status with its 95% band; every panel its own scales.

    Args:
        rows: {"col" (parameter), "row", "status" (normal | anomalous), "x" (the bin's
            middle), "low", "high" (its edges), "y" (mean change), "lo", "hi" (its interval,
            None without one), "n" (images)}.
        params, panels: the orders of the panel columns and rows.
        y_title: the y axis title.
    """
    return with_rows(_dependence_curves(tuple(params), tuple(panels), y_title), rows)


@cache
def _dependence_curves(
    params: tuple[str, ...], panels: tuple[str, ...], y_title: str
) -> dict[str, Any]:
    x = alt.X("x:Q", title=None, scale=alt.Scale(zero=False))
    statuses = list(STATUS_COLORS)
    color = alt.Color(
        "status:N",
        scale=alt.Scale(domain=statuses, range=[STATUS_COLORS[s] for s in statuses]),
        legend=alt.Legend(title="test images", orient="top"),
    )
    band = (
        alt.Chart()
        .transform_filter("isValid(datum.lo) && isValid(datum.hi)")
        .mark_area(opacity=0.25)
        .encode(x=x, y=alt.Y("lo:Q", title=y_title), y2="hi:Q", color=color)
    )
    line = (
        alt.Chart()
        .mark_line(strokeWidth=1.5)
        .encode(x=x, y=alt.Y("y:Q", title=y_title), color=color)
    )
    points = (
        alt.Chart()
        .mark_point(filled=True, size=30)
        .encode(
            x=x,
            y=alt.Y("y:Q", title=y_title),
            color=color,
            tooltip=[
                alt.Tooltip("col:N", title="parameter"),
                alt.Tooltip("status:N", title="images"),
                alt.Tooltip("low:Q", title="bin from", format=".3g"),
                alt.Tooltip("high:Q", title="bin to", format=".3g"),
                alt.Tooltip("n:Q", title="images in bin"),
                alt.Tooltip("y:Q", title="mean change", format=".3g"),
                alt.Tooltip("interval:N", title="95% interval"),
            ],
        )
    )
    zero = alt.Chart().mark_rule(color="#888").encode(y=alt.datum(0))
    layered = alt.layer(band, line, points, zero, data=DATA).properties(**CURVE_PANEL)
    column = alt.Column("col:N", sort=list(params), title=None)
    row = alt.Row("row:N", sort=list(panels), title=None)
    return finish(
        layered.facet(column=column, row=row).resolve_scale(x="independent", y="independent")
    )
