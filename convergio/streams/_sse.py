"""Server-Sent Events framing (the ``text/event-stream`` wire format)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["compact", "sse", "sse_text"]

compact = json.JSONEncoder(separators=(",", ":")).encode
"""``json.dumps(value, separators=(",", ":"))``, whose keyword arguments built a new encoder on
every call: a watched 500-wide run sends about 2,500 messages."""


def sse(event: str, data: Any, *, event_id: int | None = None, retry_ms: int | None = None) -> str:
    """One SSE message: ``data`` as one line of JSON, so no payload can break the framing."""
    return sse_text(event, compact(data), event_id=event_id, retry_ms=retry_ms)


def sse_text(event: str, text: str, *, event_id: int | None = None, retry_ms: int | None = None) -> str:
    """One SSE message whose data is ``text``, one line of JSON its caller encoded with ``compact``."""
    head = f"event: {event}\n"
    if event_id is not None:
        head += f"id: {event_id}\n"
    if retry_ms is not None:
        head += f"retry: {retry_ms}\n"
    return f"{head}data: {text}\n\n"
