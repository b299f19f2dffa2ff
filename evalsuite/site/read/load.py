"""Read a results folder into `Results`: the manifest (if the run finished), every cell, and the
cells the study planned but the folder lacks.

The planned cells are those the manifest lists (`planned`, written by the runner from its plan):
the site never expands the study's configuration itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalsuite.errors import ResultsError
from evalsuite.results import iter_cells, read_manifest
from evalsuite.results.paths import MANIFEST_NAME
from evalsuite.results.splits import read_split_files
from evalsuite.site.read.records import (
    Cell,
    CellKey,
    GroupKey,
    Results,
    cell_from_record,
    kind_of,
)


def load_results(folder: Path) -> Results:
    """Read every record of a results folder.

    Args:
        folder: a results folder (`evalsuite run --out`); a run that did not finish (no
            manifest yet) is read too, as partial results.

    Raises:
        ResultsError: the folder does not exist, holds no cell and no manifest, a record or
            the manifest is corrupt, or a link, FIFO or device lies where records are read
            (see `evalsuite.results.folder`; the message names the file).
    """
    if not folder.is_dir():
        raise ResultsError(f"results folder {folder} does not exist; give the --out of a run")
    manifest = read_manifest(folder) if (folder / MANIFEST_NAME).exists() else None
    cells = sorted(
        (cell_from_record(relpath, record) for relpath, record in iter_cells(folder)),
        key=lambda cell: cell.key.order(),
    )
    if manifest is None and not cells:
        raise ResultsError(
            f"{folder} holds neither {MANIFEST_NAME} nor cell records; "
            "run `evalsuite run --out` into it first"
        )
    present = {cell.key for cell in cells}
    expected = expected_cells(manifest) if manifest is not None else []
    missing = sorted((key for key in set(expected) - present), key=lambda key: key.order())
    synthetic = any(cell.record["provenance"]["synthetic"] for cell in cells) or bool(
        manifest is not None and manifest["dataset"]["synthetic"]
    )
    seeds = manifest["seeds"] if manifest is not None else sorted({c.key.seed for c in cells})
    return Results(
        source=folder,
        manifest=manifest,
        cells=tuple(cells),
        missing=tuple(missing),
        synthetic=synthetic,
        multi_seed=len(seeds) > 1,
        splits=read_split_files(folder, manifest),
        study=study_name(manifest, cells),
    )


def study_name(manifest: dict[str, Any] | None, cells: list[Cell]) -> str | None:
    """The manifest's study, else the configuration names its records carry (sorted, joined:
    a folder reused under another name holds both); None when neither names it."""
    if manifest is not None:
        return str(manifest["study"])
    names = sorted(
        {c.record["provenance"]["study"] for c in cells if "study" in c.record["provenance"]}
    )
    return " + ".join(names) or None


def expected_cells(manifest: dict[str, Any]) -> list[CellKey]:
    """The cells the study plans: the manifest's `planned`, the runner's one expansion of the
    matrix (see `evalsuite.runner.planning.planned`); none for a manifest an earlier evalsuite
    wrote without it (then no cell is reported missing: the site never expands the matrix)."""
    return [
        CellKey(
            GroupKey(
                entry["label"],
                entry["scope"],
                kind_of(entry["condition"], entry["regime"]),
                entry["category"],
                None if entry["sweep"] is None else (entry["sweep"][0], entry["sweep"][1]),
            ),
            entry["seed"],
        )
        for entry in manifest.get("planned", ())
    ]
