"""Every difference the site reports, with its paired bootstrap interval and p-value.

A comparison is b − a between two groups of cells evaluated on the same test images: shift −
clean, threshold − none, retrain − none (shift condition), unified − per_class, and each swept
value − the detector's baseline value. Per seed, the two cells' test images are paired by
sample id and resampled jointly (`evaluation.paired`, stratified by label; n and seed from the
records: `evaluation.bootstrap` resamples, the cell's seed); pixel metrics read each cell's
`evidence.npz`. With several seeds the interval is pooled (`pool_differences`) and the mean ±
sd over seeds is shown beside it. p-values are Holm-adjusted within each table (its family); a
difference is marked significant by `evaluation.significance.significant` alone. A metric that is
zero by construction for a comparison (`significance.zero_by_construction`, e.g. an AUROC between
shift/threshold and shift/none) is neither tested nor counted in the family.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from evalsuite import regular
from evalsuite.errors import EvaluationError
from evalsuite.evaluation.bootstrap import Interval
from evalsuite.evaluation.category_mean import mean_difference
from evalsuite.evaluation.paired import (
    Difference,
    holm,
    paired_image_difference,
    paired_pixel_difference,
    pool_differences,
)
from evalsuite.evaluation.pixel_evidence import PixelEvidence
from evalsuite.evaluation.regimes import plan_for
from evalsuite.evaluation.significance import (
    CellInputs,
    reachable,
    resamples_needed,
    significant,
    smallest_holm_p,
    smallest_p,
    zero_by_construction,
)
from evalsuite.site.read.records import METRIC_NAMES, Cell, GroupKey, Results
from evalsuite.site.views.stats import Delta, mean_delta, paired_delta
from evalsuite.site.views.sweeps import sweep_view
from evalsuite.site.views.tables import Grid, categoryless

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
            that differ from it only in category (`_with_means`).
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


def difference_tables(results: Results, grid: Grid) -> list[DiffTable]:
    """Every family of differences of the study, empty families left out."""
    loader = _EvidenceLoader(results.source)
    groups = results.groups()
    specs: list[tuple[str, str, list[tuple[GroupKey, GroupKey]]]] = []
    base_kinds = [("shift", "clean/none", "shift/none")]
    base_kinds += [(r, "shift/none", f"shift/{r}") for r in ("threshold", "retrain")]
    for family, kind_a, kind_b in base_kinds:
        if {kind_a, kind_b} <= set(grid.kinds):
            pairs = [
                (GroupKey(lab, s, kind_a, c, None), GroupKey(lab, s, kind_b, c, None))
                for lab in grid.labels
                for s in grid.scopes
                for c in grid.categories
            ]
            specs.append((family, f"{kind_b} − {kind_a}", pairs))
    if {"per_class", "unified"} <= set(grid.scopes):
        pairs = [
            (GroupKey(lab, "per_class", k, c, None), GroupKey(lab, "unified", k, c, None))
            for lab in grid.labels
            for k in grid.kinds
            for c in grid.categories
        ]
        specs.append(("unified", "unified − per_class", pairs))
    for label, param in grid.sweeps:
        view = sweep_view(results, grid, label, param)
        pairs = [
            (
                GroupKey(label, "per_class", p.kind, p.category, None),
                GroupKey(label, "per_class", p.kind, p.category, (param, p.value)),
            )
            for p in view.points
            if not p.baseline
        ]
        title = f"{label}: {param} = value − baseline ({view.baseline_value})"
        specs.append((f"sweep:{label}:{param}", title, pairs))
    return [_table(family, title, pairs, groups, loader) for family, title, pairs in specs]


def _table(
    family: str,
    title: str,
    pairs: list[tuple[GroupKey, GroupKey]],
    groups: dict[GroupKey, list[Cell]],
    loader: _EvidenceLoader,
) -> DiffTable:
    rows: list[DiffRow] = []
    for a, b in pairs:
        cells_a, cells_b = groups.get(a, []), groups.get(b, [])
        matched = _matched(cells_a, cells_b)
        values = tuple(
            _zero(metric, paired_delta(cells_a, cells_b, metric))
            if zero_by_construction(metric, inputs(a), inputs(b))
            else _paired_value(matched, metric, paired_delta(cells_a, cells_b, metric), loader)
            for metric in DIFF_METRICS
        )
        first = not rows or rows[-1].b.label != b.label
        rows.append(DiffRow(a, b, values, tuple(matched), first))
    return DiffTable(family, title, tuple(_with_holm(_with_means(rows, groups))))


def _with_means(rows: list[DiffRow], groups: dict[GroupKey, list[Cell]]) -> list[DiffRow]:
    """The rows with mean rows: after each block of rows of one detector, scope and b's
    condition/regime, one mean row per (a, b) pair of the block less its category, in order.
    The mean rows enter the table's Holm family like any row."""
    out: list[DiffRow] = []
    block: dict[tuple[GroupKey, GroupKey], list[DiffRow]] = {}
    for index, row in enumerate(rows):
        out.append(row)
        block.setdefault((categoryless(row.a), categoryless(row.b)), []).append(row)
        after = rows[index + 1] if index + 1 < len(rows) else None
        if after is None or _block(after) != _block(row):
            out += [_mean_row(a, b, found, groups) for (a, b), found in block.items()]
            block = {}
    return out


def _block(row: DiffRow) -> tuple[str, str, str]:
    return row.b.label, row.b.scope, row.b.kind


