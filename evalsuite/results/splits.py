"""The split files of a results folder: `<out>/splits/seed<N>.json`, one per seed.

Each holds the seed, the split ratios, the clean dataset's fingerprint and, per category, the
sample ids of `train`, `val` and `test` (sorted). The runner writes them (atomically) before any
cell; the manifest names them (`splits`: seed -> path) and so does each cell's provenance
(`provenance.splits`). Paths are relative to the results folder.

Beside them, `<out>/splits/shift-s<N>.json` holds, for each shift severity a study evaluates, the
per-image parameters of its MVTec-Shift tree (the tree's `evalsuite-shift.json` less its
absolute source path): which transform each image got, and which images were relabelled. The
manifest names them (`shift_parameters`: severity -> path). Each variant tree a study reads (a
factor variant, a mixed shift or variant at another of `shift.severities`, a corruption type)
has its own beside them, named by the tree's name (`shift_family.tree_name`):
`splits/shift-s2-exposure.json`, `splits/corruptions-s3-fog.json` (`shift_parameters`: that
name -> path).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from evalsuite import regular
from evalsuite.errors import ResultsError
from evalsuite.results.validation import loads_strict

SPLITS_DIR = "splits"
SPLITS_SCHEMA = "evalsuite.splits/1"
SHIFT_SCHEMA = "evalsuite.shift-parameters/1"


def splits_relpath(seed: int) -> PurePosixPath:
    """Where the split file of `seed` lives, relative to the results folder."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ResultsError(f"seed {seed!r} is not a non-negative integer; seeds are ints >= 0")
    return PurePosixPath(SPLITS_DIR) / f"seed{seed}.json"


def shift_relpath(severity: int) -> PurePosixPath:
    """Where the per-image shift parameters of `severity` live, relative to the results folder."""
    return PurePosixPath(SPLITS_DIR) / f"shift-s{severity}.json"


def tree_relpath(name: str) -> PurePosixPath:
    """Where the per-image parameters of the variant tree `name` (`shift-s2-exposure`,
    `corruptions-s3-fog`) live, relative to the results folder."""
    return PurePosixPath(SPLITS_DIR) / f"{name}.json"


def named_files(manifest: dict[str, Any]) -> list[str]:
    """The files under `splits/` a manifest names: split files and shift parameters, sorted."""
    named = {**(manifest.get("splits") or {})}
    named.update({f"shift-{k}": v for k, v in (manifest.get("shift_parameters") or {}).items()})
    return sorted(named.values())


def read_split_files(folder: Path, manifest: dict[str, Any] | None) -> dict[str, Any]:
    """The split files of a results folder, with its shift parameters: path (relative to it) ->
    content.

    The manifest names them; without a manifest (a run that has not finished), those present in
    `<folder>/splits/` are read.

    Raises:
        ResultsError: a split file the manifest names is missing or is not valid JSON; a link,
            FIFO or device in `splits/`.
    """
    if manifest is not None:
        relpaths = named_files(manifest)
    else:
        files = regular.walk_files(folder / SPLITS_DIR, regular.RESULTS)
        top = [p for p in files if p.parent == folder / SPLITS_DIR and p.suffix == ".json"]
        relpaths = sorted(f"{SPLITS_DIR}/{p.name}" for p in top)
    found = {}
    for relpath in relpaths:
        path = folder / relpath
        try:
            text = regular.read_text(path, regular.RESULTS, "split file", root=folder)
            found[relpath] = loads_strict(text)
        except (OSError, ValueError) as error:
            raise ResultsError(
                f"{path}: unreadable split file ({error}); rerun `evalsuite run` with the same "
                "--out to write it again"
            ) from error
    return found
