"""Compare two results folders cell by cell: what moved, by how much, beyond the noise or not,
and why.

Cells are matched by what they are (`CellKey`: label, scope, regime, condition, category,
sweep, seed), not by id, so a new code version or new weights still pair them. For each pair of
ok cells and each headline metric: the delta new - base, a paired stratified bootstrap 95%
interval over the test images both records scored (unpaired, each record's own images, when the
two records name different datasets), and a verdict (`diff_metrics`):

- regressed: the interval lies entirely below 0 and delta <= -min_delta;
- improved: the interval lies entirely above 0 and delta >= min_delta;
- unchanged: otherwise.

A cell is regressed when any metric is, else improved when any is, else "moved" when any metric
value differs at all. For moved, newly failed and newly fixed cells the differences of their
provenance are listed (`evalsuite.results.provenance_diff`).

Both folders are checked before anything is compared (`diff_inputs`), and every failure is a
`ResultsError` (exit 2), so no failure can be mistaken for a regression (exit 1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np

from evalsuite.errors import EvalsuiteError, ResultsError
from evalsuite.results.diff_inputs import CellKey, Found, check_pairs, read_side, same_dataset
from evalsuite.results.diff_metrics import MetricDelta, metric_deltas
from evalsuite.results.manifest import read_manifest
from evalsuite.results.paths import MANIFEST_NAME
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
__all__ = ["ORDER", "CellDiff", "CellKey", "RunDiff", "Status", "diff_runs"]

logger = logging.getLogger(__name__)


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
    def unpaired(self) -> int:
        """Pairs of ok cells compared unpaired: their records name different datasets."""
        return sum(any(not m.paired for m in cell.metrics) for cell in self.cells)

    @property
    def regressions(self) -> int:
        """Cells that regressed or newly failed: what `--fail-on-regression` fails on."""
        return self.count("regressed") + self.count("newly_failed")


def diff_runs(base: Path, new: Path, min_delta: float = 0.0, n: int = 1000) -> RunDiff:
    """Compare the results folders `base` and `new` (see the module docstring).

    Both are read and checked first (`diff_inputs`: digests, one record per cell, images listed
    once, metrics in range, one identity per image id); nothing is compared before both pass.

    Args:
        base: the reference run (e.g. last night's).
        new: the run compared with it.
        min_delta: the smallest |delta| that counts as improved or regressed, >= 0.
        n: bootstrap resamples per interval.

    Raises:
        ResultsError: a folder is missing, holds no cell, a record is corrupt or edited, the
            records disagree on an image, or (a defect of this code, reported as such) the
            comparison failed; never another exception, so no failure reads as a regression.
    """
    if min_delta < 0 or not np.isfinite(min_delta):
        raise ResultsError(f"--min-delta {min_delta} must be a number >= 0, e.g. 0.01")
    try:
        return _diff_runs(base, new, min_delta, n)
    except (EvalsuiteError, OSError):
        raise
    except Exception as error:  # a bug must end in one line and exit 2, never exit 1 (regressed)
        logger.debug("diff of %s and %s failed", base, new, exc_info=True)
        raise ResultsError(
            f"cannot compare {base} and {new}: {type(error).__name__}: {error}; this is a defect "
            "of evalsuite diff (rerun with -vv for the traceback and report it with both folders)"
        ) from error


def _diff_runs(base: Path, new: Path, min_delta: float, n: int) -> RunDiff:
    a, b = read_side(base), read_side(new)
    folders = (base, new)
    check_pairs(folders, a, b)
    cells = [
        _compare(key, a.get(key), b.get(key), folders, min_delta, n) for key in a.keys() | b.keys()
    ]
    cells.sort(key=lambda c: (ORDER.index(c.status), _order(c.key)))
    return RunDiff(base, new, _created(base), _created(new), min_delta, cells)


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


def _compare(
    key: CellKey,
    base: Found | None,
    new: Found | None,
    folders: tuple[Path, Path],
    min_delta: float,
    n: int,
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
    metrics = list(metric_deltas(a, b, folders, min_delta, n, paired=same_dataset(a, b)))
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
