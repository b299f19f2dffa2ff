"""Which unit a local pool starts next, so that the units running together fit in memory.

Each unit is priced by the cost model (`estimate.model.unit_prices`: its largest fit's peak,
the worker's base and the features it holds included). When a worker is free, the pool starts
the first waiting unit (largest first) whose price fits in what the running units leave of the
budget: 90% of the memory the system reports available when the pool starts (after the calling
process dropped its features). A unit that does not fit waits for a running one to finish; a
unit priced over the whole budget runs alone, with a warning. On the paper preset's rehearsal
two unified fits (priced 9.0 GB each, 10.7 GB measured) ran side by side beside a 4.8 GB main
process on a 24 GB machine, and the system killed one of the workers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

SHARE = 0.9
"""The part of the available memory the running units' prices may add up to."""
MEMINFO = Path("/proc/meminfo")


def available_bytes(meminfo: Path = MEMINFO) -> int | None:
    """The memory the system reports available (`MemAvailable`), None where it cannot say."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def budget_bytes(meminfo: Path = MEMINFO) -> int | None:
    """What the running units' prices may add up to (None: no budget, start units freely)."""
    available = available_bytes(meminfo)
    return None if available is None else int(SHARE * available)


def next_unit(waiting: Sequence[int], running: Sequence[int], budget: int | None) -> int | None:
    """The index in `waiting` of the unit to start now, or None to wait for a running unit.

    Args:
        waiting: the waiting units' prices in bytes, in the order they should start.
        running: the prices of the units running now.
        budget: what the prices of the units running together may add up to (None: no limit).

    Returns:
        the first waiting unit that fits beside the running ones; the first waiting unit when
        nothing runs (even over the budget: it runs alone); None when none fits or none waits.
    """
    if not waiting:
        return None
    if budget is None or not running:
        return 0
    left = budget - sum(running)
    return next((i for i, price in enumerate(waiting) if price <= left), None)


def warn_alone(unit_id: str, price: int, budget: int | None) -> None:
    """Say that a unit priced over the whole budget runs alone."""
    if budget is not None and price > budget:
        log.warning(
            "unit %s is priced at %.1f GB, over the %.1f GB the pool may use: it runs alone "
            "(the system may still stop it; see `plan --estimate`)",
            unit_id,
            price / 1e9,
            budget / 1e9,
        )
