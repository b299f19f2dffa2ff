"""Which cells of a study are a real shift, which are MVTec-Shift, and the clean cells they are
compared with, for the page "Synthetic vs real shift".

Read only from the records' structured fields, at regime none:

- a **real** cell: condition shift with `sweep.param == "shift.conditions"` and
  `config.shift.family == "real"`; its name is the condition (`sweep.value`, e.g.
  `overexposed`). Its per-image ids are the regular ids of the same objects, so it pairs with
  the clean cell by id; an object the regular condition lacks keeps its own id (unpaired);
- a **synthetic** cell: MVTec-Shift (`config.shift.family` absent or `mvtec_shift`), either the
  mixed shift without a sweep (name `all`) or a factor variant (`sweep.param ==
  "shift.factors"`, named by its value; a `shift.factors = all` sweep cell is read only where
  the study has no mixed cell without a sweep);
- the **clean** reference: the `clean/none` cell without a sweep of the same label, scope,
  category and seed.

A `Block` is one (label, scope, category, seed): its clean cell and every real and synthetic
cell evaluated beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evalsuite.data.shift_factors import ALL, variant_names
from evalsuite.site.read.records import Cell, Results

REAL_PARAM = "shift.conditions"
"""The sweep parameter of a real condition's cells."""
FACTOR_PARAM = "shift.factors"
REAL_FAMILY = "real"
SYNTHETIC_FAMILY = "mvtec_shift"
CONDITIONS = ("overexposed", "underexposed", "shift_1", "shift_2", "shift_3")
"""MVTec AD 2's acquisition conditions other than regular, in the order the page shows them
(others follow by name)."""


@dataclass(frozen=True)
class Shift:
    """One shift a cell evaluates: `real` (a condition) or `synthetic` (MVTec-Shift's `all` or
    one of its variants)."""

    kind: str
    name: str

    @property
    def title(self) -> str:
        """How the page names it, e.g. "real: overexposed", "MVTec-Shift", "MVTec-Shift:
        exposure"."""
        if self.kind == REAL_FAMILY:
            return f"real: {self.name}"
        return "MVTec-Shift" if self.name == ALL else f"MVTec-Shift: {self.name}"

    @property
    def phrase(self) -> str:
        """How a sentence names it, e.g. "the real overexposed condition", "MVTec-Shift",
        "MVTec-Shift's exposure variant"."""
        if self.kind == REAL_FAMILY:
            return f"the real {self.name} condition"
        return "MVTec-Shift" if self.name == ALL else f"MVTec-Shift's {self.name} variant"


MIXED = Shift("synthetic", ALL)
"""MVTec-Shift as the study applies it (every factor)."""


@dataclass(frozen=True)
class BlockKey:
    """A clean cell and the shifted cells compared with it (one seed)."""

    label: str
    scope: str
    category: str
    seed: int


@dataclass
class Block:
    """The cells of one block.

    Attributes:
        key: the block.
        clean: the clean/none cell, or None when the study has none (missing).
        shifted: shift -> its cell (ok or failed).
    """

    key: BlockKey
    clean: Cell | None
    shifted: dict[Shift, Cell] = field(default_factory=dict)


def shift_of(cell: Cell) -> Shift | None:
    """The shift a regime-none cell evaluates, or None (a clean cell, another regime, another
    sweep's cell, another family)."""
    group = cell.key.group
    if group.kind != "shift/none":
        return None
    shift = cell.record.get("config", {}).get("shift") or {}
    family = str(shift.get("family") or SYNTHETIC_FAMILY).replace("-", "_")
    if group.sweep is None:
        return MIXED if family == SYNTHETIC_FAMILY else None
    param, value = group.sweep
    if param == REAL_PARAM and family == REAL_FAMILY:
        return Shift(REAL_FAMILY, value)
    if param == FACTOR_PARAM and family == SYNTHETIC_FAMILY:
        return Shift("synthetic", value)
    return None


def blocks_of(results: Results) -> dict[BlockKey, Block]:
    """Every block of the study holding a shifted cell, sorted by label, scope, category and
    seed; empty unless the study has both a real cell and a mixed MVTec-Shift cell."""
    found = [(cell, shift_of(cell)) for cell in results.cells]
    shifts = {shift for _, shift in found if shift is not None}
    if MIXED not in shifts or not any(s.kind == REAL_FAMILY for s in shifts):
        return {}
    clean: dict[BlockKey, Cell] = {}
    for cell in results.cells:
        g = cell.key.group
        if g.kind == "clean/none" and g.sweep is None:
            clean[BlockKey(g.label, g.scope, g.category, cell.key.seed)] = cell
    blocks: dict[BlockKey, Block] = {}
    # cells without a sweep first, so that they win over a `shift.factors = all` sweep cell
    for cell, shift in sorted(found, key=lambda pair: pair[0].key.group.sweep is not None):
        if shift is None:
            continue
        g = cell.key.group
        key = BlockKey(g.label, g.scope, g.category, cell.key.seed)
        block = blocks.setdefault(key, Block(key, clean.get(key)))
        block.shifted.setdefault(shift, cell)
    return dict(sorted(blocks.items(), key=lambda item: _block_order(item[0])))


def _block_order(key: BlockKey) -> tuple[object, ...]:
    scopes = ("per_class", "unified")
    scope = scopes.index(key.scope) if key.scope in scopes else len(scopes)
    return (key.label, scope, key.category, key.seed)


def shift_order(shift: Shift) -> tuple[object, ...]:
    """Sort key of a shift: the real conditions (MVTec AD 2's order, then by name), then
    MVTec-Shift (the mixed shift, then its variants in `variant_names` order)."""
    if shift.kind == REAL_FAMILY:
        rank = CONDITIONS.index(shift.name) if shift.name in CONDITIONS else len(CONDITIONS)
        return (0, rank, shift.name)
    names = variant_names()
    return (1, names.index(shift.name) if shift.name in names else len(names), shift.name)
