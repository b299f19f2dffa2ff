"""Pool workers: leave Ctrl-C to the parent, stop cleanly on SIGTERM, never outlive the parent.

A worker ignores SIGINT (the parent stops the pool and reports). SIGTERM raises
`signals.Terminated` in the worker, which unwinds the unit it runs (temp files and staging
folders removed, as for Ctrl-C) and ends the process; a worker between units (starting up or
idle: a SIGTERM to the process group as the pool starts) ends at once, silently. On Linux the
kernel sends the worker SIGTERM when its parent dies, even by SIGKILL (`PR_SET_PDEATHSIG`);
elsewhere a watchdog thread
notices the parent is gone within a second and ends the worker. So no orphan keeps writing into
a results folder that a rerun is already filling.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from evalsuite import signals

_in_unit = False
"""Whether this worker is running a unit (see `running_unit`)."""
PR_SET_PDEATHSIG = 1
"""prctl option (linux/prctl.h): the signal this process gets when its parent dies."""


def init_worker(parent: int) -> None:
    """Initializer of a pool worker whose parent process has the id `parent`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _terminate)
    if not _kernel_watch(signal.SIGTERM):
        threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()
    if os.getppid() != parent:  # the parent died before the watch was set up
        os._exit(signals.EXIT_TERMINATED)


@contextmanager
def running_unit() -> Iterator[None]:
    """Mark the block as a unit of work: SIGTERM in it unwinds the unit (`signals.Terminated`);
    outside a unit (starting up, idle between units) the worker holds nothing to clean up and
    ends at once, silently, exit 143."""
    global _in_unit
    _in_unit = True
    try:
        yield
    finally:
        _in_unit = False


def exit_stopped() -> None:
    """End a worker stopped by SIGTERM once its unit has unwound (its clean-up done)."""
    os._exit(signals.EXIT_TERMINATED)


def _terminate(signum: int, frame: object) -> None:
    if not _in_unit:  # idle or starting: nothing to unwind, and no traceback to print
        os._exit(signals.EXIT_TERMINATED)
    raise signals.Terminated("worker stopped by SIGTERM")


def _kernel_watch(signum: int) -> bool:
    """Ask Linux to send `signum` when the parent dies; False where that is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return bool(libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0)


def _watch(parent: int) -> None:
    """Poll for the parent (a new parent id means it died) and end this worker then."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)
