"""Where things live in a results folder.

```
<out>/manifest.json
<out>/cells/<label>/<scope>/<regime>/<condition>/<category>[__<param>=<value>][__seed<N>].json
<out>/artifacts/<cell path without .json>/<kind>/<sample id, "/" -> "__">.png
<out>/artifacts/<cell path without .json>/evidence.npz
<out>/artifacts/<cell path without .json>/thumbnails.maps.png
<out>/artifacts/thumbnails/test-sets/<category>/<key>.images.jpg (and .masks.png)
<out>/fits/<fit_id>/
```

Paths are built from a cell's fields, never parsed back: the record holds every field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from evalsuite.errors import ResultsError
from evalsuite.limits import MAX_NAME_LENGTH

MANIFEST_NAME = "manifest.json"
CELLS_DIR = "cells"
ARTIFACTS_DIR = "artifacts"
FITS_DIR = "fits"
FIT_DONE = "fit.json"
"""The file a fitted model's folder holds once complete (its state; written last)."""

SCOPES = ("per_class", "unified")
REGIMES = ("none", "threshold", "retrain")
CONDITIONS = ("clean", "shift")
ARTIFACT_KINDS = ("top_defect", "hardest_normal", "miss")

_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]")
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_KEY = re.compile(r"[0-9a-f]{8,64}")


def cell_relpath(
    label: str,
    scope: str,
    regime: str,
    condition: str,
    category: str,
    sweep: tuple[str, Any] | None,
    seed: int | None,
) -> PurePosixPath:
    """The path of a cell file, relative to `<out>/cells`.

    Args:
        label: the detector's label, e.g. "patchcore" or "padim_r18".
        scope: per_class or unified.
        regime: none, threshold or retrain.
        condition: clean or shift.
        category: the category evaluated.
        sweep: (param, value) of a sweep cell, None otherwise; adds `__<param>=<value>`.
        seed: the seed; None leaves it out (studies with one seed), else adds `__seed<N>`.

    Returns:
        e.g. `patchcore/per_class/none/clean/hazelnut__params.coreset_ratio=0.1__seed1.json`.
    """
    _check_choice("scope", scope, SCOPES)
    _check_choice("regime", regime, REGIMES)
    _check_choice("condition", condition, CONDITIONS)
    stem = check_name("category", category)
    if sweep is not None:
        param, value = sweep
        stem += f"__{sanitise(str(param))}={sanitise(render_value(value))}"
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ResultsError(f"seed {seed!r} is not a non-negative integer; seeds are ints >= 0")
        stem += f"__seed{seed}"
    return PurePosixPath(check_name("label", label), scope, regime, condition, f"{stem}.json")


def render_value(value: Any) -> str:
    """A swept value as deterministic text: `repr` for floats (shortest round-trip form), decimal
    for ints, true/false/null, strings as they are, sequences joined with `+`, mappings as
    `k=v` pairs in key order joined with `+`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value))
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        return "+".join(render_value(item) for item in value)
    if isinstance(value, Mapping):
        return "+".join(f"{key}={render_value(value[key])}" for key in sorted(value))
    raise ResultsError(
        f"sweep value {value!r} of type {type(value).__name__} has no path form; "
        "sweep over numbers, strings, booleans or lists of them"
    )


def sanitise(text: str) -> str:
    """Replace every character outside `[A-Za-z0-9._=+-]` with `-`."""
    return _UNSAFE.sub("-", text)


def cell_path(out: Path, relpath: PurePosixPath) -> Path:
    """The cell file of `relpath` (from `cell_relpath`) in results folder `out`."""
    return out / CELLS_DIR / check_relpath(relpath, ".json")


def artifact_dir(cell_relpath: PurePosixPath) -> PurePosixPath:
    """The artifacts folder of a cell, relative to the results folder."""
    return PurePosixPath(ARTIFACTS_DIR) / check_relpath(cell_relpath, ".json").with_suffix("")


def evidence_relpath(cell_relpath: PurePosixPath) -> PurePosixPath:
    """Where a cell's per-image pixel evidence (`evidence.npz`) goes, relative to the results
    folder; this is the record's `evidence` field."""
    return artifact_dir(cell_relpath) / "evidence.npz"


