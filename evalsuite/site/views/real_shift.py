"""The page "Synthetic vs real shift", computed from the records: `RealShiftView`.

Which cells are real conditions, MVTec-Shift and clean: `real_shift_cells`. For every detector
label, scope and category:

- **drops**: each shift's cell − the clean cell, per seed paired by image id and resampled as
  every difference table of the site (`differences.cell_difference`: the ids the two cells
  share, `evaluation.bootstrap` resamples of the clean record, the seed's resampling seed,
  stratified by label), pooled over seeds (`paired.pool_differences`), on `DIFF_METRICS`. The
  p-values are Holm-adjusted over every drop of the page (one family);
- **predictions**: for each real condition and each synthetic shift (the mixed MVTec-Shift and
  its factor variants), on the ids present in clean, the synthetic and the real cell with one
  label in all three: Spearman's rho of Δsyn = s_syn − s_clean and Δreal = s_real − s_clean
  with its stratified bootstrap interval (`evaluation.correlation`, same resamples policy),
  pooled over seeds; the p-values Holm-adjusted over every prediction of the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.correlation import Correlation, pool_correlations, spearman
from evalsuite.evaluation.paired import Difference, holm, pool_differences
from evalsuite.site.read.evidence import EvidenceLoader
from evalsuite.site.read.records import Cell, GroupKey, Results
from evalsuite.site.views.difference_rows import DIFF_METRICS, DiffRow, PairedValue
from evalsuite.site.views.differences import cell_difference, with_holm
from evalsuite.site.views.real_shift_cells import (
    MIXED,
    REAL_FAMILY,
    Block,
    Shift,
    blocks_of,
    shift_order,
)
from evalsuite.site.views.real_shift_rows import (
    DropRow,
    Point,
    Prediction,
    RealShiftView,
    anchor_of,
    inside,
)
from evalsuite.site.views.stats import Delta, paired_delta

Place = tuple[str, str, str]
"""(label, scope, category): the cells of every seed of one detector and category."""
NOT_PAIRED = (
    "not comparable: the real condition's images share no id with the regular (clean) test images"
)


def real_shift_view(results: Results, resamples: int | None = None) -> RealShiftView:
    """The page's view of a study (empty without both a real condition and MVTec-Shift);
    `resamples`: of every drop and correlation (None: the clean records' `evaluation.bootstrap`;
    the site passes the study's, `resamples.paired_resamples`)."""
    blocks = blocks_of(results)
    if not blocks:
        return RealShiftView((), ())
    places: dict[Place, list[Block]] = {}
    for key, block in blocks.items():
        places.setdefault((key.label, key.scope, key.category), []).append(block)
    loader = EvidenceLoader(results.source)
    drops = _with_holm(
        [d for place, found in places.items() for d in _drops(place, found, loader, resamples)]
    )
    by_key = {(d.label, d.scope, d.category, d.shift): d for d in drops}
    drops = [_with_inside(d, by_key) for d in drops]
    by_key = {(d.label, d.scope, d.category, d.shift): d for d in drops}
    predictions = [
        _with_drops(p, by_key)
        for place, found in places.items()
        for p in _predictions(place, found, resamples)
    ]
    return RealShiftView(tuple(drops), tuple(_predictions_with_holm(predictions)))


def _with_drops(p: Prediction, by_key: dict[tuple[str, str, str, Shift], DropRow]) -> Prediction:
    """A prediction with its two image AUROC drops and whether each lies in the other's
    interval."""
    real = by_key.get((p.label, p.scope, p.category, p.real))
    synthetic = by_key.get((p.label, p.scope, p.category, p.synthetic))
    both = inside(_auroc(real), _auroc(synthetic))
    return replace(p, real_drop=real, synthetic_drop=synthetic, inside=both)


def _shifts(blocks: Sequence[Block]) -> list[Shift]:
    return sorted({s for b in blocks for s in b.shifted}, key=shift_order)


def _drops(
    place: Place, blocks: Sequence[Block], loader: EvidenceLoader, resamples: int | None
) -> list[DropRow]:
    """One row per shift of one detector and category (every seed)."""
    label, scope, category = place
    rows: list[DropRow] = []
    for shift in _shifts(blocks):
        seeds = [(b.clean, b.shifted[shift]) for b in blocks if shift in b.shifted]
        cleans = [c for c, _ in seeds if c is not None]
        shifted = [s for _, s in seeds]
        matched = tuple((c, s) for c, s in seeds if c is not None and c.ok and s.ok)
        values = tuple(
            _value(matched, metric, paired_delta(cleans, shifted, metric), loader, resamples)
            for metric in DIFF_METRICS
        )
        a = GroupKey(label, scope, "clean/none", category, None)
        b = shifted[0].key.group
        row = DiffRow(a, b, values, matched, first_of_label=not rows)
        common, unpaired = _counts(matched)
        anchor = anchor_of("r", label, category, shift.title, scope)
        rows.append(DropRow(shift, row, common, unpaired, (), anchor))
    return rows


def _value(
    matched: Sequence[tuple[Cell, Cell]],
    metric: str,
    seeds: Delta,
    loader: EvidenceLoader,
    resamples: int | None,
) -> PairedValue:
    """One metric's drop pooled over the matched seeds (`seeds`: the records' b − a per seed),
    or why there is none."""
    if not matched:
        return PairedValue(None, seeds, None, "missing or failed")
    if not all(_ids(a).keys() & _ids(b).keys() for a, b in matched):
        return PairedValue(None, seeds, None, NOT_PAIRED)
    try:
        found: list[Difference] = [
            cell_difference(a, b, metric, loader, resamples) for a, b in matched
        ]
        return PairedValue(pool_differences(found), seeds, None, None)
    except EvaluationError as error:
        return PairedValue(None, seeds, None, str(error))


def _ids(cell: Cell) -> dict[str, tuple[int, bool]]:
    """A cell's test image ids -> (position in its scores, anomalous)."""
    return {s["id"]: (i, bool(s["label"])) for i, s in enumerate(cell.record["scores"] or ())}


def _counts(matched: Sequence[tuple[Cell, Cell]]) -> tuple[int, int]:
    """Images paired with clean, and shifted images without a clean id, over the seeds."""
    common = unpaired = 0
    for clean, shifted in matched:
        ids = _ids(clean).keys()
        found = _ids(shifted).keys()
        common += len(found & ids)
        unpaired += len(found - ids)
    return common, unpaired


def _auroc(row: DropRow | None) -> PairedValue | None:
    return None if row is None else row.value("image_auroc")


def _with_inside(row: DropRow, by_key: dict[tuple[str, str, str, Shift], DropRow]) -> DropRow:
    """A real row with, per metric, whether its drop and MVTec-Shift's lie in each other's
    interval."""
    mixed = by_key.get((row.label, row.scope, row.category, MIXED))
    if row.shift.kind != REAL_FAMILY or mixed is None:
        return row
    both = zip(row.values, mixed.values, strict=True)
    return replace(row, inside=tuple(inside(real, synthetic) for real, synthetic in both))


def _with_holm(rows: list[DropRow]) -> list[DropRow]:
    """The rows with `p_holm` set over every drop of the page (`differences.with_holm`)."""
    adjusted = with_holm([row.row for row in rows])
    return [replace(row, row=found) for row, found in zip(rows, adjusted, strict=True)]


def _predictions(place: Place, blocks: Sequence[Block], resamples: int | None) -> list[Prediction]:
    """One prediction per real condition and synthetic shift of one detector and category."""
    label, scope, category = place
    shifts = _shifts(blocks)
    reals = [s for s in shifts if s.kind == REAL_FAMILY]
    synthetics = [s for s in shifts if s.kind != REAL_FAMILY]
    found = []
    for real in reals:
        for synthetic in synthetics:
            cells = tuple(
                (b.clean, b.shifted[synthetic], b.shifted[real])
                for b in blocks
                if b.clean is not None and synthetic in b.shifted and real in b.shifted
            )
            value, points, reason = _correlation(cells, resamples)
            found.append(
                Prediction(
                    label=label,
                    scope=scope,
                    category=category,
                    real=real,
                    synthetic=synthetic,
                    value=value,
                    p_holm=None,
                    reason=reason,
                    real_drop=None,
                    synthetic_drop=None,
                    inside=None,
                    cells=cells,
                    points=points,
                    anchor=anchor_of("p", label, category, real.name, synthetic.name, scope),
                )
            )
    return found


def _correlation(
    cells: Sequence[tuple[Cell, Cell, Cell]], resamples: int | None
) -> tuple[Correlation | None, tuple[Point, ...], str | None]:
    """The pooled correlation of the seeds' (clean, synthetic, real) cells, their points, or
    why there is none."""
    if not cells or not all(c.ok for triple in cells for c in triple):
        return None, (), "missing or failed"
    found, points = [], []
    try:
        for clean, synthetic, real in cells:
            seed_points = paired_changes(clean, synthetic, real)
            if not seed_points:
                return None, (), NOT_PAIRED
            points += seed_points
            n = int(clean.record["config"]["evaluation"]["bootstrap"])
            if n < 1:
                return None, (), "no resamples (evaluation.bootstrap is 0)"
            n = n if resamples is None else resamples
            labels = np.array([p.anomalous for p in seed_points])
            syn = np.array([p.synthetic for p in seed_points])
            rea = np.array([p.real for p in seed_points])
            found.append(spearman(syn, rea, labels, n=n, seed=int(clean.key.seed)))
        return pool_correlations(found), tuple(points), None
    except EvaluationError as error:
        return None, tuple(points), f"not comparable: {error}"


def paired_changes(clean: Cell, synthetic: Cell, real: Cell) -> list[Point]:
    """The per-image score changes of the images present in the three cells with one label
    (clean's order): Δsyn = s_syn − s_clean, Δreal = s_real − s_clean."""
    a, s, r = (_ids(c) for c in (clean, synthetic, real))
    scores = [[x["score"] for x in c.record["scores"]] for c in (clean, synthetic, real)]
    points = []
    for sample, (i, label) in a.items():
        if sample not in s or sample not in r or s[sample][1] != label or r[sample][1] != label:
            continue
        base = float(scores[0][i])
        points.append(
            Point(
                int(clean.key.seed),
                sample,
                label,
                float(scores[1][s[sample][0]]) - base,
                float(scores[2][r[sample][0]]) - base,
            )
        )
    return points


def _predictions_with_holm(found: list[Prediction]) -> list[Prediction]:
    """The predictions with `p_holm` set over every correlation of the page."""
    adjusted = holm([np.nan if p.value is None else p.value.p_value for p in found]).tolist()
    return [
        p if p.value is None else replace(p, p_holm=float(q))
        for p, q in zip(found, adjusted, strict=True)
    ]
