"""What a shift does on the line: false alarms and misses at the clean threshold.

A line keeps the threshold it was set up with. Per detector label x scope x category x variant
x severity: the image threshold of the clean/none cell (`threshold.image.value`, chosen on clean
val) is applied to the variant cell's test scores (regime none, whose scores are those of
regime threshold) and to the clean cell's: an image is flagged when its score >= the threshold
(as every metric decides). The false-alarm rate is the flagged share of the normal test images,
the miss rate the unflagged share of the defective ones (each cell's own labels). With several
seeds, the counts are summed over seeds, each at its own clean threshold, and `threshold` is
their mean. Intervals are Wilson score intervals at 95% (Wilson 1927), which stay inside [0, 1]
and are not empty at 0 or n events.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from evalsuite.site.read.records import Cell
from evalsuite.site.views.attribution_cells import (
    Block,
    BlockKey,
    Variant,
    block_order,
    variant_order,
)
from evalsuite.site.views.attribution_rows import LineRates, Rate

Z95 = 1.959963984540054
"""The 0.975 quantile of the standard normal distribution."""


def line_rates(blocks: dict[BlockKey, Block], categories: Sequence[str]) -> list[LineRates]:
    """Every variant's rates at the clean threshold (regime none, else threshold)."""
    groups: dict[tuple[str, str, str, Variant], dict[str, list[tuple[Cell, Cell]]]] = {}
    for key, block in blocks.items():
        if key.regime not in ("none", "threshold") or block.clean is None or not block.clean.ok:
            continue
        for variant, cell in block.variants.items():
            if cell.ok:
                group = groups.setdefault((key.label, key.scope, key.category, variant), {})
                group.setdefault(key.regime, []).append((block.clean, cell))
    out = [
        _rates(*key, by_regime.get("none") or by_regime["threshold"])
        for key, by_regime in groups.items()
    ]
    rank = {category: i for i, category in enumerate(categories)}

    def order(row: LineRates) -> tuple[object, ...]:
        head = block_order(BlockKey(row.label, row.scope, "none", "", row.family, 0))
        variant = variant_order(Variant(row.family, row.variant, row.severity))
        return (*head[:3], variant, rank.get(row.category, len(rank)), row.category)

    return sorted(out, key=order)


def _rates(
    label: str, scope: str, category: str, variant: Variant, pairs: list[tuple[Cell, Cell]]
) -> LineRates:
    counts = [0, 0, 0, 0, 0, 0, 0, 0]  # variant: FA, normal, miss, defective; then clean's
    thresholds = []
    for clean, shifted in pairs:
        threshold = float(clean.record["threshold"]["image"]["value"])
        thresholds.append(threshold)
        for offset, cell in ((0, shifted), (4, clean)):
            for s in cell.record["scores"]:
                flagged = float(s["score"]) >= threshold
                if s["label"]:
                    counts[offset + 2] += not flagged
                    counts[offset + 3] += 1
                else:
                    counts[offset] += flagged
                    counts[offset + 1] += 1
    return LineRates(
        label, scope, category, variant.family, variant.name, variant.severity,
        statistics.fmean(thresholds), rate(counts[0], counts[1]), rate(counts[2], counts[3]),
        rate(counts[4], counts[5]), rate(counts[6], counts[7]), tuple(pairs),
    )  # fmt: skip


def rate(k: int, n: int) -> Rate:
    """k events out of n with the Wilson score interval at 95%."""
    if n == 0:
        return Rate(k, n, None, None)
    p = k / n
    centre = (k + Z95**2 / 2) / (n + Z95**2)
    half = Z95 / (n + Z95**2) * math.sqrt(k * (n - k) / n + Z95**2 / 4)
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return Rate(k, n, p, (low, high))
