"""The Durable extension's limit on a custom status, which the engine enforces as Azure does."""

from __future__ import annotations

__all__ = ["CUSTOM_STATUS_LIMIT_KB", "custom_status_error"]

CUSTOM_STATUS_LIMIT_KB = 16
"""The extension's limit on a custom status: KB of UTF-16 JSON text (see custom_status_error)."""
_SURELY_UNDER = (CUSTOM_STATUS_LIMIT_KB + 1) * 1024 // 4
"""Texts shorter than this many characters are under the limit whatever they hold (4 bytes each)."""


def custom_status_error(encoded: str) -> str | None:
    """Why Azure's Durable extension would refuse this custom status, or None.

    Its ``SetCustomStatus`` serialises the value (compact, non-ASCII characters as they are:
    ``encoded`` is the host's ``stored_text`` of it) and throws when the text's UTF-16 size, in
    whole KB, is over 16 (Azure Storage keeps strings as UTF-16); the orchestration then fails
    with that message. Refusing here too keeps a status that only fits locally from passing
    every test and failing on Azure.
    """
    if len(encoded) < _SURELY_UNDER:  # a character is at most two UTF-16 code units
        return None
    # ASCII text is one unit a character: no need to encode it to count
    units = len(encoded) if encoded.isascii() else len(encoded.encode("utf-16-le")) // 2
    size_kb = 2 * units // 1024
    if size_kb <= CUSTOM_STATUS_LIMIT_KB:
        return None
    return (
        f"The UTF-16 size of the JSON-serialized payload must not exceed {CUSTOM_STATUS_LIMIT_KB} KB. "
        f"The current payload size is {size_kb} KB."
    )
