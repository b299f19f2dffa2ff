"""The two sides of `evalsuite diff`, read and checked as carefully as `merge` reads its sources.

Every cell file is read with its content digest verified (`read_cell(verify=True)`), so a record
edited by hand is refused. A folder is refused, naming the files, when two of its records are
the same cell (`CellKey`), when a record lists a test image twice, or when a headline metric lies
outside [0, 1]. Two records of one cell are paired image by image only when they name the same
dataset fingerprint (`same_dataset`; otherwise `diff` compares them unpaired, and says so); two
such records that list one image id with another label or defect are refused.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from evalsuite.errors import ResultsError
from evalsuite.results.cells import RERUN, iter_cells
from evalsuite.results.diff_metrics import HEADLINE
from evalsuite.results.paths import cell_path, render_value


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


Found = tuple[PurePosixPath, dict[str, Any]]
"""A record and its path under `cells/`."""


def read_side(folder: Path) -> dict[CellKey, Found]:
    """Every cell of the results folder `folder`, by key, each record checked (see the module
    docstring).

    Raises:
        ResultsError: the folder is missing or holds no cell; a cell file is corrupt, edited
            (digest), a second record of one cell, lists an image twice or holds a headline
            metric outside [0, 1].
    """
    found: dict[CellKey, Found] = {}
    for relpath, record in iter_cells(folder, verify=True):
        path = cell_path(folder, relpath)
        key = CellKey.of(record)
        if key in found:
            first = cell_path(folder, found[key][0])
            raise ResultsError(
                f"cell files {first} and {path} are the same cell ({key.name()}); a results "
                "folder holds one record per cell: delete the one that does not belong (a copy?) "
                "and compare again"
            )
        _check_record(path, record)
        found[key] = (relpath, record)
    if not found:
        raise ResultsError(f"{folder} holds no cell records; give the --out of a finished run")
    return found


def _check_record(path: Path, record: dict[str, Any]) -> None:
    """Refuse a record that lists a test image twice or holds a headline metric outside [0, 1]."""
    twice = [i for i, n in Counter(s["id"] for s in record["scores"] or ()).items() if n > 1]
    if twice:
        raise ResultsError(
            f"cell file {path} lists test image {twice[0]!r} twice in `scores` "
            f"({len(twice)} id(s) repeated), so its images cannot be paired; {RERUN}"
        )
    for metric in HEADLINE if record["metrics"] else ():
        value = record["metrics"][metric]["value"]
        if value is not None and not 0.0 <= value <= 1.0:
            raise ResultsError(
                f"cell file {path} holds metrics.{metric}.value {value!r}, outside [0, 1] where "
                f"every such metric lies; {RERUN}"
            )


def same_dataset(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two records of one cell name the same (clean) dataset fingerprint: only then
    are their test images paired."""
    return bool(a["provenance"]["dataset_fingerprint"] == b["provenance"]["dataset_fingerprint"])


def check_pairs(
    folders: tuple[Path, Path], base: dict[CellKey, Found], new: dict[CellKey, Found]
) -> None:
    """Refuse two records of one cell, on the same dataset, that list one image id with another
    label or defect (one of them is corrupt: its images cannot be paired).

    Args:
        folders: (base, new) results folders.
        base, new: their cells, from `read_side`.

    Raises:
        ResultsError: naming both files and the image.
    """
    for key in sorted(base.keys() & new.keys(), key=lambda k: k.name()):
        (path_a, a), (path_b, b) = base[key], new[key]
        if same_dataset(a, b):
            files = (cell_path(folders[0], path_a), cell_path(folders[1], path_b))
            _check_images(files, a, b)


def _check_images(files: tuple[Path, Path], a: dict[str, Any], b: dict[str, Any]) -> None:
    """Refuse two records of one cell that list one image id with another label or defect."""
    identity_b = {s["id"]: (s["label"], s["defect"]) for s in b["scores"] or ()}
    for score in a["scores"] or ():
        other = identity_b.get(score["id"])
        if other is not None and other != (score["label"], score["defect"]):
            raise ResultsError(
                f"cell files {files[0]} and {files[1]} disagree on test image {score['id']!r} "
                f"(label {score['label']}, defect {score['defect']!r} vs label {other[0]}, "
                f"defect {other[1]!r}) although both name the same dataset, so one of them is "
                f"corrupt; {RERUN}"
            )
