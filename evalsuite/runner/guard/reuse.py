"""Reusing a results folder: its cell records must all belong to the study being run.

A record belongs when the study plans a cell at its path with its id. Another configuration's
records (another category list, detector, evaluation setting, evalsuite version...) would mix
into the manifest and the site, so a run refuses them up front, or with `--force` removes them
(and their artifacts) and computes its own. A corrupt record at a planned path is not refused:
the runner reports and recomputes it. A link, FIFO or device where records are read is refused
(see `results.folder`): no link is followed, so `--force` never removes a file elsewhere.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from evalsuite import results
from evalsuite.errors import ResultsError
from evalsuite.results.folder import cell_files
from evalsuite.results.paths import ARTIFACTS_DIR, CELLS_DIR

log = logging.getLogger(__name__)

SHOWN = 3
"""Foreign records named in the message."""


def foreign_cells(out: Path, planned: Mapping[PurePosixPath, str]) -> list[PurePosixPath]:
    """Records under `<out>/cells` that the study does not plan, sorted.

    Args:
        out: the results folder.
        planned: every planned cell's path (under `cells/`) -> its cell id.

    Returns:
        paths under `cells/` of records at an unplanned path, or at a planned path with
        another cell id.

    Raises:
        ResultsError: `out` holds a link, FIFO or device where records are read.
    """
    root = out / CELLS_DIR
    found = []
    for path in cell_files(out):
        relpath = PurePosixPath(path.relative_to(root).as_posix())
        expected = planned.get(relpath)
        if expected is None or results.cell_state(out, relpath, expected) == "stale":
            found.append(relpath)
    return found


def check_reuse(
    out: Path, planned: Mapping[PurePosixPath, str], force: bool, remove: bool = True
) -> None:
    """Refuse `out` when it holds records of another configuration; with `force` remove them
    (unless `remove` is False: the run checks first, and removes only once nothing it still
    has to check can fail, so a refused run loses nothing).

    Raises:
        ResultsError: naming the folder, how many records are foreign, the first few, and the
            two ways on (another --out, or --force).
    """
    found = foreign_cells(out, planned)
    if not found:
        return
    if not force:
        shown = ", ".join(f"cells/{p}" for p in found[:SHOWN])
        more = f" and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
        raise ResultsError(
            f"--out {out} holds {len(found)} cell record(s) of another configuration "
            f"({shown}{more}); choose another --out, or pass --force to replace them with "
            "this study's cells"
        )
    if not remove:
        return
    for relpath in found:
        results.cell_path(out, relpath).unlink(missing_ok=True)
        shutil.rmtree(out / ARTIFACTS_DIR / relpath.with_suffix(""), ignore_errors=True)
    log.warning("--force: removed %d cell record(s) of another configuration", len(found))
