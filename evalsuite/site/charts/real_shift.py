"""The Altair builder of "Synthetic vs real shift": per-image score changes under the synthetic
shift (x) against those under a real condition (y), a panel per category (column) and real
condition (row).

As every builder of `specs`: rows of plain dicts in, a cached skeleton per layout, data as the
named dataset, no named selection, orders explicit, so the same rows give the same spec bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import altair as alt

from evalsuite.site.charts.palette import STATUS_COLORS
from evalsuite.site.charts.specs import DATA, Rows, finish, with_rows

PANEL = {"width": 120, "height": 110}
"""A panel's size, px (small: one per category and real condition)."""


def change_scatter(
    rows: Rows, *, columns: Sequence[str], panels: Sequence[str], x_title: str
) -> dict[str, Any]:
    """Δsyn (x) against Δreal (y), one point per paired image, normal and anomalous images in
    their colours, with the zero lines.

    Args:
        rows: {"x", "y" (score changes), "col" (category), "row" (real condition), "status"
            (normal or anomalous), "id" (the image), "seed"}.
        columns, panels: the orders of the categories and of the conditions.
        x_title: what x is, e.g. "MVTec-Shift − clean (score)".
    """
    return with_rows(_change_scatter(tuple(columns), tuple(panels), x_title), rows)


@cache
def _change_scatter(
    columns: tuple[str, ...], panels: tuple[str, ...], x_title: str
) -> dict[str, Any]:
    statuses = list(STATUS_COLORS)
    color = alt.Color(
        "status:N",
        scale=alt.Scale(domain=statuses, range=[STATUS_COLORS[s] for s in statuses]),
        legend=alt.Legend(title="test images", orient="top"),
    )
    x = alt.X("x:Q", title=x_title, scale=alt.Scale(zero=False))
    y = alt.Y("y:Q", title="real − clean (score)", scale=alt.Scale(zero=False))
    points = (
        alt.Chart()
        .mark_point(filled=True, size=20, opacity=0.7)
        .encode(
            x=x,
            y=y,
            color=color,
            tooltip=[
                alt.Tooltip("id:N", title="image"),
                alt.Tooltip("seed:Q", title="seed"),
                alt.Tooltip("status:N", title="images"),
                alt.Tooltip("x:Q", title="synthetic − clean", format=".3g"),
                alt.Tooltip("y:Q", title="real − clean", format=".3g"),
            ],
        )
    )
    zero_x = alt.Chart().mark_rule(color="#888").encode(x=alt.datum(0))
    zero_y = alt.Chart().mark_rule(color="#888").encode(y=alt.datum(0))
    layered = alt.layer(zero_x, zero_y, points, data=DATA).properties(**PANEL)
    column = alt.Column("col:N", sort=list(columns), title=None)
    row = alt.Row("row:N", sort=list(panels), title=None)
    return finish(
        layered.facet(column=column, row=row).resolve_scale(x="independent", y="independent")
    )
