"""DeLong's interval for image AUROC and the per-image placement values behind it.

DeLong, DeLong, Clarke-Pearson (Biometrics 44, 1988): the AUROC is the mean of the structural
components V10 (each anomalous image: the share of normal images it outscores, ties 1/2) and
of V01 (each normal image: the share of anomalous images that outscore it); its variance is
var(V10) / m + var(V01) / n. Computed in O(N log N) from midranks (Sun & Xu, IEEE Signal
Processing Letters 21, 2014): V10_i = (rank of x_i among all - rank among anomalous) / n.
The placement values are also the per-image values the site's paired tests compare.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata

from evalsuite.errors import EvaluationError
from evalsuite.evaluation import _checks


@dataclass(frozen=True)
class DeLong:
    """Image AUROC with DeLong's standard error.

    Attributes:
        auroc: the empirical AUROC (Mann-Whitney).
        se: DeLong's standard error.
        ci95: auroc +- z_0.975 se, clipped to [0, 1].
        placement: (N,) per image in the input order: V10 for anomalous, V01 for normal
            images (each in [0, 1], higher is better for the detector; each class's mean is
            the AUROC).
    """

    auroc: float
    se: float
    ci95: tuple[float, float]
    placement: np.ndarray


def delong(scores: np.ndarray, labels: np.ndarray, level: float = 0.95) -> DeLong:
    """DeLong's AUROC, standard error and interval (fast midrank algorithm).

    Args:
        scores: (N,) image anomaly scores.
        labels: (N,) 1 = anomalous; both classes needed, at least two of each for a variance.
        level: the interval's coverage.

    Raises:
        EvaluationError: bad scores or labels, or a class with fewer than two images.
    """
    s, y = _checks.scores_and_labels(scores, labels)
    _checks.both_classes(y, "DeLong's AUROC interval")
    x, z = s[y], s[~y]  # anomalous (m,), normal (n,)
    m, n = x.size, z.size
    if min(m, n) < 2:
        raise EvaluationError(
            f"DeLong's variance needs two images of each class, got {m} anomalous and {n} normal"
        )
    combined = rankdata(np.concatenate([x, z]))  # midranks
    v10 = (combined[:m] - rankdata(x)) / n
    v01 = 1.0 - (combined[m:] - rankdata(z)) / m
    auroc = float(v10.mean())
    se = math.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n)
    half = float(norm.ppf(0.5 + level / 2.0)) * se
    placement = np.empty(s.size)
    placement[y], placement[~y] = v10, v01
    return DeLong(auroc, se, (max(0.0, auroc - half), min(1.0, auroc + half)), placement)
