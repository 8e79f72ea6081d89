"""Lazy numba compilation shared by the kernels: numba is imported on first use, not at import."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_kernels", "njit"]


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


def lazy_kernels(*functions: Callable[..., Any]) -> Callable[[], tuple[Callable[..., Any], ...]]:
    """A getter of ``functions`` compiled: once, on its first call, under a lock (cold start stays fast)."""
    compiled: list[tuple[Callable[..., Any], ...]] = []
    lock = threading.Lock()

    def get() -> tuple[Callable[..., Any], ...]:
        with lock:
            if not compiled:
                compiled.append(tuple(njit(function) for function in functions))
            return compiled[0]

    return get
