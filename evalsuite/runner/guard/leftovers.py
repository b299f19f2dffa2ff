"""What a run stopped without unwinding leaves in its results folder, removed by the next run.

A run stopped by SIGKILL (the OOM killer, `kill -9` of the process group), or a Dask worker
whose main process died (Dask ends it at once, `os._exit`, without unwinding), can leave the
temp file of an atomic write (`.<name>.<random>.tmp`, see `atomic.write_bytes`) or a fitted
model's staging folder (`fits/<fit id>.staging-<pid>`). The next run holds the results
folder's lock, so no other run of this machine writes there: it removes exactly these names,
in the folders runs write, and nothing else.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

from evalsuite.results.paths import ARTIFACTS_DIR, CELLS_DIR, FITS_DIR
from evalsuite.results.splits import SPLITS_DIR

log = logging.getLogger(__name__)

TEMP_FILE = re.compile(r"\..+\.[A-Za-z0-9_]{8}\.tmp")
"""`tempfile.mkstemp(prefix=".<name>.", suffix=".tmp")`: eight random characters."""
STAGING = re.compile(r"[0-9a-f]{8,64}\.staging-\d+")
WRITTEN = (CELLS_DIR, ARTIFACTS_DIR, FITS_DIR, SPLITS_DIR)


def remove_leftovers(out: Path) -> int:
    """Remove the temp files and fit staging folders of stopped runs from results folder
    `out` (whose lock the caller holds); the number removed."""
    removed = 0
    fits = out / FITS_DIR
    if fits.is_dir():
        for entry in fits.iterdir():
            if entry.is_dir() and not entry.is_symlink() and STAGING.fullmatch(entry.name):
                shutil.rmtree(entry)
                removed += 1
    folders = [
        out,
        *(out / n for n in WRITTEN if (out / n).is_dir() and not (out / n).is_symlink()),
    ]
    for folder in folders:
        candidates = folder.glob(".*.tmp") if folder == out else folder.rglob(".*.tmp")
        for path in candidates:
            if path.is_file() and not path.is_symlink() and TEMP_FILE.fullmatch(path.name):
                path.unlink()
                removed += 1
    if removed:
        log.warning("removed %d temp file(s) left in %s by a run that was stopped", removed, out)
    return removed
