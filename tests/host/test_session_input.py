"""A kept-alive session decodes the run's input without the SDK's per-object hook only where
the hook does nothing: ``get_input`` answers what the stock SDK's answers, and only a text that
could hold a ``"__class__"`` key (literally or with escapes of its letters) goes to the SDK."""

from __future__ import annotations

import json
import random
import warnings
from typing import Any

import pytest
from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.utils.df_serialization import df_loads

from convergio.host._codec import hook_free
from convergio.host._events import EventType, new_event
from convergio.host._executor import Instance, _context
from convergio.host._session import SessionContext

NOW = "2026-01-01T00:00:00.000000Z"


class Box:
    """A custom object the SDK's hook rebuilds from its envelope."""

    def __init__(self, v: Any) -> None:
        self.v = v

    def __repr__(self) -> str:
        return f"Box({self.v!r})"

    @staticmethod
    def from_json(data: Any) -> Box:
        return Box(data)


_ENVELOPE = {"__class__": "Box", "__module__": __name__, "__data__": [1, "é"]}
STORED: list[str | None] = [
    None,
    "null",
    json.dumps({"graph": {"agents": [{"id": "a", "prompt": "Perché? ü"}]}, "input": {"n": 1.5}}),
    json.dumps({"e": _ENVELOPE}),
    json.dumps({"e": _ENVELOPE}).replace("__class__", "_\\u005f\\u0063l\\u0061\\u0073s__"),
    json.dumps({"e": _ENVELOPE}).replace("__class__", "\\u005F_cl\\u0061ss\\u005F_"),
    json.dumps({"k": "\\u005f not an escape", "x": [1e400, -0.0, 12345678901234567890]}),
    json.dumps({"lone": "\ud800", "emoji": "\U0001f600"}),
    '  {"spaced": true}  ',
    "[1, 2]",
    '"text"',
]


@pytest.fixture(autouse=True)
def _notice_given() -> None:
    """The SDK's one-time notices given, as in a host that decoded one value."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df_loads("1")
        df_loads(json.dumps(_ENVELOPE))


def _context_of(context_type: type, stored: str | None) -> Any:
    history = [
        new_event(EventType.ORCHESTRATOR_STARTED, NOW),
        new_event(EventType.EXECUTION_STARTED, NOW, Name="o", Version="", Input=stored),
    ]
    return context_type(**_context(Instance("i", "o", "e", stored), history, replaying=False, direct=True))


def _outcome(context: Any) -> str:
    try:
        return repr(context.get_input())
    except Exception as exc:
        return f"raised {type(exc).__name__}: {exc}"


@pytest.mark.parametrize("stored", STORED)
def test_a_sessions_input_is_the_stock_sdks(stored: str | None) -> None:
    assert _outcome(_context_of(SessionContext, stored)) == _outcome(
        _context_of(DurableOrchestrationContext, stored)
    )


def test_an_escaped_envelope_is_rebuilt() -> None:
    """Not a plain dict: the hook saw "__class__" after unescaping, on the session too."""
    assert _outcome(_context_of(SessionContext, STORED[4])) == "{'e': Box([1, 'é'])}"


def test_every_escaped_spelling_of_the_key_is_left_to_the_sdk() -> None:
    rng = random.Random(7)
    for _ in range(500):
        key = "".join(rf"\u{ord(c):04{rng.choice('xX')}}" if rng.random() < 0.4 else c for c in "__class__")
        text = f'{{"{key}": 1}}'
        assert json.loads(text) == {"__class__": 1}
        assert not hook_free(text)
    assert hook_free(json.dumps({"é": "\u2028", "x": "class"}))
