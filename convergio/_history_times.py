"""The Durable SDK's timestamps read by ``datetime.fromisoformat``, not ``dateutil``.

On Azure the Python SDK replays an orchestration's whole history at every step (no kept-alive
sessions out of process), and builds every event with ``HistoryEvent(**raw)``, which parses
its ``Timestamp`` with ``dateutil.parser.parse``: about 30 µs an event (1.5 here), and a chain
of 100 agents replays about 22,000 events in all: 40 % of its replays' time (ADR 0069). Every
status the durable client reads parses its two times the same way.

:func:`install` points the SDK modules' ``dt_parse`` at :func:`parse_history_time`, which reads
the one shape the extension and the embedded host write (Json.NET's form of a UTC time,
``2026-12-07T10:00:00.1234567Z``: 0 to 7 digits of fraction, ``Z``; a status' times have
none) as the same aware instant ``dateutil`` gives, in ``dateutil``'s UTC zone (as the
embedded host's kept-alive steps already do), keeping microseconds as ``dateutil`` does (the
seventh digit dropped). Any other text goes to ``dateutil``, unchanged: the same value or the
same error. Orchestrator code sees the same ``current_utc_datetime``.
"""

from __future__ import annotations

import importlib
import re
from datetime import datetime
from typing import Any

from dateutil.parser import parse as _dateutil_parse
from dateutil.tz import tzutc

__all__ = ["install", "parse_history_time"]

_UTC = tzutc()
_SHAPE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,7})?Z\Z")
SDK_MODULES = (
    "azure.durable_functions.models.history.HistoryEvent",
    "azure.durable_functions.models.DurableOrchestrationStatus",
)
"""The SDK modules whose ``dt_parse`` this replaces (the modules: their packages re-export the
classes under the same names)."""


def parse_history_time(text: Any) -> datetime:
    """``dateutil.parser.parse(text)``, without ``dateutil`` for the extension's own shape."""
    if type(text) is str and _SHAPE.match(text):
        try:
            return datetime.fromisoformat(text[:-1]).replace(tzinfo=_UTC)
        except ValueError:  # an interpreter that refuses 7 digits, or a day that does not exist
            pass
    parsed: datetime = _dateutil_parse(text)
    return parsed


def install() -> bool:
    """Make the SDK parse its timestamps with :func:`parse_history_time` (idempotent).

    Returns False when a module of :data:`SDK_MODULES` no longer has ``dateutil``'s ``parse``
    as its ``dt_parse`` (a newer SDK): that one keeps its own parse, slower but correct.
    """
    installed = True
    for name in SDK_MODULES:
        module = importlib.import_module(name)
        current = getattr(module, "dt_parse", None)
        if current is _dateutil_parse:
            module.dt_parse = parse_history_time  # type: ignore[attr-defined]
        elif current is not parse_history_time:
            installed = False
    return installed
