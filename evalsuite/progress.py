"""Progress bars for the long loops, silenced in one place (`--quiet`, worker processes).

On a terminal they are tqdm bars. When stderr is not a terminal (a CI log, a nightly job, a
pipe) a bar becomes at most `LOG_STEPS` + 1 plain lines (`cells: 6/60 (10%)`, one per tenth
done, and one at the end), with no carriage-return redraws; inner loops (`track`) print nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")
LOG_STEPS = 10
"""Lines a bar writes without a terminal: one per tenth of its total."""
_enabled = True


def set_enabled(enabled: bool) -> None:
    """Turn every progress bar of this process on or off."""
    global _enabled
    _enabled = enabled


def enabled() -> bool:
    """Whether progress bars are shown."""
    return _enabled


def _terminal() -> bool:
    stream = sys.stderr
    return stream is not None and hasattr(stream, "isatty") and stream.isatty()


class LogBar:
    """A bar for logs: `update(n)` writes `<desc>: <done>/<total> (<p>%)` each time another
    tenth is done, `close()` writes the final count once. Without a total, only `close()`."""

    def __init__(self, total: int | None, desc: str, unit: str = "it", disable: bool = False):
        self.total = total
        self.desc = desc
        self.unit = unit
        self.disable = disable
        self.n = 0
        self._step = 0  # tenths already written
        self._closed = False

    def update(self, n: int = 1) -> None:
        """Count `n` more done; write a line when a new tenth is reached."""
        self.n += n
        if self.disable or not self.total:
            return
        step = min(LOG_STEPS, self.n * LOG_STEPS // self.total)
        if step > self._step and self.n < self.total:
            self._step = step
            self._write()

    def close(self) -> None:
        """Write the final count (once)."""
        if not self._closed and not self.disable:
            self._write()
        self._closed = True

    def _write(self) -> None:
        share = f" ({100 * self.n // self.total}%)" if self.total else ""
        total = f"/{self.total}" if self.total else ""
        print(f"{self.desc}: {self.n}{total} {self.unit}{share}", file=sys.stderr, flush=True)

    def __enter__(self) -> LogBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()


def bar(
    total: int | None,
    desc: str,
    unit: str = "it",
    leave: bool = True,
    disable: bool = False,
    initial: int = 0,
) -> Any:
    """A bar to `update()` by hand, starting at `initial`: tqdm on a terminal, a `LogBar`
    otherwise (shown only when enabled and not `disable`)."""
    off = disable or not _enabled
    if not _terminal():
        logged = LogBar(total, desc, unit, disable=off)
        logged.n = initial
        return logged
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        leave=leave,
        disable=off,
        mininterval=0.5,
        initial=initial,
        unit_scale=unit == "B",
    )


def track(items: Iterable[T], total: int, desc: str, unit: str = "it") -> Iterator[T]:
    """Iterate with a bar that disappears when done (inner loops; nothing without a terminal)."""
    if not _enabled or not _terminal():
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, total=total, desc=desc, unit=unit, leave=False, mininterval=0.5)
