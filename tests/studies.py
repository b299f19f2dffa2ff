"""Tiny studies shared by the runner, resume, plug-in and site tests (synthetic data, 64 px)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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


def write_plugin(folder: Path, module: str, text: str) -> Path:
    """Write a plug-in module `module`.py holding `text` into `folder` (put it on the path)."""
    path = folder / f"{module}.py"
    path.write_text(text, encoding="utf-8")
    return path


def plugin_study(
    folder: Path,
    name: str,
    detectors: list[dict[str, Any]],
    *,
    test_images: tuple[int, int] = (5, 10),
    **extra: Any,
) -> Path:
    """Write `folder`/study.yaml: the clean per-class cells of 64 px synthetic hazelnut and
    zipper (4 train images, `test_images` good and defective test images per category) for
    `detectors`, each on a 64 px backbone unless it names one, 5 bootstrap draws and one
    artifact per cell; `extra` adds top-level keys. Returns its path."""
    good, defective = test_images
    study = {
        "name": name,
        "kinds": ["clean/none"],
        "scopes": ["per_class"],
        "data": {
            "categories": ["hazelnut", "zipper"],
            "synthetic": {
                "size": 64,
                "n_train": 4,
                "n_test_good": good,
                "n_test_defect": defective,
            },
        },
        "detectors": [{"backbone": {"resize": 64, "crop": 64}, **d} for d in detectors],
        "evaluation": {"bootstrap": 5, "artifacts_per_cell": 1},
        **extra,
    }
    path = folder / "study.yaml"
    path.write_text(json.dumps(study), encoding="utf-8")
    return path


def made_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], object]
) -> Path:
    """The path `name` that `make` writes (a folder, made by `make`) once per test run,
    shared by the pytest-xdist workers.

    Under xdist the workers' temporary folders share a parent that is new for each run: the
    first worker to ask makes `name` there, holding a file lock; the others wait for it and
    read the same path (tests read it only; they copy it to edit it). Without xdist, a path in
    a fresh folder of this session.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        path = tmp_path_factory.mktemp(name) / name
        make(path)
        return path
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent
    path, done = shared / name, shared / f"{name}.done"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.exists():
            shutil.rmtree(path, ignore_errors=True)  # left by a maker that failed midway
            make(path)
            done.touch()
    return path


def one_category_study(category: str, kinds: list[str], shift: dict[str, Any]) -> dict[str, Any]:
    """`SMALL` cut to its first detector, per-class cells of `kinds` on `category`, no sweep,
    and the `shift` settings given."""
    study: dict[str, Any] = json.loads(json.dumps(SMALL))
    study.update(
        detectors=[SMALL["detectors"][0]], scopes=["per_class"], kinds=kinds, sweeps=[], shift=shift
    )
    study["data"]["categories"] = [category]
    return study


def estimate_report(study: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Write `study` to `folder`/study.json and run `plan --json --estimate` on it (cache in
    `folder`/c). Returns the report."""
    from click.testing import CliRunner

    from evalsuite.cli import main

    path = folder / "study.json"
    path.write_text(json.dumps(study))
    args = ["plan", "--config", str(path), "--cache", str(folder / "c"), "--json", "--estimate"]
    estimated = CliRunner().invoke(main, args)
    assert estimated.exit_code == 0, estimated.output
    report: dict[str, Any] = json.loads(estimated.output[estimated.output.index("{") :])
    return report


def copied(tree: Path, folder: Path) -> Path:
    """A copy of `tree` at `folder`/copy (to edit without touching a shared tree)."""
    copy = folder / "copy"
    shutil.copytree(tree, copy)
    return copy
