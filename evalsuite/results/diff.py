"""Compare two results folders cell by cell: what moved, by how much, beyond the noise or not,
and why.

Cells are matched by what they are (`CellKey`: label, scope, regime, condition, category,
sweep, seed), not by id, so a new code version or new weights still pair them. For each pair of
ok cells and each headline metric: the delta new - base, a paired stratified bootstrap 95%
interval over the test images both records scored, and a verdict (`diff_metrics`):

- regressed: the interval lies entirely below 0 and delta <= -min_delta;
- improved: the interval lies entirely above 0 and delta >= min_delta;
- unchanged: otherwise.

A cell is regressed when any metric is, else improved when any is, else "moved" when any metric
value differs at all. For moved, newly failed and newly fixed cells the differences of their
provenance are listed (`evalsuite.results.provenance_diff`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np

from evalsuite.errors import ResultsError
from evalsuite.results.cells import iter_cells
from evalsuite.results.diff_metrics import MetricDelta, metric_deltas
from evalsuite.results.manifest import read_manifest
from evalsuite.results.paths import MANIFEST_NAME, render_value
from evalsuite.results.provenance_diff import Change, provenance_changes

Status = Literal[
    "regressed",
    "improved",
    "moved",
    "unchanged",
    "newly_failed",
    "newly_fixed",
    "still_failed",
    "added",
    "removed",
]
ORDER: tuple[Status, ...] = (
    "regressed",
    "newly_failed",
    "removed",
    "improved",
    "newly_fixed",
    "added",
    "moved",
    "still_failed",
    "unchanged",
)
"""Statuses in the order a reader wants them: what got worse first."""


@dataclass(frozen=True)
class CellKey:
    """What a cell is, independent of its id: label, scope, regime, condition, category,
    sweep (param, rendered value) or None, seed."""

    label: str
    scope: str
    regime: str
    condition: str
    category: str
    sweep: tuple[str, str] | None
    seed: int

    @classmethod
    def of(cls, record: dict[str, Any]) -> CellKey:
        """The key of a record."""
        sweep = record["sweep"]
        return cls(
            record["label"],
            record["scope"],
            record["regime"],
            record["condition"],
            record["category"],
            None if sweep is None else (sweep["param"], render_value(sweep["value"])),
            record["seed"],
        )

    def name(self) -> str:
        """e.g. `patchcore per_class none/clean hazelnut [params.coreset_ratio=0.5] seed 0`."""
        sweep = "" if self.sweep is None else f" [{self.sweep[0]}={self.sweep[1]}]"
        return (
            f"{self.label} {self.scope} {self.regime}/{self.condition} {self.category}{sweep} "
            f"seed {self.seed}"
        )


@dataclass(frozen=True)
class CellDiff:
    """One cell as the two runs have it.

    Attributes:
        key: what the cell is.
        status: see `Status` (regressed beats improved beats moved).
        base_path, new_path: the record paths under `cells/` (None where absent).
        metrics: the headline metrics of a pair of ok cells ([] otherwise).
        changes: provenance differences, for moved, newly failed and newly fixed cells.
        error: the new record's error (newly failed, still failed), else None.
    """

    key: CellKey
    status: Status
    base_path: PurePosixPath | None
    new_path: PurePosixPath | None
    metrics: list[MetricDelta] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class RunDiff:
    """Two runs compared: their folders and dates, the threshold used, and every cell, ordered
    by `ORDER` then by key."""

    base: Path
    new: Path
    base_created: str | None
    new_created: str | None
    min_delta: float
    cells: list[CellDiff]

    def count(self, status: Status) -> int:
        """How many cells have `status`."""
        return sum(cell.status == status for cell in self.cells)

    @property
    def regressions(self) -> int:
        """Cells that regressed or newly failed: what `--fail-on-regression` fails on."""
        return self.count("regressed") + self.count("newly_failed")


def diff_runs(base: Path, new: Path, min_delta: float = 0.0, n: int = 1000) -> RunDiff:
    """Compare the results folders `base` and `new` (see the module docstring).

    Args:
        base: the reference run (e.g. last night's).
        new: the run compared with it.
        min_delta: the smallest |delta| that counts as improved or regressed, >= 0.
        n: bootstrap resamples per interval.

    Raises:
        ResultsError: a folder is missing, holds no cell, or a record is corrupt.
    """
    if min_delta < 0 or not np.isfinite(min_delta):
        raise ResultsError(f"--min-delta {min_delta} must be a number >= 0, e.g. 0.01")
    a, b = _records(base), _records(new)
    folders = (base, new)
    cells = [
        _compare(key, a.get(key), b.get(key), folders, min_delta, n) for key in a.keys() | b.keys()
    ]
    cells.sort(key=lambda c: (ORDER.index(c.status), _order(c.key)))
    return RunDiff(base, new, _created(base), _created(new), min_delta, cells)


def _records(folder: Path) -> dict[CellKey, tuple[PurePosixPath, dict[str, Any]]]:
    found = {CellKey.of(record): (relpath, record) for relpath, record in iter_cells(folder)}
    if not found:
        raise ResultsError(f"{folder} holds no cell records; give the --out of a finished run")
    return found


def _created(folder: Path) -> str | None:
    return read_manifest(folder)["created"] if (folder / MANIFEST_NAME).exists() else None


def _order(key: CellKey) -> tuple[Any, ...]:
    return (
        key.label,
        key.scope,
        key.regime,
        key.condition,
        key.category,
        key.sweep or ("",),
        key.seed,
    )


Found = tuple[PurePosixPath, dict[str, Any]] | None


def _compare(
    key: CellKey, base: Found, new: Found, folders: tuple[Path, Path], min_delta: float, n: int
) -> CellDiff:
    """One cell's diff from its base and new records (either may be absent)."""
    if base is None or new is None:
        status: Status = "added" if base is None else "removed"
        return CellDiff(key, status, base and base[0], new and new[0])
    (a_path, a), (b_path, b) = base, new
    ok = (a["status"] == "ok", b["status"] == "ok")
    error = b["error"]["message"] if b["error"] else None
    if ok != (True, True):
        failures: dict[tuple[bool, bool], Status] = {
            (True, False): "newly_failed",
            (False, True): "newly_fixed",
        }
        status = failures.get(ok, "still_failed")
        changes = provenance_changes(a, b) if status != "still_failed" else []
        return CellDiff(key, status, a_path, b_path, changes=changes, error=error)
    metrics = list(metric_deltas(a, b, folders, min_delta, n))
    verdicts = {m.verdict for m in metrics}
    moved = any(m.delta != 0 for m in metrics if m.delta is not None) or any(
        (m.base is None) != (m.new is None) for m in metrics
    )
    if "regressed" in verdicts:
        status = "regressed"
    elif "improved" in verdicts:
        status = "improved"
    else:
        status = "moved" if moved else "unchanged"
    changes = provenance_changes(a, b) if moved else []
    return CellDiff(key, status, a_path, b_path, metrics, changes)
