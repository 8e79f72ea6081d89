"""History events in the Durable Task wire shape the Python SDK replays.

The Durable extension hands the Python worker a list of DTFx history events
serialised as JSON objects with PascalCase keys. The embedded host stores and
replays exactly that shape, so a history written here is what the SDK would
receive on Azure.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

__all__ = [
    "EventType",
    "Event",
    "format_time",
    "history_time",
    "parse_time",
    "new_event",
    "status_time",
    "utcnow",
]

Event = dict[str, Any]

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class EventType(IntEnum):
    """DTFx history event types (same numbers as the SDK's HistoryEventType)."""

    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_INSTANCE_CREATED = 7
    SUB_ORCHESTRATION_INSTANCE_COMPLETED = 8
    SUB_ORCHESTRATION_INSTANCE_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16
    GENERIC_EVENT = 17
    HISTORY_STATE = 18
    EXECUTION_SUSPENDED = 19
    EXECUTION_RESUMED = 20


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """Render a UTC instant the way the extension and the SDK write it.

    ``isoformat`` writes the same text as ``strftime(_TIME_FORMAT)`` for years from 1000 at a
    fraction of the cost (every step stamps its events); ``%Y`` does not pad earlier years.
    """
    moment = moment.astimezone(UTC)
    if moment.year < 1000:
        return moment.strftime(_TIME_FORMAT)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime:
    """Parse what :func:`format_time` (or the SDK's ``fireAt``) wrote."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def status_time(text: str) -> str:
    """A stored time as the HTTP API's status shows it: whole seconds, ``Z``.

    The extension writes ``createdTime`` / ``lastUpdatedTime`` with .NET's ``"s"`` format plus
    ``Z`` (``2024-05-01T10:00:07Z``): the fraction is dropped, not rounded.
    """
    return parse_time(text).strftime("%Y-%m-%dT%H:%M:%SZ")


def history_time(text: str) -> str:
    """A stored time as ``historyEvents`` shows it: Json.NET's ISO form for a UTC ``DateTime``.

    That is up to seven fraction digits with the trailing zeros dropped (``.1234Z``), and no
    fraction at all on a whole second. The host keeps microseconds, so at most six show.
    """
    moment = parse_time(text)
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def new_event(kind: EventType, timestamp: str, *, event_id: int = -1, **fields: Any) -> Event:
    """Build one history event; ``fields`` use the DTFx PascalCase names."""
    event: Event = {
        "EventType": int(kind),
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": timestamp,
    }
    event.update(fields)
    return event
