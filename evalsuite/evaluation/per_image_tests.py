"""Paired tests of two detectors on per-image values of the same test images.

The values are per-image measures on one scale for both detectors (an anomaly score is not:
each detector has its own): DeLong's placement values (`evaluation.delong`) for image AUROC,
AUPIMO (`evaluation.aupimo`) for the pixel level. Two tests of b - a, both from scipy.stats:
the Wilcoxon signed-rank test (zero differences dropped, as Wilcoxon did; no assumption on the
shape of the differences; exact up to 50 pairs without ties, else the normal approximation)
and the paired t-test (of the mean). Their p-values are Holm-adjusted over a family by the
caller (`evaluation.paired.holm`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import ttest_rel, wilcoxon

from evalsuite.errors import EvaluationError

EXACT_UP_TO = 50
"""The largest number of differences whose Wilcoxon p is exact (no ties, no zeros)."""


@dataclass(frozen=True)
class PairedTest:
    """Two tests of one pairing.

    Attributes:
        n: the pairs with a value on both sides.
        mean_a, mean_b: the means of a and b over them.
        p_wilcoxon: the Wilcoxon signed-rank test's two-sided p (1 when every difference is 0).
        p_t: the paired t-test's two-sided p (1 when every difference is 0, 0 when they are
            all one non-zero value).
    """

    n: int
    mean_a: float
    mean_b: float
    p_wilcoxon: float
    p_t: float

    @property
    def mean_diff(self) -> float:
        """Mean of b - a."""
        return self.mean_b - self.mean_a


def paired_tests(a: np.ndarray, b: np.ndarray) -> PairedTest:
    """Wilcoxon signed-rank and paired t-test of b - a, pairs with a NaN side left out.

    Args:
        a, b: (N,) per-image values of the two detectors, in the same image order.

    Raises:
        EvaluationError: different lengths, or fewer than two complete pairs.
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise EvaluationError(
            f"paired values must be two vectors of one length: {x.shape}, {y.shape}"
        )
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 2:
        raise EvaluationError(
            f"a paired test needs two or more images with both values, got {x.size}"
        )
    d = y - x
    if np.all(d == 0):
        return PairedTest(int(x.size), float(x.mean()), float(y.mean()), 1.0, 1.0)
    p_w = float(wilcoxon(y, x, method=_wilcoxon_method(d)).pvalue)
    p_t = 0.0 if np.ptp(d) == 0 else float(ttest_rel(y, x).pvalue)
    return PairedTest(int(x.size), float(x.mean()), float(y.mean()), p_w, p_t)


def _wilcoxon_method(d: np.ndarray) -> Literal["exact", "asymptotic"]:
    """The exact null distribution for up to 50 differences without ties or zeros, else the
    normal approximation with the tie correction (scipy would run a permutation test on ties,
    seconds per test)."""
    nonzero = np.abs(d[d != 0])
    exact = nonzero.size == d.size <= EXACT_UP_TO and np.unique(nonzero).size == nonzero.size
    return "exact" if exact else "asymptotic"
