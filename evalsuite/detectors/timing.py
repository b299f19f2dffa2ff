"""Timing a kernel's rate: seconds per call, repeated until enough time has passed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def timed(
    function: Callable[[], object], seconds: float, device: torch.device | None = None
) -> float:
    """Seconds per call of `function`, repeated until `seconds` have passed (after one
    warm-up); on a GPU each call is waited for, so the device's time is what is measured."""

    def call() -> None:
        function()
        if device is not None and device.type == "cuda":
            import torch

            torch.cuda.synchronize(device)

    call()
    calls, started = 0, time.perf_counter()
    while True:
        call()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return elapsed / calls
