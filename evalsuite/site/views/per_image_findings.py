"""Findings in words for the per-image statistics page: the paired per-image tests between
detectors (`per_image.paired_rows`) said as sentences, with the same rule as the difference
tables' findings (`findings`): an effect is stated only where its Holm-adjusted p is below 0.05
over the page's table (Wilcoxon signed-rank, the test the page's stars follow); every other row
is "no detectable difference". Each sentence links to its row (`row_anchor`)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from evalsuite.site.views.findings import Finding, FindingBlock
from evalsuite.site.views.per_image import PairedRow

PAGE = "statistics.html"
TITLE = "Paired per-image tests between detectors"


def row_anchor(row: PairedRow) -> str:
    """The id of `row` on the page: readable, unique by a digest of what tells rows apart."""
    key = "|".join((row.scope, row.kind, row.category, row.a, row.b, row.value))
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
    readable = re.sub(r"[^A-Za-z0-9_]+", "-", f"{row.b}-{row.a}-{row.category}-{row.value}")
    return f"t-{readable}-{digest}"


def per_image_findings(rows: Sequence[PairedRow]) -> list[FindingBlock]:
    """One block for the page's table ([] without rows): effects largest first."""
    if not rows:
        return []
    effects = sorted(
        (row for row in rows if row.star_wilcoxon), key=lambda r: -abs(r.test.mean_diff)
    )
    undetected: dict[str, list[Finding]] = {}
    for row in rows:
        if not row.star_wilcoxon:
            text = f"{row.b} vs {row.a} on {row.category} ({row.scope}, {row.kind})"
            undetected.setdefault(row.value_name, []).append(Finding(text, _href(row)))
    return [
        FindingBlock(
            TITLE,
            tuple(Finding(_effect(row), _href(row)) for row in effects),
            tuple((value, tuple(items)) for value, items in undetected.items()),
            "",
            PAGE,
        )
    ]


def _effect(row: PairedRow) -> str:
    test = row.test
    verb = "higher" if test.mean_diff > 0 else "lower"
    return (
        f"{row.b} scores {verb} than {row.a} in per-image {row.value_name} on {row.category} "
        f"({row.scope}, {row.kind}): {100 * test.mean_b:.1f} vs {100 * test.mean_a:.1f}, "
        f"{100 * abs(test.mean_diff):.1f} points over {test.n} images (Holm-adjusted Wilcoxon "
        f"p = {row.p_wilcoxon_holm:.2g})."
    )


def _href(row: PairedRow) -> str:
    return f"{PAGE}#{row_anchor(row)}"
