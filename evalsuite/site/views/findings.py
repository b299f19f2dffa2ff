"""Findings in words: what the study's paired differences say, as sentences generated from the
difference tables (`differences.difference_tables`), never written by hand.

Only a difference significant after Holm's correction within its table is stated as an effect
("The shift costs patchcore 48.1 points of image AUROC on zipper [39.7, 56.2]"); every other
tested difference is listed as "no detectable difference". A family whose resamples cannot make
any difference significant says so instead (its differences were not testable at 5%). Each
sentence links to its row of the difference table (`DiffTable.anchor`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evalsuite.site.read.records import METRIC_NAMES
from evalsuite.site.views.difference_rows import DiffRow, DiffTable, PairedValue

FINDING_METRICS = ("image_auroc", "image_f1")
"""The metrics findings speak of: detection (ranking) and the decision at the val threshold."""
LEADS = {
    "shift": "The shift",
    "threshold": "Recalibrating the threshold on shifted val images",
    "retrain": "Retraining on shifted images",
    "unified": "One model for all categories (unified)",
}
"""How a sentence of each family starts (a sweep's names its value)."""


@dataclass(frozen=True)
class Finding:
    """One sentence and where its evidence is.

    Attributes:
        text: the sentence (or, in a "no detectable difference" list, one item).
        href: the page and anchor of its row in the difference table.
    """

    text: str
    href: str


@dataclass(frozen=True)
class FindingBlock:
    """What one family of differences says.

    Attributes:
        title: the table's title, e.g. "shift/none − clean/none".
        effects: significant differences, largest first.
        undetected: per metric title, the comparisons tested without a detectable difference.
        untestable: why none of the family can be significant (too few resamples), or "".
        page: the page the table is on.
    """

    title: str
    effects: tuple[Finding, ...]
    undetected: tuple[tuple[str, tuple[Finding, ...]], ...]
    untestable: str
    page: str

    @property
    def n_undetected(self) -> int:
        """Comparisons tested without a detectable difference."""
        return sum(len(items) for _, items in self.undetected)


def findings(tables: Sequence[DiffTable], page: str) -> list[FindingBlock]:
    """The findings of `tables`, whose rows are shown on `page` (e.g. "shift.html")."""
    return [_block(table, page) for table in tables if table.rows]


def _block(table: DiffTable, page: str) -> FindingBlock:
    effects: list[tuple[float, Finding]] = []
    undetected: dict[str, list[Finding]] = {}
    for row in table.rows:
        for metric, value in zip(table.metrics, row.values, strict=True):
            if metric not in FINDING_METRICS or value.diff is None:
                continue
            href = f"{page}#{table.anchor(row)}"
            if value.significant:
                effects.append((abs(value.diff.delta), Finding(_effect(table, row, value), href)))
            else:
                item = Finding(_where(table, row, with_label=True), href)
                undetected.setdefault(METRIC_NAMES[metric], []).append(item)
    untestable = ""
    if not table.reachable:
        untestable = (
            f"With {table.resamples} bootstrap resamples no p-value is below "
            f"{table.min_p:.2g}, so after Holm over the {table.n_comparisons} tests of this table "
            f"none can be below 0.05: no difference here can be stated as an effect (raise "
            f"evaluation.bootstrap to at least {table.resamples_needed})."
        )
    ordered = tuple(finding for _, finding in sorted(effects, key=lambda e: -e[0]))
    lists = tuple((metric, tuple(items)) for metric, items in undetected.items())
    return FindingBlock(table.title, ordered, lists, untestable, page)


def _effect(table: DiffTable, row: DiffRow, value: PairedValue) -> str:
    """The sentence of one significant difference, its interval in points of the change."""
    diff = value.diff
    assert diff is not None  # a significant value has a difference
    metric = METRIC_NAMES[diff.metric]
    low, high = (100 * bound for bound in diff.ci95)
    size = 100 * diff.delta
    if size < 0:
        verb, size, low, high = "costs", -size, -high, -low
    else:
        verb = "gains"
    return (
        f"{_lead(table)} {verb} {row.b.label} {size:.1f} points of {metric} on "
        f"{_where(table, row)} [{low:.1f}, {high:.1f}] (Holm-adjusted p = {value.p_holm_text})."
    )


def _lead(table: DiffTable) -> str:
    if table.family in LEADS:
        return LEADS[table.family]
    _, _, param = table.family.split(":", 2)  # sweep:<label>:<param>
    return f"Changing {param} from its baseline"


def _where(table: DiffTable, row: DiffRow, with_label: bool = False) -> str:
    """The category (or the mean over categories) with what else tells the row apart."""
    where = "the mean over categories" if row.mean else row.b.category
    details = []
    if table.family.startswith("sweep:") and row.b.sweep is not None:
        details.append(f"{row.b.sweep[0]} = {row.b.sweep[1]}")
    if table.family in ("unified",) or table.family.startswith("sweep:"):
        details.append(row.b.kind)
    elif row.a.scope == row.b.scope:
        details.append(row.b.scope)
    text = f"{where} ({', '.join(details)})" if details else where
    return f"{row.b.label} on {text}" if with_label else text
