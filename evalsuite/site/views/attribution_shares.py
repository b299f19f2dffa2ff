"""The share of the mixed shift's drop each factor explains, and a family's mean drop.

Shares (MVTec-Shift only; per label x scope x regime x category, or the mean over categories,
x severity x metric), with D(v) the drop of variant v against clean (`attribution_drops`):

- alone: D(f) / D(all), for each factor f (and group) evaluated alone;
- leave-one-out: (D(all) − D(all-minus:f)) / D(all);
- "not explained" (kind "rest"): 1 − the sum of the factors' shares alone (groups not counted):
  what interactions carry and what no factor evaluated alone explains (including factors the
  study did not evaluate alone).

Resample k of a share is the same ratio of the drops' resample k: the numerator and the
denominator come from the same resamples of the same images (`attribution_pairs`; pooled over
seeds and averaged over categories resample by resample), so the interval is the percentile
interval of those ratios; a resample whose mixed drop is exactly 0 has no ratio and is left out.
A share is None, with the reason, where the mixed drop has no interval or where its interval
includes 0: there is no drop to share (a gain whose interval excludes 0 is shared alike).

A family's mean drop (`MeanDrop`) averages the drops of its variants that apply one change (the
factors alone for MVTec-Shift; every corruption type) over the categories, at each severity and
over every severity: resample k is the mean of the drops' resample k, each category's variants
sharing that category's resamples, as the mean over categories does.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np

from evalsuite.data.shift_factors import ALL, FACTORS, MINUS
from evalsuite.evaluation.bootstrap import percentile_interval
from evalsuite.evaluation.paired import Difference
from evalsuite.site.read.records import Cell
from evalsuite.site.views.attribution_cells import DEFAULT_FAMILY, Variant, share_parts
from evalsuite.site.views.attribution_cells import single_factor as one_change
from evalsuite.site.views.attribution_pairs import LEVEL
from evalsuite.site.views.attribution_rows import FactorDrop, MeanDrop, Share
from evalsuite.site.views.tables import MEAN

REST = "not explained"
"""The factor name of the rest row."""
Part = tuple[float, np.ndarray]
"""A drop (or difference of drops) and its resamples (B,)."""
Interval = tuple[float, float] | None
Found = tuple[float | None, Interval, str | None]
"""A share, its interval and the reason it has none."""


def shares(drops: Sequence[FactorDrop]) -> list[Share]:
    """Every share of the mixed shift's drops (see the module), in the drops' order."""
    mine = [d for d in drops if d.family == DEFAULT_FAMILY]
    index = {_key(d, d.variant): d for d in mine}
    present: dict[tuple[object, ...], list[str]] = {}
    for drop in mine:
        present.setdefault(_key(drop, ""), []).append(drop.variant)
    cells = _cells(mine)
    out: list[Share] = []
    for mixed in (d for d in mine if d.variant == ALL):
        names = present[_key(mixed, "")]
        alone = share_parts(names)
        used = cells[_key(mixed, ALL)]
        for name in alone:
            part = index[_key(mixed, name)]
            found = _share(mixed, _part(part), part)
            out.append(_row(mixed, name, "alone", found, used + cells[_key(mixed, name)]))
        for factor in (f for f in FACTORS if MINUS + f in names):
            minus = index[_key(mixed, MINUS + factor)]
            found = _share(mixed, _minus(mixed, minus), minus)
            used_minus = used + cells[_key(mixed, MINUS + factor)]
            out.append(_row(mixed, factor, "leave_one_out", found, used_minus))
        singles = [name for name in alone if name in FACTORS]
        if singles:
            parts = [index[_key(mixed, name)] for name in singles]
            every = used + tuple(c for name in singles for c in cells[_key(mixed, name)])
            out.append(_row(mixed, REST, "rest", _rest(mixed, parts), every))
    return out


def _row(mixed: FactorDrop, factor: str, kind: str, found: Found, cells: tuple[Cell, ...]) -> Share:
    share, ci, reason = found
    return Share(
        mixed.label, mixed.scope, mixed.regime, mixed.category, mixed.metric, mixed.severity,
        factor, kind, share, ci, reason, tuple(dict.fromkeys(cells)),
    )  # fmt: skip


def _key(drop: FactorDrop, variant: str) -> tuple[object, ...]:
    return (drop.label, drop.scope, drop.regime, drop.category, drop.severity, drop.metric, variant)


def _cells(drops: Sequence[FactorDrop]) -> dict[tuple[object, ...], tuple[Cell, ...]]:
    """Each drop's cells (clean and variant, every seed; a mean row's: its categories')."""
    found: dict[tuple[object, ...], list[Cell]] = {}
    for drop in drops:
        if drop.family != DEFAULT_FAMILY:
            continue
        cells = [c for pair in drop.cells for c in pair]
        found.setdefault(_key(drop, drop.variant), []).extend(cells)
        if drop.category != MEAN:
            mean_key = (*_key(drop, drop.variant)[:3], MEAN, *_key(drop, drop.variant)[4:])
            found.setdefault(mean_key, []).extend(cells)
    return {key: tuple(dict.fromkeys(cells)) for key, cells in found.items()}