def thumbnail_maps_relpath(cell_relpath: PurePosixPath) -> PurePosixPath:
    """Where a cell's anomaly-map thumbnails go (`runner.writing.thumbnails`)."""
    return artifact_dir(cell_relpath) / "thumbnails.maps.png"


SHARED_THUMBNAILS = PurePosixPath(ARTIFACTS_DIR, "thumbnails", "test-sets")
"""The folder of the thumbnails shared by cells (no cell's folder: its second part is no scope)."""


def shared_thumbnail_relpath(category: str, key: str, suffix: str) -> PurePosixPath:
    """Where a test set's shared thumbnails go: `<SHARED_THUMBNAILS>/<category>/<key>.<suffix>`.

    Args:
        category: the test set's category.
        key: a hex digest of what the thumbnails show.
        suffix: `images.jpg` or `masks.png`.
    """
    if not _KEY.fullmatch(key) or suffix not in ("images.jpg", "masks.png"):
        raise ResultsError(
            f"thumbnail key {key!r} or suffix {suffix!r} is not one evalsuite writes"
        )
    return SHARED_THUMBNAILS / check_name("category", category) / f"{key}.{suffix}"


def artifact_relpath(cell_relpath: PurePosixPath, sample_id: str, kind: str) -> PurePosixPath:
    """Where a cell's gallery image of one sample goes, relative to the results folder; this is
    the `path` of the record's `artifacts` entry.

    Args:
        cell_relpath: the cell's path from `cell_relpath`.
        sample_id: e.g. "hazelnut/test/crack/003"; "/" becomes "__", other unsafe characters "-".
        kind: top_defect, hardest_normal or miss (a sample can be of two kinds, so each kind has
            its own folder).
    """
    _check_choice("artifact kind", kind, ARTIFACT_KINDS)
    name = sanitise(sample_id.replace("/", "__"))
    if not sample_id or name.startswith("."):
        raise ResultsError(f"sample id {sample_id!r} cannot name an artifact file")
    return artifact_dir(cell_relpath) / kind / f"{name}.png"


def fit_dir(out: Path, fit_id: str) -> Path:
    """The folder of the fitted model `fit_id` (a hex content key) in results folder `out`."""
    if not _KEY.fullmatch(fit_id):
        raise ResultsError(f"fit id {fit_id!r} is not a hex content key (8-64 digits 0-9a-f)")
    return out / FITS_DIR / fit_id


def check_relpath(relpath: PurePosixPath, suffix: str) -> PurePosixPath:
    """`relpath` when it is relative, free of `.`/`..` parts and ends in `suffix`."""
    parts = relpath.parts
    if relpath.is_absolute() or not parts or any(p in (".", "..") for p in parts):
        raise ResultsError(f"{relpath} is not a relative path inside the results folder")
    if relpath.suffix != suffix:
        raise ResultsError(f"{relpath} does not end in {suffix}; build it with cell_relpath")
    return relpath


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ResultsError(f"unknown {what} {value!r}; known: {', '.join(choices)}")


def check_name(what: str, value: str) -> str:
    """`value` when it can name a folder or file of a results folder: no separators, no `..`,
    no control or other characters outside `[A-Za-z0-9._-]`, at most `MAX_NAME_LENGTH` long.

    Raises:
        ResultsError: naming `what` and the value, and how to rename it.
    """
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ResultsError(
            f"{what} {value!r} cannot name a results folder: use letters, digits, '.', '_' or "
            f"'-', not starting with '.'; rename it in the configuration"
        )
    if len(value) > MAX_NAME_LENGTH:
        raise ResultsError(
            f"{what} {value[:20]!r}... is {len(value)} characters long, more than the "
            f"{MAX_NAME_LENGTH} a results folder name may have; shorten it in the configuration"
        )
    return value
