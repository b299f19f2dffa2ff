"""The critical-difference diagram (Demšar 2006, Fig. 1) as an Altair chart.

One row per treatment at its average rank (1 = best, left), one row per clique (treatments the
Nemenyi test does not tell apart, joined by a bar) and a bar as long as the critical difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import altair as alt

from evalsuite.evaluation.ranking import Ranking
from evalsuite.site.charts.specs import DATA, Chart, Rows, finish, with_rows


def cd_diagram(names: Sequence[str], ranking: Ranking, title: str) -> Chart:
    """The CD diagram of `ranking` (treatments `names`, in its column order)."""
    order = sorted(range(len(names)), key=lambda i: (ranking.ranks[i], names[i]))
    rows: Rows = [
        {"layer": "rank", "row": names[i], "lo": float(ranking.ranks[i]), "hi": None} for i in order
    ]
    for n, clique in enumerate(ranking.cliques, start=1):
        ranks = [float(ranking.ranks[i]) for i in clique]
        rows.append(
            {"layer": "clique", "row": f"not different {n}", "lo": min(ranks), "hi": max(ranks)}
        )
    best = float(min(ranking.ranks))
    cd_row = f"CD = {ranking.cd:.2f}"
    rows.append({"layer": "cd", "row": cd_row, "lo": best, "hi": best + ranking.cd})
    y_order = tuple(str(r["row"]) for r in rows)
    upper = max(float(len(names)), best + ranking.cd)
    spec = with_rows(_skeleton(y_order, round(upper, 3)), rows)
    caption = (
        f"Average rank of each treatment over {ranking.n_blocks} (condition/regime, category) "
        f"blocks, 1 = best. Bars join treatments whose average ranks differ by less than the "
        f"Nemenyi critical difference (CD = {ranking.cd:.2f} at α = {ranking.alpha:g}): the "
        f"test does not tell them apart. Friedman χ² = {ranking.chi2:.2f}, "
        f"p = {ranking.p_chi2:.2g}."
    )
    return Chart(title, caption, spec)


@cache
def _skeleton(y_order: tuple[str, ...], upper: float) -> dict[str, Any]:
    base = alt.Chart(DATA).encode(
        y=alt.Y("row:N", sort=list(y_order), title=None, axis=alt.Axis(labelLimit=260)),
    )
    x = alt.X(
        "lo:Q",
        title="average rank (1 = best)",
        scale=alt.Scale(domain=[1, upper], nice=False),
    )
    points = (
        base.transform_filter(alt.datum.layer == "rank")
        .mark_point(filled=True, size=70, color="#1f4e79")
        .encode(
            x=x,
            tooltip=[
                alt.Tooltip("row:N", title="treatment"),
                alt.Tooltip("lo:Q", title="average rank", format=".2f"),
            ],
        )
    )
    labels = (
        base.transform_filter(alt.datum.layer == "rank")
        .mark_text(align="left", dx=8, fontSize=11)
        .encode(x=x, text=alt.Text("lo:Q", format=".2f"))
    )
    bars = (
        base.transform_filter(alt.datum.layer != "rank")
        .mark_rule(strokeWidth=4, color="#555")
        .encode(x=x, x2="hi:Q")
    )
    chart = alt.layer(bars, points, labels).properties(width=420, height=22 * len(y_order))
    return finish(chart)
