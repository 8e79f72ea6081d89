"""The guest ABI, version 1, in constants: what a module exports and what the host may link.

A module exports ``memory``, ``alloc(len: i32) -> i32`` and ``call(ptr: i32, len: i32) -> i64``.
The host writes the UTF-8 JSON request ``{"tool": name, "arguments": {...}}`` (compact, ``tool``
first) at ``alloc(len)`` and calls ``call``; the guest answers with ``ptr << 32 | len`` of a UTF-8
JSON document ``{"result": ...}`` or ``{"error": "message"}``. Capabilities are imports from the
module ``convergio``, linked only when granted. See docs/adr/0005-plugin-abi.md.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ABI_VERSION",
    "CAPABILITY_IMPORTS",
    "ERR_DENIED",
    "ERR_NOT_FOUND",
    "ERR_QUOTA",
    "ERR_TOO_LARGE",
    "HOST_MODULE",
    "PAGE_BYTES",
    "pack",
    "unpack",
]

ABI_VERSION: Final = 1
HOST_MODULE: Final = "convergio"
PAGE_BYTES: Final = 65536

CAPABILITY_IMPORTS: Final[dict[str, tuple[str, ...]]] = {
    "log": ("log",),
    "kv": ("kv_get", "kv_put"),
    "http": ("http_fetch",),
    "llm": ("llm_complete",),
}
"""The ``convergio.*`` imports each capability links (its host functions)."""

ERR_NOT_FOUND: Final = -1
"""``kv_get``: no value under that key."""
ERR_DENIED: Final = -2
"""The request was refused (bad pointer, not allowed)."""
ERR_TOO_LARGE: Final = -3
"""A key, value or request is over its size limit."""
ERR_QUOTA: Final = -4
"""``kv_put``: the plugin's store for this tenant is full."""

_U32: Final = 0xFFFFFFFF
_U64: Final = 0xFFFFFFFFFFFFFFFF


def pack(ptr: int, length: int) -> int:
    """Pack a guest pointer and length into the signed i64 the guest receives.

    Args:
        ptr: A guest address (u32).
        length: A byte count (u32).

    Returns:
        ``ptr << 32 | length`` as a signed 64-bit integer (what wasmtime passes as ``i64``).
    """
    value = ((ptr & _U32) << 32) | (length & _U32)
    return value - (1 << 64) if value >= 1 << 63 else value


def unpack(value: int) -> tuple[int, int]:
    """Split an i64 returned by the guest into ``(ptr, length)``.

    Args:
        value: The i64, signed or not.

    Returns:
        The pointer and the length, both unsigned.
    """
    value &= _U64
    return value >> 32, value & _U32
