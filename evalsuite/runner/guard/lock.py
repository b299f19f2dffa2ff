"""One run per results folder: an OS lock on `<out>/.evalsuite.lock` for the whole run.

The lock is `flock` on an open file, so the kernel releases it when the process ends in any way,
SIGKILL included; a lock file left behind by a killed run never blocks the next one. The file
holds the id of the process that holds it, for the message of a second run, and is removed when
the run ends.

The lock file must be a regular file: it is opened with `O_NOFOLLOW | O_NONBLOCK`, so a link
planted at its path is never followed (its target is never truncated or written) and a FIFO
never blocks; a link, FIFO, socket or device there is refused (`BusyError`, exit 3, naming the
path) and left in place. Only the file this run locked is ever removed.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from evalsuite.errors import BusyError
from evalsuite.regular import kind_of

LOCK_NAME = ".evalsuite.lock"
_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@contextmanager
def results_lock(out: Path) -> Iterator[None]:
    """Hold the results folder `out` (an existing folder) for the duration of the block.

    Raises:
        BusyError: another process holds it (naming the folder and that process's id), or the
            lock path is a link, FIFO, socket or device (naming it).
        OSError: the lock file cannot be created.
    """
    path = out / LOCK_NAME
    handle = _acquire(path, out)
    try:
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        if _is_ours(handle, path):  # before unlocking: a waiter then finds a fresh file
            path.unlink(missing_ok=True)
        os.close(handle)


def _acquire(path: Path, out: Path) -> int:
    """Open and lock `path`; retry when the file was replaced between the open and the lock."""
    while True:
        handle = _open(path)
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
        if _is_ours(handle, path):  # else the holder removed it as it finished: retry
            return handle
        os.close(handle)


def _open(path: Path) -> int:
    """Open (or create) the lock file, refusing anything but a regular file, unread.

    Raises:
        BusyError: `path` is a link, FIFO, socket or device.
    """
    try:
        kind = kind_of(path.lstat().st_mode)
    except FileNotFoundError:
        kind = None
    if kind is None:
        try:
            handle = os.open(path, _FLAGS, 0o666)
        except OSError as error:
            if error.errno not in (errno.ELOOP, errno.EMLINK):
                raise
            kind = "a symlink"  # planted since the check: O_NOFOLLOW refused it
        else:
            kind = kind_of(os.fstat(handle).st_mode)
            if kind is None:
                os.set_blocking(handle, True)
                return handle
            os.close(handle)
    raise BusyError(
        f"lock file {path} is {kind}, not a regular file; evalsuite neither follows nor "
        "removes it: delete it yourself (no evalsuite run made it) and run again"
    )


def _is_ours(handle: int, path: Path) -> bool:
    """Whether `path` is still the very file open as `handle` (never following a link)."""
    try:
        found = path.lstat()
    except FileNotFoundError:
        return False
    return stat.S_ISREG(found.st_mode) and os.path.samestat(os.fstat(handle), found)


def _holder(handle: int) -> str:
    """The process id written in the lock file, or "unknown"."""
    text = os.pread(handle, 32, 0).decode("ascii", "replace").strip()
    return text if text.isdigit() else "unknown"
