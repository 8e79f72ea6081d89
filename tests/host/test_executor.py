"""The executor against the real SDK: kept-alive steps equal full replays."""

from __future__ import annotations

import json
import re
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df
import pytest

from convergio.host._events import EventType, new_event
from convergio.host._executor import (
    Instance,
    NonDeterminismError,
    OrchestrationExecutor,
    Orchestrator,
)

NOW = "2026-01-01T00:00:00.000000Z"
# As DTFx stores an input the SDK serialised (start_new(3)): a JSON string literal of "3".
INSTANCE = Instance("i", "orch", "e1", json.dumps(json.dumps(3)))


def chain(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    total = 0
    for _ in range(context.get_input()):
        total += yield context.call_activity("step", total)
    return total


_calls = {"n": 0}


def drifting(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Schedules a different activity on every fresh run: non-deterministic."""
    _calls["n"] += 1
    yield context.call_activity(f"step{_calls['n']}", 0)
    yield context.call_activity("tail", 0)
    return "done"


def registered(fn: Any) -> Orchestrator:
    return Orchestrator(handle=df.Orchestrator.create(fn), generator=fn)


def first_events() -> list[dict]:
    return [
        new_event(EventType.ORCHESTRATOR_STARTED, NOW),
        new_event(EventType.EXECUTION_STARTED, NOW, Name="orch", Version="", Input=None),
    ]


def scheduled(task_id: int, name: str) -> list[dict]:
    return [
        new_event(EventType.TASK_SCHEDULED, NOW, event_id=task_id, Name=name, Input="0"),
        new_event(EventType.ORCHESTRATOR_COMPLETED, NOW),
    ]


def next_events(task_id: int, result: int) -> list[dict]:
    return [
        new_event(EventType.ORCHESTRATOR_STARTED, NOW),
        new_event(EventType.TASK_COMPLETED, NOW, TaskScheduledId=task_id, Result=json.dumps(result)),
    ]


def run_chain(executor: OrchestrationExecutor) -> list[Any]:
    history: list[dict] = []
    seen, outputs = 0, []
    events = first_events()
    for task_id in range(4):
        result = executor.execute(INSTANCE, list(history), events, seen)
        outputs.append((result.actions, result.done, result.output))
        seen += len(result.actions)
        history += events + scheduled(task_id, "step")
        executor.confirm("i", len(history))
        events = next_events(task_id, task_id + 1)
    return outputs


def test_kept_alive_steps_match_full_replays_and_skip_them() -> None:
    kept = OrchestrationExecutor(lambda _: registered(chain), keep_alive=10, verify=True)
    replayed = OrchestrationExecutor(lambda _: registered(chain), keep_alive=0)
    assert run_chain(kept) == run_chain(replayed)
    assert run_chain(replayed)[-1] == ([], True, 1 + 2 + 3)
    assert kept.full_replays == 3  # only verification replays (the first step has no history)
    assert replayed.full_replays == 8


def test_a_recorded_history_that_the_code_no_longer_matches_is_non_determinism() -> None:
    executor = OrchestrationExecutor(lambda _: registered(chain), keep_alive=0)
    history = first_events() + scheduled(0, "other")
    with pytest.raises(
        NonDeterminismError, match="task 0 was activity 'other', but the code now schedules activity 'step'"
    ):
        executor.execute(INSTANCE, history, next_events(0, 1), 1)


def test_verify_mode_catches_a_kept_alive_step_that_a_replay_would_not_repeat() -> None:
    _calls["n"] = 0
    executor = OrchestrationExecutor(lambda _: registered(drifting), keep_alive=10, verify=True)
    history = first_events()
    result = executor.execute(INSTANCE, [], history, 0)
    history += scheduled(0, result.actions[0]["functionName"])
    executor.confirm("i", len(history))
    expected = (
        "Non-deterministic orchestrator 'orch': history says task 0 was activity 'step1', "
        "but the code now schedules activity 'step2'"
    )
    with pytest.raises(NonDeterminismError, match=re.escape(expected)):
        executor.execute(INSTANCE, history, next_events(0, 1), 1)


def test_orchestrator_exceptions_come_back_as_errors_not_raises() -> None:
    def broken(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
        yield context.call_activity("x", 0)
        raise RuntimeError("orchestrator bug")

    for keep_alive in (0, 10):
        executor = OrchestrationExecutor(lambda _: registered(broken), keep_alive=keep_alive)
        history = first_events()
        executor.execute(INSTANCE, [], history, 0)
        history += scheduled(0, "x")
        executor.confirm("i", len(history))
        result = executor.execute(INSTANCE, history, next_events(0, 1), 1)
        assert result.error == "orchestrator bug" and not result.done


def wavering(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """The same first call every time, but the second depends on hidden state."""
    _calls["n"] += 1
    yield context.call_activity("step", 0)
    yield context.call_activity(f"tail{_calls['n']}", 0)
    return "done"


def test_verify_mode_fails_a_step_whose_new_actions_a_replay_would_not_repeat() -> None:
    _calls["n"] = 0
    executor = OrchestrationExecutor(lambda _: registered(wavering), keep_alive=10, verify=True)
    history = first_events()
    executor.execute(INSTANCE, [], history, 0)
    history += scheduled(0, "step")
    executor.confirm("i", len(history))
    with pytest.raises(NonDeterminismError, match="Replay verification failed"):
        executor.execute(INSTANCE, history, next_events(0, 1), 1)


def plain_raising(context: df.DurableOrchestrationContext) -> Any:
    raise ValueError("no generator here")


def plain_answer(context: df.DurableOrchestrationContext) -> Any:
    return 42


@pytest.mark.parametrize("keep_alive", [1000, 0])
def test_a_plain_orchestrator_fails_or_completes_on_both_paths(keep_alive: int) -> None:
    """Kept-alive or full replay, a plain function that raises is an error, one that returns is done."""
    executor = OrchestrationExecutor(lambda _: registered(plain_raising), keep_alive=keep_alive)
    result = executor.execute(INSTANCE, [], first_events(), 0)
    assert (result.done, result.error) == (False, "no generator here")
    executor = OrchestrationExecutor(lambda _: registered(plain_answer), keep_alive=keep_alive)
    result = executor.execute(INSTANCE, [], first_events(), 0)
    assert (result.done, result.output, result.error) == (True, 42, None)


def returns_a_set(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    yield context.call_activity("x", 0)
    return {1, 2}


def returns_text(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    yield context.call_activity("x", 0)
    return {"é": [1.5, None, "\u2028"], "n": float("nan")}


@pytest.mark.parametrize("keep_alive", [1000, 0])
def test_an_output_is_encoded_once_or_fails_the_step_as_the_sdk_fails_it(keep_alive: int) -> None:
    """A session's last step hands the engine the text it checked (``output_json``, the
    ``json.dumps`` text); an output that does not serialise is the SDK's error on both paths."""
    for fn, error in ((returns_text, None), (returns_a_set, "Object of type set is not JSON serializable")):
        executor = OrchestrationExecutor(lambda _, f=fn: registered(f), keep_alive=keep_alive)
        history = first_events()
        executor.execute(INSTANCE, [], history, 0)
        history += scheduled(0, "x")
        executor.confirm("i", len(history))
        result = executor.execute(INSTANCE, history, next_events(0, 1), 1)
        assert result.error == error  # the engine fails the instance on an error, done or not
        if error is None:
            assert result.done
            assert json.dumps(result.output) == json.dumps({"é": [1.5, None, "\u2028"], "n": float("nan")})
            assert result.output_json == (json.dumps(result.output) if keep_alive else None)
        else:
            assert result.output is None and result.output_json is None


def test_a_session_context_is_the_one_the_sdk_decodes_from_the_extensions_json() -> None:
    """A kept-alive session builds its context without the JSON round trip (ADR 0028): the SDK
    sees the same events, input and flags as ``from_json`` gives it, and shares no containers
    with the host's history."""
    from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext

    from convergio.host._executor import _context, _context_json, _copied

    parent = {"TaskScheduleId": 3, "OrchestrationInstance": {"InstanceId": "p", "ExecutionId": "pe"}}
    instance = Instance("i", "orch", "e1", json.dumps({"graph": {"nodes": [1, 2.5, None, "é"]}}), "p")
    old = [
        new_event(EventType.ORCHESTRATOR_STARTED, NOW),
        new_event(
            EventType.EXECUTION_STARTED,
            NOW,
            Name="orch",
            Version="2",
            Input=instance.input,
            ParentInstance=parent,
            Tags=("a", ["b"]),
        ),
        *scheduled(0, "step"),
    ]
    new = [
        new_event(EventType.ORCHESTRATOR_STARTED, NOW),
        new_event(EventType.TASK_COMPLETED, NOW, TaskScheduledId=0, Result='{"x": 1}'),
    ]
    history = [{k: _copied(v) for k, v in event.items()} for event in (*old, *new)]
    direct = DurableOrchestrationContext(**_context(instance, history, replaying=True))
    decoded = DurableOrchestrationContext.from_json(_context_json(instance, old, new))

    def seen(context: DurableOrchestrationContext) -> list[Any]:
        events = [vars(e) for e in context.histories]
        return [
            events,
            context._input,
            context.get_input(),
            context.instance_id,
            context.is_replaying,
            context.parent_instance_id,
            context._replay_schema,
            context.version,
            context.current_utc_datetime,
        ]

    assert seen(direct) == seen(decoded)
    direct.histories[1].ParentInstance["OrchestrationInstance"]["InstanceId"] = "changed"
    assert parent["OrchestrationInstance"]["InstanceId"] == "p"  # the host's event is its own


@pytest.mark.parametrize(
    "stored",
    [
        '{"graph": {"nodes": [1, 2.5, null, "\\u00e9", "é"]}, "n": 1e400, "z": -0.0}',
        ' {"a":1,"a":2} ',  # duplicate keys: the last one, as a decode gives it
        "{not json",  # the extension's fallback: the raw text
        '["a", 1]',
        '"text"',
        "5",
        "",
        None,
    ],
)
def test_a_session_gets_the_input_a_decoded_context_gets(stored: str | None) -> None:
    """A session hands an object input to the SDK as its stored text, not decoded and encoded
    again: ``get_input`` gives what it gives on a context decoded from the extension's JSON."""
    from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext

    from convergio.host._executor import _context, _context_json

    instance = Instance("i", "orch", "e1", stored)
    new = [new_event(EventType.ORCHESTRATOR_STARTED, NOW)]
    direct = DurableOrchestrationContext(**_context(instance, list(new), replaying=False, direct=True))
    decoded = DurableOrchestrationContext.from_json(_context_json(instance, [], new))

    def value(context: DurableOrchestrationContext) -> Any:
        try:
            return ("value", json.dumps(context.get_input(), sort_keys=True))
        except Exception as exc:  # the SDK's own failure on an input it cannot decode
            return ("error", type(exc).__name__)

    assert value(direct) == value(decoded)
