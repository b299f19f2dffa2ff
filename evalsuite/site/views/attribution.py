""" "What the shift does", computed from the records: the view `AttributionView` of a study.

Which cells are variants and what they are compared with: `attribution_cells`; every pairing
on common images and resamples: `attribution_pairs`; the drops with their Holm family:
`attribution_drops`; shares and mean drops: `attribution_shares`; per-image dependence on the
recorded draw: `attribution_dependence` (parameters: `attribution_params`); false alarms and
misses at the clean threshold: `attribution_rates`. docs/evaluation.md "Attributing the shift's
drop" states every rule.
"""

from __future__ import annotations

from evalsuite.data.shift_factors import ALL
from evalsuite.site.read.evidence import EvidenceLoader
from evalsuite.site.read.records import Results
from evalsuite.site.views.attribution_cells import DEFAULT_FAMILY, Variant, blocks_of
from evalsuite.site.views.attribution_dependence import dependence
from evalsuite.site.views.attribution_drops import factor_drops
from evalsuite.site.views.attribution_rates import line_rates
from evalsuite.site.views.attribution_rows import AttributionView
from evalsuite.site.views.attribution_shares import mean_drops, shares
from evalsuite.site.views.tables import Grid


def attribution_view(results: Results, grid: Grid, resamples: int | None = None) -> AttributionView:
    """The attribution of a study's shift to its variants.

    `empty` for a study without variants: one whose shifted cells are all the mixed shift at
    one severity (`shift.factors = ["all"]`, the default), whose drop the site's other tables
    already show; its site stays as it was. Otherwise every variant, the mixed shift included,
    has its rows.

    Args:
        results: the study's records.
        grid: its grid (the categories the mean rows average).
        resamples: of every drop; None: the clean cells' `evaluation.bootstrap` (the site
            passes the study's, `resamples.paired_resamples`).
    """
    blocks = blocks_of(results)
    variants = {v for block in blocks.values() for v in block.variants}
    if not has_variants(variants):
        return AttributionView((), (), (), (), ())
    drops = factor_drops(blocks, grid.categories, EvidenceLoader(results.source), resamples)
    return AttributionView(
        drops=tuple(drops),
        means=tuple(mean_drops(drops)),
        shares=tuple(shares(drops)),
        dependence=tuple(dependence(blocks, results)),
        rates=tuple(line_rates(blocks, grid.categories)),
    )


def has_variants(variants: set[Variant]) -> bool:
    """Whether a study evaluated more than the mixed shift at one severity."""
    return len(variants) > 1 or any((v.family, v.name) != (DEFAULT_FAMILY, ALL) for v in variants)
