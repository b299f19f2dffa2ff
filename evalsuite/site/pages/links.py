"""Links from table rows to the cell pages behind them.

Every table of the site shows one or more groups of cells per row (a difference has two sides,
the regimes table three); `CellLinks` finds the cells of a group so a template can link each of
them, whatever the table's own view model holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evalsuite.site.read.records import Cell, GroupKey, Results


@dataclass(frozen=True)
class LinkGroup:
    """The cells of one side of a row.

    Attributes:
        name: what the side is called in the row (a kind, a scope or a regime).
        cells: its cells, one per seed (empty when missing).
    """

    name: str
    cells: tuple[Cell, ...]


class CellLinks:
    """The baseline (non-sweep) cells of a results folder, by group."""

    def __init__(self, results: Results) -> None:
        self._groups = {key: tuple(cells) for key, cells in results.groups().items()}

    def cells(self, label: str, scope: str, kind: str, category: str) -> tuple[Cell, ...]:
        """The cells (all seeds) of one baseline group; empty when none was written."""
        return self._groups.get(GroupKey(label, scope, kind, category, None), ())

    def sides(
        self, label: str, category: str, scopes: Sequence[str], kinds: Sequence[str]
    ) -> tuple[LinkGroup, ...]:
        """One LinkGroup per (scope, kind) pair of a row, named by what differs between them.

        Args:
            label, category: the row's detector and category.
            scopes, kinds: the sides' scopes and kinds, paired in order (a single scope or
                kind is repeated for every side).
        """
        n = max(len(scopes), len(kinds))
        scopes = list(scopes) * n if len(scopes) == 1 else list(scopes)
        kinds = list(kinds) * n if len(kinds) == 1 else list(kinds)
        named_by_scope = len(set(scopes)) > 1
        return tuple(
            LinkGroup(scope if named_by_scope else kind, self.cells(label, scope, kind, category))
            for scope, kind in zip(scopes, kinds, strict=True)
        )
