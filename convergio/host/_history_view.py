"""``historyEvents`` as the extension's status API shows a history (``showHistory=true``).

``DurableClient.GetDurableOrchestrationStatusAsync`` takes the stored DTFx events and reshapes them:

* ``EventType`` becomes its name; ``EventId`` and ``IsPlayed`` go; ``OrchestratorStarted`` /
  ``OrchestratorCompleted`` go.
* A ``TaskCompleted`` / ``TaskFailed`` (and the sub-orchestration ones) takes its scheduling
  event's ``FunctionName``, ``ScheduledTime`` and ``Input``, loses ``TaskScheduledId``, and the
  scheduling event is dropped. A ``TaskScheduled`` with no completion yet stays: pending work.
  Scheduling events lose ``Version``.
* ``ExecutionStarted``: ``Name`` becomes ``FunctionName``; ``OrchestrationInstance``,
  ``ParentInstance``, ``Version`` and ``Tags`` go; ``Input`` stays as stored (serialised text).
* ``Result`` (task, sub-orchestration and execution completions) shows only with
  ``showHistoryOutput``, parsed as JSON; ``Input`` (everywhere, ``EventRaised`` included) only
  with ``showInput``, as stored text. ``TimerFired`` loses its ``TimerId``; ``TimerCreated``
  keeps ``FireAt``. ``EventRaised`` keeps its ``Name``.
* Times are Json.NET's ISO form (see :func:`history_time`).

Keys the embedded host adds for itself (``Retry``) are not shown.
"""

from __future__ import annotations

import re
from typing import Any

from ._events import Event, EventType, history_time
from ._payloads import json_token

__all__ = ["history_events", "shown_time"]

_SCHEDULING = {
    EventType.TASK_SCHEDULED: (EventType.TASK_COMPLETED, EventType.TASK_FAILED),
    EventType.SUB_ORCHESTRATION_INSTANCE_CREATED: (
        EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
        EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
    ),
}
_COMPLETIONS = {done: scheduled for scheduled, pair in _SCHEDULING.items() for done in pair}
_RESULTS = {
    EventType.TASK_COMPLETED,
    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
    EventType.EXECUTION_COMPLETED,
}
_HIDDEN = {EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED}
_HOST_ONLY = ("EventId", "IsPlayed", "Retry")
_STARTED_DROPS = ("OrchestrationInstance", "ParentInstance", "Version", "Tags")
_TIMES = ("Timestamp", "FireAt")


def _kind_name(kind: EventType) -> str:
    return kind.name.title().replace("_", "")


_KINDS = {kind.value: kind for kind in EventType}
"""Stored type numbers to types: a dict lookup, not an enum call, per event (a status with the
history of a 500-agent run reshapes thousands of events, on the host's event loop)."""
_NAMES = {kind: _kind_name(kind) for kind in EventType}
_STORED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def shown_time(text: str) -> str:
    """:func:`history_time`, without parsing the form the host stores (``...:SS.ffffffZ``)."""
    if _STORED_TIME.fullmatch(text) is None:
        return history_time(text)
    fraction = text[20:26].rstrip("0")
    return text[:19] + (f".{fraction}" if fraction else "") + "Z"


def history_events(events: list[Event], *, show_input: bool, show_output: bool) -> list[dict[str, Any]]:
    """The stored history of one execution in the shape the extension's status API returns."""
    completed = {
        (_COMPLETIONS[kind], event.get("TaskScheduledId"))
        for event in events
        if (kind := _KINDS[event["EventType"]]) in _COMPLETIONS
    }
    scheduled: dict[tuple[EventType, int], Event] = {}
    shown: list[dict[str, Any]] = []
    for event in events:
        kind = _KINDS[event["EventType"]]
        if kind in _HIDDEN:
            continue
        if kind in _SCHEDULING:
            key = (kind, event["EventId"])
            scheduled[key] = event
            if key in completed:
                continue  # folded into its completion
        item = _reshaped(event, kind, show_input=show_input, show_output=show_output)
        if kind not in _COMPLETIONS:
            shown.append(item)
            continue
        item.pop("TaskScheduledId", None)
        origin = scheduled.get((_COMPLETIONS[kind], event.get("TaskScheduledId", -1)))
        if origin is not None:
            item["ScheduledTime"] = shown_time(origin["Timestamp"])
            item["FunctionName"] = origin.get("Name")
            if show_input:
                item["Input"] = origin.get("Input")
        shown.append(item)
    return shown


def _reshaped(event: Event, kind: EventType, *, show_input: bool, show_output: bool) -> dict[str, Any]:
    item = {k: v for k, v in event.items() if k not in _HOST_ONLY}
    item["EventType"] = _NAMES[kind]
    for key in _TIMES:
        if isinstance(item.get(key), str):
            item[key] = shown_time(item[key])
    if kind in _SCHEDULING:
        item.pop("Version", None)
    elif kind == EventType.EXECUTION_STARTED:
        item["FunctionName"] = item.pop("Name", None)
        for key in _STARTED_DROPS:
            item.pop(key, None)
    elif kind == EventType.TIMER_FIRED:
        item.pop("TimerId", None)
    elif kind == EventType.EXECUTION_TERMINATED and isinstance(item.get("Input"), str):
        # The extension stores the reason as given; the host stores it JSON-encoded.
        reason = json_token(item["Input"])
        item["Input"] = reason if isinstance(reason, str) else item["Input"]
    if kind in _RESULTS:
        if show_output:
            item["Result"] = json_token(item.get("Result"))
        else:
            item.pop("Result", None)
    if not show_input:
        item.pop("Input", None)
    return item
