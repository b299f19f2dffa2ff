"""Which cells of a study are shift variants, and the clean cells they are compared with.

A variant's identity is read only from its record's structured fields: `config.shift.family`
(absent: `mvtec_shift`), `config.shift.factors` (its one name; absent: `all`) and
`config.shift.severity`. Its cells are the shifted cells without a sweep (the study's mixed
shift) and the sweep cells with `sweep.param == "shift.factors"`; cells of any other sweep are
not variants. Where a mixed-shift cell without a sweep and a `shift.factors = all` sweep cell
name the same variant, the one without a sweep is read. The clean reference of a variant cell
is the `clean/none` cell without a sweep of the same label, scope, category and seed.

A **block** is one (label, scope, regime, category, family, seed): one clean cell and every
variant cell of that family evaluated with it, at every severity. `attribution_drops` pairs
all of a block's cells on the same test images and the same resamples.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from evalsuite.data.shift_factors import ALL, FACTORS, GROUPS, variant_names
from evalsuite.site.read.records import Cell, Results
from evalsuite.site.views.attribution_rows import FAMILIES

SWEEP_PARAM = "shift.factors"
"""The sweep parameter of a variant's cells."""
DEFAULT_FAMILY = "mvtec_shift"
REGIMES = ("none", "threshold", "retrain")


@dataclass(frozen=True)
class Variant:
    """One shift a variant cell evaluates: its family, name and severity."""

    family: str
    name: str
    severity: int


@dataclass(frozen=True)
class BlockKey:
    """A clean cell and the variant cells compared with it (one seed)."""

    label: str
    scope: str
    regime: str
    category: str
    family: str
    seed: int


@dataclass
class Block:
    """The cells of one block.

    Attributes:
        key: the block.
        clean: the clean/none cell, or None when the study has none (missing).
        variants: variant -> its cell (ok or failed).
    """

    key: BlockKey
    clean: Cell | None
    variants: dict[Variant, Cell] = field(default_factory=dict)


def variant_of(cell: Cell) -> Variant | None:
    """The variant a cell evaluates, or None (a clean cell, another sweep's cell, or a record
    that does not name one variant)."""
    group = cell.key.group
    if group.condition != "shift":
        return None
    if group.sweep is not None and group.sweep[0] != SWEEP_PARAM:
        return None
    shift = cell.record.get("config", {}).get("shift") or {}
    family = str(shift.get("family") or DEFAULT_FAMILY).replace("-", "_")
    factors = shift.get("factors", ALL)
    if isinstance(factors, list):
        if len(factors) != 1:
            return None
        factors = factors[0]
    severity = shift.get("severity")
    if not isinstance(factors, str) or isinstance(severity, bool) or not isinstance(severity, int):
        return None
    return Variant(family, factors, severity)


def blocks_of(results: Results) -> dict[BlockKey, Block]:
    """Every block of the study with at least one variant cell, in the site's order."""
    clean: dict[tuple[str, str, str, int], Cell] = {}
    for cell in results.cells:
        g = cell.key.group
        if g.kind == "clean/none" and g.sweep is None:
            clean[(g.label, g.scope, g.category, cell.key.seed)] = cell
    blocks: dict[BlockKey, Block] = {}
    # cells without a sweep first, so that they win over a `shift.factors = all` sweep cell
    for cell in sorted(results.cells, key=lambda c: c.key.group.sweep is not None):
        variant = variant_of(cell)
        if variant is None:
            continue
        g = cell.key.group
        key = BlockKey(g.label, g.scope, g.regime, g.category, variant.family, cell.key.seed)
        block = blocks.setdefault(
            key, Block(key, clean.get((g.label, g.scope, g.category, cell.key.seed)))
        )
        block.variants.setdefault(variant, cell)
    return dict(sorted(blocks.items(), key=lambda item: block_order(item[0])))


def block_order(key: BlockKey) -> tuple[object, ...]:
    """Sort key of a block: label, scope, family, regime, category, seed."""
    return (
        key.label,
        key.scope,
        family_order(key.family),
        REGIMES.index(key.regime) if key.regime in REGIMES else len(REGIMES),
        key.category,
        key.seed,
    )


def family_order(family: str) -> tuple[int, str]:
    """Sort key of a family: those of `FAMILIES` first, in order."""
    return (FAMILIES.index(family) if family in FAMILIES else len(FAMILIES), family)


def variant_order(variant: Variant) -> tuple[object, ...]:
    """Sort key of a variant within its family: MVTec-Shift's names in the order of
    `shift_factors.variant_names` (all, groups, factors, leave-one-out), others by name; then
    severity."""
    names = variant_names() if variant.family == DEFAULT_FAMILY else ()
    rank = names.index(variant.name) if variant.name in names else len(names)
    return (family_order(variant.family), rank, variant.name, variant.severity)


def single_factor(variant: Variant) -> bool:
    """Whether a variant applies one change (a factor alone, or any corruption type): what a
    family's mean drop averages."""
    if variant.family == DEFAULT_FAMILY:
        return variant.name in FACTORS
    return True


def share_parts(names: Iterable[str]) -> list[str]:
    """The factors and groups evaluated alone, among `names`, in the order shares are shown."""
    present = set(names)
    return [name for name in (*GROUPS, *FACTORS) if name in present]
