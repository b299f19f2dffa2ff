"""Two cells side by side: what the Compare page shows of a pair of cells evaluated on the same
test images (same category and seed), computed once in Python and embedded in the site.

The paired difference b − a of each metric of `difference_rows.DIFF_METRICS` is the one the
difference tables compute (`differences.cell_difference`: `evaluation.paired`, stratified by
label, the records' resamples and the cell's seed), with its 95% interval and unadjusted p-value
(a reader's chosen pair is not a family: no Holm correction); a metric zero by construction for
the pair (`significance.zero_by_construction`) is not tested. The pair's orientation is the
site's cell order (`CellKey.order`: clean before shift, per_class before unified, the baseline
before a swept value), so a pair that is a row of a difference table has that row's sign.

Which pairs are computed (`counterparts`): within one category and seed, the pairs of baseline
cells that differ in one facet only (detector, scope, condition or regime: PatchCore vs PaDiM on
one condition, clean vs shift, none vs threshold, per_class vs unified), and each swept cell
against its baseline cell. All pairs would grow with the square of the cells (the paper preset's
430 cells per category make 92,235 pairs); these grow with the cells (494 per category there; see
docs/site.md). A pair that is a row of a difference table (one seed) takes that row's numbers
instead of computing them again (`reused`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.paired import Difference
from evalsuite.evaluation.significance import zero_by_construction
from evalsuite.site.read.evidence import EvidenceLoader
from evalsuite.site.read.records import Cell, GroupKey, Results
from evalsuite.site.views.difference_rows import DIFF_METRICS, DiffTable, zero_value
from evalsuite.site.views.differences import cell_difference, inputs
from evalsuite.site.views.stats import Delta

TOP_MOVED = 10
"""How many of the images that moved most a pair lists."""


@dataclass(frozen=True)
class PairDiff:
    """One metric of a pair.

    Attributes:
        metric: e.g. "image_auroc".
        diff: the paired difference b − a, or None.
        reason: why there is none ("= 0 by construction ..." when `zero`).
        zero: zero by construction (not tested).
    """

    metric: str
    diff: Difference | None
    reason: str | None
    zero: bool = False


@dataclass(frozen=True)
class Moved:
    """A test image of both cells and how far its score moved.

    Attributes:
        sample: its id.
        score_a, score_b: its score in each cell.
        rank_a, rank_b: the share of the pair's shared images scoring below it in each cell
            (ties count half): scores of two detectors or models are in different units, ranks
            are not (and image AUROC depends on ranks alone).
    """

    sample: str
    score_a: float
    score_b: float
    rank_a: float
    rank_b: float


@dataclass(frozen=True)
class Pair:
    """A compared pair: a before b in the site's cell order.

    Attributes:
        a, b: the cells.
        values: one PairDiff per DIFF_METRICS metric.
        n_images: the test images both were evaluated on.
        moved: the TOP_MOVED images with the largest |rank_b − rank_a|.
        facet: the one facet they differ in, or None when they differ in more.
    """

    a: Cell
    b: Cell
    values: tuple[PairDiff, ...]
    n_images: int
    moved: tuple[Moved, ...]
    facet: str | None


def facets(key: GroupKey) -> dict[str, object]:
    """The facets a cell group is named by: detector, scope, condition, regime, sweep."""
    return {
        "detector": key.label,
        "scope": key.scope,
        "condition": key.condition,
        "regime": key.regime,
        "sweep": key.sweep,
    }


def one_facet(a: Cell, b: Cell) -> str | None:
    """The facet two cells differ in when it is the only one, else None."""
    fa, fb = facets(a.key.group), facets(b.key.group)
    differ = [name for name in fa if fa[name] != fb[name]]
    return differ[0] if len(differ) == 1 else None


def counterparts(a: Cell, b: Cell) -> bool:
    """Whether the site computes the pair (a, b) of one category and seed: two baseline cells
    that differ in one facet (detector, scope, condition or regime), or a swept cell and its
    baseline cell (the same detector, scope and condition/regime)."""
    facet = one_facet(a, b)
    if facet == "sweep":
        return a.key.group.sweep is None or b.key.group.sweep is None
    return facet is not None and a.key.group.sweep is None


def comparable_groups(results: Results) -> dict[tuple[str, int], list[Cell]]:
    """The finished cells of each (category, seed), in the site's cell order."""
    found: dict[tuple[str, int], list[Cell]] = {}
    for cell in sorted(results.cells, key=lambda c: c.key.order()):
        if cell.ok and cell.record.get("scores"):
            found.setdefault((cell.key.group.category, cell.key.seed), []).append(cell)
    return found