def _mean_row(
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
            values.append(_zero(metric, seeds))
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


def _with_holm(rows: list[DiffRow]) -> list[DiffRow]:
    """Rows with p_holm set over every p-value of the table."""
    flat = [v.diff.p_value if v.diff else np.nan for r in rows for v in r.values]
    adjusted = iter(holm(flat).tolist())
    out = []
    for row in rows:
        values = []
        for value in row.values:
            p = next(adjusted)
            values.append(replace(value, p_holm=None if value.diff is None else float(p)))
        out.append(replace(row, values=tuple(values)))
    return out


def inputs(key: GroupKey) -> CellInputs:
    """What a group's cells are computed from (`significance.CellInputs`): the model is the
    detector label, scope, fit images and any swept detector setting; images are (condition,
    severity for shifted images only: a severity sweep's value, or the study's, with a shift
    variant's factors when not `all`)."""
    plan = plan_for(key.condition, key.regime)
    swept = key.sweep[0] if key.sweep else None
    severity = key.sweep[1] if key.sweep and swept == "shift.severity" else "study"
    if key.sweep and swept == "shift.factors" and key.sweep[1] != "all":
        severity = f"study, {key.sweep[1]}"
    setting = key.sweep if swept not in (None, "shift.severity", "shift.factors") else None

    def images(condition: str, split: str) -> tuple[str, str | None, str, str]:
        return condition, severity if condition == "shift" else None, split, key.category

    model = (key.label, key.scope, setting, images(plan.fit_condition, "train")[:2])
    val = images(plan.threshold_condition, "val")
    return CellInputs(model=model, val=val, test=images(plan.test_condition, "test"))


def _zero(metric: str, seeds: Delta) -> PairedValue:
    """A metric zero by construction: not tested (no p-value, not in the family)."""
    reason = (
        f"= 0 by construction: {METRIC_NAMES[metric]} depends on nothing that differs "
        "between the two cells (not tested)"
    )
    return PairedValue(None, seeds, None, reason, zero=True)


def _matched(a: list[Cell], b: list[Cell]) -> list[tuple[Cell, Cell]]:
    """(a, b) cell pairs of the same seed, both finished, by seed."""
    by_seed = {cell.key.seed: cell for cell in b if cell.ok}
    pairs = [(cell, by_seed[cell.key.seed]) for cell in a if cell.ok and cell.key.seed in by_seed]
    return sorted(pairs, key=lambda pair: pair[0].key.seed)


def _paired_value(
    matched: list[tuple[Cell, Cell]], metric: str, seeds: Delta, loader: _EvidenceLoader
) -> PairedValue:
    if not matched:
        return PairedValue(None, seeds, None, "missing or failed")
    try:
        found = [_one(a, b, metric, loader) for a, b in matched]
        return PairedValue(pool_differences(found), seeds, None, None)
    except EvaluationError as error:
        return PairedValue(None, seeds, None, str(error))


def _one(a: Cell, b: Cell, metric: str, loader: _EvidenceLoader) -> Difference:
    """The paired difference of one seed's two cells."""
    for cell in (a, b):
        entry = cell.metrics[metric]
        if entry.value is None:
            raise EvaluationError(entry.reason or "no value")
    n = int(a.record["config"]["evaluation"]["bootstrap"])
    if n < 1:
        raise EvaluationError("no resamples (evaluation.bootstrap is 0)")
    index_a, index_b, labels = _pairing(a, b)
    seed = int(a.key.seed)
    if metric in ("image_auroc", "image_f1"):
        scores_a = np.array([s["score"] for s in a.record["scores"]])[index_a]
        scores_b = np.array([s["score"] for s in b.record["scores"]])[index_b]
        thresholds = (
            float(a.record["threshold"]["image"]["value"]),
            float(b.record["threshold"]["image"]["value"]),
        )
        return paired_image_difference(
            metric, labels, scores_a, scores_b, thresholds=thresholds, n=n, seed=seed
        )
    evidence_a = loader.load(a).subset(index_a)
    evidence_b = loader.load(b).subset(index_b)
    return paired_pixel_difference(metric, labels, evidence_a, evidence_b, n=n, seed=seed)


def _pairing(a: Cell, b: Cell) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices into a's and b's scores of their shared sample ids (a's order), and labels."""
    position_b = {s["id"]: i for i, s in enumerate(b.record["scores"])}
    index_a, index_b, labels = [], [], []
    for i, s in enumerate(a.record["scores"]):
        j = position_b.get(s["id"])
        if j is None:
            continue
        if b.record["scores"][j]["label"] != s["label"]:
            raise EvaluationError(f"test image {s['id']} has different labels in the two cells")
        index_a.append(i)
        index_b.append(j)
        labels.append(bool(s["label"]))
    if not index_a:
        raise EvaluationError("the two cells share no test image id; nothing to pair")
    return np.array(index_a), np.array(index_b), np.array(labels)


class _EvidenceLoader:
    """Reads cells' `evidence.npz` once each."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self._memo: dict[str, PixelEvidence] = {}

    def load(self, cell: Cell) -> PixelEvidence:
        path = cell.record.get("evidence")
        if not path:
            raise EvaluationError(
                "no pixel evidence in this cell's record (results from before evidence.npz, "
                "or no masks); re-run the cell with --force for a pixel-level interval"
            )
        if path not in self._memo:
            try:
                evidence = self.source / path
                stream = regular.open_file(evidence, regular.ARTIFACT, "pixel evidence")
                with stream, np.load(stream, allow_pickle=False) as data:
                    self._memo[path] = PixelEvidence.from_arrays(dict(data))
            except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
                raise EvaluationError(f"cannot read pixel evidence {path}: {error}") from error
        return self._memo[path]
