"""A study with real conditions beside MVTec-Shift, made from the tiny study's real records (until
the MVTec AD 2 reader's cells exist) by the contract of those cells: condition `shift`, regime
`none`, `sweep = {"param": "shift.conditions", "value": <c>}`, `config.shift = {"family":
"real", "condition": <c>}`, the per-image ids those of the regular (clean) images of the same
objects, an object the regular condition lacks under its own id.

- `overexposed`: the records of the retrained model on the shifted images (another score per
  image than MVTec-Shift's, every id paired with clean);
- `underexposed`: the records of the threshold regime (the scores of MVTec-Shift itself), with
  the last `UNPAIRED` test images renamed (objects the regular condition lacks).

Each real cell gets its own copy of the source cell's `evidence.npz`, so every metric, pixel
ones included, is computed from real evidence.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from site_helpers import read_json, write_json

CONDITIONS = {"overexposed": "retrain", "underexposed": "threshold"}
"""Real condition -> the regime whose shifted records it is made from."""
UNPAIRED = 2
"""Test images of `underexposed` without a regular counterpart."""
SUFFIX = "-underexposed-only"


def real_cell(source: dict[str, Any], condition: str, evidence: str) -> dict[str, Any]:
    """The record of real condition `condition` made from the shifted record `source`."""
    record: dict[str, Any] = json.loads(json.dumps(source))
    record.update(regime="none", sweep={"param": "shift.conditions", "value": condition})
    record["config"]["shift"] = {"family": "real", "condition": condition}
    record["evidence"] = evidence
    if condition == "underexposed":
        for score in record["scores"][-UNPAIRED:]:
            score["id"] += SUFFIX
    return record


def add_real_conditions(root: Path) -> Path:
    """Add the real cells of every per-class and unified, clean and shifted category to the
    results folder `root` (a copy: edited in place). Returns `root`."""
    cells = root / "cells"
    for clean in sorted(cells.glob("*/*/none/clean/*.json")):
        if "__" in clean.name:  # a sweep's cell
            continue
        label_scope = clean.parent.parent.parent
        for condition, regime in CONDITIONS.items():
            source = read_json(label_scope / regime / "shift" / clean.name)
            if source["status"] != "ok":
                continue
            name = f"{clean.stem}__shift.conditions={condition}"
            relative = label_scope.relative_to(cells).as_posix()
            evidence = f"artifacts/{relative}/none/shift/{name}/evidence.npz"
            (root / evidence).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / source["evidence"], root / evidence)
            target = label_scope / "none" / "shift" / f"{name}.json"
            write_json(target, real_cell(source, condition, evidence))
    return root
