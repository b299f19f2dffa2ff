"""A fitted PatchCore's files: the memory bank and its patches' categories as `.npy`, and
`patchcore.json` (params, seed, categories, patch grid), written last so that a fit
interrupted before it is never read as whole."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from evalsuite.atomic import write_bytes
from evalsuite.errors import ResultsError

STATE_FILE = "patchcore.json"
BANK_FILE = "memory_bank.npy"
CATEGORIES_FILE = "memory_categories.npy"
FORMAT_VERSION = 1


def write_npy(path: Path, array: np.ndarray) -> None:
    """Write `array` to `path` as `.npy`, all or nothing."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    write_bytes(path, buffer.getvalue())


def read_npy(path: Path) -> np.ndarray:
    """The array in `path`.

    Raises:
        ResultsError: missing or unreadable.
    """
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        message = f"{path}: missing or unreadable ({error}); fit the model again"
        raise ResultsError(message) from error


def read_state(path: Path) -> dict:
    """The state `PatchCore.save` wrote to `path` (`STATE_FILE`).

    Raises:
        ResultsError: missing, unreadable, not a PatchCore's, or of another format version.
    """
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        message = f"{path}: missing or unreadable ({error}); fit the model again"
        raise ResultsError(message) from error
    if not isinstance(state, dict) or state.get("detector") != "patchcore":
        raise ResultsError(f"{path}: not a patchcore state file; point to a saved patchcore model")
    if state.get("format") != FORMAT_VERSION:
        raise ResultsError(
            f"{path}: state format {state.get('format')!r}, expected {FORMAT_VERSION}; "
            "fit the model again"
        )
    return state
