"""Tiny studies shared by the runner, resume and site tests (synthetic data, 64 px)."""

from __future__ import annotations

import json
from typing import Any

SMALL: dict[str, Any] = {
    "name": "tiny",
    "kinds": ["clean/none", "shift/none", "shift/threshold", "shift/retrain"],
    "scopes": ["per_class", "unified"],
    "data": {
        "categories": ["hazelnut", "zipper"],
        "synthetic": {"size": 64, "n_train": 8, "n_test_good": 5, "n_test_defect": 10},
    },
    "detectors": [
        {
            "name": "patchcore",
            "backbone": {"resize": 64, "crop": 64},
            "params": {"coreset_ratio": 0.2},
        },
        {"name": "padim", "backbone": {"resize": 64, "crop": 64}, "params": {"n_features": 40}},
    ],
    "sweeps": [{"detector": "patchcore", "param": "params.coreset_ratio", "values": [0.5]}],
    "evaluation": {"bootstrap": 20, "artifacts_per_cell": 1},
}
"""2 detectors × 2 scopes × 4 kinds × 2 categories, plus one swept value × 2 kinds × 2
categories = 36 cells."""


def tiny_toml(
    name: str,
    kinds: list[str],
    categories: list[str],
    *,
    scopes: tuple[str, ...] = ("per_class",),
    bootstrap: int = 10,
    tables: str = "",
) -> str:
    """A TOML study on 64 px synthetic data (6 train, 4 good and 6 defective test images per
    category) with PatchCore at a 25% coreset and one artifact per cell; `tables` (more TOML
    tables, e.g. detectors and sweeps) go before `[evaluation]`."""
    quoted = {key: json.dumps(list(value)) for key, value in
              (("kinds", kinds), ("scopes", scopes), ("categories", categories))}  # fmt: skip
    return f"""name = "{name}"
kinds = {quoted["kinds"]}
scopes = {quoted["scopes"]}
[data]
categories = {quoted["categories"]}
[data.synthetic]
size = 64
n_train = 6
n_test_good = 4
n_test_defect = 6
[[detectors]]
name = "patchcore"
backbone = {{ resize = 64, crop = 64 }}
params = {{ coreset_ratio = 0.25, target_dim = "none" }}
{tables}[evaluation]
bootstrap = {bootstrap}
artifacts_per_cell = 1
"""
