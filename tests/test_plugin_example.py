"""The plug-in tutorial is the test: the commands of examples/my_detector/README.md, read from
it and run as written (in a copy of the example, installed into a folder of its own), evaluate
the example detector beside PatchCore, and the site shows its cells, tables and differences.
`pip` runs in a process of its own, the `evalsuite` commands in this one (their words as typed)."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalsuite.cli import main
from evalsuite.detectors import plugins

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "my_detector"


def tutorial_commands() -> list[str]:
    """The lines of the README's `sh` blocks: what the tutorial tells a user to type."""
    text = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```sh\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_the_tutorial_names_the_steps_it_documents() -> None:
    commands = tutorial_commands()
    assert commands[0] == "pip install examples/my_detector"
    assert [c.split()[1] for c in commands[1:]] == ["config", "plan", "run", "site"]


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the example in `tmp_path`, the working folder; where `pip install` puts it
    (returned) is on this process's path and on its workers' `PYTHONPATH`; the plug-in
    registry forgets it afterwards."""
    shutil.copytree(EXAMPLE, tmp_path / "examples" / "my_detector")
    target = tmp_path / "installed"
    target.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(target))
    monkeypatch.setenv("PYTHONPATH", f"{target}{os.pathsep}{ROOT}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    plugins.entry_points.cache_clear()
    yield target
    plugins.entry_points.cache_clear()
    plugins.load.cache_clear()
    for name in [name for name in sys.modules if name.split(".")[0] == "my_detector"]:
        del sys.modules[name]


def _pip(command: str, target: Path) -> str:
    """`pip install ...` as typed, offline, into `target` with no dependencies (the suite's
    own environment provides them)."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PIP_TARGET": str(target),  # pip's own settings: where to, offline, no isolation
        "PIP_NO_DEPS": "1",
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    done = subprocess.run(command, shell=True, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _evalsuite(command: str) -> str:
    """An `evalsuite ...` line as typed: its words, split as a shell splits them, given to the
    `evalsuite` command's entry point in this process (a process of its own would add only
    its start-up)."""
    words = shlex.split(command)
    assert words[0] == "evalsuite", command
    done = CliRunner().invoke(main, words[1:])
    assert done.exit_code == 0, f"{command}\n{done.output}\n{done.exception!r}"
    return done.output


@pytest.mark.e2e
@pytest.mark.long
def test_the_tutorial_runs_as_written(installed: Path, tmp_path: Path) -> None:
    """Installed offline with pip (into a target folder, no dependencies), then each command
    exits 0; the records, the site's tables and its differences hold the plug-in beside
    PatchCore, and a rerun resumes everything. Its `run` starts two worker processes, each of
    which imports the installed plug-in."""
    commands = tutorial_commands()
    outputs = [_pip(commands[0], installed)] + [_evalsuite(c) for c in commands[1:]]
    run = next(c for c in commands if c.startswith("evalsuite run "))
    resumed = _evalsuite(run)
    assert "24 cached; 10 fits (10 cached); 0 backbone forward passes" in resumed, resumed
    shown = json.loads(outputs[1][outputs[1].index("{") :])
    knn = next(d for d in shown["detectors"] if d["name"] == "knn")
    assert knn["params"] == {"k": 3, "layers": ["blocks.4"]}
    assert "knn: no cost model" in outputs[2]
    records = [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((tmp_path / "results" / "knn" / "cells").rglob("*.json"))
    ]
    assert {r["label"] for r in records} == {"patchcore", "knn"}
    assert all(r["status"] == "ok" for r in records), [r["error"] for r in records]
    plugin = [r for r in records if r["label"] == "knn"]
    assert len(plugin) == 16  # 8 baseline cells and 2 sweep values x 4 per-category cells
    impl = {"class": "my_detector.knn:PooledKnn", "version": "0.1.0"}
    assert all(r["provenance"]["detector_impl"] == impl for r in plugin)
    assert all(r["config"]["fit"]["impl"] == impl for r in plugin)
    assert {r["sweep"]["value"] for r in plugin if r["sweep"]} == {1, 5}
    assert all(0.0 <= r["metrics"]["image_auroc"]["value"] <= 1.0 for r in plugin)
    assert all("detector_impl" not in r["provenance"] for r in records if r not in plugin)
    site = tmp_path / "site" / "knn"
    for page in ("index", "cells", "statistics", "shift", "unified", "hyperparameters"):
        assert "knn" in (site / f"{page}.html").read_text(encoding="utf-8"), page
    with (site / "downloads" / "metrics.csv").open(encoding="utf-8") as handle:
        metrics = list(csv.DictReader(handle))
    assert {row["label"] for row in metrics} >= {"knn", "patchcore"}
    with (site / "downloads" / "differences.csv").open(encoding="utf-8") as handle:
        families = {(row["family"], row["label"]) for row in csv.DictReader(handle)}
    assert {("shift", "knn"), ("unified", "knn"), ("sweep:knn:params.k", "knn")} <= families
    assert {("shift", "patchcore"), ("unified", "patchcore")} <= families
