"""Rankings of the detectors and their sweep variants across categories × conditions.

Per scope and metric, the treatments are the detectors' variants (baseline and each swept
value), the blocks the (condition/regime, category) pairs where every treatment has a value
(the mean over seeds; shift/threshold is left out: its scores, hence its AUROC and AUPIMO, are
shift/none's by construction). The treatments are ranked in each block and compared with the
Friedman test and the Nemenyi critical difference (`evaluation.ranking`, Demšar 2006), drawn as a
critical-difference diagram. When the sweep variants leave fewer than two complete blocks, the
baselines alone are ranked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from evalsuite.evaluation.ranking import Ranking, friedman_nemenyi
from evalsuite.site.charts.cd import cd_diagram
from evalsuite.site.charts.specs import Chart
from evalsuite.site.read.records import METRIC_NAMES, Cell, GroupKey, Results, value_order
from evalsuite.site.views.per_image import CellStats, distinct_kinds
from evalsuite.site.views.tables import Grid

Block = tuple[str, str]
"""(condition/regime, category)."""


@dataclass(frozen=True)
class RankingView:
    """One CD diagram with its statistics.

    Attributes:
        metric: what is ranked (the site's name).
        scope: per_class or unified.
        treatments: the ranked variants, best first.
        ranks: their average ranks, in that order.
        blocks: the (condition/regime, category) blocks ranked over.
        ranking: the Friedman/Nemenyi result, or None with `reason`.
        chart: the CD diagram, or None.
        reason: why there is no ranking.
    """

    metric: str
    scope: str
    treatments: tuple[str, ...]
    ranks: tuple[float, ...]
    blocks: tuple[Block, ...]
    ranking: Ranking | None
    chart: Chart | None
    reason: str

    @property
    def label(self) -> str:
        """Tells the views apart in figure names (with the scope)."""
        return self.metric


def ranking_views(
    results: Results, grid: Grid, stats: Mapping[str, CellStats]
) -> list[RankingView]:
    """Image AUROC and mean AUPIMO rankings per scope (`stats`: by cell relpath)."""
    getters: dict[str, Callable[[Cell], float | None]] = {
        METRIC_NAMES["image_auroc"]: lambda c: (
            c.metrics["image_auroc"].value if "image_auroc" in c.metrics else None
        ),
        "mean AUPIMO": lambda c: stats[c.relpath].aupimo if c.relpath in stats else None,
    }
    views = []
    for scope in grid.scopes:
        for metric, get in getters.items():
            views.append(_view(results, scope, metric, get))
    return views


def variant_name(group: GroupKey) -> str:
    """A treatment's name: the label, with the swept value for a sweep variant."""
    if group.sweep is None:
        return group.label
    return f"{group.label} {group.sweep[0].rpartition('.')[2]}={group.sweep[1]}"


def _table(
    results: Results, scope: str, get: Callable[[Cell], float | None]
) -> dict[GroupKey, float]:
    """Mean over seeds of each group's value (groups of `scope` with a value in every seed)."""
    table: dict[GroupKey, float] = {}
    for group, cells in results.groups().items():
        found = [get(c) for c in cells if c.ok]
        if group.scope == scope and found and all(v is not None for v in found):
            table[group] = float(np.mean([v for v in found if v is not None]))
    return table


def _view(
    results: Results, scope: str, metric: str, get: Callable[[Cell], float | None]
) -> RankingView:
    table = _table(results, scope, get)
    variants = sorted(
        {(g.label, g.sweep) for g in table},
        key=lambda v: (v[0], v[1] is not None, v[1] and (v[1][0], value_order(v[1][1]))),
    )
    kinds = distinct_kinds(g.kind for g in table)  # shift/threshold repeats shift/none
    blocks = sorted({(g.kind, g.category) for g in table if g.kind in kinds})
    chosen = _complete(table, variants, blocks)
    if len(chosen[1]) < 2:
        chosen = _complete(table, [v for v in variants if v[1] is None], blocks)
    treatments, complete = chosen
    if len(treatments) < 2 or len(complete) < 2:
        reason = (
            f"needs two or more treatments with a {metric} in two or more (condition/regime, "
            f"category) blocks; found {len(treatments)} in {len(complete)}"
        )
        return RankingView(metric, scope, (), (), (), None, None, reason)
    values = np.array(
        [[table[GroupKey(t[0], scope, k, c, t[1])] for t in treatments] for k, c in complete]
    )
    ranking = friedman_nemenyi(values)
    names = [variant_name(GroupKey(t[0], scope, "", "", t[1])) for t in treatments]
    order = np.argsort(ranking.ranks, kind="stable")
    title = f"{metric}, {scope}: average ranks over {len(complete)} blocks"
    return RankingView(
        metric,
        scope,
        tuple(names[i] for i in order),
        tuple(float(ranking.ranks[i]) for i in order),
        tuple(complete),
        ranking,
        cd_diagram(names, ranking, title),
        "",
    )


def _complete(
    table: dict[GroupKey, float],
    variants: list[tuple[str, tuple[str, str] | None]],
    blocks: list[Block],
) -> tuple[list[tuple[str, tuple[str, str] | None]], list[Block]]:
    """The variants and the blocks where all of them have a value."""
    scope = next(iter(table)).scope if table else ""
    complete = [
        (k, c)
        for k, c in blocks
        if all(GroupKey(label, scope, k, c, sweep) in table for label, sweep in variants)
    ]
    return variants, complete
