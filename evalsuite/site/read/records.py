"""Typed views of the records in a results folder: cell keys, metrics, cells, the run.

The site reads a results folder only through `evalsuite.results` (`iter_cells`,
`read_manifest`), which validates every record; this module turns the raw records into small
frozen view models the aggregations and templates use. Raw records are never changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from evalsuite.results.paths import SCOPES, render_value, sanitise

KINDS = ("clean/none", "shift/none", "shift/threshold", "shift/retrain")
"""The condition/regime pairs of a study, in the order the site shows them."""
METRICS = (
    "image_auroc",
    "image_aupr",
    "image_f1",
    "image_precision",
    "image_recall",
    "image_fpr",
    "pixel_auroc",
    "aupro_0.3",
    "aupro_0.05",
    "pixel_f1",
)
"""Every metric of a cell record, in the order of `cell.schema.json`."""
METRIC_NAMES = {
    "image_auroc": "image AUROC",
    "image_aupr": "image AUPR",
    "image_f1": "F1",
    "image_precision": "precision",
    "image_recall": "recall",
    "image_fpr": "FPR",
    "pixel_auroc": "pixel AUROC",
    "aupro_0.3": "AUPRO@0.3",
    "aupro_0.05": "AUPRO@0.05",
    "pixel_f1": "pixel F1",
}
"""How the site names each metric (F1, precision, recall and FPR are image-level, at the
threshold chosen on val)."""


def kind_of(condition: str, regime: str) -> str:
    """`clean/none`, `shift/threshold`, ...: a cell's condition/regime pair."""
    return f"{condition}/{regime}"


def value_order(text: str) -> tuple[int, float, str]:
    """Sort key of a swept value's text: numbers by value, then other text alphabetically."""
    try:
        return 0, float(text), text
    except ValueError:
        return 1, 0.0, text


@dataclass(frozen=True)
class GroupKey:
    """A cell without its seed: the unit means over seeds are taken on.

    Attributes:
        label: the detector's label.
        scope: per_class or unified.
        kind: condition/regime, e.g. `shift/retrain`.
        category: the category evaluated.
        sweep: (param, value as text) of a sweep cell, None for the baseline.
    """

    label: str
    scope: str
    kind: str
    category: str
    sweep: tuple[str, str] | None

    @property
    def condition(self) -> str:
        """clean or shift."""
        return self.kind.partition("/")[0]

    @property
    def regime(self) -> str:
        """none, threshold or retrain."""
        return self.kind.partition("/")[2]

    def order(self) -> tuple[Any, ...]:
        """Sort key: label, scope, kind, category and swept value in the site's orders."""
        kind = KINDS.index(self.kind) if self.kind in KINDS else len(KINDS)
        sweep = (
            ("", (0, 0.0, ""))
            if self.sweep is None
            else (self.sweep[0], value_order(self.sweep[1]))
        )
        return self.label, SCOPES.index(self.scope), kind, self.category, sweep


@dataclass(frozen=True)
class CellKey:
    """The fields that name a cell: its group and its seed."""

    group: GroupKey
    seed: int

    def order(self) -> tuple[Any, ...]:
        """Sort key: the group's, then the seed."""
        return (*self.group.order(), self.seed)

    def relpath(self, multi_seed: bool) -> str:
        """The record's path under `cells/` as the runner writes it (for display: a category
        that cannot name a file is shown as it is)."""
        sweep = self.group.sweep
        sweep_part = f"__{sanitise(sweep[0])}={sanitise(sweep[1])}" if sweep else ""
        seed = f"__seed{self.seed}" if multi_seed else ""
        g = self.group
        return f"{g.label}/{g.scope}/{g.regime}/{g.condition}/{g.category}{sweep_part}{seed}.json"


@dataclass(frozen=True)
class Metric:
    """One metric of a cell: a value in [0, 1] with its bootstrap 95% interval, or the reason
    it has none."""

    value: float | None
    ci: tuple[float, float] | None
    reason: str | None


