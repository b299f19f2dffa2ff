"""Where the compute runs: the device a run asks for, its determinism settings, its name.

CPU stays the reference: with `device = "cpu"` (and `auto` on a machine without a GPU) every
code path is today's and gives today's bits. On CUDA the backbone and PaDiM run on the GPU;
their results agree with CPU's to about 1e-4 relative (floating-point order differs), so a
device other than the CPU is part of a feature cache's key.
"""

from __future__ import annotations

import os

import torch

from evalsuite.backbone.device_kind import DEVICE_NAMES, DeviceName
from evalsuite.errors import ConfigError, WeightsError

__all__ = [
    "DEVICE_NAMES",
    "DeviceName",
    "as_device",
    "configure_determinism",
    "device_name",
    "resolve_device",
]
CUBLAS_WORKSPACE = ":4096:8"
"""cuBLAS workspace setting that makes its GEMMs deterministic (CUDA docs, "Reproducibility")."""


def resolve_device(name: str) -> torch.device:
    """The torch device for a configured name.

    Args:
        name: `auto` (CUDA when a GPU is visible, else CPU), `cpu` or `cuda`.

    Returns:
        `torch.device("cpu")` or `torch.device("cuda")`.

    Raises:
        ConfigError: `name` is not one of auto, cpu, cuda.
        WeightsError: `cuda` was asked for but no CUDA device is visible (an environment
            error, exit code 3, like missing weights).
    """
    if name not in DEVICE_NAMES:
        raise ConfigError(f"device {name!r} is unknown; choose one of {', '.join(DEVICE_NAMES)}")
    if name == "cpu":
        return torch.device("cpu")
    available = torch.cuda.is_available()
    if name == "cuda" and not available:
        raise WeightsError(
            "device 'cuda': no CUDA device is visible to torch (check the driver, "
            "CUDA_VISIBLE_DEVICES and that torch is a CUDA build); "
            'use device = "cpu" in the configuration or --device cpu'
        )
    return torch.device("cuda") if available else torch.device("cpu")


def configure_determinism(device: torch.device) -> None:
    """Make CUDA kernels deterministic where torch can, in full float32; a no-op on the CPU.

    On CUDA: `torch.use_deterministic_algorithms(True, warn_only=True)` (a kernel without a
    deterministic version warns instead of failing), `cudnn.benchmark = False` (no timing-based
    algorithm choice) and `CUBLAS_WORKSPACE_CONFIG=:4096:8` unless already set. TF32 is turned
    off for convolutions and matmuls (cuDNN convolutions default to it, which moves float32
    features by about 1e-3); bf16 stays available through the backbone's `precision`. These
    are process-wide; call before the first CUDA computation (the cuBLAS variable is read then).
    """
    if device.type != "cuda":
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


def device_name(device: torch.device) -> str:
    """The device for provenance records: `cpu`, or e.g. `cuda:0 (NVIDIA H200)`."""
    if device.type != "cuda":
        return device.type
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"


def as_device(device: torch.device | str | None) -> torch.device:
    """A device argument as a torch device: None is the CPU, a string goes to resolve_device.

    Raises:
        ConfigError, WeightsError: see `resolve_device`.
    """
    if device is None:
        return torch.device("cpu")
    if isinstance(device, torch.device):
        return device
    return resolve_device(device)
