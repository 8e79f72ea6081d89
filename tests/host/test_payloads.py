"""Payload and history formats against the extension's rules (see convergio/host/_payloads.py)."""

from __future__ import annotations

import json

import pytest

from convergio.host._events import EventType, history_time, new_event, status_time
from convergio.host._history_view import history_events
from convergio.host._payloads import (
    InvalidJson,
    TrailingContent,
    context_input,
    instance_id_error,
    is_json_media,
    json_token,
    read_json,
    serialise,
    stored_sdk_value,
)


def test_a_body_is_its_first_json_value_and_a_start_refuses_trailing_text() -> None:
    assert read_json(b'\xef\xbb\xbf  "incr" ', allow_trailing=False) == "incr"  # BOM and spaces
    assert read_json(b'{"a": 1} {"b": 2}', allow_trailing=True) == {"a": 1}
    with pytest.raises(TrailingContent):
        read_json(b'{"a": 1} {"b": 2}', allow_trailing=False)
    for bad in (b"", b"   ", b"incr", b"{", b"\xff\xfe"):
        with pytest.raises(InvalidJson):
            read_json(bad, allow_trailing=True)


def test_json_net_max_depth_is_64_and_deep_bodies_do_not_overflow() -> None:
    assert read_json(b"[" * 64 + b"]" * 64, allow_trailing=False) is not None
    with pytest.raises(InvalidJson, match="MaxDepth"):
        read_json(b'{"a":' * 65 + b"1" + b"}" * 65, allow_trailing=False)
    with pytest.raises(InvalidJson):
        read_json(b"[" * 200_000 + b"]" * 200_000, allow_trailing=False)


def test_values_serialise_as_json_net_writes_them() -> None:
    assert serialise({"a": [1, "é", None]}) == '{"a":[1,"é",null]}'
    assert stored_sdk_value('{"a": 1}') == '"{\\"a\\": 1}"'
    assert stored_sdk_value(None) is None


def test_stored_text_shows_as_parse_to_jtoken_does() -> None:
    assert json_token('{"a":1}') == {"a": 1}
    assert json_token('"{\\"a\\": 1}"') == '{"a": 1}'  # an SDK start: the serialised text
    assert json_token("teacher said stop") == "teacher said stop"  # not JSON: the raw text
    assert json_token("   ") == ""
    assert json_token(None) is None
    assert context_input("5") == 5  # the context carries the value, not its text


def test_media_types_and_instance_ids() -> None:
    assert is_json_media("application/json") and is_json_media("Application/JSON; charset=utf-8")
    assert not is_json_media("text/plain") and not is_json_media(None)
    assert instance_id_error("ok-id_1") is None
    assert "@" in (instance_id_error("@x") or "")
    assert "control" in (instance_id_error("a\tb") or "")
    assert "256" in (instance_id_error("x" * 257) or "")
    assert instance_id_error("x" * 256) is None


def test_times_in_status_and_history_form() -> None:
    assert status_time("2026-01-02T03:04:05.678901Z") == "2026-01-02T03:04:05Z"
    assert history_time("2026-01-02T03:04:05.678900Z") == "2026-01-02T03:04:05.6789Z"
    assert history_time("2026-01-02T03:04:05.000000Z") == "2026-01-02T03:04:05Z"


def _history() -> list[dict]:
    t = "2026-01-02T03:04:05.500000Z"
    return [
        new_event(EventType.ORCHESTRATOR_STARTED, t),
        new_event(
            EventType.EXECUTION_STARTED,
            t,
            Name="orch",
            Version="",
            Input='"1"',
            OrchestrationInstance={"InstanceId": "i"},
            ParentInstance=None,
        ),
        new_event(EventType.TASK_SCHEDULED, t, event_id=0, Name="a", Input='"x"', Retry=True),
        new_event(EventType.TIMER_CREATED, t, event_id=1, FireAt=t),
        new_event(EventType.SUB_ORCHESTRATION_INSTANCE_CREATED, t, event_id=2, Name="child", Input=None),
        new_event(EventType.TASK_SCHEDULED, t, event_id=3, Name="pending", Input='"p"'),
        new_event(EventType.ORCHESTRATOR_COMPLETED, t),
        new_event(EventType.TASK_COMPLETED, t, TaskScheduledId=0, Result='{"r":1}'),
        new_event(EventType.TIMER_FIRED, t, TimerId=1, FireAt=t),
        new_event(
            EventType.SUB_ORCHESTRATION_INSTANCE_FAILED, t, TaskScheduledId=2, Reason="no", Details=None
        ),
        new_event(EventType.EVENT_RAISED, t, Name="go", Input='{"ok":true}'),
        new_event(EventType.EXECUTION_TERMINATED, t, Input=json.dumps("stop it")),
        new_event(EventType.EXECUTION_COMPLETED, t, OrchestrationStatus="Terminated", Result='"stop it"'),
    ]


def test_history_events_take_the_extension_shape() -> None:
    shown = history_events(_history(), show_input=True, show_output=True)
    assert [e["EventType"] for e in shown] == [
        "ExecutionStarted",
        "TimerCreated",
        "TaskScheduled",  # still pending
        "TaskCompleted",
        "TimerFired",
        "SubOrchestrationInstanceFailed",
        "EventRaised",
        "ExecutionTerminated",
        "ExecutionCompleted",
    ]
    started, timer, pending, done, fired, child, raised, terminated, completed = shown
    assert started == {
        "EventType": "ExecutionStarted",
        "Timestamp": "2026-01-02T03:04:05.5Z",
        "FunctionName": "orch",
        "Input": '"1"',
    }
    assert timer["FireAt"] == "2026-01-02T03:04:05.5Z"
    assert pending["Name"] == "pending" and "EventId" not in pending
    assert done == {
        "EventType": "TaskCompleted",
        "Timestamp": "2026-01-02T03:04:05.5Z",
        "Result": {"r": 1},
        "ScheduledTime": "2026-01-02T03:04:05.5Z",
        "FunctionName": "a",
        "Input": '"x"',
    }
    assert "TimerId" not in fired
    assert child["FunctionName"] == "child" and child["Reason"] == "no" and "TaskScheduledId" not in child
    assert raised["Name"] == "go" and raised["Input"] == '{"ok":true}'
    assert terminated["Input"] == "stop it"
    assert completed["Result"] == "stop it"


def test_history_events_without_input_or_output() -> None:
    shown = history_events(_history(), show_input=False, show_output=False)
    assert all("Input" not in e for e in shown)
    assert all("Result" not in e for e in shown)
    assert all("Retry" not in e and "IsPlayed" not in e for e in shown)
