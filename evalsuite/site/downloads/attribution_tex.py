"""`attribution.tex`: the tables of "What the shift does" for a paper, as the site's other
LaTeX tables (`latex`): ASCII booktabs, a value stacked over its 95% interval, one detector per
table, cut between blocks where a table would be taller than a page.

Tables: the drops per metric (variant x severity, a block per category), the mean drops, the
shares of the mixed drop, the per-image slopes and the line rates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from evalsuite.site.downloads.latex import (
    Block,
    latex_escape,
    number,
    split_table,
    stack,
    synthetic_note,
)
from evalsuite.site.read.records import METRIC_NAMES
from evalsuite.site.views.attribution_blocks import grouped, panel
from evalsuite.site.views.attribution_curves import REST
from evalsuite.site.views.attribution_rows import (
    AttributionView,
    Dependence,
    FactorDrop,
    LineRates,
    Rate,
    Share,
)
from evalsuite.site.views.difference_rows import DIFF_METRICS, PairedValue

T = TypeVar("T")
NA = "n/a"


def _interval(ci: tuple[float, float] | None, signed: bool = False) -> str:
    return "" if ci is None else f"[{number(ci[0], signed)}, {number(ci[1], signed)}]"


def _drop(value: PairedValue | None) -> str:
    if value is None:
        return "--"
    if value.zero:
        return "$=0$"
    if value.diff is None:
        return NA
    star = "*" if value.significant else ""
    return stack([number(value.diff.delta, signed=True) + star, _interval(value.diff.ci95, True)])


def _fraction(value: float | None, ci: tuple[float, float] | None) -> str:
    if value is None:
        return NA
    return stack([number(value), _interval(ci)]) if ci is not None else number(value)


def _g(value: float) -> str:
    return f"{value:.3g}".replace("-", "$-$")


def _detector(*parts: str) -> str:
    return " ".join(parts)


def _tables(
    items: Sequence[T],
    detector: Callable[[T], tuple[str, ...]],
    block: Callable[[T], tuple[object, ...]],
    line: Callable[[T, bool], str],
) -> list[Block]:
    """Blocks of body rows: one detector per table, a block per `block` key."""
    blocks = []
    for same in grouped(items, lambda i: (detector(i), block(i))):
        lines = tuple(line(item, i == 0) for i, item in enumerate(same))
        blocks.append(Block(_detector(*detector(same[0])), lines))
    return blocks


def drops_tex(drops: Sequence[FactorDrop], study: str, synthetic: bool) -> list[str]:
    """One table set per metric: variant x severity, a block per category."""
    out = []
    for metric in DIFF_METRICS:
        chosen = [d for d in drops if d.metric == metric and not d.value.zero]
        severities = sorted({d.severity for d in chosen})
        if not chosen:
            continue
        blocks = []
        keyed = grouped(chosen, lambda d: (d.label, d.scope, d.family, d.regime, d.category))
        for same in keyed:
            first = same[0]
            lines = []
            for i, row in enumerate(grouped(same, lambda d: d.variant)):
                at = {d.severity: d.value for d in row}
                category = latex_escape(first.category) if i == 0 else ""
                values = [_drop(at.get(s)) for s in severities]
                lines.append(" & ".join([category, latex_escape(row[0].variant), *values]) + r" \\")
            name = _detector(first.label, first.scope, first.family, f"({first.regime})")
            blocks.append(Block(name, tuple(lines)))
        caption = (
            f"Study {study}: the drop of {METRIC_NAMES[metric]} under each shift variant "
            "(variant - clean, same model and test images) in percentage points, below it "
            "the paired 95% bootstrap interval; * marks a Holm-adjusted p < 0.05 (Holm over "
            "the detector's drops in the family); mean: over the categories. --: not "
            "evaluated; n/a: undefined."
        )
        columns = ["Category", "Variant", *(f"sev.~{s}" for s in severities)]
        label = f"tab:evalsuite-attribution-drops-{metric.replace('.', '')}"
        out.append(split_table(caption + synthetic_note(synthetic), label, columns, 2, blocks))
    return out


def means_tex(view: AttributionView, study: str, synthetic: bool) -> str:
    """The mean drops: a row per family, regime and metric, a column per severity."""
    levels = sorted({m.severity for m in view.means if m.severity is not None})
    columns: list[int | None] = [*levels, None]
    blocks = []
    for same in grouped(view.means, lambda m: (m.label, m.scope)):
        lines = []
        for row in grouped(same, lambda m: (m.family, m.regime, m.metric)):
            at = {m.severity: m for m in row}
            values = []
            for c in columns:
                m = at.get(c)
                values.append(
                    "--" if m is None else stack([number(m.delta, True), _interval(m.ci95, True)])
                )
            first = row[0]
            name = latex_escape(f"{first.family}, {panel(first.metric, first.regime)}")
            lines.append(" & ".join([name, *values]) + r" \\")
        blocks.append(Block(_detector(same[0].label, same[0].scope), tuple(lines)))
    caption = (
        f"Study {study}: the drop averaged over a family's variants and the categories, per "
        "severity and over every severity (all), in percentage points, below it the paired "
        "95% bootstrap interval."
    )
    names = ["Family, metric", *(f"sev.~{c}" if c is not None else "all" for c in columns)]
    tag = "tab:evalsuite-attribution-means"
    return split_table(caption + synthetic_note(synthetic), tag, names, 1, blocks)


def _share_line(s: Share, first: bool) -> str:
    head = latex_escape(f"{s.category}, {panel(s.metric, s.regime)}, sev. {s.severity}")
    factor = REST if s.kind == "rest" else s.factor
    kind = {"alone": "alone", "leave_one_out": "leave-one-out", "rest": ""}.get(s.kind, s.kind)
    value = _fraction(s.share, s.ci95)
    return " & ".join([head if first else "", latex_escape(factor), kind, value]) + r" \\"


def shares_tex(shares: Sequence[Share], study: str, synthetic: bool) -> str:
    """Each factor's share of the mixed drop, a block per mixed drop."""
    blocks = _tables(
        shares,
        lambda s: (s.label, s.scope),
        lambda s: (s.regime, s.category, s.metric, s.severity),
        _share_line,
    )
    caption = (
        f"Study {study}: the share of the mixed shift's drop each factor explains, in %: "
        "alone (its own drop over the mixed drop) and by leave-one-out (the mixed drop less "
        "the drop without it, over the mixed drop), below it the paired 95% bootstrap "
        "interval; not explained: 100% less the shares alone. n/a: no share (see "
        "attribution_shares.csv for the reason)."
    )
    columns = ["Drop", "Factor", "Kind", "Share (\\%)"]
    tag = "tab:evalsuite-attribution-shares"
    return split_table(caption + synthetic_note(synthetic), tag, columns, 3, blocks)


