"""Every difference the site reports, with its paired bootstrap interval and p-value.

A comparison is b − a between two groups of cells evaluated on the same test images: shift − clean,
threshold − none, retrain − none (shift condition), unified − per_class, and each swept value − the
detector's baseline value. Per seed, the two cells' test images are paired by sample id and
resampled jointly (`evaluation.paired`, stratified by label, the cell's seed; the site resamples
every difference as often as the study's largest Holm family needs, or the records'
`evaluation.bootstrap` when more: `resamples.paired_resamples`); pixel metrics read each cell's
`evidence.npz`. With several seeds the interval is pooled (`pool_differences`) and the mean ± sd
over seeds is shown beside it. p-values are Holm-adjusted within each table (its family); a
difference is marked significant by `evaluation.significance.significant` alone. A metric that is
zero by construction for a comparison (`significance.zero_by_construction`, e.g. an AUROC between
shift/threshold and shift/none) is neither tested nor counted in the family.

The rows' types are in `difference_rows`, the mean-over-categories rows in `means`
(`with_mean_diffs`), the cells' evidence is read by `read.evidence`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from evalsuite.data.real_conditions import CONDITIONS_PARAM
from evalsuite.errors import EvaluationError
from evalsuite.evaluation.paired import (
    Difference,
    holm,
    pool_differences,
)
from evalsuite.evaluation.regimes import plan_for
from evalsuite.evaluation.significance import CellInputs, zero_by_construction
from evalsuite.site.read.evidence import EvidenceLoader
from evalsuite.site.read.records import Cell, GroupKey, Results
from evalsuite.site.views.difference_rows import (
    DIFF_METRICS,
    DiffRow,
    DiffTable,
    PairedValue,
    zero_value,
)
from evalsuite.site.views.means import with_mean_diffs
from evalsuite.site.views.resampled import resampled
from evalsuite.site.views.stats import Delta, paired_delta
from evalsuite.site.views.sweeps import sweep_view
from evalsuite.site.views.tables import Grid


def difference_tables(
    results: Results, grid: Grid, resamples: int | None = None
) -> list[DiffTable]:
    """Every family of differences of the study, empty families left out.

    Args:
        results, grid: the study.
        resamples: of every difference; None: the records' `evaluation.bootstrap` (the site
            passes the study's, `resamples.paired_resamples`).
    """
    loader = EvidenceLoader(results.source)
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
    return [
        _table(family, title, pairs, groups, loader, resamples) for family, title, pairs in specs
    ]


def _table(
    family: str,
    title: str,
    pairs: list[tuple[GroupKey, GroupKey]],
    groups: dict[GroupKey, list[Cell]],
    loader: EvidenceLoader,
    resamples: int | None,
) -> DiffTable:
    """The table of `pairs`, every difference resampled `resamples` times, Holm over all."""
    rows: list[DiffRow] = []
    for a, b in pairs:
        cells_a, cells_b = groups.get(a, []), groups.get(b, [])
        matched = _matched(cells_a, cells_b)
        values = tuple(
            zero_value(metric, paired_delta(cells_a, cells_b, metric))
            if zero_by_construction(metric, inputs(a), inputs(b))
            else _paired_value(
                matched, metric, paired_delta(cells_a, cells_b, metric), loader, resamples
            )
            for metric in DIFF_METRICS
        )
        first = not rows or rows[-1].b.label != b.label
        rows.append(DiffRow(a, b, values, tuple(matched), first))
    return DiffTable(family, title, tuple(with_holm(with_mean_diffs(rows, groups))))


def with_holm(rows: list[DiffRow]) -> list[DiffRow]:
    """Rows with p_holm set over every p-value of them (one Holm family: a table, or a
    page's drops, `real_shift`)."""
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
    variant's factors when not `all`; a real condition of MVTec AD 2: its name, on the
    baseline's model)."""
    plan = plan_for(key.condition, key.regime)
    swept = key.sweep[0] if key.sweep else None
    severity = key.sweep[1] if key.sweep and swept == "shift.severity" else "study"
    if key.sweep and swept == "shift.factors" and key.sweep[1] != "all":
        severity = f"study, {key.sweep[1]}"
    if key.sweep and swept == CONDITIONS_PARAM:
        severity = f"real {key.sweep[1]}"
    images_of = (None, "shift.severity", "shift.factors", CONDITIONS_PARAM)
    setting = key.sweep if swept not in images_of else None

    def images(condition: str, split: str) -> tuple[str, str | None, str, str]:
        return condition, severity if condition == "shift" else None, split, key.category

    model = (key.label, key.scope, setting, images(plan.fit_condition, "train")[:2])
    val = images(plan.threshold_condition, "val")
    return CellInputs(model=model, val=val, test=images(plan.test_condition, "test"))


def _matched(a: list[Cell], b: list[Cell]) -> list[tuple[Cell, Cell]]:
    """(a, b) cell pairs of the same seed, both finished, by seed."""
    by_seed = {cell.key.seed: cell for cell in b if cell.ok}
    pairs = [(cell, by_seed[cell.key.seed]) for cell in a if cell.ok and cell.key.seed in by_seed]
    return sorted(pairs, key=lambda pair: pair[0].key.seed)


def _paired_value(
    matched: list[tuple[Cell, Cell]],
    metric: str,
    seeds: Delta,
    loader: EvidenceLoader,
    resamples: int | None,
) -> PairedValue:
    if not matched:
        return PairedValue(None, seeds, None, "missing or failed")
    try:
        found = [cell_difference(a, b, metric, loader, resamples) for a, b in matched]
        return PairedValue(pool_differences(found), seeds, None, None)
    except EvaluationError as error:
        return PairedValue(None, seeds, None, str(error))


def cell_difference(
    a: Cell, b: Cell, metric: str, loader: EvidenceLoader, resamples: int | None = None
) -> Difference:
    """The paired difference b − a of `metric` between two finished cells of one seed, over
    their shared test images (a's order; also what the Compare page shows for any two cells),
    resampled `resamples` times (None: `evaluation.bootstrap` of a's record; the site passes
    the study's count, `resamples.paired_resamples`), a's seed.

    Raises:
        EvaluationError: a cell has no value of `metric`, no resamples, no shared image, an id
            labelled differently in the two cells, or the metric is undefined on a resample
            (naming why).
    """
    for cell in (a, b):
        entry = cell.metrics[metric]
        if entry.value is None:
            raise EvaluationError(entry.reason or "no value")
    n = int(a.record["config"]["evaluation"]["bootstrap"])
    if n < 1:
        raise EvaluationError("no resamples (evaluation.bootstrap is 0)")
    n = n if resamples is None else resamples
    return resampled(loader).difference(a, b, metric, _pairing(a, b), n, int(a.key.seed))


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
