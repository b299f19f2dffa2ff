"""The "mean" rows of the site's tables: the mean over categories, with its stratified interval.

A mean row follows the category rows of a detector (and scope, condition/regime, swept value)
in the headline, the shift-drop, the unified-gap and every paired-difference table, as papers
report it. Its value is the mean of the category rows' values; its interval resamples test
images within each category (`evaluation.category_mean`), on each category's own resamples.
With one category the mean row is that category's row. A mean needs every category: one
missing, failed or undefined category leaves the mean without a value. A paired-difference
table's mean row (`with_mean_diffs`) is the mean of its category rows' paired differences
(`category_mean.mean_difference`) and enters the table's Holm family.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.category_mean import (
    MEAN_METRICS,
    category_mean,
    image_resamples,
    mean_difference,
    pixel_resamples,
)
from evalsuite.site.read.evidence import EvidenceLoader
from evalsuite.site.read.records import Cell, GroupKey, Results
from evalsuite.site.views.difference_rows import DIFF_METRICS, DiffRow, PairedValue, zero_value
from evalsuite.site.views.stats import MISSING, Delta, Summary, mean_delta, summarise
from evalsuite.site.views.sweeps import SweepPoint, SweepView
from evalsuite.site.views.tables import (
    HEADLINE_METRICS,
    MEAN,
    REGIME_METRICS,
    SHIFT_REGIMES,
    DeltaRow,
    RegimeRow,
    Row,
    categoryless,
)


class CategoryMeans:
    """Means over categories of the groups of one results folder (computed once each).

    Args:
        results: the study; cells' scores and `evidence.npz` give the resamples.
        categories: the categories averaged (the grid's).
    """

    def __init__(self, results: Results, categories: Sequence[str]) -> None:
        self.groups = results.groups()
        self.categories = tuple(categories)
        self.loader = EvidenceLoader(results.source)
        self._cells: dict[tuple[str, str], np.ndarray] = {}
        self._means: dict[tuple[GroupKey, str], Summary] = {}

    def summary(self, key: GroupKey, metric: str) -> Summary:
        """The mean over categories of `metric` for the groups `key` with each category.

        Returns:
            a Summary whose `n` is the number of categories and `interval` "categories" (the
            stratified bootstrap interval; None for a metric without resampled values or cells
            without the evidence); with one category, that category's Summary.
        """
        memo = (categoryless(key), metric)
        if memo not in self._means:
            self._means[memo] = self._summary(key, metric)
        return self._means[memo]

    def _summary(self, key: GroupKey, metric: str) -> Summary:
        cells = [self.groups.get(replace(key, category=c), []) for c in self.categories]
        rows = [summarise(group, metric) for group in cells]
        if len(rows) == 1 or not rows:
            return rows[0] if rows else MISSING
        if all(row.reason == "missing" for row in rows):
            return MISSING
        for category, row in zip(self.categories, rows, strict=True):
            if row.mean is None:
                reason = f"no mean: {category} has no value ({row.reason})"
                return Summary(None, None, 0, None, None, reason)
        values = [row.mean for row in rows if row.mean is not None]
        try:
            resampled = [self._category_resamples(group, metric) for group in cells]
            found = category_mean(values, resampled)
        except EvaluationError:
            return Summary(statistics.fmean(values), None, len(values), None, None, None)
        return Summary(found.value, None, len(values), found.ci95, "categories", None)

    def _category_resamples(self, cells: Sequence[Cell], metric: str) -> np.ndarray:
        """The category's resamples (B,): the mean over its seeds with a value."""
        if metric not in MEAN_METRICS:
            raise EvaluationError(f"{metric} has no resampled value")
        found = [
            self._cell_resamples(cell, metric)
            for cell in cells
            if cell.ok and cell.metrics[metric].value is not None
        ]
        if len({r.size for r in found}) != 1:
            raise EvaluationError("the seeds' resample counts differ")
        return np.mean(np.stack(found), axis=0)

    def _cell_resamples(self, cell: Cell, metric: str) -> np.ndarray:
        """The metric of one cell on its own resamples (those of its interval)."""
        memo = (cell.relpath, metric)
        if memo not in self._cells:
            n = int(cell.record["config"]["evaluation"]["bootstrap"])
            if n < 1:
                raise EvaluationError("no resamples (evaluation.bootstrap is 0)")
            seed = int(cell.key.seed)
            if metric in ("image_auroc", "image_f1"):
                scores = np.array([s["score"] for s in cell.record["scores"]])
                labels = np.array([bool(s["label"]) for s in cell.record["scores"]])
                threshold = float(cell.record["threshold"]["image"]["value"])
                found = image_resamples(metric, labels, scores, threshold, n=n, seed=seed)
            else:
                found = pixel_resamples(metric, self.loader.load(cell), n=n, seed=seed)
            self._cells[memo] = found
        return self._cells[memo]

    def delta(self, a: GroupKey, b: GroupKey, metric: str) -> Delta:
        """b − a of the means over categories, paired by seed (`stats.mean_delta`)."""
        pairs = [
            (
                self.groups.get(replace(a, category=c), []),
                self.groups.get(replace(b, category=c), []),
            )
            for c in self.categories
        ]
        return mean_delta(pairs, metric)


def with_mean_rows(rows: Sequence[Row], means: CategoryMeans, metrics: Sequence[str]) -> list[Row]:
    """Metric rows (detector × category × kind) with, after each detector's category rows,
    one mean row per condition/regime."""
    out: list[Row] = []
    for index, row in enumerate(rows):
        out.append(row)
        if index + 1 < len(rows) and rows[index + 1].label == row.label:
            continue
        kinds = list(dict.fromkeys(r.kind for r in rows if r.label == row.label))
        for position, kind in enumerate(kinds):
            key = GroupKey(row.label, row.scope, kind, MEAN, None)
            values = tuple(means.summary(key, metric) for metric in metrics)
            first = position == 0
            out.append(Row(row.label, row.scope, kind, MEAN, values, (), False, first, mean=True))
    return out


def with_mean_deltas(
    rows: Sequence[DeltaRow],
    means: CategoryMeans,
    metrics: Sequence[str],
    sides: Callable[[DeltaRow], tuple[GroupKey, GroupKey]],
) -> list[DeltaRow]:
    """Difference rows (shift drop, unified gap) with, after each block of one detector, scope
    and kind, its mean row; `sides` gives a row's (a, b) groups."""
    out: list[DeltaRow] = []
    for index, row in enumerate(rows):
        out.append(row)
        after = rows[index + 1] if index + 1 < len(rows) else None
        if after is not None and (after.label, after.scope, after.kind) == (
            row.label,
            row.scope,
            row.kind,
        ):
            continue
        a, b = sides(row)
        out.append(
            DeltaRow(
                label=row.label,
                scope=row.scope,
                kind=row.kind,
                category=MEAN,
                a=tuple(means.summary(a, metric) for metric in metrics),
                b=tuple(means.summary(b, metric) for metric in metrics),
                delta=tuple(means.delta(a, b, metric) for metric in metrics),
                first_of_label=False,
                mean=True,
            )
        )
    return out


def drop_with_means(rows: Sequence[DeltaRow], means: CategoryMeans) -> list[DeltaRow]:
    """The shift-drop rows (`tables.drop_rows`) with their mean rows."""

    def sides(row: DeltaRow) -> tuple[GroupKey, GroupKey]:
        clean = GroupKey(row.label, row.scope, "clean/none", MEAN, None)
        return clean, replace(clean, kind="shift/none")

    return with_mean_deltas(rows, means, HEADLINE_METRICS, sides)


def gap_with_means(rows: Sequence[DeltaRow], means: CategoryMeans) -> list[DeltaRow]:
    """The unified-gap rows (`tables.gap_rows`) with their mean rows."""

    def sides(row: DeltaRow) -> tuple[GroupKey, GroupKey]:
        per_class = GroupKey(row.label, "per_class", row.kind, MEAN, None)
        return per_class, replace(per_class, scope="unified")

    return with_mean_deltas(rows, means, HEADLINE_METRICS, sides)


def regime_with_means(rows: Sequence[RegimeRow], means: CategoryMeans) -> list[RegimeRow]:
    """The regime rows (`tables.regime_rows`) with a mean row after each detector's."""
    out: list[RegimeRow] = []
    for index, row in enumerate(rows):
        out.append(row)
        if index + 1 < len(rows) and rows[index + 1].label == row.label:
            continue
        keys = [GroupKey(row.label, "per_class", f"shift/{r}", MEAN, None) for r in SHIFT_REGIMES]
        values = tuple(tuple(means.summary(k, m) for k in keys) for m in REGIME_METRICS)
        out.append(RegimeRow(row.label, MEAN, values, False, mean=True))
    return out


def sweep_with_means(view: SweepView, means: CategoryMeans) -> list[SweepPoint]:
    """A sweep's table rows (kind × category × value) with, after each kind's, one mean row
    per value."""
    out: list[SweepPoint] = []
    points = view.points
    for index, point in enumerate(points):
        out.append(point)
        if index + 1 < len(points) and points[index + 1].kind == point.kind:
            continue
        block = [p for p in points if p.kind == point.kind]
        for value, baseline in dict.fromkeys((p.value, p.baseline) for p in block):
            sweep = None if baseline else (view.param, value)
            key = GroupKey(view.label, "per_class", point.kind, MEAN, sweep)
            summaries = tuple(means.summary(key, m) for m in HEADLINE_METRICS)
            out.append(SweepPoint(value, baseline, point.kind, MEAN, summaries, (), mean=True))
    return out


def with_mean_diffs(rows: list[DiffRow], groups: dict[GroupKey, list[Cell]]) -> list[DiffRow]:
    """A difference table's rows with mean rows: after each block of rows of one detector,
    scope and b's condition/regime, one mean row per (a, b) pair of the block less its
    category, in order. The mean rows enter the table's Holm family like any row."""
    out: list[DiffRow] = []
    block: dict[tuple[GroupKey, GroupKey], list[DiffRow]] = {}
    for index, row in enumerate(rows):
        out.append(row)
        block.setdefault((categoryless(row.a), categoryless(row.b)), []).append(row)
        after = rows[index + 1] if index + 1 < len(rows) else None
        if after is None or _diff_block(after) != _diff_block(row):
            out += [_mean_diff_row(a, b, found, groups) for (a, b), found in block.items()]
            block = {}
    return out


def _diff_block(row: DiffRow) -> tuple[str, str, str]:
    return row.b.label, row.b.scope, row.b.kind


def _mean_diff_row(
    a: GroupKey, b: GroupKey, rows: list[DiffRow], groups: dict[GroupKey, list[Cell]]
) -> DiffRow:
    """The mean over the categories of `rows` (one per category) of each metric."""
    values = []
    for index, metric in enumerate(DIFF_METRICS):
        sides = [(groups.get(r.a, []), groups.get(r.b, [])) for r in rows]
        seeds = mean_delta(sides, metric)
        found = [r.values[index].diff for r in rows]
        missing = [r for r, d in zip(rows, found, strict=True) if d is None]
        if rows and all(r.values[index].zero for r in rows):  # so is their mean: not tested
            values.append(zero_value(metric, seeds))
            continue
        if missing:
            why = missing[0].values[index].reason
            reason = f"no mean over categories: {missing[0].b.category} has no difference ({why})"
            values.append(PairedValue(None, seeds, None, reason))
            continue
        try:
            diff = mean_difference([d for d in found if d is not None])
        except EvaluationError as error:
            values.append(PairedValue(None, seeds, None, str(error)))
            continue
        values.append(PairedValue(diff, seeds, None, None))
    return DiffRow(a, b, tuple(values), (), first_of_label=False, mean=True)
