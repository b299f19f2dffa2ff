"""Aligned numpy buffers for the memory-bound loops (the greedy coreset's)."""

from __future__ import annotations

import math

import numpy as np

ALIGNMENT = 64  # bytes; what torch's CPU allocator guarantees, so SIMD kernels see the same


def aligned_empty(shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
    """An uninitialised C-contiguous numpy array whose data starts on an ALIGNMENT boundary.

    numpy's allocator (unlike torch's) advises huge pages for large arrays, which the greedy
    loop, bound by memory bandwidth, runs faster on; aligning like torch keeps every BLAS
    kernel on the same code path, hence bit-identical results.

    Args:
        shape: the array's shape.
        dtype: its element type.

    Returns:
        An array of `shape` and `dtype`, a view into a slightly larger byte buffer.
    """
    itemsize = np.dtype(dtype).itemsize
    count = math.prod(shape)
    raw = np.empty(count * itemsize + ALIGNMENT, dtype=np.uint8)
    offset = -raw.ctypes.data % ALIGNMENT
    return raw[offset : offset + count * itemsize].view(dtype).reshape(shape)
