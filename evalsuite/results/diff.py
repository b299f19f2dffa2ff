"""Compare two results folders cell by cell: what moved, by how much, beyond the noise or not,
and why.

Cells are matched by what they are (`CellKey`: label, scope, regime, condition, category,
sweep, seed), not by id, so a new code version or new weights still pair them. For each pair of
ok cells and each headline metric: the delta new - base, a paired stratified bootstrap 95%
interval over the test images both records scored (`evaluation.paired`: image metrics from the
records' per-image scores, pixel metrics from each cell's `evidence.npz`), and a verdict:

- regressed: the interval lies entirely below 0 and delta <= -min_delta;
- improved: the interval lies entirely above 0 and delta >= min_delta;
- unchanged: otherwise.

A pixel metric of a cell without evidence (results written before evidence.npz existed, or
unreadable evidence) gets its delta only, and no verdict. A cell whose metric values differ at
all has "moved"; for moved,
newly failed and newly fixed cells the differences of their provenance are listed
(`evalsuite.results.provenance_diff`).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np

from evalsuite.errors import EvaluationError, ResultsError
from evalsuite.evaluation.paired import Difference, paired_image_difference, paired_pixel_difference
from evalsuite.evaluation.pixel_evidence import PixelEvidence
from evalsuite.results.cells import iter_cells
from evalsuite.results.manifest import read_manifest
from evalsuite.results.paths import MANIFEST_NAME, render_value
from evalsuite.results.provenance_diff import Change, provenance_changes

IMAGE_METRICS = ("image_auroc", "image_f1")
PIXEL_METRICS = ("pixel_auroc", "aupro_0.3")
HEADLINE = (*IMAGE_METRICS, *PIXEL_METRICS)
BOOTSTRAP_SEED = 0
"""The resampling seed of every paired interval (the same numbers on every machine)."""

Verdict = Literal["improved", "regressed", "unchanged"]
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
class MetricDelta:
    """One headline metric of a pair of ok cells.

    Attributes:
        metric: e.g. "image_auroc".
        base, new: the values (None when a record has none, e.g. no masks).
        delta: new - base, None when either is None.
        ci95: paired bootstrap interval of delta (image metrics), None otherwise.
        p_value: its two-sided bootstrap p-value, None without an interval.
        n_images: paired test images behind the interval (0 without one).
        verdict: improved / regressed / unchanged (image metrics), None otherwise.
    """

    metric: str
    base: float | None
    new: float | None
    delta: float | None
    ci95: tuple[float, float] | None
    p_value: float | None
    n_images: int
    verdict: Verdict | None


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
    metrics = list(_metric_deltas(a, b, folders, min_delta, n))
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


def _metric_deltas(
    a: dict[str, Any], b: dict[str, Any], folders: tuple[Path, Path], min_delta: float, n: int
) -> Iterator[MetricDelta]:
    index_a, index_b, labels = paired_images(a, b)
    for metric in HEADLINE:
        value_a, value_b = a["metrics"][metric]["value"], b["metrics"][metric]["value"]
        if value_a is None or value_b is None:
            yield MetricDelta(metric, value_a, value_b, None, None, None, 0, None)
            continue
        delta = value_b - value_a
        try:
            found = _difference(metric, (a, b), folders, (index_a, index_b), labels, n)
        except EvaluationError:  # one class only, or no readable evidence: no interval
            found = None
        if found is None:
            yield MetricDelta(metric, value_a, value_b, delta, None, None, 0, None)
            continue
        yield MetricDelta(
            metric,
            value_a,
            value_b,
            delta,
            found.ci95,
            found.p_value,
            found.n_images,
            verdict(delta, found.ci95, min_delta),
        )


def _difference(
    metric: str,
    records: tuple[dict[str, Any], dict[str, Any]],
    folders: tuple[Path, Path],
    index: tuple[np.ndarray, np.ndarray],
    labels: np.ndarray,
    n: int,
) -> Difference | None:
    """The paired difference of `metric` between the two records over the paired images;
    None without paired images or (pixel metrics) without evidence."""
    if labels.size == 0:
        return None
    a, b = records
    if metric in IMAGE_METRICS:
        scores = [np.array([s["score"] for s in r["scores"]], dtype=np.float64) for r in records]
        thresholds = (a["threshold"]["image"]["value"], b["threshold"]["image"]["value"])
        return paired_image_difference(
            metric,
            labels,
            scores[0][index[0]],
            scores[1][index[1]],
            thresholds=thresholds,
            n=n,
            seed=BOOTSTRAP_SEED,
        )
    evidence = [_evidence(folder, record) for folder, record in zip(folders, records, strict=True)]
    if evidence[0] is None or evidence[1] is None:
        return None
    return paired_pixel_difference(
        metric,
        labels,
        evidence[0].subset(index[0]),
        evidence[1].subset(index[1]),
        n=n,
        seed=BOOTSTRAP_SEED,
    )


def _evidence(folder: Path, record: dict[str, Any]) -> PixelEvidence | None:
    """A cell's pixel evidence (`evidence.npz` beside its artifacts), None when it has none or
    it cannot be read."""
    path = record.get("evidence")
    if not path:
        return None
    try:
        with np.load(folder / path, allow_pickle=False) as data:
            return PixelEvidence.from_arrays(dict(data))
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
        return None


def verdict(delta: float, ci95: tuple[float, float], min_delta: float) -> Verdict:
    """improved / regressed when the interval excludes 0 on that side and |delta| >= min_delta
    (every headline metric is higher-is-better); unchanged otherwise."""
    if ci95[1] < 0 and delta <= -min_delta:
        return "regressed"
    if ci95[0] > 0 and delta >= min_delta:
        return "improved"
    return "unchanged"


def paired_images(
    a: dict[str, Any], b: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The test images both records scored, with the same label in both, in `a`'s order.

    Returns:
        indices into a's scores (N,), into b's scores (N,), labels (N,) bool.
    """
    position_b = {s["id"]: j for j, s in enumerate(b["scores"])}
    pairs = [
        (i, position_b[s["id"]])
        for i, s in enumerate(a["scores"])
        if s["id"] in position_b and b["scores"][position_b[s["id"]]]["label"] == s["label"]
    ]
    index_a = np.array([i for i, _ in pairs], dtype=np.int64)
    index_b = np.array([j for _, j in pairs], dtype=np.int64)
    labels = np.array([a["scores"][i]["label"] == 1 for i in index_a], dtype=bool)
    return index_a, index_b, labels
