"""The share-of-drop and per-image dependence blocks of "What the shift does" (see
`attribution_blocks`): per detector, the chart and the rows the tables show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evalsuite.site.charts.attribution import dependence_curves
from evalsuite.site.charts.specs import Chart, Rows, grouped_bars
from evalsuite.site.views.attribution_blocks import categories, complete, grouped, panel
from evalsuite.site.views.attribution_rows import Dependence, Share

REST = "not explained"
"""How the page names the part of a mixed drop no factor alone explains (`Share.kind` rest)."""
SHARE_KINDS = {"alone": "alone", "leave_one_out": "leave-one-out", "rest": REST}
"""`Share.kind` -> how the chart's legend names it, in legend order."""


@dataclass(frozen=True)
class ShareGroup:
    """The shares of one mixed drop: per factor alone and by leave-one-out, and the rest."""

    regime: str
    category: str
    metric: str
    severity: int
    factors: tuple[tuple[str, Share | None, Share | None], ...]
    rest: Share | None


@dataclass(frozen=True)
class ShareBlock:
    """The share-of-drop chart and tables of one detector."""

    label: str
    scope: str
    chart: Chart | None
    groups: tuple[ShareGroup, ...]


def share_blocks(shares: Sequence[Share]) -> list[ShareBlock]:
    """One block per (label, scope), one group per mixed drop shared."""
    blocks = []
    for block in grouped(shares, lambda s: (s.label, s.scope)):
        groups = []
        keys = lambda s: (s.regime, s.category, s.metric, s.severity)  # noqa: E731
        for same in grouped(block, keys):
            factors = list(dict.fromkeys(s.factor for s in same if s.kind != "rest"))
            kinds = {(s.factor, s.kind): s for s in same}
            pairs = tuple(
                (f, kinds.get((f, "alone")), kinds.get((f, "leave_one_out"))) for f in factors
            )
            rest = next((s for s in same if s.kind == "rest"), None)
            s = same[0]
            groups.append(ShareGroup(s.regime, s.category, s.metric, s.severity, pairs, rest))
        first = block[0]
        blocks.append(ShareBlock(first.label, first.scope, _share_chart(block), tuple(groups)))
    return blocks


def _share_panel(s: Share) -> str:
    return f"{panel(s.metric, s.regime)} · severity {s.severity}"


def _share_chart(shares: Sequence[Share]) -> Chart | None:
    data: Rows = [
        {
            "x": REST if s.kind == "rest" else s.factor,
            "group": SHARE_KINDS.get(s.kind, s.kind),
            "col": s.category,
            "row": _share_panel(s),
            "y": 100 * s.share,
            "lo": None if s.ci95 is None else 100 * s.ci95[0],
            "hi": None if s.ci95 is None else 100 * s.ci95[1],
        }
        for s in shares
        if s.share is not None
    ]
    if not data:
        return None
    factors = list(dict.fromkeys(s.factor for s in shares if s.kind != "rest"))
    columns = categories(s.category for s in shares)
    panels = list(dict.fromkeys(_share_panel(s) for s in shares))
    groups = [SHARE_KINDS[k] for k in SHARE_KINDS]
    blank = {"x": [*factors, REST][0], "group": groups[0], "y": None, "lo": None, "hi": None}
    spec = grouped_bars(
        complete(data, columns, panels, **blank),
        x_order=[*factors, REST],
        groups=groups,
        group_title="share",
        columns=columns,
        facet_rows=panels,
        y_title="share of the mixed drop (%)",
        zero_line=True,
    )
    caption = (
        "The fraction of the mixed shift's drop each factor explains: alone (the factor's own "
        "drop over the mixed drop) and by leave-one-out (the mixed drop less the drop without "
        "the factor, over the mixed drop); not explained: 100% less the shares alone. Error "
        "bars: paired 95% bootstrap interval. Columns: categories."
    )
    return Chart("", caption, spec)


@dataclass(frozen=True)
class DependenceBlock:
    """The per-image dependence curves and slopes of one detector."""

    label: str
    scope: str
    chart: Chart | None
    rows: tuple[Dependence, ...]


def _curve_panel(d: Dependence, severities: int) -> str:
    return d.category if severities == 1 else f"{d.category} · severity {d.severity}"


def dependence_blocks(found: Sequence[Dependence]) -> list[DependenceBlock]:
    """One block per (label, scope)."""
    blocks = []
    for block in grouped(found, lambda d: (d.label, d.scope)):
        n = len({d.severity for d in block})
        data: Rows = [
            {
                "col": d.param,
                "row": _curve_panel(d, n),
                "status": d.status,
                "x": (b.low + b.high) / 2,
                "low": b.low,
                "high": b.high,
                "y": b.mean_change,
                "lo": None if b.ci95 is None else b.ci95[0],
                "hi": None if b.ci95 is None else b.ci95[1],
                "interval": "" if b.ci95 is None else f"[{b.ci95[0]:.3g}, {b.ci95[1]:.3g}]",
                "n": b.n,
            }
            for d in block
            for b in d.bins
        ]
        chart = None
        if data:
            params = list(dict.fromkeys(d.param for d in block))
            panels = list(dict.fromkeys(_curve_panel(d, n) for d in block))
            blank = {"status": "normal", "x": None, "y": None, "lo": None, "hi": None}
            spec = dependence_curves(
                complete(data, params, panels, **blank),
                params=params,
                panels=panels,
                y_title="score change",
            )
            caption = (
                "Each image's score change (shifted − clean, the same image) against one "
                "recorded parameter of its draw, binned: the mean change per bin with its 95% "
                "bootstrap band, normal and anomalous images apart. Columns: parameters; rows: "
                "categories. Scores in the detector's units."
            )
            chart = Chart("", caption, spec)
        first = block[0]
        blocks.append(DependenceBlock(first.label, first.scope, chart, tuple(block)))
    return blocks
