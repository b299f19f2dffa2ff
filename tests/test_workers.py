"""Pool workers and the Dask scheduler at the edges of a run: a SIGTERM to a worker that runs no
unit (the pool starting, or idle) ends it silently; one inside a unit unwinds it; a scheduler
that does not answer is named as such before any work (issue 19)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from studies import tiny_toml

from evalsuite import signals
from evalsuite.cli import main
from evalsuite.errors import ConfigError, SchedulerError
from evalsuite.runner.execution.scheduler import check_scheduler, scheduler_endpoint
from evalsuite.workers import exit_stopped, init_worker, running_unit

WAIT_S = 300.0
"""Generous: a spawned interpreter on a loaded machine."""


def _idle(parent: int, ready: Any) -> None:
    init_worker(parent)
    ready.set()
    time.sleep(WAIT_S)


def _in_a_unit(parent: int, ready: Any, unwound: Any) -> None:
    init_worker(parent)
    try:
        with running_unit():
            ready.set()
            time.sleep(WAIT_S)
    except signals.Terminated:
        unwound.set()
        exit_stopped()


def _terminated(target: Any, *events: Any) -> int:
    """Start `target` in a spawned worker, SIGTERM it once it is ready, return its exit code."""
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    process = context.Process(target=target, args=(os.getpid(), ready, *events))
    process.start()
    try:
        assert ready.wait(WAIT_S), "the worker never started"
        os.kill(process.pid, signal.SIGTERM)
        process.join(WAIT_S)
        return process.exitcode if process.exitcode is not None else -1
    finally:
        if process.is_alive():
            process.kill()


def test_a_worker_between_units_ends_silently_on_sigterm(capfd: pytest.CaptureFixture[str]) -> None:
    """Before: `signals.Terminated` escaped the idle worker, and multiprocessing printed a
    traceback per worker (two with --workers 2) with exit code 1."""
    code = _terminated(_idle)
    err = capfd.readouterr().err
    assert code == signals.EXIT_TERMINATED
    assert "Traceback" not in err, err


def test_a_worker_in_a_unit_unwinds_it_on_sigterm(capfd: pytest.CaptureFixture[str]) -> None:
    unwound = multiprocessing.get_context("spawn").Event()
    code = _terminated(_in_a_unit, unwound)
    assert code == signals.EXIT_TERMINATED
    assert unwound.is_set()
    assert "Traceback" not in capfd.readouterr().err


def _closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_an_unreachable_scheduler_is_named_as_such() -> None:
    port = _closed_port()
    with pytest.raises(SchedulerError, match=rf"cannot reach the Dask scheduler at .*:{port}"):
        check_scheduler(f"tcp://127.0.0.1:{port}")


@pytest.mark.parametrize("address", ["nohost", "tcp://:8786", "tcp://h:0", "tcp://h:99999"])
def test_a_malformed_scheduler_address_is_bad_input(address: str) -> None:
    with pytest.raises(ConfigError, match="is not a scheduler address"):
        scheduler_endpoint(address)


def test_another_transport_is_left_to_the_client() -> None:
    assert scheduler_endpoint("inproc://10.0.0.1/1/1") is None
    assert scheduler_endpoint("127.0.0.1:8786") == ("127.0.0.1", 8786)
    assert scheduler_endpoint("tls://sched.example:8786") == ("sched.example", 8786)


def test_run_refuses_an_unreachable_scheduler_before_any_work(tmp_path: Path) -> None:
    """Before: the run generated data and extracted every feature, then failed with an
    `OSError` line read like a disk problem."""
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_toml("tiny", ["clean/none"], ["hazelnut"]), encoding="utf-8")
    out, cache = tmp_path / "out", tmp_path / "cache"
    address = f"tcp://127.0.0.1:{_closed_port()}"
    arguments = ["run", "--config", str(config), "--out", str(out), "--cache", str(cache)]
    runner = CliRunner()
    result = runner.invoke(main, [*arguments, "--executor", "dask", "--scheduler", address])
    assert result.exit_code == 3, result.output
    assert f"cannot reach the Dask scheduler at {address}" in result.output
    assert not out.exists() and not cache.exists()  # nothing generated, extracted or written
    alone = runner.invoke(main, [*arguments, "--scheduler", address])
    assert alone.exit_code == 2
    assert "--scheduler needs --executor dask" in alone.output