@dataclass(frozen=True)
class Artifact:
    """One gallery strip (image | ground truth | overlay | thresholded mask) of a cell.

    Attributes:
        sample: the test image's id.
        kind: top_defect, hardest_normal or miss.
        path: the PNG's path relative to the results folder (and to the site).
        score: the image's anomaly score, when the record lists it.
    """

    sample: str
    kind: str
    path: str
    score: float | None


@dataclass(frozen=True)
class Cell:
    """One cell record as the site sees it.

    Attributes:
        key: its fields.
        detector: patchcore or padim.
        relpath: the record's path under `cells/`.
        status: ok or failed.
        metrics: metric name -> Metric (empty for a failed cell).
        artifacts: its gallery strips, in record order.
        record: the raw record (configuration, thresholds, scores, ROC, provenance).
    """

    key: CellKey
    detector: str
    relpath: str
    status: str
    metrics: dict[str, Metric] = field(compare=False)
    artifacts: tuple[Artifact, ...] = field(compare=False)
    record: dict[str, Any] = field(compare=False, repr=False)

    @property
    def page(self) -> str:
        """The detail page's path in the site."""
        return cell_page(self.relpath)

    @property
    def ok(self) -> bool:
        """True when the cell finished."""
        return self.status == "ok"


def cell_page(relpath: str) -> str:
    """The detail page of a cell path: `cells/<path with "/" as "--", .json as .html>`."""
    return "cells/" + PurePosixPath(relpath).with_suffix(".html").as_posix().replace("/", "--")


def cell_from_record(relpath: PurePosixPath, record: dict[str, Any]) -> Cell:
    """The view of one validated cell record read from `cells/<relpath>`."""
    sweep = record["sweep"]
    group = GroupKey(
        label=record["label"],
        scope=record["scope"],
        kind=kind_of(record["condition"], record["regime"]),
        category=record["category"],
        sweep=None if sweep is None else (sweep["param"], render_value(sweep["value"])),
    )
    metrics = {
        name: Metric(
            value=entry["value"],
            ci=None if entry["ci95"] is None else (entry["ci95"][0], entry["ci95"][1]),
            reason=entry["reason"],
        )
        for name, entry in (record["metrics"] or {}).items()
    }
    scores = {s["id"]: s["score"] for s in record["scores"] or ()}
    artifacts = tuple(
        Artifact(a["id"], a["kind"], a["path"], scores.get(a["id"])) for a in record["artifacts"]
    )
    return Cell(
        key=CellKey(group, record["seed"]),
        detector=record["detector"],
        relpath=relpath.as_posix(),
        status=record["status"],
        metrics=metrics,
        artifacts=artifacts,
        record=record,
    )


@dataclass(frozen=True)
class Results:
    """Everything the site shows, read from one results folder.

    Attributes:
        source: the results folder.
        manifest: the run manifest, None when the run did not finish (partial results).
        cells: every cell record found, sorted.
        missing: cells the manifest's configuration plans but the folder lacks, sorted
            (empty without a manifest: then nothing says what is missing).
        synthetic: True when any record or the manifest says the data is synthetic.
        multi_seed: True when the study has more than one seed (paths then carry the seed).
        splits: the split files, path in the results folder -> content (see
            `evalsuite.results.splits`); empty for a run older than them.
        study: the study's name: the manifest's, else the configuration's `name` that the
            records carry (`provenance.study`); None when neither says it (records older than
            that field): the site then names the study after the results folder.
    """

    source: Path
    manifest: dict[str, Any] | None
    cells: tuple[Cell, ...]
    missing: tuple[CellKey, ...]
    synthetic: bool
    multi_seed: bool
    splits: dict[str, Any] = field(default_factory=dict, compare=False)
    study: str | None = None

    @property
    def failed(self) -> tuple[Cell, ...]:
        """The failed cells."""
        return tuple(c for c in self.cells if not c.ok)

    def groups(self) -> dict[GroupKey, list[Cell]]:
        """Cells by group (all seeds), in sorted order."""
        found: dict[GroupKey, list[Cell]] = {}
        for cell in self.cells:
            found.setdefault(cell.key.group, []).append(cell)
        return found
