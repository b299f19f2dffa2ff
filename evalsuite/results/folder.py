"""What a results folder (a run's `--out`, a shard, a baseline) may hold where commands read it.

`diff`, `merge`, `site` (and its `--baseline` and `--bundle`) and `run`'s check of the records
already there read `manifest.json`, `cells/`, `artifacts/` and `splits/`. Each of these must be
a regular file or a real folder of regular files: a link anywhere in them would make a command
read, copy or publish a file outside the folder, and a FIFO would block it for ever, so
`check_results_folder` refuses both before anything is read, naming the path. `fits/` (a cache
only `run` reads) is not walked.
"""

from __future__ import annotations

from pathlib import Path

from evalsuite import regular
from evalsuite.results.paths import ARTIFACTS_DIR, CELLS_DIR, MANIFEST_NAME
from evalsuite.results.splits import SPLITS_DIR

READ_FOLDERS = (CELLS_DIR, ARTIFACTS_DIR, SPLITS_DIR)
"""The folders of a results folder that commands other than `run` read."""


def check_results_folder(folder: Path) -> None:
    """Refuse a results folder whose manifest, or any entry under `cells/`, `artifacts/` or
    `splits/`, is a link, a FIFO, a socket or a device; absent parts are fine.

    Raises:
        ResultsError: naming the first such path and what to do.
    """
    manifest = folder / MANIFEST_NAME
    if manifest.is_symlink() or manifest.exists():
        regular.open_file(manifest, regular.RESULTS, "manifest").close()
    for name in READ_FOLDERS:
        regular.walk_files(folder / name, regular.RESULTS)


def cell_files(folder: Path) -> list[Path]:
    """The record files (`*.json`) under `<folder>/cells/`, sorted, every part of the folder
    checked first (see `check_results_folder`)."""
    check_results_folder(folder)
    return [
        p for p in regular.walk_files(folder / CELLS_DIR, regular.RESULTS) if p.suffix == ".json"
    ]
