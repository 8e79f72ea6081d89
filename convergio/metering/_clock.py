"""Now as text, for the two stamps every agent call makes: when it began (``started_at``) and
when its usage happened (a usage record's ``at``).

``datetime.now(UTC)`` and its formatting cost 1.6 to 2.2 us a stamp, the most of any single line
of an agent call's Python once its models were cut (ADR 0048). The same text comes from the
system clock in nanoseconds (the clock ``datetime.now`` reads, cut to the microsecond the same
way: down) and the date and time to the second, formatted once per second: 0.6 us.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["now_iso", "now_text"]

_SECOND: list[tuple[int, str]] = [(-1, "")]
"""The last second formatted: (seconds since the epoch, ``YYYY-MM-DDTHH:MM:SS``). Replaced as
one tuple, so a thread reads a second and its text together."""


def _now() -> tuple[str, int]:
    """Now: its second as text (UTC) and its microseconds, as ``datetime.now(UTC)`` has them."""
    second, nanos = divmod(time.time_ns(), 1_000_000_000)
    cached = _SECOND[0]
    if cached[0] != second:
        cached = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
        _SECOND[0] = cached
    return cached[1], nanos // 1000


def now_text() -> str:
    """Now as :func:`~convergio.metering.canonical_time` writes it: ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    second, micros = _now()
    return f"{second}.{micros:06d}Z"


def now_iso() -> str:
    """Now as ``datetime.now(UTC).isoformat()`` writes it (no fraction when it is 0, ``+00:00``)."""
    second, micros = _now()
    return f"{second}.{micros:06d}+00:00" if micros else f"{second}+00:00"