def pairs_of(cells: Sequence[Cell]) -> list[tuple[Cell, Cell]]:
    """The pairs the site computes among the cells of one category and seed (given in the
    site's cell order), each in that order."""
    return [(a, b) for a, b in combinations(cells, 2) if counterparts(a, b)]


Known = dict[tuple[str, str], dict[str, PairDiff]]
"""(a's record path, b's) -> metric -> its difference, from the difference tables."""


def reused(tables: Sequence[DiffTable]) -> Known:
    """The differences of the tables' rows that compare one cell with one cell (one seed)."""
    found: Known = {}
    for table in tables:
        for row in table.rows:
            if row.mean or len(row.pairs) != 1:
                continue
            a, b = row.pairs[0]
            found[(a.relpath, b.relpath)] = {
                metric: PairDiff(
                    metric, value.diff, None if value.diff else value.reason, value.zero
                )
                for metric, value in zip(table.metrics, row.values, strict=True)
            }
    return found


def compare_pair(a: Cell, b: Cell, loader: EvidenceLoader, known: Known | None = None) -> Pair:
    """Everything the page shows of the pair (a, b) beyond the two records; `known`: the
    differences already computed (`reused`), taken as they are."""
    ready = (known or {}).get((a.relpath, b.relpath), {})
    values = tuple(
        ready[metric] if metric in ready else _metric(a, b, metric, loader)
        for metric in DIFF_METRICS
    )
    shared = moved_images(a, b)
    return Pair(a, b, values, len(shared), tuple(shared[:TOP_MOVED]), one_facet(a, b))


def _metric(a: Cell, b: Cell, metric: str, loader: EvidenceLoader) -> PairDiff:
    if zero_by_construction(metric, inputs(a.key.group), inputs(b.key.group)):
        return PairDiff(metric, None, zero_value(metric, Delta(None, None, 0)).reason, zero=True)
    try:
        return PairDiff(metric, cell_difference(a, b, metric, loader), None)
    except EvaluationError as error:
        return PairDiff(metric, None, str(error))


def moved_images(a: Cell, b: Cell) -> list[Moved]:
    """The test images both cells scored (by id), the largest |rank_b − rank_a| first (ties:
    by id; compared exactly, on twice the ranks' counts)."""
    scores_b = {s["id"]: float(s["score"]) for s in b.record["scores"]}
    shared = [(s["id"], float(s["score"])) for s in a.record["scores"] if s["id"] in scores_b]
    if not shared:
        return []
    ids = [sample for sample, _ in shared]
    twice_a = _twice_below(np.array([score for _, score in shared]))
    twice_b = _twice_below(np.array([scores_b[sample] for sample in ids]))
    order = sorted(range(len(ids)), key=lambda i: (-abs(int(twice_b[i] - twice_a[i])), ids[i]))
    scale = 2 * max(len(ids) - 1, 1)
    return [
        Moved(
            ids[i], shared[i][1], scores_b[ids[i]], int(twice_a[i]) / scale, int(twice_b[i]) / scale
        )
        for i in order
    ]


def _twice_below(scores: np.ndarray) -> np.ndarray:
    """(N,) int: twice the number of other scores below each score plus its ties (each tie
    counts half a score below)."""
    below = (scores[None, :] < scores[:, None]).sum(axis=1)
    ties = (scores[None, :] == scores[:, None]).sum(axis=1) - 1
    return np.asarray(2 * below + ties, dtype=np.int64)
