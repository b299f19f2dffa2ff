"""Signals: Ctrl-C and SIGTERM stop a command the same way, through the same clean-up.

SIGTERM (`kill`, `docker stop`, a CI job cancelled) raises `Terminated`, a `KeyboardInterrupt`,
in the main thread, so every `finally` and every handler written for Ctrl-C (temp files,
staging folders, a worker pool) runs for it too; the CLI then exits 143 instead of 130. This
holds for PID 1 in a container as well, where a signal without a handler would be ignored.

A process started with SIGINT ignored (a background job of a shell script, as many CI runners
start their steps) inherits that; the CLI restores Ctrl-C, so an interrupt always stops it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT)."""
EXIT_TERMINATED = 143
"""Exit code after SIGTERM (128 + SIGTERM)."""

_STOPPING = {signal.SIGINT, signal.SIGTERM}


class Terminated(KeyboardInterrupt):
    """SIGTERM was received: stop as for Ctrl-C, exit 143."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"signal {signal.Signals(signum).name}")


def install() -> None:
    """Ctrl-C raises `KeyboardInterrupt` (even when the parent ignored SIGINT) and SIGTERM
    raises `Terminated`. Called at the start of a command; a no-op outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """143 for SIGTERM, 130 for Ctrl-C."""
    return EXIT_TERMINATED if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED


def describe(interrupt: KeyboardInterrupt) -> str:
    """How the command was stopped, for its last message: "interrupted" or "terminated"."""
    return "terminated (SIGTERM)" if isinstance(interrupt, Terminated) else "interrupted"


@contextmanager
def deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back while the block runs (a few renames that must all happen);
    a signal received meanwhile is delivered when the block ends."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
