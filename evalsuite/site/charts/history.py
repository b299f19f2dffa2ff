"""The History page's trend chart: a headline metric over nights, per category (columns) and
metric (rows), one line per condition/regime in its palette colour with its 95% interval as a
band, and a dashed rule on each night whose provenance changed (hover for what changed).

Built like every chart (`specs`): the skeleton depends on the orders only and is cached, the
rows are inline; time is drawn in UTC, so the page reads the same in every time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import altair as alt

from evalsuite.site.charts.specs import DATA, Rows, finish, palette, with_rows

PANEL = {"width": 240, "height": 150}


def trend_chart(
    rows: Rows, *, columns: Sequence[str], panels: Sequence[str], kinds: Sequence[str]
) -> dict[str, Any]:
    """The trend chart of one detector.

    Args:
        rows: {"layer": "value" | "change", "time" (the night's run, ISO 8601), "night", "col"
            (category), "row" (metric), "kind", "seed", "y", "lo", "hi" (percent; lo/hi may be
            None), "verdict", "changes" (text)}: a value per night, cell and metric, and a
            change row per night whose provenance changed and panel.
        columns, panels, kinds: the orders of the facet columns, rows and colours.
    """
    return with_rows(_trend(tuple(columns), tuple(panels), tuple(kinds)), rows)


@cache
def _trend(
    columns: tuple[str, ...], panels: tuple[str, ...], kinds: tuple[str, ...]
) -> dict[str, Any]:
    x = alt.X(
        "time:T",
        title="night (UTC)",
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(format="%m-%d", labelAngle=0, labelOverlap=True),
    )
    y_title = "value (%)"
    color = alt.Color(
        "kind:N", scale=palette(kinds), legend=alt.Legend(title="condition/regime", orient="top")
    )
    values = alt.Chart().transform_filter("datum.layer == 'value'")
    band = (
        values.transform_filter("isValid(datum.lo) && isValid(datum.hi)")
        .mark_area(opacity=0.2)
        .encode(x=x, y=alt.Y("lo:Q", title=y_title), y2="hi:Q", color=color, detail="seed:N")
    )
    line = values.mark_line(strokeWidth=1.5).encode(
        x=x, y=alt.Y("y:Q", title=y_title), color=color, detail="seed:N"
    )
    points = values.mark_point(filled=True, size=30).encode(
        x=x,
        y=alt.Y("y:Q", title=y_title),
        color=color,
        tooltip=[
            alt.Tooltip("night:N", title="night"),
            alt.Tooltip("kind:N", title="condition/regime"),
            alt.Tooltip("seed:N", title="seed"),
            alt.Tooltip("y:Q", format=".2f", title="value (%)"),
            alt.Tooltip("lo:Q", format=".2f", title="95% low"),
            alt.Tooltip("hi:Q", format=".2f", title="95% high"),
            alt.Tooltip("verdict:N", title="against the night before"),
        ],
    )
    changes = (
        alt.Chart()
        .transform_filter("datum.layer == 'change'")
        .mark_rule(color="#555", strokeDash=[3, 3])
        .encode(
            x=x,
            tooltip=[
                alt.Tooltip("night:N", title="night"),
                alt.Tooltip("changes:N", title="changed since the night before"),
            ],
        )
    )
    layered = alt.layer(band, line, points, changes, data=DATA).properties(**PANEL)
    return finish(
        layered.facet(
            column=alt.Column("col:N", sort=list(columns), title=None),
            row=alt.Row("row:N", sort=list(panels), title=None),
        )
    )
