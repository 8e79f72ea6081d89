"""Lazy numba compilation shared by the kernels: numba is imported on first use, not at import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["njit"]


def njit(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` compiled in nopython mode, cached on disk under ``NUMBA_CACHE_DIR``.

    When no writable cache location exists (numba raises then), it is compiled in memory.
    """
    import numba

    try:
        compiled: Callable[..., Any] = numba.njit(cache=True)(function)
    except RuntimeError:
        compiled = numba.njit(function)
    return compiled
