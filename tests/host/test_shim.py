"""The action shim numbers tasks as the Durable extension's out-of-proc shim does."""

from __future__ import annotations

import json

import pytest

from convergio.host._events import EventType, new_event
from convergio.host._shim import ActionShim, ShimError

NOW = "2026-01-01T00:00:00.000000Z"


def activity(name: str, retry: int | None = None) -> dict:
    if retry is None:
        return {"actionType": 0, "functionName": name, "input": "null"}
    return {
        "actionType": 1,
        "functionName": name,
        "input": "null",
        "retryOptions": {"firstRetryIntervalInMilliseconds": 1000, "maxNumberOfAttempts": retry},
    }


def when_all(*children: dict) -> dict:
    return {"actionType": 12, "compoundActions": list(children)}


def when_any(*children: dict) -> dict:
    return {"actionType": 11, "compoundActions": list(children)}


def started() -> dict:
    return new_event(EventType.EXECUTION_STARTED, NOW)


def completed(task_id: int) -> dict:
    return new_event(EventType.TASK_COMPLETED, NOW, TaskScheduledId=task_id, Result="null")


def failed(task_id: int) -> dict:
    return new_event(EventType.TASK_FAILED, NOW, TaskScheduledId=task_id, Reason="x", Details="")


def fired(task_id: int) -> dict:
    return new_event(EventType.TIMER_FIRED, NOW, TimerId=task_id, FireAt=NOW)


def test_sequential_calls_take_consecutive_ids() -> None:
    shim = ActionShim()
    first = shim.step("i", NOW, [activity("a")], [started()])
    second = shim.step("i", NOW, [activity("b")], [completed(0)])
    assert [(c.kind, c.task_id, c.name) for c in first + second] == [
        ("activity", 0, "a"),
        ("activity", 1, "b"),
    ]


def test_a_retry_takes_an_id_for_its_timer_and_one_per_attempt() -> None:
    shim = ActionShim()
    shim.step("i", NOW, [when_all(activity("a", retry=2), activity("b"))], [started()])
    timer = shim.step("i", NOW, [], [failed(0)])
    assert [(c.kind, c.task_id) for c in timer] == [("timer", 2)]
    assert timer[0].fire_at == "2026-01-01T00:00:01.000000Z"
    assert timer[0].event and timer[0].event["Retry"] is True
    again = shim.step("i", NOW, [], [fired(2)])
    assert [(c.kind, c.task_id, c.name) for c in again] == [("activity", 3, "a")]
    # The last attempt fails: one more timer, then the retry gives up (no new attempt).
    assert [(c.kind, c.task_id) for c in shim.step("i", NOW, [], [failed(3)])] == [("timer", 4)]
    assert shim.step("i", NOW, [], [fired(4)]) == []
    # WhenAll is done only when b is done too; then the next action starts.
    assert shim.step("i", NOW, [activity("c")], [completed(1)])[0].task_id == 5


def test_when_all_waits_for_every_child_even_after_a_failure() -> None:
    shim = ActionShim()
    shim.step("i", NOW, [when_all(activity("a"), activity("b"))], [started()])
    # The SDK raised on a's failure and the code moved on to c; the shim holds c.
    assert shim.step("i", NOW, [activity("c")], [failed(0)]) == []
    assert [(c.name, c.task_id) for c in shim.step("i", NOW, [], [completed(1)])] == [("c", 2)]


def test_when_any_finishes_with_the_first_child() -> None:
    shim = ActionShim()
    timer = {"actionType": 5, "fireAt": NOW, "isCanceled": False}
    wait = {"actionType": 6, "externalEventName": "Approval"}
    commands = shim.step("i", NOW, [when_any(wait, timer)], [started()])
    assert [(c.kind, c.task_id) for c in commands] == [("timer", 0)]
    raised = new_event(EventType.EVENT_RAISED, NOW, Name="Approval", Input="1")
    assert shim.step("i", NOW, [activity("next")], [raised])[0].task_id == 1


def test_an_event_raised_before_the_wait_is_buffered() -> None:
    shim = ActionShim()
    shim.step("i", NOW, [activity("a")], [started()])
    raised = new_event(EventType.EVENT_RAISED, NOW, Name="go", Input="1")
    shim.step("i", NOW, [], [raised])
    commands = shim.step(
        "i", NOW, [{"actionType": 6, "externalEventName": "go"}, activity("b")], [completed(0)]
    )
    assert [(c.name, c.task_id) for c in commands] == [("b", 1)]


def test_a_timer_cancelled_before_it_starts_is_recorded_but_never_fires() -> None:
    shim = ActionShim()
    commands = shim.step(
        "i", NOW, [{"actionType": 5, "fireAt": NOW, "isCanceled": True}, activity("after")], [started()]
    )
    assert [(c.kind, c.task_id) for c in commands] == [("record", 0), ("activity", 1)]


def test_sub_orchestrations_get_deterministic_child_ids() -> None:
    shim = ActionShim()
    sub = {"actionType": 2, "functionName": "child", "input": "1", "instanceId": None}
    named = {"actionType": 2, "functionName": "child", "input": "2", "instanceId": "mine"}
    commands = shim.step("parent", NOW, [when_all(sub, named)], [started()])
    assert [c.instance_id for c in commands] == ["parent:0", "mine"]


def test_entities_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ShimError, match="durable entities"):
        ActionShim().step("i", NOW, [{"actionType": 7}], [started()])


def test_state_survives_a_json_round_trip_mid_flight() -> None:
    shim = ActionShim()
    shim.step("i", NOW, [when_all(activity("a", retry=3), activity("b"))], [started()])
    shim.step("i", NOW, [], [failed(0)])
    copy = ActionShim.from_state(json.loads(json.dumps(shim.to_state())))
    assert [c.task_id for c in copy.step("i", NOW, [], [fired(2)])] == [3]
    assert [c.task_id for c in shim.step("i", NOW, [], [fired(2)])] == [3]


def test_a_sub_orchestration_retry_starts_a_new_child_per_attempt() -> None:
    shim = ActionShim()
    sub = {
        "actionType": 3,
        "functionName": "child",
        "input": "1",
        "instanceId": None,
        "retryOptions": {"firstRetryIntervalInMilliseconds": 500, "maxNumberOfAttempts": 2},
    }
    first = shim.step("p", NOW, [sub], [started()])
    assert [(c.kind, c.task_id, c.instance_id) for c in first] == [("suborchestration", 0, "p:0")]
    sub_failed = new_event(
        EventType.SUB_ORCHESTRATION_INSTANCE_FAILED, NOW, TaskScheduledId=0, Reason="x", Details=None
    )
    assert [(c.kind, c.task_id) for c in shim.step("p", NOW, [], [sub_failed])] == [("timer", 1)]
    again = shim.step("p", NOW, [], [fired(1)])
    assert [(c.kind, c.task_id, c.instance_id) for c in again] == [("suborchestration", 2, "p:2")]
    assert again[0].event and again[0].event["Retry"] is True
