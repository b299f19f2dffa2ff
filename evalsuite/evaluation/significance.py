"""What counts as significant, which comparisons are tested, and what the resamples can reach.

One rule decides every star of the site, the CSV and the LaTeX (`significant`): a difference is
significant when its Holm-adjusted p-value (`paired.holm`, over the family of its table) is
below `ALPHA`; nothing else (not an interval that excludes 0) marks it.

A comparison is zero by construction for a metric when every input the metric depends on is the
same in both cells (`zero_by_construction`): ranking metrics (AUROC, AUPR, AU-PRO) depend on the
fitted model and the test images only, thresholded metrics (F1, precision, recall, FPR) also on
the threshold (the model and the validation images it was chosen on). Such a comparison (e.g. a
ranking metric between shift/threshold and shift/none, which share the model and the test images)
is not tested and not counted in the Holm family.

The bootstrap p-value is never below 2 / (B + 1) with B resamples (`paired.bootstrap_p_value`),
so after Holm over m tests none is below min(1, 2m / (B + 1)) (`smallest_holm_p`); when that is
not below `ALPHA`, no difference can be significant, whatever the data (`reachable`). So the
site resamples each family's differences `family_resamples` times: `HEADROOM` times the fewest
that could reach significance (at least the records' `evaluation.bootstrap`), whatever the
study's B.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

ALPHA = 0.05
"""The level of every significance mark (Holm-adjusted, family-wise)."""
HEADROOM = 2
"""A family's resamples are this many times the fewest that can reach significance, so its
smallest attainable Holm-adjusted p-value is ALPHA / HEADROOM."""
RANKING_METRICS = frozenset({"image_auroc", "image_aupr", "pixel_auroc", "aupro_0.3", "aupro_0.05"})
"""Metrics of the ranking of the scores only: no threshold changes them."""


@dataclass(frozen=True)
class CellInputs:
    """What one cell's metrics are computed from (any hashable description of each).

    Attributes:
        model: the fitted detector (its configuration, scope and train images).
        val: the validation images its threshold is chosen on.
        test: the test images its metrics are computed on.
    """

    model: Hashable
    val: Hashable
    test: Hashable


def significant(p_holm: float | None) -> bool:
    """Whether a difference is marked significant: its Holm-adjusted p-value is below ALPHA.

    Args:
        p_holm: the Holm-adjusted p-value within its family, or None when untested.
    """
    return p_holm is not None and p_holm < ALPHA


def zero_by_construction(metric: str, a: CellInputs, b: CellInputs) -> bool:
    """Whether b - a of `metric` is 0 whatever the data (see the module docstring).

    Args:
        metric: e.g. "image_auroc" (a ranking metric) or "image_f1" (thresholded).
        a, b: the inputs of the two cells compared.
    """
    same_scores = a.model == b.model and a.test == b.test
    if metric in RANKING_METRICS:
        return same_scores
    return same_scores and a.val == b.val


def smallest_p(n_resamples: int) -> float:
    """The smallest two-sided bootstrap p-value B resamples allow, 2 / (B + 1) (at most 1)."""
    return min(1.0, 2.0 / (n_resamples + 1))


def smallest_holm_p(n_resamples: int, family_size: int) -> float:
    """The smallest Holm-adjusted p-value of a family of `family_size` tests, min(1, m p_min)."""
    return min(1.0, max(family_size, 1) * smallest_p(n_resamples))


def reachable(n_resamples: int, family_size: int) -> bool:
    """Whether any difference of the family can be significant with these resamples."""
    return smallest_holm_p(n_resamples, family_size) < ALPHA


def resamples_needed(family_size: int) -> int:
    """The fewest resamples B with 2 m / (B + 1) < ALPHA, i.e. that can reach significance."""
    return math.floor(2 * max(family_size, 1) / ALPHA + 1e-9)


def family_resamples(family_size: int, rounded_to: int = 100) -> int:
    """The resamples of every difference of a family of `family_size` tests: HEADROOM times
    `resamples_needed`, rounded up to a multiple of `rounded_to` (e.g. 80 tests: 6,400)."""
    wanted = HEADROOM * resamples_needed(family_size)
    return -(-wanted // rounded_to) * rounded_to
