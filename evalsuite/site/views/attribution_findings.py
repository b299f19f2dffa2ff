"""The sentences on top of "What the shift does": per detector x category (and the mean over
categories) x severity of MVTec-Shift, which factor's isolation or removal costs the most,
generated from the view's drops (never written by hand).

From the image AUROC drops of regime none (`FactorDrop`, variant − clean, paired), with D(v)
the drop of variant v:

- the mixed shift's cost, −D(all), with its interval;
- isolation: the group (`photometric`, `geometric`) and the single factor whose cost alone,
  −D(v), is the largest;
- removal: the factor whose leaving out recovers the most, D(all-minus:f) − D(all), on the same
  resamples as the drops (its interval is the percentile interval of the resampled
  differences).

A clause names a variant only when its interval excludes 0 on the costly side (a cost or a
recovery above 0); when none does, the sentence says that no single factor's drop is
distinguishable from zero. Each number keeps the drops it comes from, so the page links it to
their rows of the drop table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evalsuite.data.shift_factors import ALL, FACTORS, GROUPS, MINUS
from evalsuite.evaluation.bootstrap import percentile_interval
from evalsuite.site.views.attribution_blocks import row_anchor
from evalsuite.site.views.attribution_cells import DEFAULT_FAMILY
from evalsuite.site.views.attribution_pairs import LEVEL
from evalsuite.site.views.attribution_rows import FactorDrop

METRIC = "image_auroc"
"""The metric the sentences speak of."""
NOTHING = "no single factor's drop is distinguishable from zero"
"""What a sentence says when no clause's interval excludes 0."""


@dataclass(frozen=True)
class Claim:
    """One number of a sentence: what `variant` costs (or, leaving it out, recovers).

    Attributes:
        kind: "mixed" (the mixed shift's cost), "group" or "factor" (a cost alone) or
            "removal" (what leaving the factor out recovers).
        variant: the variant named: `all`, a group, a factor (removal: the factor left out).
        value: the cost or recovery in image AUROC (positive: worse under the shift).
        ci95: its paired 95% interval, or None.
        drops: the drops it comes from (their rows on the page).
    """

    kind: str
    variant: str
    value: float
    ci95: tuple[float, float] | None
    drops: tuple[FactorDrop, ...]

    @property
    def distinguishable(self) -> bool:
        """Whether its interval lies above 0 (a cost or a recovery, not noise)."""
        return self.ci95 is not None and self.ci95[0] > 0.0


@dataclass(frozen=True)
class Finding:
    """One sentence: a detector on one category (or the mean) at one severity.

    Attributes:
        label, scope, category, severity: as in `FactorDrop`.
        mixed: the mixed shift's cost.
        claims: the clauses whose interval excludes 0, in order group, factor, removal.
    """

    label: str
    scope: str
    category: str
    severity: int
    mixed: Claim
    claims: tuple[Claim, ...]

    @property
    def text(self) -> str:
        """The sentence as plain text (the page writes the same words with links)."""
        said = "; ".join(clause(c) for c in self.claims) or NOTHING
        return f"{subject(self)}: {clause(self.mixed)}; {said}."


def findings(drops: Sequence[FactorDrop]) -> list[Finding]:
    """One finding per label x scope x category x severity of MVTec-Shift with a mixed drop of
    image AUROC at regime none and a drop of at least one other variant, in the drops'
    order."""
    mine = [
        d
        for d in drops
        if (d.family, d.metric, d.regime) == (DEFAULT_FAMILY, METRIC, "none")
        and d.value.diff is not None
    ]
    found: dict[tuple[str, str, str, int], dict[str, FactorDrop]] = {}
    for drop in mine:
        found.setdefault((drop.label, drop.scope, drop.category, drop.severity), {})[
            drop.variant
        ] = drop
    out = []
    for (label, scope, category, severity), by_variant in found.items():
        if ALL not in by_variant or len(by_variant) == 1:
            continue  # no variant evaluated here (e.g. a scope outside shift.factor_scopes)
        mixed = _cost("mixed", by_variant[ALL])
        groups = [_cost("group", by_variant[g]) for g in GROUPS if g in by_variant]
        factors = [_cost("factor", by_variant[f]) for f in FACTORS if f in by_variant]
        removals = [
            _recovery(f, by_variant[ALL], by_variant[MINUS + f])
            for f in FACTORS
            if MINUS + f in by_variant
        ]
        claims = [_largest(found) for found in (groups, factors, removals) if found]
        kept = tuple(c for c in claims if c is not None and c.distinguishable)
        out.append(Finding(label, scope, category, severity, mixed, kept))
    return out


