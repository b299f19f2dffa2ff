"""The drop of every metric under every shift variant against clean, with paired intervals.

One `FactorDrop` per detector label x scope x regime x category x family x variant x severity x
metric (`DIFF_METRICS`): the variant cell − the clean/none cell of the same label, scope,
category and seed, paired on the block's common test images and resamples
(`attribution_pairs`); with several seeds, the seeds' differences are pooled
(`paired.pool_differences`) and their mean ± sd is kept beside it. After each category's rows
comes a "mean" row: the mean over the grid's categories of the category drops, resampled within
each category (`category_mean.mean_difference`, as the site's other difference tables do); a
category without a drop leaves the mean without one. The p-values are Holm-adjusted within each
detector label x scope x family, over all its rows (regimes, categories, means, variants,
severities and metrics alike).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.category_mean import mean_difference
from evalsuite.evaluation.paired import Difference, holm, pool_differences
from evalsuite.site.read.evidence import EvidenceLoader
from evalsuite.site.read.records import Cell
from evalsuite.site.views.attribution_cells import (
    REGIMES,
    Block,
    BlockKey,
    Variant,
    family_order,
    variant_order,
)
from evalsuite.site.views.attribution_pairs import BlockPairs
from evalsuite.site.views.attribution_rows import FactorDrop
from evalsuite.site.views.difference_rows import DIFF_METRICS, PairedValue
from evalsuite.site.views.stats import mean_delta, paired_delta
from evalsuite.site.views.tables import MEAN

DropKey = tuple[str, str, str, Variant]
"""(label, scope, regime, variant): the rows of one variant, its categories and their mean."""
Seeds = list[tuple[Block, Cell]]
"""One category's (block, variant cell) per seed."""


def factor_drops(
    blocks: dict[BlockKey, Block],
    categories: Sequence[str],
    loader: EvidenceLoader,
    resamples: int | None = None,
) -> list[FactorDrop]:
    """Every drop of the study's variants, Holm-adjusted within label x scope x family.

    Args:
        blocks: the study's blocks (`attribution_cells.blocks_of`).
        categories: the grid's categories (the mean rows average them all).
        loader: reads the cells' pixel evidence.
        resamples: of every drop (None: each clean cell's `evaluation.bootstrap`).
    """
    pairs = {key: _pairs(block, loader, resamples) for key, block in blocks.items()}
    grouped: dict[DropKey, dict[str, Seeds]] = {}
    for key, block in blocks.items():
        for variant, cell in block.variants.items():
            drop_key = (key.label, key.scope, key.regime, variant)
            grouped.setdefault(drop_key, {}).setdefault(key.category, []).append((block, cell))
    rows: list[FactorDrop] = []
    for drop_key in sorted(grouped, key=_drop_order):
        by_category = grouped[drop_key]
        order = [c for c in categories if c in by_category]
        order += sorted(set(by_category) - set(order))
        made = {
            c: [_row(drop_key, c, by_category[c], m, pairs) for m in DIFF_METRICS] for c in order
        }
        rows += [row for category in order for row in made[category]]
        for index, metric in enumerate(DIFF_METRICS):
            mine = {category: found[index] for category, found in made.items()}
            rows.append(_mean_row(drop_key, categories, by_category, mine, metric))
    return with_holm(rows)


def _drop_order(key: DropKey) -> tuple[object, ...]:
    label, scope, regime, variant = key
    regime_rank = REGIMES.index(regime) if regime in REGIMES else len(REGIMES)
    return (label, scope, family_order(variant.family), regime_rank, variant_order(variant))


def _pairs(block: Block, loader: EvidenceLoader, resamples: int | None) -> BlockPairs | str:
    """The block's pairing, or why there is none."""
    try:
        return BlockPairs(block, loader, resamples)
    except EvaluationError as error:
        return str(error)


def _row(
    key: DropKey,
    category: str,
    seeds: Seeds,
    metric: str,
    pairs: dict[BlockKey, BlockPairs | str],
) -> FactorDrop:
    """One category's drop of one metric, pooled over its seeds."""
    label, scope, regime, variant = key
    cells = tuple((block.clean, cell) for block, cell in seeds if block.clean is not None)
    delta = paired_delta(*_sides(seeds), metric)
    value = PairedValue(None, delta, None, "missing or failed")
    found: list[Difference] = []
    for block, cell in seeds:
        paired = pairs[block.key]
        if not cell.ok:
            continue
        if isinstance(paired, str):
            value = PairedValue(None, delta, None, paired)
            break
        try:
            found.append(paired.drop(cell, metric))
        except EvaluationError as error:
            value = PairedValue(None, delta, None, str(error))
            break
    else:
        if found:
            value = PairedValue(pool_differences(found), delta, None, None)
    return FactorDrop(
        label, scope, regime, category, variant.family, variant.name, variant.severity,
        metric, value, cells,
    )  # fmt: skip


def _mean_row(
    key: DropKey,
    categories: Sequence[str],
    by_category: dict[str, Seeds],
    mine: dict[str, FactorDrop],
    metric: str,
) -> FactorDrop:
    """The mean over the grid's categories of one variant's drops of one metric (`mine`:
    the category rows of that metric)."""
    label, scope, regime, variant = key
    sides = [_sides(by_category.get(c, [])) for c in categories]
    delta = mean_delta(sides, metric)
    value = PairedValue(None, delta, None, None)
    for category in categories:
        row = mine.get(category)
        if row is None or row.value.diff is None:
            why = "no variant cell" if row is None else row.value.reason
            value = replace(
                value, reason=f"no mean over categories: {category} has no drop ({why})"
            )
            break
    else:
        try:
            diff = mean_difference([mine[c].value.diff for c in categories])  # type: ignore[misc]
            value = replace(value, diff=diff)
        except EvaluationError as error:
            value = replace(value, reason=str(error))
    return FactorDrop(
        label, scope, regime, MEAN, variant.family, variant.name, variant.severity, metric,
        value, (),
    )  # fmt: skip


def _sides(seeds: Seeds) -> tuple[list[Cell], list[Cell]]:
    """A category's clean cells and variant cells."""
    return [b.clean for b, _ in seeds if b.clean is not None], [cell for _, cell in seeds]


def with_holm(rows: list[FactorDrop]) -> list[FactorDrop]:
    """The rows with `p_holm` set within each label x scope x family (over all its rows)."""
    families: dict[tuple[str, str, str], list[int]] = {}
    for position, row in enumerate(rows):
        families.setdefault((row.label, row.scope, row.family), []).append(position)
    out = list(rows)
    for positions in families.values():
        diffs = [rows[i].value.diff for i in positions]
        p = [np.nan if diff is None else diff.p_value for diff in diffs]
        for i, adjusted in zip(positions, holm(p).tolist(), strict=True):
            if rows[i].value.diff is not None:
                out[i] = replace(rows[i], value=replace(rows[i].value, p_holm=float(adjusted)))
    return out
