"""One run per results folder: an OS lock on `<out>/.evalsuite.lock` for the whole run.

The lock is `flock` on an open file, so the kernel releases it when the process ends in any way,
SIGKILL included; a lock file left behind by a killed run never blocks the next one. The file
holds the id of the process that holds it, for the message of a second run, and is removed when
the run ends.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from evalsuite.errors import BusyError

LOCK_NAME = ".evalsuite.lock"


@contextmanager
def results_lock(out: Path) -> Iterator[None]:
    """Hold the results folder `out` (an existing folder) for the duration of the block.

    Raises:
        BusyError: another process holds it (naming the folder and that process's id).
        OSError: the lock file cannot be created.
    """
    path = out / LOCK_NAME
    handle = _acquire(path, out)
    try:
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)  # before unlocking: a waiter then finds a fresh file
        os.close(handle)


def _acquire(path: Path, out: Path) -> int:
    """Open and lock `path`; retry when the file was replaced between the open and the lock."""
    while True:
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            os.close(handle)
            raise BusyError(
                f"results folder {out} is in use by another evalsuite run (process {holder}); "
                "wait for it to finish or stop it, or choose another --out"
            ) from None
        except BaseException:
            os.close(handle)
            raise
        try:
            same = os.path.samestat(os.fstat(handle), os.stat(path))
        except FileNotFoundError:  # the holder removed it as it finished
            same = False
        if same:
            return handle
        os.close(handle)


def _holder(handle: int) -> str:
    """The process id written in the lock file, or "unknown"."""
    text = os.pread(handle, 32, 0).decode("ascii", "replace").strip()
    return text if text.isdigit() else "unknown"
