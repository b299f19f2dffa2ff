"""Ctrl-C: `evalsuite run` in a subprocess gets SIGINT once its first cell is written.

A terminal sends SIGINT to the whole foreground process group, so the tests do too. The run
must stop with exit code 130 and a message saying how to resume, keep every finished cell
valid, and a rerun must complete with exactly the numbers of an uninterrupted run. SIGKILL at
several moments, then resume, is tested in tests/test_resume_and_executors.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evalsuite import results
from evalsuite.cli import main

STUDY = """
name = "interrupt"
kinds = ["clean/none", "shift/none", "shift/retrain"]
scopes = ["per_class"]
[data]
categories = ["carpet", "zipper"]
[data.synthetic]
size = 64
n_train = 6
n_test_good = 4
n_test_defect = 6
[[detectors]]
name = "patchcore"
backbone = { resize = 64, crop = 64 }
params = { coreset_ratio = 0.25, target_dim = "none" }
[evaluation]
bootstrap = 400
artifacts_per_cell = 1
"""
"""Two categories x three kinds: six cells, four fits. The bootstrap makes each cell take a
moment, so a Ctrl-C sent when the first cell appears lands with most of the run still to do."""

RESUME_HINT = "run the same command again to resume where it stopped"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(config, results of an uninterrupted run, shared cache)."""
    base = tmp_path_factory.mktemp("interrupt")
    config = base / "study.toml"
    config.write_text(STUDY)
    done = _invoke(config, base / "reference", base / "cache")
    assert done.exit_code == 0, done.output
    return config, base / "reference", base / "cache"


def _invoke(config: Path, out: Path, cache: Path) -> Any:
    arguments = ["run", "--config", config, "--out", out, "--cache", cache, "--quiet"]
    return CliRunner().invoke(main, [str(a) for a in arguments])


def _numbers(out: Path) -> dict[str, Any]:
    return {
        str(path): (record["status"], record["metrics"], record["threshold"], record["scores"])
        for path, record in results.iter_cells(out)
    }


def _ctrl_c_after_first_cell(
    config: Path, out: Path, cache: Path, *extra: str
) -> tuple[int, str, int]:
    """Start `evalsuite run`, press Ctrl-C once a cell is written; (exit code, stderr, cells
    present when the signal was sent)."""
    command = [sys.executable, "-m", "evalsuite", "run", "--config", str(config)]
    command += ["--out", str(out), "--cache", str(cache), "--quiet", *extra]
    log = out.parent / f"{out.name}.stderr"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,  # its own process group, as a terminal job
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        deadline = time.monotonic() + 300
        cells: list[Path] = []
        while not cells and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
            cells = list(out.glob("cells/**/*.json"))
        assert process.poll() is None, "the run ended before it could be interrupted"
        os.killpg(process.pid, signal.SIGINT)
        try:
            code = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise AssertionError("the run did not stop within 120 s of Ctrl-C") from None
    return code, log.read_text(), len(cells)


def _check_stopped_cleanly(out: Path, reference: Path, code: int, stderr: str) -> int:
    assert code == 130, stderr
    assert f"interrupted: every finished cell is kept in {out}; {RESUME_HINT}" in stderr
    kept = _numbers(out)  # every file left is a complete, valid record
    assert kept, "no finished cell was kept"
    expected = _numbers(reference)
    assert len(kept) < len(expected)  # it stopped before the end
    assert {path: kept[path] for path in kept} == {path: expected[path] for path in kept}
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp") or ".staging" in p.name]
    return len(kept)


def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(
    study: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    config, reference, cache = study
    out = tmp_path / "out"
    code, stderr, _ = _ctrl_c_after_first_cell(config, out, cache)
    kept = _check_stopped_cleanly(out, reference, code, stderr)
    assert "Traceback" not in stderr
    resumed = _invoke(config, out, cache)
    assert resumed.exit_code == 0, resumed.output
    assert f"{kept} cached" in resumed.output
    assert _numbers(out) == _numbers(reference)
    assert results.read_manifest(out)["counts"]["cells_ok"] == len(_numbers(reference))


@pytest.mark.slow
def test_ctrl_c_while_a_worker_pool_runs(study: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """The pool's workers get the SIGINT too; the main process still reports and exits 130."""
    config, reference, cache = study
    out = tmp_path / "out"
    code, stderr, _ = _ctrl_c_after_first_cell(config, out, cache, "--workers", "2")
    _check_stopped_cleanly(out, reference, code, stderr)
    resumed = _invoke(config, out, cache)
    assert resumed.exit_code == 0, resumed.output
    assert _numbers(out) == _numbers(reference)
