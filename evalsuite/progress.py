"""Progress bars for the long loops, silenced in one place (`--quiet`, worker processes)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
_enabled = True


def set_enabled(enabled: bool) -> None:
    """Turn every progress bar of this process on or off."""
    global _enabled
    _enabled = enabled


def enabled() -> bool:
    """Whether progress bars are shown."""
    return _enabled


def bar(total: int, desc: str, unit: str = "it", leave: bool = True) -> tqdm:
    """A bar to `update()` by hand (shown only when enabled)."""
    return tqdm(
        total=total, desc=desc, unit=unit, leave=leave, disable=not _enabled, mininterval=0.5
    )


def track(items: Iterable[T], total: int, desc: str, unit: str = "it") -> Iterator[T]:
    """Iterate with a bar that disappears when done (inner loops)."""
    yield from tqdm(
        items, total=total, desc=desc, unit=unit, leave=False, disable=not _enabled, mininterval=0.5
    )
