"""The Durable extension's limit on a custom status, which the engine enforces as Azure does."""

from __future__ import annotations

__all__ = ["CUSTOM_STATUS_LIMIT_KB", "custom_status_error"]

CUSTOM_STATUS_LIMIT_KB = 16
"""The extension's limit on a custom status: KB of UTF-16 JSON text (see custom_status_error)."""


def custom_status_error(encoded: str) -> str | None:
    """Why Azure's Durable extension would refuse this custom status, or None.

    Its ``SetCustomStatus`` serialises the value and throws when the text's UTF-16 size, in
    whole KB, is over 16 (Azure Storage keeps strings as UTF-16); the orchestration then fails
    with that message. Refusing here too keeps a status that only fits locally from passing
    every test and failing on Azure.
    """
    size_kb = len(encoded.encode("utf-16-le")) // 1024
    if size_kb <= CUSTOM_STATUS_LIMIT_KB:
        return None
    return (
        f"The UTF-16 size of the JSON-serialized payload must not exceed {CUSTOM_STATUS_LIMIT_KB} KB. "
        f"The current payload size is {size_kb} KB."
    )
