"""Ctrl-C: `evalsuite run` in a subprocess gets SIGINT once its first cell is written.

A terminal sends SIGINT to the whole foreground process group, so the tests do too. The run
must stop with exit code 130 and a message saying how to resume, keep every finished cell
valid, and a rerun must complete with exactly the numbers of an uninterrupted run. SIGTERM
does the same with exit 143; a command started with SIGINT ignored still stops on Ctrl-C; the
workers of a pool whose main process is SIGKILLed stop too; `data synth` stopped leaves no tree.
SIGKILL at several moments, then resume, is tested in tests/test_resume_and_executors.py.
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
from studies import tiny_toml

from evalsuite import results
from evalsuite.cli import main

pytestmark = [pytest.mark.e2e, pytest.mark.long]  # `make test-e2e`; the slowest start first

STUDY = tiny_toml(
    "interrupt", ["clean/none", "shift/none", "shift/retrain"], ["carpet", "zipper"], bootstrap=400
)
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


def _ignore_sigint() -> None:
    """As a shell script's background job starts: SIGINT ignored, inherited by the child."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _ctrl_c_after_first_cell(
    config: Path,
    out: Path,
    cache: Path,
    *extra: str,
    signum: signal.Signals = signal.SIGINT,
    inherit_ignored_sigint: bool = False,
) -> tuple[int, str, int]:
    """Start `evalsuite run`, press Ctrl-C (`signum` to the process group) once a cell is
    written; (exit code, stderr, cells present when the signal was sent)."""
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
            preexec_fn=_ignore_sigint if inherit_ignored_sigint else None,
        )
        deadline = time.monotonic() + 300
        cells: list[Path] = []
        while not cells and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
            cells = list(out.glob("cells/**/*.json"))
        assert process.poll() is None, "the run ended before it could be interrupted"
        os.killpg(process.pid, signum)
        try:
            code = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise AssertionError("the run did not stop within 120 s of Ctrl-C") from None
    return code, log.read_text(), len(cells)


def _check_stopped_cleanly(
    out: Path,
    reference: Path,
    code: int,
    stderr: str,
    how: str = "interrupted",
    exit_code: int = 130,
) -> int:
    assert code == exit_code, stderr
    assert f"{how}: every finished cell is kept in {out}; {RESUME_HINT}" in stderr
    kept = _numbers(out)  # every file left is a complete, valid record
    assert kept, "no finished cell was kept"
    expected = _numbers(reference)
    assert len(kept) < len(expected)  # it stopped before the end
    assert {path: kept[path] for path in kept} == {path: expected[path] for path in kept}
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp") or ".staging" in p.name]
    return len(kept)


@pytest.mark.parametrize("inherited", [False, True], ids=["sigint-default", "sigint-ignored"])
def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(
    study: tuple[Path, Path, Path], tmp_path: Path, inherited: bool
) -> None:
    """Also when started with SIGINT ignored (a background job of a script, as CI runners
    start steps): the command restores Ctrl-C."""
    config, reference, cache = study
    out = tmp_path / "out"
    code, stderr, _ = _ctrl_c_after_first_cell(config, out, cache, inherit_ignored_sigint=inherited)
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


def test_sigterm_stops_like_ctrl_c_with_exit_143(
    study: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """`kill`, `docker stop` (SIGTERM to PID 1) and cancelled CI jobs stop a run cleanly."""
    config, reference, cache = study
    out = tmp_path / "out"
    code, stderr, _ = _ctrl_c_after_first_cell(config, out, cache, signum=signal.SIGTERM)
    kept = _check_stopped_cleanly(out, reference, code, stderr, "terminated (SIGTERM)", 143)
    assert "Traceback" not in stderr
    resumed = _invoke(config, out, cache)
    assert resumed.exit_code == 0, resumed.output
    assert f"{kept} cached" in resumed.output
    assert _numbers(out) == _numbers(reference)


def _pool_workers(parent: int) -> list[int]:
    """Process ids of the spawned pool workers whose parent is `parent`."""
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"spawn_main" in command:
            workers.append(int(entry.name))
    return workers


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not reaped by its new parent, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("executor", ["local", "dask"])
def test_workers_stop_when_the_main_process_is_killed(
    executor: str, study: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """SIGKILL to the main process of `--workers 2` (a process pool, or a Dask LocalCluster):
    no worker keeps writing; what they leave is complete records only (pool workers unwind
    their unit; Dask ends its workers at once, so a temp file may be left, which the next run
    removes), and the same command resumes to the reference numbers."""
    config, reference, cache = study
    out = tmp_path / "out"
    command = [sys.executable, "-m", "evalsuite", "run", "--config", str(config)]
    command += ["--out", str(out), "--cache", str(cache), "--quiet", "--workers", "2"]
    command += ["--executor", executor]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 300
        while not list(out.glob("cells/**/*.json")) and time.monotonic() < deadline:
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.01)
        workers = _pool_workers(process.pid)
        assert len(workers) == 2, f"expected 2 workers, found {workers}"
        process.kill()  # the main process only, as the OOM killer would
        process.wait()
        deadline = time.monotonic() + 120
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in workers), "workers outlived the main process"
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # whatever is left of the group
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".tmp") or ".staging" in p.name]
    if executor == "local":
        assert not leftovers
    kept = _numbers(out)
    assert {path: kept[path] for path in kept} == {path: _numbers(reference)[path] for path in kept}
    resumed = _invoke(config, out, cache)
    assert resumed.exit_code == 0, resumed.output
    assert _numbers(out) == _numbers(reference)
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp") or ".staging" in p.name]


@pytest.mark.parametrize(
    ("signum", "code", "inherited"),
    [(signal.SIGINT, 130, False), (signal.SIGINT, 130, True), (signal.SIGTERM, 143, False)],
    ids=["ctrl-c", "ctrl-c-sigint-ignored", "sigterm"],
)
def test_data_synth_stopped_leaves_no_partial_tree(
    tmp_path: Path, signum: signal.Signals, code: int, inherited: bool
) -> None:
    out = tmp_path / "data"
    command = [sys.executable, "-m", "evalsuite", "data", "synth", "--out", str(out)]
    command += ["--categories", "carpet", "--size", "128", "--train", "100000"]
    log = tmp_path / "stderr"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=_ignore_sigint if inherited else None,
        )
        deadline = time.monotonic() + 300
        while not list(tmp_path.glob(".data.staging-*/**/*.png")) and time.monotonic() < deadline:
            assert process.poll() is None, "data synth ended before it could be stopped"
            time.sleep(0.01)
        os.killpg(process.pid, signum)
        try:
            assert process.wait(timeout=120) == code, log.read_text()
        finally:
            os.killpg(process.pid, signal.SIGKILL) if process.poll() is None else None
    message = log.read_text()
    assert "nothing half-written was left in place" in message and "Traceback" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stderr"]  # no tree, no staging


@pytest.mark.slow
def test_the_ctrl_c_test_passes_under_a_runner_that_ignores_sigint(tmp_path: Path) -> None:
    """pytest itself started as a script's background job (SIGINT ignored), as CI runners do."""
    script = (
        'trap "" INT; "$0" -m pytest -q -p no:cacheprovider '
        '"tests/test_interrupt.py::test_ctrl_c_stops_cleanly_and_the_same_command_resumes'
        '[sigint-default]" & wait $!'
    )
    done = subprocess.run(
        ["bash", "-c", script, sys.executable],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout
