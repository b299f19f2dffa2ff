"""A local pool starts units within a memory budget, and a worker the system kills is one
clear error.

Found by the paper preset's rehearsal: the two unified PaDiM WRN50 fits (priced 9.0 GB each)
ran side by side beside a 4.8 GB main process on a 24 GB machine; the system killed a worker
and the run ended in a `BrokenProcessPool` traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from studies import plugin_study, write_plugin

from evalsuite.runner.execution.memory_budget import (
    SHARE,
    available_bytes,
    budget_bytes,
    next_unit,
)

GB = 10**9


def test_units_start_in_order_while_their_prices_fit_beside_the_running_ones() -> None:
    # the rehearsal's case: two 9 GB units, 16 GB left for units -> the second waits
    assert next_unit([9 * GB, 9 * GB, 2 * GB], [], 16 * GB) == 0
    assert next_unit([9 * GB, 2 * GB], [9 * GB], 16 * GB) == 1  # a smaller one fits beside
    assert next_unit([9 * GB, 8 * GB], [9 * GB], 16 * GB) is None  # none fits: wait
    assert next_unit([7 * GB], [9 * GB], 16 * GB) == 0  # exactly the budget fits
    assert next_unit([20 * GB], [], 16 * GB) == 0  # over the budget: runs alone
    assert next_unit([20 * GB], [1], 16 * GB) is None
    assert next_unit([9 * GB, 9 * GB], [9 * GB], None) == 0  # no budget known: no limit
    assert next_unit([], [], 16 * GB) is None


def test_the_budget_is_a_share_of_the_memory_the_system_reports_available(
    tmp_path: Path,
) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(
        "MemTotal:       24730112 kB\nMemFree:         1130000 kB\n"
        "MemAvailable:   20000000 kB\nBuffers:           12345 kB\n"
    )
    assert available_bytes(meminfo) == 20000000 * 1024
    assert budget_bytes(meminfo) == int(SHARE * 20000000 * 1024)
    meminfo.write_text("MemTotal: 1 kB\n")
    assert budget_bytes(meminfo) is None
    assert budget_bytes(tmp_path / "missing") is None


def test_this_machine_reports_its_available_memory() -> None:
    if not Path("/proc/meminfo").exists():
        pytest.skip("reads /proc/meminfo (Linux)")
    found = available_bytes()
    assert found is not None and 0 < found <= os.sysconf("SC_PAGE_SIZE") * os.sysconf(
        "SC_PHYS_PAGES"
    )


KILLED = '''
import os
import signal
from typing import ClassVar

from evalsuite.detectors.params import DetectorParams


class KilledParams(DetectorParams):
    config_name: ClassVar[str] = "killed params"
    layers: tuple[str, ...] = ("blocks.4",)


class Killed:
    """A detector whose fit is killed by the system, as the out-of-memory killer does."""

    params_class = KilledParams

    def __init__(self, params, features, seed, *, device=None):
        self.params = params

    def fit(self, samples):
        os.kill(os.getpid(), signal.SIGKILL)

    def score(self, samples):
        raise AssertionError("never reached")

    def save(self, directory):
        raise AssertionError("never reached")

    @classmethod
    def load(cls, directory, features, *, device=None):
        raise AssertionError("never reached")
'''


@pytest.mark.e2e
def test_a_worker_killed_by_the_system_is_one_clear_error(tmp_path: Path) -> None:
    write_plugin(tmp_path, "killed_plugin", KILLED)
    killed = {"name": "killed", "impl": "killed_plugin:Killed"}
    config = plugin_study(tmp_path, "killed", [killed], test_images=(2, 2))
    command = [sys.executable, "-m", "evalsuite", "run", "--config", str(config), "--out"]
    command += [str(tmp_path / "out"), "--cache", str(tmp_path / "cache"), "--quiet"]
    command += ["--workers", "2"]
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": path}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "BrokenProcessPool" not in done.stderr
    assert "a worker process ended abruptly while running unit" in done.stderr
    assert "rerun with fewer --workers" in done.stderr
    assert not list((tmp_path / "out").rglob("*.tmp*"))
