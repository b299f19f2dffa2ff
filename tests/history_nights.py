"""Nights for the history tests: a tiny real run, copied four times as four nights whose
manifests (run time, commit, versions, weights, data, configuration) and records (one cell's
scores inverted: a real regression) are edited so that each night changes known provenance
fields, and the real `evalsuite diff --json` of each night against the one before."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from studies import SMALL, made_once

from evalsuite.cli import main
from evalsuite.config import StudyConfig
from evalsuite.results.cells import record_digest
from evalsuite.runner import run_study

REVERSED = "patchcore/per_class/none/clean/hazelnut.json"
"""The cell whose scores night 3 inverts (its image AUROC regresses)."""
CHANGED: list[set[str]] = [
    set(),
    {"code git_commit"},
    {"versions torch", "weights patchcore.sha256"},
    {"dataset fingerprint", "config sha256"},
]
"""Per night, the provenance fields (kind and key) that changed since the night before."""


@dataclass(frozen=True)
class Night:
    """A constructed night: its results folder, run time and diff JSON (None: the first)."""

    folder: Path
    created: str
    diff: Path | None


def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run of SMALL cut to clean/none, per_class and unified, no sweep (8 cells)."""

    def run(base: Path) -> None:
        study = json.loads(json.dumps(SMALL))
        study.update(kinds=["clean/none"], scopes=["per_class", "unified"], sweeps=[])
        config = StudyConfig.model_validate(study)
        base.mkdir()
        run_study(config, base / "out", cache_dir=base / "cache", progress=False)

    return made_once(tmp_path_factory, "history-run", run) / "out"


def make_nights(source: Path, root: Path) -> list[Night]:
    """Four nights from the run `source`, under `root` (see the module docstring)."""
    nights: list[Night] = []
    for index in range(4):
        folder = shutil.copytree(source, root / f"night{index + 1}", ignore=_fits)
        created = f"2026-12-0{index + 1}T02:17:00+00:00"
        manifest = _read(folder / "manifest.json")
        manifest["created"] = created
        manifest["git_commit"] = ("a" if index == 0 else "b") * 40
        if index >= 2:
            manifest["versions"]["torch"] = "99.0"
            manifest["weights"]["patchcore"]["sha256"] = "f" * 64
            _reverse(folder / "cells" / REVERSED)
        if index >= 3:
            manifest["dataset"]["fingerprint_clean"] = "0" * 64
            manifest["config"]["evaluation"]["bootstrap"] += 1
        _write(folder / "manifest.json", manifest)
        diff = None
        if nights:
            diff = root / f"diff{index + 1}.json"
            result = CliRunner().invoke(
                main, ["diff", str(nights[-1].folder), str(folder), "--json", str(diff)]
            )
            assert result.exit_code == 0, result.output
        nights.append(Night(folder, created, diff))
    return nights


def append(night: Night, history: Path, *more: str) -> Any:
    """`evalsuite history append` of `night` to `history` (with its diff); the CliRunner result."""
    diff = [] if night.diff is None else ["--diff", str(night.diff)]
    args = ["history", "append", "--results", str(night.folder), "--history", str(history)]
    return CliRunner().invoke(main, [*args, *diff, *more])


def _fits(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "fits"]


def _reverse(path: Path) -> None:
    """Score every defective test image below every normal one (image AUROC 0, a regression
    beyond any interval) and set the image AUROC to match; the digest recomputed, as a run would
    write it."""
    record = _read(path)
    record.pop("digest")
    for index, score in enumerate(record["scores"]):
        score["score"] = (0.0 if score["label"] == 1 else 1.0) + 0.001 * index
    record["metrics"]["image_auroc"].update(value=0.0, ci95=[0.0, 0.0])
    record["digest"] = record_digest(record)
    _write(path, record)


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
