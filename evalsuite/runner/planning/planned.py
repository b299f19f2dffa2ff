"""The planned cells of a study as the manifest lists them: the one expansion of the matrix
that every consumer of a results folder reads (the site's missing cells, `merge`'s report).

Each entry names a cell by its fields and by the path of its record under `cells/`, so no
consumer expands the configuration again, parses an id or reads a path back.
"""

from __future__ import annotations

from typing import Any

from evalsuite.results.paths import render_value
from evalsuite.runner.planning.plan import CellPlan, Plan, planned_relpath


def planned_entries(plan: Plan, multi_seed: bool) -> list[dict[str, Any]]:
    """The manifest's `planned`: every cell of `plan` (the whole study, before any shard), in
    plan order, one entry per record path.

    Args:
        plan: the study's plan, unsharded.
        multi_seed: whether the study has several seeds (the seed is then in the paths).

    Returns:
        entries {path, label, scope, condition, regime, category, sweep, seed}; `sweep` is
        [param, value as text (`render_value`)] or None.
    """
    entries: dict[str, dict[str, Any]] = {}
    for cell in plan.cells:
        path = str(planned_relpath(cell, multi_seed))
        entries.setdefault(path, {"path": path, **_identity(cell)})
    return list(entries.values())


def _identity(cell: CellPlan) -> dict[str, Any]:
    sweep = cell.variant.sweep
    return {
        "label": cell.variant.spec.label,
        "scope": cell.fit.scope,
        "condition": cell.condition,
        "regime": cell.regime,
        "category": cell.category,
        "sweep": None if sweep is None else [sweep[0], render_value(sweep[1])],
        "seed": cell.fit.seed,
    }
