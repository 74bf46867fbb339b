"""Reusable scratch arrays for the large temporaries of a model fit (one set per thread).

A logistic fit on 12,000 rows makes a few n x p float64 temporaries (model matrix, scaled
copies, scores) of ~2 MB each. Fresh memory of that size comes from the kernel page by page:
the first write to each 4 kB page faults, and the allocator hands large blocks back when
they are freed, so every fit paid ~1,500 page faults (~2 ms, a third of the fit). Reusing one
buffer per use site keeps the pages mapped.

Rules: a scratch array is valid until the next :func:`scratch` call with the same ``name``
in the same thread; it must not outlive the call that asked for it (never returned to a
user, never stored in a result). Each use site has its own name.
"""

from __future__ import annotations

import math
import threading
from typing import Literal

import numpy as np

_MAX_POOLED = 64 * 2**20  # bytes: larger arrays are allocated normally (and not kept)


class _Pool(threading.local):
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}


_POOL = _Pool()


def scratch(
    name: str,
    shape: tuple[int, ...],
    order: Literal["C", "F"] = "C",
    dtype: type[np.generic] = np.float64,
) -> np.ndarray:
    """An uninitialized array of ``shape``, reused across calls with the same name."""
    size = math.prod(shape)
    if size * np.dtype(dtype).itemsize > _MAX_POOLED:
        return np.empty(shape, dtype=dtype, order=order)
    key = f"{name}:{np.dtype(dtype).str}"
    buf = _POOL.arrays.get(key)
    if buf is None or buf.size < size:
        buf = np.empty(size, dtype=dtype)
        _POOL.arrays[key] = buf
    return buf[:size].reshape(shape, order=order)
