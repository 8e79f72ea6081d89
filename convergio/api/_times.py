"""The times the runs API shows, from a durable status in whole seconds and an index to the microsecond."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["ended_at"]


def ended_at(stamp: str, created_at: str) -> str:
    """When a run ended, from its durable status's last update, never before the run was created.

    The Durable HTTP API gives times in whole seconds; the index keeps the start to the
    microsecond. A run that starts and ends within one second would otherwise end before it
    began: the start is then the closest time known not to be too early (less than 1 s off).
    """
    try:
        end, start = datetime.fromisoformat(stamp), datetime.fromisoformat(created_at)
    except ValueError:
        return stamp
    end, start = (t if t.tzinfo else t.replace(tzinfo=UTC) for t in (end, start))
    return created_at if end < start else stamp
