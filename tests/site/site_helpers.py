"""What the site tests share: the names of the edge-case cells and JSON helpers
(a module of its own so that test files import it by a unique name, not as `conftest`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

XSS = "<script>alert(1)</script>"
FAILED_CELL = "padim/per_class/retrain/shift/zipper.json"
MISSING_CELL = "patchcore/per_class/none/shift/hazelnut.json"
DEFECT_CELL = "patchcore/per_class/none/clean/zipper.json"


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def copy_results(source: Path, target: Path) -> Path:
    """A copy of a results folder without its fitted models (a cache the site never reads)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("fits"))
    return target


def identifying_copy(
    source: Path, target: Path, home: str, user: str, host: str, image: str
) -> Path:
    """A copy of results `source` at `target` that names a machine: the dataset root under
    `home`, and `FAILED_CELL` failed with an error naming `home`/`image`, `host` and `user`, its
    weights under the copy's absolute path."""
    root = copy_results(source, target)
    manifest = read_json(root / "manifest.json")
    manifest["dataset"]["root"] = f"{home}/data/mvtec"
    write_json(root / "manifest.json", manifest)
    failed = read_json(root / "cells" / FAILED_CELL)
    failed.update(status="failed", metrics=None, threshold=None, scores=None, roc=None)
    failed.update(shortcut=None, artifacts=[])
    failed["error"] = {
        "type": "OSError",
        "message": f"cannot read {home}/{image} on {host} as {user}",
    }
    failed["provenance"]["weights"]["path"] = f"{root.resolve()}/weights/lite0.safetensors"
    write_json(root / "cells" / FAILED_CELL, failed)
    return root