def _part(drop: FactorDrop) -> Part | str:
    diff = drop.value.diff
    if diff is None or diff.deltas is None:
        return f"no drop of {drop.variant} ({drop.value.reason or 'no resamples'})"
    return diff.delta, diff.deltas


def _minus(mixed: FactorDrop, minus: FactorDrop) -> Part | str:
    """D(all) − D(all-minus:f) and its resamples."""
    whole, rest = _part(mixed), _part(minus)
    if isinstance(whole, str):
        return whole
    if isinstance(rest, str):
        return rest
    return whole[0] - rest[0], whole[1] - rest[1]


def _denominator(mixed: FactorDrop) -> Difference | str:
    """The mixed drop, or why there is no drop to share."""
    diff = mixed.value.diff
    if diff is None or diff.deltas is None:
        return f"no drop of the mixed shift ({mixed.value.reason or 'no resamples'})"
    if not diff.excludes_zero:
        return (
            f"the mixed shift's drop, {mixed.value.delta_text} {mixed.value.ci_text} points, "
            "has an interval that includes 0: no drop to share"
        )
    return diff


def _share(mixed: FactorDrop, part: Part | str, drop: FactorDrop) -> Found:
    """A part's share of the mixed drop: (share, interval, reason)."""
    whole = _denominator(mixed)
    if isinstance(whole, str):
        return None, None, whole
    if isinstance(part, str):
        return None, None, part
    assert whole.deltas is not None  # checked by _denominator
    if part[1].shape != whole.deltas.shape:
        return None, None, f"{drop.variant} and all were resampled differently"
    share = part[0] / whole.delta + 0.0  # + 0.0: no negative zero
    return share, _ratio_interval(part[1], whole.deltas), None


def _rest(mixed: FactorDrop, parts: Sequence[FactorDrop]) -> Found:
    """1 − the sum of the factors' shares alone."""
    whole = _denominator(mixed)
    if isinstance(whole, str):
        return None, None, whole
    assert whole.deltas is not None
    value, resampled = 1.0, np.ones_like(whole.deltas)
    for drop in parts:
        found = _part(drop)
        if isinstance(found, str) or found[1].shape != whole.deltas.shape:
            why = found if isinstance(found, str) else "resampled differently"
            return None, None, f"not explained needs every factor's share alone: {why}"
        value -= found[0] / whole.delta
        resampled = resampled - _ratios(found[1], whole.deltas)
    return value, _finite_interval(resampled), None


def _ratios(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0."""
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _ratio_interval(numerator: np.ndarray, denominator: np.ndarray) -> Interval:
    return _finite_interval(_ratios(numerator, denominator))


def _finite_interval(values: np.ndarray) -> Interval:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return None
    low, high = percentile_interval(finite, LEVEL)
    return low + 0.0, high + 0.0  # + 0.0: no negative zero


def mean_drops(drops: Sequence[FactorDrop]) -> list[MeanDrop]:
    """Each family's mean drop over its one-change variants and the categories, per label x
    scope x regime x metric, at each severity and over every severity (None)."""
    groups: dict[tuple[str, str, str, str, str], list[FactorDrop]] = {}
    for drop in drops:
        variant = Variant(drop.family, drop.variant, drop.severity)
        if drop.category != MEAN and one_change(variant):
            key = (drop.label, drop.scope, drop.family, drop.regime, drop.metric)
            groups.setdefault(key, []).append(drop)
    out: list[MeanDrop] = []
    for (label, scope, family, regime, metric), found in groups.items():
        severities: list[int | None] = [*sorted({d.severity for d in found}), None]
        for severity in severities:
            chosen = [d for d in found if severity is None or d.severity == severity]
            mean = _mean(chosen)
            if mean is not None:
                delta, ci, n, reason = mean
                out.append(
                    MeanDrop(label, scope, regime, family, metric, severity, delta, ci, n, reason)
                )
    return out


def _mean(drops: Sequence[FactorDrop]) -> tuple[float, Interval, int, str | None] | None:
    """(mean delta, interval, drops averaged, reason) of drops; None when none has a value."""
    valued = [d.value.diff for d in drops if d.value.diff is not None]
    if not valued:
        return None
    delta = statistics.fmean(d.delta for d in valued)
    missing = [d for d in drops if d.value.diff is None]
    if missing:
        first = missing[0]
        reason = (
            f"{len(missing)} of {len(drops)} drops have no value (first: {first.category} "
            f"{first.variant} severity {first.severity}: {first.value.reason}); the mean is "
            "over the others, without an interval"
        )
        return delta, None, len(valued), reason
    resampled = [d.deltas for d in valued]
    if any(r is None for r in resampled) or len({r.shape for r in resampled if r is not None}) != 1:
        return delta, None, len(valued), "the drops were resampled differently; no interval"
    means = np.mean(np.stack([r for r in resampled if r is not None]), axis=0)
    return delta, _finite_interval(means), len(valued), None
