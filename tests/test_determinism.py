"""Determinism: the same configuration gives the same numbers, run after run.

Two `evalsuite run` processes, each with a fresh results folder and a fresh cache (so the
synthetic data, its MVTec-Shift copy, the features and the fits are all made again), must write
identical records: every value except `timing_s`, identical artifact images, identical fitted
arrays. Only timings, the manifest's timestamps and the paths of the fresh folders differ.

What makes it so: every random draw takes its seed from the configuration (synthetic data,
MVTec-Shift draws, splits, the coreset's projection and start point, PaDiM's channel subset,
bootstrap resamples, random backbone initialisation) through its own generator, never the global
RNG; features, search and statistics run on the CPU, where torch's and faiss's kernels give the
same bits run after run for a given thread count. PatchCore's numbers also stay the same at
another thread count (last test); PaDiM's covariance sums do not, to the last bit, so compare
PaDiM runs made with the same thread count (`OMP_NUM_THREADS`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from studies import tiny_toml

pytestmark = [pytest.mark.e2e, pytest.mark.long]  # `make test-e2e`; the slowest start first

STUDY = tiny_toml(
    "determinism",
    ["clean/none", "shift/threshold", "shift/retrain"],
    ["hazelnut", "zipper"],
    scopes=("per_class", "unified"),
    tables="""[[detectors]]
name = "padim"
backbone = { resize = 64, crop = 64 }
params = { layers = ["blocks.1", "blocks.2"], n_features = 20 }
[[sweeps]]
detector = "patchcore"
param = "params.coreset_ratio"
values = [0.5]
kinds = ["clean/none"]
""",
)
VOLATILE_MANIFEST = ("created", "wall_time_s", "git_commit")
"""Left out of the comparison: times, and the commit (which moves if the tree is committed while
the runs go on; it is not a number the run computed)."""


def _run(base: Path, name: str, **env: str) -> Path:
    """One `evalsuite run` in a fresh process, into fresh results and cache folders."""
    config = base / "study.toml"
    config.write_text(STUDY)
    out, cache = base / name / "out", base / name / "cache"
    command = [sys.executable, "-m", "evalsuite", "run", "--config", str(config)]
    done = subprocess.run(
        [*command, "--out", str(out), "--cache", str(cache), "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("determinism")
    return _run(base, "first"), _run(base, "second")


def _records(out: Path) -> dict[str, dict[str, Any]]:
    """Every cell record without its timings (and commit, see VOLATILE_MANIFEST), by path."""
    found = {}
    for path in sorted((out / "cells").rglob("*.json")):
        record = json.loads(path.read_text())
        assert record["status"] == "ok", path
        record.pop("timing_s")
        record.pop("digest")  # the content digest covers the timings
        record["provenance"].pop("git_commit")
        found[str(path.relative_to(out))] = record
    return found


def test_records_are_identical_except_timings(two_runs: tuple[Path, Path]) -> None:
    first, second = two_runs
    one, two = _records(first), _records(second)
    # 2 detectors x 2 scopes x 3 kinds x 2 categories + 1 swept value x 1 kind x 2 categories
    assert len(one) == 26
    assert one.keys() == two.keys()
    for path in one:
        assert one[path] == two[path], path
    # the comparison covers real numbers: floats compared exactly, not rounded
    scores = [s["score"] for s in one["cells/padim/unified/none/clean/zipper.json"]["scores"]]
    assert len(set(scores)) > 1 and all(isinstance(s, float) for s in scores)


def test_manifests_differ_only_in_time_and_folders(two_runs: tuple[Path, Path]) -> None:
    first, second = two_runs
    one, two = (json.loads((out / "manifest.json").read_text()) for out in two_runs)
    for manifest, out in ((one, first), (two, second)):
        for key in VOLATILE_MANIFEST:
            manifest.pop(key)
        # the synthetic data lives in each run's own cache
        assert manifest["dataset"].pop("root").startswith(str(out.parent / "cache"))
    assert one == two


def test_artifacts_and_fitted_models_are_identical(two_runs: tuple[Path, Path]) -> None:
    first, second = two_runs
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    compared = {".png": 0, ".jpg": 0, ".npy": 0, ".npz": 0, ".pt": 0}
    for relative in files:
        a, b = first / relative, second / relative
        if relative.suffix in (".png", ".jpg", ".npy", ".npz"):  # the same pixels, as bytes
            assert a.read_bytes() == b.read_bytes(), relative
        elif relative.suffix == ".pt":  # torch.save writes a random id: compare the tensors
            x, y = (torch.load(p, map_location="cpu", weights_only=True) for p in (a, b))
            assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), relative
        else:
            continue
        compared[relative.suffix] += 1
    assert all(count > 0 for count in compared.values()), compared


def test_patchcore_numbers_do_not_depend_on_the_thread_count(
    two_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    first, _ = two_runs
    single = _run(tmp_path, "single-thread", OMP_NUM_THREADS="1")
    one, two = _records(first), _records(single)
    patchcore = [path for path in one if path.startswith("cells/patchcore/")]
    assert len(patchcore) == 14
    for path in patchcore:
        assert one[path] == two[path], path
    for bank in (first / "fits").glob("*/memory_bank.npy"):
        other = single / bank.relative_to(first)
        np.testing.assert_array_equal(np.load(bank), np.load(other))
