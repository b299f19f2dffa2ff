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
