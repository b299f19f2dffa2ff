"""The rows of the difference tables: one `PairedValue` per metric of a comparison, a
`DiffRow` per comparison, a `DiffTable` per family (Holm is applied within it), and how the
pages write them (percentage points, intervals, p-values).

A difference is marked significant by `evaluation.significance.significant` alone; a metric
zero by construction for a comparison (`zero_value`) is neither tested nor counted in the
family. The tables are computed by `differences`; their mean rows by `means`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from evalsuite.evaluation.bootstrap import Interval
from evalsuite.evaluation.paired import Difference
from evalsuite.evaluation.significance import (
    reachable,
    resamples_needed,
    significant,
    smallest_holm_p,
    smallest_p,
)
from evalsuite.site.read.records import METRIC_NAMES, Cell, GroupKey
from evalsuite.site.views.stats import Delta

DIFF_METRICS = ("image_auroc", "pixel_auroc", "aupro_0.3", "image_f1", "pixel_f1")
"""The metrics every difference is reported on (F1: image / pixel, at the val thresholds)."""


@dataclass(frozen=True)
class PairedValue:
    """One metric of one comparison.

    Attributes:
        diff: the paired (pooled over seeds) difference, or None with a reason.
        seeds: b − a per seed, mean ± sd over seeds (n = matched seeds).
        p_holm: the Holm-adjusted p-value within the table, or None.
        reason: why there is no difference.
        zero: the difference is zero by construction (not tested, not in the family).
    """

    diff: Difference | None
    seeds: Delta
    p_holm: float | None
    reason: str | None
    zero: bool = False

    @property
    def excludes_zero(self) -> bool:
        """Whether the 95% interval excludes 0 (not a significance mark: see `significant`)."""
        return self.diff is not None and self.diff.excludes_zero

    @property
    def significant(self) -> bool:
        """Whether the star is shown: Holm-adjusted p < 0.05 (`significance.significant`)."""
        return self.diff is not None and significant(self.p_holm)

    @property
    def p_holm_text(self) -> str:
        """The Holm-adjusted p-value, 2 significant digits."""
        return "" if self.p_holm is None else f"{self.p_holm:.2g}"

    @property
    def delta_text(self) -> str:
        """b − a in percentage points with its sign, e.g. "−3.2"."""
        return "" if self.diff is None else points(self.diff.delta)

    @property
    def ci_text(self) -> str:
        """The paired 95% interval in points, e.g. "[−5.0, −1.1]"."""
        if self.diff is None:
            return ""
        low, high = self.diff.ci95
        return f"[{points(low)}, {points(high)}]"

    @property
    def p_text(self) -> str:
        """The unadjusted p-value, 2 significant digits."""
        return "" if self.diff is None else f"{self.diff.p_value:.2g}"

    @property
    def seeds_text(self) -> str:
        """Mean ± sd of b − a over seeds in points ("" for one seed)."""
        if self.seeds.mean is None or self.seeds.sd is None:
            return ""
        return f"{points(self.seeds.mean)} ± {100 * self.seeds.sd:.1f} (n={self.seeds.n})"

    @property
    def tooltip(self) -> str:
        """a and b in %, the images and resamples, or the reason."""
        d = self.diff
        if d is None:
            return self.reason or ""
        return (
            f"a {100 * d.a:.1f}%, b {100 * d.b:.1f}%; {d.n_images} paired images, "
            f"{d.n_resamples} resamples, seed {d.seed}"
        )


def points(fraction: float) -> str:
    """A fraction as signed percentage points with one decimal ("0.0" unsigned, "−" minus)."""
    value = round(100 * fraction, 1)
    return "0.0" if value == 0 else f"{value:+.1f}".replace("-", "\u2212")


def side(key: GroupKey) -> str:
    """How a row names one side: scope · condition/regime (· param=value)."""
    text = f"{key.scope} · {key.kind}"
    return text if key.sweep is None else f"{text} · {key.sweep[0]}={key.sweep[1]}"


@dataclass(frozen=True)
class DiffRow:
    """One comparison: b − a per metric.

    Attributes:
        a, b: the two groups (reference and compared).
        values: one PairedValue per DIFF_METRICS metric.
        pairs: the (a, b) cells matched by seed.
        first_of_label: the first row of its detector.
        mean: a mean row (category "mean"): the mean over the categories of the rows before it
            that differ from it only in category (`means.with_mean_diffs`).
    """

    a: GroupKey
    b: GroupKey
    values: tuple[PairedValue, ...]
    pairs: tuple[tuple[Cell, Cell], ...]
    first_of_label: bool
    mean: bool = False

    @property
    def a_text(self) -> str:
        """The reference side, e.g. "per_class · clean/none"."""
        return side(self.a)

    @property
    def b_text(self) -> str:
        """The compared side."""
        return side(self.b)


@dataclass(frozen=True)
class DiffTable:
    """One family of comparisons (one table; Holm is applied within it).

    Attributes:
        family: shift, threshold, retrain, unified or sweep:<label>:<param>.
        title: what is compared, e.g. "shift/none − clean/none".
        rows: the comparisons.
        metrics: DIFF_METRICS.
    """

    family: str
    title: str
    rows: tuple[DiffRow, ...]
    metrics: tuple[str, ...] = DIFF_METRICS

    def anchor(self, row: DiffRow) -> str:
        """The id of `row`'s table row on its page: readable, and unique by a digest of what
        tells the rows of every family apart."""
        a, b = row.a, row.b
        parts = (self.family, b.label, a.scope, a.kind, b.scope, b.kind, b.category)
        key = "|".join((*parts, str(row.mean), repr(b.sweep)))
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
        readable = re.sub(r"[^A-Za-z0-9_]+", "-", f"{self.family}-{row.b.label}-{row.b.category}")
        return f"d-{readable}-{digest}"

    @property
    def n_comparisons(self) -> int:
        """Comparisons with a p-value (the Holm family size; zero by construction excluded)."""
        return sum(v.diff is not None for r in self.rows for v in r.values)

    @property
    def n_zero(self) -> int:
        """Comparisons zero by construction (not tested)."""
        return sum(v.zero for r in self.rows for v in r.values)

    @property
    def resamples(self) -> int | None:
        """The most resamples of a difference of the table (None without a difference)."""
        counts = [v.diff.n_resamples for r in self.rows for v in r.values if v.diff is not None]
        return max(counts) if counts else None

    @property
    def min_p(self) -> float | None:
        """The smallest p-value the resamples allow, 2 / (B + 1) (None without a difference)."""
        return None if self.resamples is None else smallest_p(self.resamples)

    @property
    def min_p_holm(self) -> float | None:
        """The smallest Holm-adjusted p-value the resamples allow in this family."""
        if self.resamples is None:
            return None
        return smallest_holm_p(self.resamples, self.n_comparisons)

    @property
    def reachable(self) -> bool:
        """Whether these resamples can make any difference of the family significant."""
        return self.resamples is None or reachable(self.resamples, self.n_comparisons)

    @property
    def resamples_needed(self) -> int:
        """The fewest resamples with which this family could reach significance."""
        return resamples_needed(self.n_comparisons)

    @property
    def n_significant(self) -> int:
        """Comparisons marked significant (Holm-adjusted p < 0.05)."""
        return sum(v.significant for r in self.rows for v in r.values)

    @property
    def n_excluding_zero(self) -> int:
        """Comparisons whose interval excludes 0."""
        return sum(v.excludes_zero for r in self.rows for v in r.values)


def paired_intervals(tables: Sequence[DiffTable]) -> dict[tuple[GroupKey, str], Interval]:
    """The paired 95% interval of every tested difference of the tables, by its compared group
    and metric (the charts' error bars: `figures.drop`, `figures.gap`)."""
    return {
        (row.b, metric): value.diff.ci95
        for t in tables
        for row in t.rows
        for metric, value in zip(t.metrics, row.values, strict=True)
        if value.diff is not None
    }


def zero_value(metric: str, seeds: Delta) -> PairedValue:
    """A metric zero by construction (`significance.zero_by_construction`): not tested (no
    p-value, not in the family)."""
    reason = (
        f"= 0 by construction: {METRIC_NAMES[metric]} depends on nothing that differs "
        "between the two cells (not tested)"
    )
    return PairedValue(None, seeds, None, reason, zero=True)