def subject(finding: Finding) -> str:
    """`zipper, patchcore` (the scope unless per_class, the severity)."""
    scope = "" if finding.scope == "per_class" else f" ({finding.scope})"
    where = "the mean over the categories" if finding.category == "mean" else finding.category
    return f"{where}, {finding.label}{scope}, severity {finding.severity}"


def number(claim: Claim) -> str:
    """`0.462 image AUROC [0.381, 0.540]`."""
    ci = "" if claim.ci95 is None else f" [{claim.ci95[0]:.3f}, {claim.ci95[1]:.3f}]"
    return f"{claim.value:.3f} image AUROC{ci}".replace("-", "−")


def clause(claim: Claim) -> str:
    """One clause as plain text, e.g. `geometric alone costs 0.462 image AUROC [...]`."""
    if claim.kind == "mixed":
        return f"the mixed shift costs {number(claim)}"
    if claim.kind == "removal":
        return f"leaving out {claim.variant} recovers {number(claim)}"
    return f"{claim.variant} alone costs {number(claim)}"


def _cost(kind: str, drop: FactorDrop) -> Claim:
    diff = drop.value.diff
    assert diff is not None  # `findings` keeps drops with a value
    ci = None if diff.deltas is None else (-diff.ci95[1] + 0.0, -diff.ci95[0] + 0.0)
    return Claim(kind, drop.variant, -diff.delta + 0.0, ci, (drop,))


def _recovery(factor: str, mixed: FactorDrop, minus: FactorDrop) -> Claim:
    """D(all-minus:f) − D(all) with its interval over the same resamples (None when the two
    drops were not resampled alike)."""
    whole, rest = mixed.value.diff, minus.value.diff
    assert whole is not None and rest is not None
    ci = None
    a, b = whole.deltas, rest.deltas
    if a is not None and b is not None and a.shape == b.shape:
        values = b - a
        finite = values[np.isfinite(values)]
        if finite.size:
            low, high = percentile_interval(finite, LEVEL)
            ci = (low + 0.0, high + 0.0)
    return Claim("removal", factor, rest.delta - whole.delta + 0.0, ci, (mixed, minus))


def _largest(claims: Sequence[Claim]) -> Claim | None:
    """The claim of the largest value (the first among equals), None for none."""
    return max(claims, key=lambda c: c.value) if claims else None


@dataclass(frozen=True)
class Part:
    """One clause of a sentence as the page writes it: `words`, then `number` linked to
    `href` (the drop table row of the number's variant)."""

    words: str
    number: str
    href: str


@dataclass(frozen=True)
class Sentence:
    """A finding as the page writes it: `subject`: its parts, `;`-separated; `nothing` when no
    clause's interval excludes 0."""

    subject: str
    parts: tuple[Part, ...]
    nothing: bool


def sentences(found: Sequence[Finding]) -> list[Sentence]:
    """The findings as the page's sentences, in order."""
    out = []
    for finding in found:
        parts = [_part(finding.mixed), *(_part(c) for c in finding.claims)]
        out.append(Sentence(subject(finding), tuple(parts), not finding.claims))
    return out


def _part(claim: Claim) -> Part:
    words = clause(claim).removesuffix(number(claim)).rstrip()
    return Part(words, number(claim), "#" + row_anchor(claim.drops[-1]))
