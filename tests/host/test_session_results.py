"""A kept-alive session decodes a call's result without the SDK's per-dict hook only where the
hook does nothing: what the orchestrator receives equals what the stock SDK gives it."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df
import pytest
from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.utils.df_serialization import df_loads

from convergio.host._events import EventType, new_event
from convergio.host._executor import Instance, OrchestrationExecutor, Orchestrator, _context
from convergio.host._session import SessionContext
from convergio.host._session_json import action_json, plain_dumps, plain_result

NOW = "2026-01-01T00:00:00.000000Z"
INSTANCE = Instance("i", "orch", "e1", None)


class Point:
    """A custom object the SDK's hook rebuilds from its envelope."""

    def __init__(self, x: int) -> None:
        self.x = x

    def __repr__(self) -> str:
        return f"Point({self.x})"

    @staticmethod
    def to_json(obj: Point) -> Any:
        return {"x": obj.x}

    @staticmethod
    def from_json(data: Any) -> Point:
        return Point(data["x"])


_ENVELOPE = {"__class__": "Point", "__module__": __name__, "__data__": {"x": 3}}
RESULTS = [
    json.dumps({"a": 1, "b": [1.5, None, True], "c": {"d": "e"}}),
    '"text"',
    "1e400",
    "NaN",
    "-0.0",
    "12345678901234567890",
    "[]",
    json.dumps({"nested": _ENVELOPE}),  # the hook rebuilds it: the SDK's path
    json.dumps({"\\u005f_class__": 1}),  # a key the hook may see after unescaping: the SDK's path
    json.dumps({"é": "\u2028"}),  # escapes that cannot spell "__class__": the plain decode
    json.dumps({"nested": _ENVELOPE}).replace("__class__", "\\u005F_\\u0063lass__"),  # the SDK's path
    json.dumps({"__class__": "Point", "__module__": __name__}),  # no __data__: a plain dict to the SDK
    None,
]


def collects(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Calls one activity per result and answers what it received, types and all."""
    received = []
    for n in range(len(RESULTS)):
        received.append(repr((yield context.call_activity("f", n))))
    return received


@pytest.fixture(autouse=True)
def _notice_given() -> None:
    """The SDK's one-time notices (warnings) given, as in a host that decoded one result."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df_loads("1")
        df_loads(json.dumps(_ENVELOPE))


def test_kept_alive_results_equal_the_stock_sdks() -> None:
    """Verify mode compares every kept-alive step with a full replay through the stock SDK."""
    orchestrator = Orchestrator(handle=df.Orchestrator.create(collects), generator=collects)
    executor = OrchestrationExecutor(lambda _: orchestrator, keep_alive=10, verify=True)
    history: list[dict[str, Any]] = []
    events = [
        new_event(EventType.ORCHESTRATOR_STARTED, NOW),
        new_event(EventType.EXECUTION_STARTED, NOW, Name="orch", Version="", Input=None),
    ]
    seen = 0
    for task_id, text in enumerate(RESULTS):
        result = executor.execute(INSTANCE, list(history), events, seen)
        assert result.error is None and not result.done
        seen += len(result.actions)
        history += [
            *events,
            new_event(EventType.TASK_SCHEDULED, NOW, event_id=task_id, Name="f", Input=str(task_id)),
            new_event(EventType.ORCHESTRATOR_COMPLETED, NOW),
        ]
        executor.confirm("i", len(history))
        events = [
            new_event(EventType.ORCHESTRATOR_STARTED, NOW),
            new_event(EventType.TASK_COMPLETED, NOW, TaskScheduledId=task_id, Result=text),
        ]
    result = executor.execute(INSTANCE, list(history), events, seen)
    assert result.error is None and result.done
    assert result.output[0] == repr({"a": 1, "b": [1.5, None, True], "c": {"d": "e"}})
    assert result.output[7] == repr({"nested": Point(3)})
    assert result.output[10] == repr({"nested": Point(3)})  # its key spelled with escapes
    assert result.output[-1] == "None"


@pytest.mark.parametrize("text", RESULTS)
def test_only_texts_the_hook_cannot_touch_take_the_plain_decode(text: str | None) -> None:
    sentinel = plain_result("not json")  # what "leave it to the SDK" is
    plain = plain_result(text)
    escaped = re.search(r"\\u00(5f|61|63|6c|73)", (text or "").lower())  # a letter of "__class__"
    if text is None or "__class__" in text or escaped:
        assert plain is sentinel
    else:
        assert plain is not sentinel and repr(plain) == repr(json.loads(text))


INPUTS: list[Any] = [
    None,
    "text",
    {"a": [1, 2.5, None, True], "é": "\u2028", 3: "int key", "t": (1, 2)},
    float("nan"),
    [{"deep": {"er": [1e300, -0.0]}}],
    Point(4),  # a custom object: the SDK's envelope
    {"nested": Point(5)},
]


def _fresh_context(context_type: type) -> Any:
    history = [
        new_event(EventType.ORCHESTRATOR_STARTED, NOW),
        new_event(EventType.EXECUTION_STARTED, NOW, Name="orch", Version="", Input=None),
    ]
    return context_type(**_context(INSTANCE, history, replaying=False, direct=True))


@pytest.mark.parametrize("value", INPUTS, ids=repr)
def test_a_calls_action_and_task_are_the_sdks(value: Any) -> None:
    """``call_activity`` on a session's context gives the action dict, task kind and flags the
    stock SDK's gives; only inputs plain JSON encodes skip the SDK's encoder."""
    ours = _fresh_context(SessionContext).call_activity("f", value)
    stock = _fresh_context(DurableOrchestrationContext).call_activity("f", value)
    assert type(ours) is type(stock) and type(ours.action_repr) is type(stock.action_repr)
    assert ours.action_repr.to_json() == stock.action_repr.to_json()
    assert action_json(ours.action_repr) == stock.action_repr.to_json()
    assert (ours._is_scheduled, ours.id, ours._expected_output_type) == (
        stock._is_scheduled,
        stock.id,
        stock._expected_output_type,
    )
    custom = isinstance(value, Point) or (isinstance(value, dict) and isinstance(value.get("nested"), Point))
    assert (plain_dumps(value) is plain_result("not json")) is custom


def test_a_call_the_sdk_refuses_is_refused_alike() -> None:
    for context_type in (SessionContext, DurableOrchestrationContext):
        with pytest.raises(ValueError, match="function_name cannot be empty"):
            _fresh_context(context_type).call_activity("", 1)
