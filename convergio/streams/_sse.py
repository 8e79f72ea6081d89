"""Server-Sent Events framing (the ``text/event-stream`` wire format)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["sse"]


def sse(event: str, data: Any, *, event_id: int | None = None, retry_ms: int | None = None) -> str:
    """One SSE message: ``data`` as one line of JSON, so no payload can break the framing."""
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if retry_ms is not None:
        lines.append(f"retry: {retry_ms}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"