def _slope_line(d: Dependence, first: bool) -> str:
    head = latex_escape(f"{d.category}, sev. {d.severity}, {d.status}")
    if d.slope is None:
        value = NA
    elif d.ci95 is None:
        value = _g(d.slope)
    else:
        value = stack([_g(d.slope), f"[{_g(d.ci95[0])}, {_g(d.ci95[1])}]"])
    return " & ".join([head if first else "", latex_escape(d.param), value, str(d.n_images)]) + (
        r" \\"
    )


def slopes_tex(found: Sequence[Dependence], study: str, synthetic: bool) -> str:
    """The per-image slopes, a block per category, severity and image status."""
    blocks = _tables(
        found,
        lambda d: (d.label, d.scope),
        lambda d: (d.category, d.severity, d.status),
        _slope_line,
    )
    caption = (
        f"Study {study}: on the mixed shift, the change of an image's score (shifted - clean, "
        "the same image) per unit of each recorded shift parameter, from a regression on every "
        "parameter, in the detector's score units, below it the 95% bootstrap interval; n: "
        "images."
    )
    columns = ["Images", "Parameter", "Slope", "n"]
    tag = "tab:evalsuite-attribution-slopes"
    return split_table(caption + synthetic_note(synthetic), tag, columns, 2, blocks)


def _rate(rate: Rate) -> str:
    return _fraction(rate.value, rate.ci95)


def _rates_line(r: LineRates, first: bool) -> str:
    key = [latex_escape(r.category) if first else "", latex_escape(f"{r.variant} ({r.severity})")]
    values = [_rate(r.false_alarm), _rate(r.clean_false_alarm), _rate(r.miss), _rate(r.clean_miss)]
    return " & ".join([*key, *values]) + r" \\"


def rates_tex(rates: Sequence[LineRates], study: str, synthetic: bool) -> str:
    """False alarms and misses at the clean threshold, a block per category."""
    blocks = _tables(
        rates, lambda r: (r.label, r.scope, r.family), lambda r: (r.category,), _rates_line
    )
    caption = (
        f"Study {study}: at the clean image threshold (chosen on clean val), the false-alarm "
        "rate on normal test images (FA) and the miss rate on defective ones under each "
        "variant (severity), beside the clean rates, in %, below each its 95% interval."
    )
    columns = ["Category", "Variant", "FA", "FA clean", "Miss", "Miss clean"]
    tag = "tab:evalsuite-attribution-rates"
    return split_table(caption + synthetic_note(synthetic), tag, columns, 2, blocks)


def attribution_tex(view: AttributionView, study: str, synthetic: bool) -> str:
    """Every table of the page that has rows."""
    parts = drops_tex(view.drops, study, synthetic)
    if view.means:
        parts.append(means_tex(view, study, synthetic))
    if view.shares:
        parts.append(shares_tex(view.shares, study, synthetic))
    if view.dependence:
        parts.append(slopes_tex(view.dependence, study, synthetic))
    if view.rates:
        parts.append(rates_tex(view.rates, study, synthetic))
    return "\n".join(parts)
