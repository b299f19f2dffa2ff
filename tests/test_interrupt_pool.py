"""Ctrl-C and SIGTERM while pool workers are in the middle of long units.

Ctrl-C lets the running units finish and says so; a second Ctrl-C stops them at once; SIGTERM
(`docker stop`, a cancelled CI job) stops them at once. Before: the first Ctrl-C printed
"interrupted" and then the process waited, silently, for the running units (an hour on the
paper preset's unified PatchCore), and a second Ctrl-C printed a traceback and still waited.

The units here never end on their own: a plug-in detector whose fit waits for a file the test
never writes, after marking that it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from studies import plugin_study, write_plugin

pytestmark = [pytest.mark.e2e, pytest.mark.long]  # `make test-e2e`; the slowest start first

STALL = '''
import os
import time
from pathlib import Path
from typing import ClassVar

from evalsuite.detectors.params import DetectorParams


class StallParams(DetectorParams):
    config_name: ClassVar[str] = "stall params"
    layers: tuple[str, ...] = ("blocks.4",)


class Stall:
    """A detector whose fit marks that it started, then waits for a file nobody writes."""

    params_class = StallParams

    def __init__(self, params, features, seed, *, device=None):
        self.params = params

    def fit(self, samples):
        markers = Path(os.environ["STALL_MARKERS"])
        (markers / str(os.getpid())).write_text("fitting")
        while not (markers / "release").exists():
            time.sleep(0.05)

    def score(self, samples):
        raise AssertionError("never reached")

    def save(self, directory):
        raise AssertionError("never reached")

    @classmethod
    def load(cls, directory, features, *, device=None):
        raise AssertionError("never reached")
'''


def _start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """Start `evalsuite run --workers 2` on two stalling units; return once both fit."""
    write_plugin(tmp_path, "stall_plugin", STALL)
    markers = tmp_path / "markers"
    markers.mkdir()
    stall = {"name": "stall", "impl": "stall_plugin:Stall"}
    config = plugin_study(tmp_path, "stall", [stall], test_images=(2, 2))
    out, log = tmp_path / "out", tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "evalsuite", "run", "--config", str(config), "--out"]
    command += [str(out), "--cache", str(tmp_path / "cache"), "--quiet", "--workers", "2"]
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "STALL_MARKERS": str(markers), "PYTHONPATH": path}
    with log.open("w") as stderr:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=stderr, env=env, start_new_session=True
        )
    _until(lambda: len(list(markers.iterdir())) == 2, process, "both workers to start fitting")
    return process, out, log


def _until(ready: object, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 300
    while not ready() and time.monotonic() < deadline:  # type: ignore[operator]
        assert process.poll() is None, f"the run ended while waiting for {what}"
        time.sleep(0.05)
    assert ready(), f"timed out waiting for {what}"  # type: ignore[operator]


def _workers_of(process: subprocess.Popen[bytes]) -> list[int]:
    """The pool workers of `process` (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes()
            except (OSError, IndexError):
                continue
            if int(stat[1]) == process.pid and b"spawn_main" in command:
                found.append(int(entry.name))
    return found


def _ended(process: subprocess.Popen[bytes]) -> int:
    try:
        return process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise AssertionError("the run did not stop within 120 s") from None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_ctrl_c_waits_for_running_units_and_says_so_a_second_stops_them(tmp_path: Path) -> None:
    process, out, log = _start(tmp_path)
    try:
        workers = _workers_of(process)
        assert len(workers) == 2
        os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole group
        _until(lambda: "stopping: 2 running unit(s)" in log.read_text(), process, "the notice")
        assert process.poll() is None  # the units never end: it is still waiting for them
        assert "press Ctrl-C again to stop them now" in log.read_text()
        os.killpg(process.pid, signal.SIGINT)
        code = _ended(process)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    stderr = log.read_text()
    assert code == 130, stderr
    assert "interrupted: every finished cell is kept" in stderr
    assert "Traceback" not in stderr
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp") or ".staging" in p.name]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_sigterm_stops_running_units_at_once(tmp_path: Path) -> None:
    process, out, log = _start(tmp_path)
    try:
        workers = _workers_of(process)
        process.send_signal(signal.SIGTERM)  # `kill`, `docker stop`: the main process only
        code = _ended(process)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    stderr = log.read_text()
    assert code == 143, stderr
    assert "stopping:" not in stderr and "Traceback" not in stderr
    assert "terminated (SIGTERM): every finished cell is kept" in stderr
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp") or ".staging" in p.name]
