"""The site's tables as view models: headline, shift drop, regimes, per_class vs unified gap.

Rows come from the study's grid (the manifest's configuration, plus whatever the records hold),
so a cell that is missing or failed still has its row, shown as such. Means are over seeds
(`stats.summarise`); differences are paired by seed (`stats.paired_delta`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from evalsuite.data.real_conditions import CONDITIONS_PARAM
from evalsuite.results.paths import SCOPES
from evalsuite.site.read.records import KINDS, Cell, GroupKey, Results
from evalsuite.site.views.stats import Delta, Summary, paired_delta, summarise

HEADLINE_METRICS = ("image_auroc", "pixel_auroc", "aupro_0.3", "image_f1")
"""The metrics of the headline, shift-drop and unified-gap tables."""
REGIME_METRICS = ("image_f1", "image_precision", "image_recall", "image_fpr", "image_auroc")
"""The metrics the regimes are compared on (all image-level; all but AUROC at threshold)."""
SHIFT_REGIMES = ("none", "threshold", "retrain")
MEAN = "mean"
"""The category column of a mean row (the mean over categories, `views.means`)."""


def categoryless(key: GroupKey) -> GroupKey:
    """A group key with its category replaced by MEAN: the key of its mean row."""
    return replace(key, category=MEAN)


@dataclass(frozen=True)
class Grid:
    """What the study spans (from the manifest's configuration and the records), sorted.

    Attributes:
        labels: detector labels.
        detectors: label -> detector name (patchcore or padim).
        categories: categories.
        kinds: condition/regime pairs, in `KINDS` order.
        scopes: per_class and/or unified.
        sweeps: (label, param) of each sweep; not MVTec AD 2's real conditions
            (`shift.conditions`), which are no hyperparameter: the baseline a sweep is drawn
            against is MVTec-Shift's mixed shift, which they are not a value of.
    """

    labels: tuple[str, ...]
    detectors: dict[str, str]
    categories: tuple[str, ...]
    kinds: tuple[str, ...]
    scopes: tuple[str, ...]
    sweeps: tuple[tuple[str, str], ...]


def grid_of(results: Results) -> Grid:
    """The grid of a results folder: the configuration's values joined with the records'."""
    detectors = {cell.key.group.label: cell.detector for cell in results.cells}
    categories = {cell.key.group.category for cell in results.cells}
    kinds = {cell.key.group.kind for cell in results.cells}
    scopes = {cell.key.group.scope for cell in results.cells}
    sweeps = {(c.key.group.label, c.key.group.sweep[0]) for c in results.cells if c.key.group.sweep}
    if results.manifest is not None:
        config = results.manifest["config"]
        detectors.update({d["label"]: d["name"] for d in config["detectors"]})
        categories.update(config["data"]["categories"])
        kinds.update(config["kinds"])
        scopes.update(config["scopes"])
        sweeps.update((s["detector"], s["param"]) for s in config["sweeps"])
    sweeps = {sweep for sweep in sweeps if sweep[1] != CONDITIONS_PARAM}
    return Grid(
        labels=tuple(sorted(detectors)),
        detectors=dict(sorted(detectors.items())),
        categories=tuple(sorted(categories)),
        kinds=tuple(k for k in KINDS if k in kinds),
        scopes=tuple(s for s in SCOPES if s in scopes),
        sweeps=tuple(sorted(sweeps)),
    )


@dataclass(frozen=True)
class Row:
    """One row of a metric table: a group of cells (all seeds) and its summaries.

    Attributes:
        label, scope, kind, category: the group.
        values: one Summary per metric of the table.
        cells: the group's cells (for links to their pages).
        first_of_label: the first row of its detector (the table shows the label there).
        first_of_category: the first row of its category within the detector.
        mean: a mean row (category "mean", no cells of its own; `views.means`).
    """

    label: str
    scope: str
    kind: str
    category: str
    values: tuple[Summary, ...]
    cells: tuple[Cell, ...]
    first_of_label: bool
    first_of_category: bool
    mean: bool = False

    @property
    def status(self) -> str:
        """missing (no record), failed (no finished record) or ok."""
        if not self.cells:
            return "missing"
        return "ok" if any(cell.ok for cell in self.cells) else "failed"


def metric_rows(
    results: Results, grid: Grid, scope: str, metrics: Sequence[str], kinds: Sequence[str]
) -> list[Row]:
    """Rows label × category × kind of the baseline (non-sweep) cells of one scope."""
    groups = results.groups()
    rows: list[Row] = []
    for label in grid.labels:
        for category in grid.categories:
            for kind in kinds:
                cells = groups.get(GroupKey(label, scope, kind, category, None), [])
                rows.append(
                    Row(
                        label,
                        scope,
                        kind,
                        category,
                        tuple(summarise(cells, m) for m in metrics),
                        tuple(cells),
                        first_of_label=not rows or rows[-1].label != label,
                        first_of_category=not rows
                        or rows[-1].category != category
                        or rows[-1].label != label,
                    )
                )
    return rows


@dataclass(frozen=True)
class DeltaRow:
    """One row of a difference table: b − a per metric, with both sides.

    Attributes:
        label, scope, kind, category: the row's group (`kind` is b's, or "" when the
            difference is between kinds).
        a, b: the two sides' summaries, one per metric.
        delta: b − a per metric, paired by seed.
        first_of_label: the first row of its detector.
        mean: a mean row (category "mean"; `views.means`).
    """

    label: str
    scope: str
    kind: str
    category: str
    a: tuple[Summary, ...]
    b: tuple[Summary, ...]
    delta: tuple[Delta, ...]
    first_of_label: bool
    mean: bool = False


def _delta_row(
    groups: dict[GroupKey, list[Cell]],
    a: GroupKey,
    b: GroupKey,
    metrics: Sequence[str],
    first: bool,
    kind: str,
) -> DeltaRow:
    cells_a, cells_b = groups.get(a, []), groups.get(b, [])
    return DeltaRow(
        label=b.label,
        scope=b.scope,
        kind=kind,
        category=b.category,
        a=tuple(summarise(cells_a, m) for m in metrics),
        b=tuple(summarise(cells_b, m) for m in metrics),
        delta=tuple(paired_delta(cells_a, cells_b, m) for m in metrics),
        first_of_label=first,
    )


def drop_rows(results: Results, grid: Grid) -> list[DeltaRow]:
    """shift/none − clean/none per label, scope and category, on HEADLINE_METRICS."""
    groups = results.groups()
    rows: list[DeltaRow] = []
    for label in grid.labels:
        for scope in grid.scopes:
            for category in grid.categories:
                clean = GroupKey(label, scope, "clean/none", category, None)
                shift = GroupKey(label, scope, "shift/none", category, None)
                first = not rows or rows[-1].label != label
                rows.append(_delta_row(groups, clean, shift, HEADLINE_METRICS, first, ""))
    return rows


def gap_rows(results: Results, grid: Grid) -> list[DeltaRow]:
    """unified − per_class per label, kind and category, on HEADLINE_METRICS."""
    groups = results.groups()
    rows: list[DeltaRow] = []
    for label in grid.labels:
        for kind in grid.kinds:
            for category in grid.categories:
                per_class = GroupKey(label, "per_class", kind, category, None)
                unified = GroupKey(label, "unified", kind, category, None)
                first = not rows or rows[-1].label != label
                rows.append(_delta_row(groups, per_class, unified, HEADLINE_METRICS, first, kind))
    return rows


@dataclass(frozen=True)
class RegimeRow:
    """The three regimes on shifted test data for one label and category (per_class).

    Attributes:
        label, category: the row.
        values: [metric][regime] Summary, metrics in REGIME_METRICS order, regimes none,
            threshold, retrain.
        first_of_label: the first row of its detector.
        mean: a mean row (category "mean"; `views.means`).
    """

    label: str
    category: str
    values: tuple[tuple[Summary, ...], ...]
    first_of_label: bool
    mean: bool = False


def regime_rows(results: Results, grid: Grid) -> list[RegimeRow]:
    """Regimes side by side (shift condition, per_class scope) on REGIME_METRICS."""
    groups = results.groups()
    rows: list[RegimeRow] = []
    for label in grid.labels:
        for category in grid.categories:
            cells = [
                groups.get(GroupKey(label, "per_class", f"shift/{regime}", category, None), [])
                for regime in SHIFT_REGIMES
            ]
            values = tuple(
                tuple(summarise(regime_cells, metric) for regime_cells in cells)
                for metric in REGIME_METRICS
            )
            first = not rows or rows[-1].label != label
            rows.append(RegimeRow(label, category, values, first))
    return rows
