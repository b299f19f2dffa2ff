"""The kind of device a run will use (`cpu` or `cuda`), told without importing torch when it
can be: what `evalsuite plan` needs for fit ids.

`cpu` is the CPU. `cuda` is taken as asked (a plan may be made for a GPU machine elsewhere;
`run` checks that a GPU is there). `auto` is the CPU when this machine has no GPU driver
library (`libcuda.so.1`, or ROCm's `libamdhip64.so`): torch cannot see a GPU then either. With
a driver present only torch can tell (`torch.cuda.is_available()`), so it is imported.
"""

from __future__ import annotations

import ctypes
from typing import Literal, get_args

from evalsuite.errors import ConfigError

DeviceName = Literal["auto", "cpu", "cuda"]
DEVICE_NAMES: tuple[str, ...] = get_args(DeviceName)
DRIVER_LIBRARIES = ("libcuda.so.1", "libcuda.so", "libamdhip64.so")


def device_kind(name: str) -> str:
    """`cpu` or `cuda`: the torch device type a run with `device = name` uses.

    Raises:
        ConfigError: `name` is not one of auto, cpu, cuda.
    """
    if name not in DEVICE_NAMES:
        raise ConfigError(f"device {name!r} is unknown; choose one of {', '.join(DEVICE_NAMES)}")
    if name != "auto":
        return name
    if not gpu_driver_present():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def gpu_driver_present() -> bool:
    """Whether a GPU driver library loads in this process (loading it starts no device)."""
    for library in DRIVER_LIBRARIES:
        try:
            ctypes.CDLL(library)
        except OSError:
            continue
        return True
    return False
