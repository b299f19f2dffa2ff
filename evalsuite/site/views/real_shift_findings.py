"""The words on top of "Synthetic vs real shift": sentences generated from the view's drops and
predictions (never written by hand), by the rules of `views.findings`.

- A drop is stated as an effect only when its Holm-adjusted p (over every drop of the page) is
  below 0.05, in the form of the site's other findings: "The real overexposed condition costs
  patchcore 4.1 points of image AUROC on zipper (per_class) [1.0, 7.2] (Holm-adjusted p =
  0.01)." (image AUROC and F1); every other tested drop is listed under "No detectable
  difference in ...".
- A prediction is stated only when the Holm-adjusted p of its Spearman rho (over every
  prediction of the page) is below 0.05: "The per-image score changes under MVTec-Shift
  predict those under the real overexposed condition for patchcore on zipper (per_class):
  Spearman ρ = 0.62 [0.41, 0.78] over 40 paired images (Holm-adjusted p = 0.004)."; the others
  are listed as without a detectable rank correlation.
- Where the ids do not pair (or a cell is missing), the comparison is listed as not
  comparable, with the reason.
- A family whose resamples cannot make anything significant says so (as `views.findings`).

Every sentence links to its row (`href`: the page and the row's anchor).
"""

from __future__ import annotations

from dataclasses import dataclass

from evalsuite.site.read.records import METRIC_NAMES
from evalsuite.site.views.findings import FINDING_METRICS, Finding
from evalsuite.site.views.real_shift_rows import DropRow, Prediction, RealShiftView

PAGE = "real_shift.html"
RHO = "Spearman ρ"


@dataclass(frozen=True)
class Sentences:
    """What one table of the page says.

    Attributes:
        title: what the table compares.
        effects: the significant drops or correlations, largest first.
        undetected: (lead, items): the tested rows without a detectable effect, per metric.
        not_comparable: the rows without a value, each with its reason.
        untestable: why nothing of the table can be significant (too few resamples), or "".
    """

    title: str
    effects: tuple[Finding, ...]
    undetected: tuple[tuple[str, tuple[Finding, ...]], ...]
    not_comparable: tuple[Finding, ...]
    untestable: str


def sentences(view: RealShiftView) -> tuple[Sentences, Sentences]:
    """The sentences of the drop table, then those of the prediction table."""
    return _drop_sentences(view), _prediction_sentences(view)


def _where(label: str, category: str, scope: str) -> str:
    return f"{label} on {category} ({scope})"


def _untestable(resamples: int | None, min_p: float | None, n: int, needed: int) -> str:
    return (
        f"With {resamples} bootstrap resamples no p-value is below {min_p:.2g}, so after Holm "
        f"over the {n} tests of this table none can be below 0.05: nothing here can be stated "
        f"as an effect (raise evaluation.bootstrap to at least {needed})."
    )


def _drop_sentences(view: RealShiftView) -> Sentences:
    table = view.table
    effects: list[tuple[float, Finding]] = []
    undetected: dict[str, list[Finding]] = {}
    not_comparable: list[Finding] = []
    for row in view.drops:
        href = f"{PAGE}#{row.anchor}"
        for metric in FINDING_METRICS:
            value = row.value(metric)
            if value.diff is None:
                continue
            if value.significant:
                effects.append((abs(value.diff.delta), Finding(_effect(row, metric), href)))
            else:
                where = f"{_where(row.label, row.category, row.scope)}, {row.shift.title}"
                lead = f"No detectable difference in {METRIC_NAMES[metric]}"
                undetected.setdefault(lead, []).append(Finding(where, href))
        reason = row.value("image_auroc").reason
        if row.value("image_auroc").diff is None and reason:
            where = f"{row.shift.title} for {_where(row.label, row.category, row.scope)}"
            not_comparable.append(Finding(f"{where}: {reason}", href))
    untestable = ""
    if not table.reachable:
        untestable = _untestable(
            table.resamples, table.min_p, table.n_comparisons, table.resamples_needed
        )
    return Sentences(
        table.title,
        tuple(f for _, f in sorted(effects, key=lambda e: -e[0])),
        tuple((metric, tuple(items)) for metric, items in undetected.items()),
        tuple(not_comparable),
        untestable,
    )


def _effect(row: DropRow, metric: str) -> str:
    """The sentence of one significant drop, its interval in points of the change."""
    value = row.value(metric)
    diff = value.diff
    assert diff is not None  # a significant value has a difference
    low, high = (100 * bound for bound in diff.ci95)
    size = 100 * diff.delta
    if size < 0:
        verb, size, low, high = "costs", -size, -high, -low
    else:
        verb = "gains"
    lead = row.shift.phrase
    return (
        f"{lead[0].upper()}{lead[1:]} {verb} {row.label} {size:.1f} points of "
        f"{METRIC_NAMES[metric]} on {row.category} ({row.scope}) [{low:.1f}, {high:.1f}] "
        f"(Holm-adjusted p = {value.p_holm_text})."
    )


def _prediction_sentences(view: RealShiftView) -> Sentences:
    effects: list[tuple[float, Finding]] = []
    undetected: list[Finding] = []
    not_comparable: list[Finding] = []
    for p in view.predictions:
        href = f"{PAGE}#{p.anchor}"
        pair = f"{p.real.title} vs {p.synthetic.title}"
        where = _where(p.label, p.category, p.scope)
        if p.value is None:
            not_comparable.append(Finding(f"{pair} for {where}: {p.reason}", href))
        elif p.significant:
            effects.append((abs(p.value.rho), Finding(prediction_text(p), href)))
        else:
            undetected.append(Finding(f"{where}, {pair}", href))
    untestable = ""
    if not view.predictions_reachable:
        untestable = _untestable(
            view.resamples,
            view.predictions_min_p,
            view.n_tested,
            view.predictions_resamples_needed,
        )
    return Sentences(
        "How well the synthetic shift predicts the real one (per-image score changes)",
        tuple(f for _, f in sorted(effects, key=lambda e: -e[0])),
        ((f"No detectable rank correlation ({RHO})", tuple(undetected)),) if undetected else (),
        tuple(not_comparable),
        untestable,
    )


def prediction_text(p: Prediction) -> str:
    """The sentence of one significant correlation."""
    value = p.value
    assert value is not None  # a significant prediction has a correlation
    low, high = value.ci95
    verb = "predict" if value.rho > 0 else "run against"
    return (
        f"The per-image score changes under {p.synthetic.phrase} {verb} those under "
        f"{p.real.phrase} for {_where(p.label, p.category, p.scope)}: {RHO} = "
        f"{_signed(value.rho)} [{_signed(low)}, {_signed(high)}] over {value.n_images} paired "
        f"images (Holm-adjusted p = {p.p_holm:.2g})."
    )


def _signed(x: float) -> str:
    """A correlation with two decimals, "−" for minus."""
    return f"{x:.2f}".replace("-", "\u2212")
