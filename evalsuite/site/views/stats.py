"""Aggregations over seeds: means ± sd with 95% intervals, and paired differences.

With one seed, a metric's interval is the record's bootstrap 95% CI (resampled test images).
With several seeds, it is the t-interval of the mean over seeds, mean ± t_{0.975, n-1} · sd/√n
(seed spread only; each seed's own bootstrap CI is on its detail page).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from evalsuite.site.read.records import Cell

IntervalKind = Literal["bootstrap", "seeds", "categories"]


@dataclass(frozen=True)
class Summary:
    """A metric of a group of cells (one per seed).

    Attributes:
        mean: the mean over the seeds that have a value; None when none has.
        sd: the sample standard deviation over seeds (None for fewer than two).
        n: the number of seeds with a value (of a mean over categories: the categories).
        ci: the 95% interval (see the module), or None.
        interval: what `ci` is: "bootstrap" (one seed), "seeds" (several) or "categories"
            (a mean over categories, `views.means`: resampled within each category).
        reason: why there is no value: "missing", "failed" or the metric's own reason.
    """

    mean: float | None
    sd: float | None
    n: int
    ci: tuple[float, float] | None
    interval: IntervalKind | None
    reason: str | None


MISSING = Summary(None, None, 0, None, None, "missing")
FAILED = Summary(None, None, 0, None, None, "failed")


@dataclass(frozen=True)
class Delta:
    """A paired difference b − a (e.g. shift − clean), matched seed by seed.

    Attributes:
        mean: mean difference over the seeds where both sides have a value; None when none has.
        sd: its standard deviation over seeds (None for fewer than two).
        n: the number of matched seeds.
    """

    mean: float | None
    sd: float | None
    n: int


def summarise(cells: Sequence[Cell], metric: str) -> Summary:
    """The Summary of `metric` over the cells of one group (one cell per seed).

    Args:
        cells: the group's cells (ok or failed); empty means the group is missing.
        metric: a metric name of the cell records, e.g. "image_auroc".
    """
    ok = [cell for cell in cells if cell.ok]
    if not cells:
        return MISSING
    if not ok:
        return FAILED
    entries = [cell.metrics[metric] for cell in ok]
    values = [entry.value for entry in entries if entry.value is not None]
    if not values:
        reasons = sorted({entry.reason or "no value" for entry in entries})
        return Summary(None, None, 0, None, None, "; ".join(reasons))
    if len(values) == 1:
        ci = next(entry.ci for entry in entries if entry.value is not None)
        return Summary(values[0], None, 1, ci, "bootstrap" if ci else None, None)
    mean = statistics.fmean(values)
    sd = statistics.stdev(values)
    half = t_quantile(len(values) - 1) * sd / math.sqrt(len(values))
    return Summary(mean, sd, len(values), (mean - half, mean + half), "seeds", None)


def paired_delta(a: Sequence[Cell], b: Sequence[Cell], metric: str) -> Delta:
    """b − a of `metric`, matched by seed; seeds missing or without a value on either side are
    left out."""
    first = _values_by_seed(a, metric)
    second = _values_by_seed(b, metric)
    differences = [second[seed] - first[seed] for seed in sorted(first.keys() & second.keys())]
    if not differences:
        return Delta(None, None, 0)
    sd = statistics.stdev(differences) if len(differences) > 1 else None
    return Delta(statistics.fmean(differences), sd, len(differences))


def mean_delta(pairs: Sequence[tuple[Sequence[Cell], Sequence[Cell]]], metric: str) -> Delta:
    """b − a of the mean over categories, matched by seed: one (a, b) pair of groups per
    category; a seed counts only where every category has both values."""
    per_seed: dict[int, list[float]] = {}
    for a, b in pairs:
        first, second = _values_by_seed(a, metric), _values_by_seed(b, metric)
        for seed in first.keys() & second.keys():
            per_seed.setdefault(seed, []).append(second[seed] - first[seed])
    means = [statistics.fmean(d) for _, d in sorted(per_seed.items()) if len(d) == len(pairs)]
    if not means:
        return Delta(None, None, 0)
    sd = statistics.stdev(means) if len(means) > 1 else None
    return Delta(statistics.fmean(means), sd, len(means))


def _values_by_seed(cells: Sequence[Cell], metric: str) -> dict[int, float]:
    found = {}
    for cell in cells:
        value = cell.metrics[metric].value if cell.ok else None
        if value is not None:
            found[cell.key.seed] = value
    return found


def t_quantile(df: int) -> float:
    """The 0.975 quantile of Student's t with `df` degrees of freedom (two-sided 95%)."""
    from scipy.stats import t

    return float(t.ppf(0.975, df))
