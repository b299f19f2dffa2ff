"""Rankings across blocks: the Friedman test and the Nemenyi critical difference (Demšar 2006).

Demšar, "Statistical comparisons of classifiers over multiple data sets", JMLR 7 (2006), §3.2.2:
k treatments are ranked within each of N blocks (1 = best, ties share the mean rank); R_j is
treatment j's average rank. Friedman's statistic

    chi2_F = 12 N / (k (k + 1)) * (sum_j R_j^2 - k (k + 1)^2 / 4)

(chi-square, k - 1 df) and Iman and Davenport's F_F = (N - 1) chi2_F / (N (k - 1) - chi2_F)
(F with k - 1 and (k - 1)(N - 1) df) test that all treatments rank alike. Two treatments differ
(Nemenyi) when their average ranks differ by at least CD = q_alpha sqrt(k (k + 1) / (6 N)),
q_alpha = studentized_range.ppf(1 - alpha, k, inf) / sqrt(2) (scipy.stats).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2, f, rankdata, studentized_range

from evalsuite.errors import EvaluationError


@dataclass(frozen=True)
class Ranking:
    """A Friedman + Nemenyi ranking of k treatments over N blocks.

    Attributes:
        ranks: (k,) average ranks, 1 = best.
        n_blocks: N.
        chi2: Friedman's chi2_F.
        p_chi2: its p-value.
        f_stat: Iman and Davenport's F_F (inf when every block ranks alike).
        p_f: its p-value.
        cd: the Nemenyi critical difference at alpha.
        alpha: the test level.
        cliques: maximal runs of treatments (indices, by average rank) whose average ranks
            differ by less than the CD: the bars of a CD diagram; at least two per clique.
    """

    ranks: np.ndarray
    n_blocks: int
    chi2: float
    p_chi2: float
    f_stat: float
    p_f: float
    cd: float
    alpha: float
    cliques: tuple[tuple[int, ...], ...]


def average_ranks(values: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """(k,) average ranks of `values` (N blocks, k treatments), 1 = best, ties averaged."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] < 1 or v.shape[1] < 2 or not np.isfinite(v).all():
        raise EvaluationError(
            f"a ranking needs a finite (blocks, treatments) table with >= 2 treatments, "
            f"got shape {v.shape}; drop blocks where a treatment has no value"
        )
    return np.asarray(rankdata(-v if higher_is_better else v, axis=1).mean(axis=0))


def friedman_nemenyi(
    values: np.ndarray, alpha: float = 0.05, higher_is_better: bool = True
) -> Ranking:
    """Rank the treatments (columns) of `values` (N blocks, k treatments), see the module."""
    ranks = average_ranks(values, higher_is_better)
    return ranking_from_ranks(ranks, int(np.shape(values)[0]), alpha)


def ranking_from_ranks(ranks: np.ndarray, n_blocks: int, alpha: float = 0.05) -> Ranking:
    """The Friedman statistics, CD and cliques from average ranks (k,) over `n_blocks`."""
    r = np.asarray(ranks, dtype=np.float64)
    k, n = r.size, n_blocks
    if not 0.0 < alpha < 1.0 or k < 2 or n < 1:
        raise EvaluationError(f"alpha={alpha}, k={k}, N={n}: need 0 < alpha < 1, k >= 2, N >= 1")
    stat = 12.0 * n / (k * (k + 1)) * (float(np.sum(r**2)) - k * (k + 1) ** 2 / 4.0)
    stat = max(stat, 0.0)
    denominator = n * (k - 1) - stat
    f_stat = math.inf if denominator <= 0 else (n - 1) * stat / denominator
    p_f = 0.0 if math.isinf(f_stat) else float(f.sf(f_stat, k - 1, (k - 1) * (n - 1)))
    if n == 1:  # F_F has no denominator df with one block
        f_stat, p_f = math.nan, math.nan
    q_alpha = float(studentized_range.ppf(1.0 - alpha, k, math.inf)) / math.sqrt(2.0)
    cd = q_alpha * math.sqrt(k * (k + 1) / (6.0 * n))
    return Ranking(
        ranks=r,
        n_blocks=n,
        chi2=stat,
        p_chi2=float(chi2.sf(stat, k - 1)),
        f_stat=f_stat,
        p_f=p_f,
        cd=cd,
        alpha=alpha,
        cliques=cliques(r, cd),
    )


def cliques(ranks: np.ndarray, cd: float) -> tuple[tuple[int, ...], ...]:
    """Maximal runs (by average rank) of treatments closer than `cd` to each other."""
    order = np.argsort(ranks, kind="stable")
    sorted_r = ranks[order]
    found: list[tuple[int, int]] = []
    for start in range(order.size):
        end = int(np.searchsorted(sorted_r, sorted_r[start] + cd, side="left")) - 1
        if end > start and not any(s <= start and end <= e for s, e in found):
            found.append((start, end))
    return tuple(tuple(int(i) for i in order[s : e + 1]) for s, e in found)
