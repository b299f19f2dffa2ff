"""Altair builders of the unified page's charts: rate matrices and score histograms (see
`charts.specs` for the conventions: named data, cached skeletons, no `$schema`)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import altair as alt

from evalsuite.site.charts.palette import LABEL_COLORS
from evalsuite.site.charts.specs import DATA, Rows, finish, with_rows


def matrices(
    rows: Rows,
    *,
    axis_order: Sequence[str],
    columns: Sequence[str],
    panels: Sequence[str],
    x_title: str,
    y_title: str,
) -> dict[str, Any]:
    """Heatmaps of rates in [0, 1] with their values printed, faceted by `row` and `col`.

    Args:
        rows: {"row", "col", "a" (y: test category), "b" (x), "v" (None = undefined), "text"}.
        axis_order: the order of the categories on both axes.
        columns, panels: the orders of the facet columns and rows.
        x_title, y_title: what the columns and rows of a matrix are (said once above the
            panels, and in tooltips).
    """
    skeleton = _matrices(tuple(axis_order), tuple(columns), tuple(panels), x_title, y_title)
    return with_rows(skeleton, rows)


@cache
def _matrices(
    axis_order: tuple[str, ...],
    columns: tuple[str, ...],
    panels: tuple[str, ...],
    x_title: str,
    y_title: str,
) -> dict[str, Any]:
    cells, text = _matrix_layers(tuple(axis_order), x_title, y_title)
    side = max(90, 44 * len(axis_order))
    layered = alt.layer(cells, text, data=DATA).properties(width=side, height=side)
    return finish(
        layered.facet(
            column=alt.Column(
                "col:N",
                sort=list(columns),
                title=f"rows: {y_title} · columns: {x_title}",
                header=alt.Header(titleFontSize=11, titleFontWeight="normal", titleColor="#555"),
            ),
            row=alt.Row(
                "row:N",
                sort=list(panels),
                title=None,
                header=alt.Header(labelAngle=0, labelAlign="right", labelFontWeight="bold"),
            ),
            spacing=14,
        )
    )


def histograms(rows: Rows, *, columns: Sequence[str], panels: Sequence[str]) -> dict[str, Any]:
    """Normal vs defective score histograms, overlaid: one block per kind (`row`), its
    categories (`col`) side by side on a shared score axis (one model scores them all).

    Args:
        rows: {"row", "col", "label": "normal" | "defective", "x0", "x1", "share"}: the share of
            the class's images in the bin [x0, x1).
        columns, panels: the orders of the facet columns and rows.
    """
    return with_rows(_histograms(tuple(columns), tuple(panels)), rows)


@cache
def _histograms(columns: tuple[str, ...], panels: tuple[str, ...]) -> dict[str, Any]:
    labels = ["normal", "defective"]
    bars = (
        alt.Chart()
        .mark_bar(opacity=0.55, binSpacing=0)
        .encode(
            x=alt.X(
                "x0:Q",
                title="image score",
                scale=alt.Scale(zero=False),
                axis=alt.Axis(tickCount=5, labelOverlap=True),
            ),
            x2="x1:Q",
            y=alt.Y("share:Q", title="share", stack=None),
            y2=alt.datum(0),
            color=alt.Color(
                "label:N",
                scale=alt.Scale(domain=labels, range=[LABEL_COLORS[label] for label in labels]),
                legend=alt.Legend(title="test images", orient="top"),
            ),
            tooltip=[
                "label:N",
                alt.Tooltip("x0:Q", format=".4g", title="bin from"),
                alt.Tooltip("x1:Q", format=".4g", title="bin to"),
                alt.Tooltip("share:Q", format=".2f"),
            ],
        )
        .properties(width=170, height=80)
    )
    # one facet row per kind, so that the categories of one kind (one model) share the x axis
    per_kind = [
        bars.transform_filter(alt.datum.row == kind)
        .facet(column=alt.Column("col:N", sort=list(columns), title=None), spacing=12, data=DATA)
        .properties(title=alt.TitleParams(kind, anchor="start", fontSize=12))
        for kind in panels
    ]
    return finish(alt.vconcat(*per_kind, spacing=10))


def _matrix_layers(
    axis_order: tuple[str, ...], x_title: str, y_title: str
) -> tuple[alt.Chart, alt.Chart]:
    """The coloured cells and their printed values."""
    y = alt.Y("a:N", sort=list(axis_order), title=None)
    x = alt.X("b:N", sort=list(axis_order), title=None, axis=alt.Axis(labelAngle=-30))
    cells = (
        alt.Chart()
        .mark_rect(stroke="white")
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "v:Q",
                scale=alt.Scale(scheme="blues", domain=[0, 1]),
                legend=alt.Legend(title="rate", format=".0%", orient="right"),
            ),
            tooltip=[
                alt.Tooltip("a:N", title=y_title),
                alt.Tooltip("b:N", title=x_title),
                alt.Tooltip("v:Q", format=".3f", title="rate"),
            ],
        )
    )
    text = (
        alt.Chart()
        .mark_text(fontSize=11)
        .encode(
            x=x,
            y=y,
            text="text:N",
            color=alt.condition("datum.v > 0.55", alt.value("white"), alt.value("#222")),
        )
    )
    return cells, text
