"""A start sends the orchestration input the Durable SDK would send, without encoding the graph again.

ADR 0053: the graph's JSON text is made once per graph (``Validated.text``) and the input's text
is built around it; the SDK's client sends that text instead of ``df_dumps`` of the dict. What
must hold: the request the SDK makes (its URL and body) is byte for byte the one it makes from
the dict itself, for any graph and input, and the SDK really takes the text (if it stopped, a
500-agent start would silently pay its 5 ms again).
"""

from __future__ import annotations

import asyncio
import importlib
import json
from typing import Any

import azure.durable_functions as df
import pytest

from convergio.api import _runs
from convergio.graph import AGENT_GRAPH, Catalog, GraphMemo
from convergio.host._durable_api import client_binding
from convergio.providers import PROVIDER_NAMES

# The SDK's module (its package exports the class under the same name).
client_module = importlib.import_module("azure.durable_functions.models.DurableOrchestrationClient")
_CATALOG = Catalog(providers=frozenset(PROVIDER_NAMES), tools=frozenset(), graphs={})


def _graph(text: str, width: int) -> dict[str, Any]:
    agents = [{"id": f"w{i}", "prompt": f"{text} {{{{ input.topic }}}} {i}"} for i in range(width)]
    return {"name": "input-text", "agents": agents, "output": "w0"}


class _Sent:
    """A client whose requests are kept, not sent: (url, body) each, and a 202 with the id."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []

    def client(self) -> df.DurableOrchestrationClient:
        made = df.DurableOrchestrationClient(client_binding("http://127.0.0.1:7071", "hub", "code"))

        async def post(url: str, data: Any, *_: Any) -> list[Any]:
            self.requests.append((url, data))
            return [202, {"id": url.rsplit("/", 1)[-1].split("?", 1)[0]}]

        made._post_async_request = post  # type: ignore[method-assign]
        return made


_OWN = {"run_id": "r1", "tenant": "t", "callbacks": False}


@pytest.mark.parametrize(
    ("text", "width", "others"),
    [
        ("Plain", 1, {"input": {"topic": "tides"}, **_OWN}),
        ('Größe, 大きさ, \u2028 "quoted" \\ back', 3, {"input": "x\ty", **_OWN, "callbacks": True}),
        ("Wide", 500, {"input": None, **_OWN, "context_id": "c"}),
        ("Numbers", 2, {"input": [1, 2.5, 1e300, -0.0, 10**30, True], **_OWN, "callbacks": None}),
    ],
)
def test_the_sdk_sends_the_same_request_from_the_text_as_from_the_dict(
    text: str, width: int, others: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    validated = GraphMemo().parse("tenant", _graph(text, width), _CATALOG)
    payload = _runs._input(validated, others)
    assert isinstance(payload, _runs._Input)
    assert payload == {"graph": validated.document, **others}
    assert payload.text == json.dumps(payload)  # what df_dumps gives for plain JSON

    sent = _Sent()
    run_id = str(others["run_id"])
    plain = asyncio.run(sent.client().start_new(AGENT_GRAPH, instance_id=run_id, client_input=dict(payload)))
    encodes: list[object] = []
    sdk_dumps = client_module.df_dumps
    monkeypatch.setattr(client_module, "df_dumps", lambda value: encodes.append(value) or sdk_dumps(value))
    ours = asyncio.run(
        _runs._sdk_encoding(sent.client()).start_new(AGENT_GRAPH, instance_id=run_id, client_input=payload)
    )
    assert plain == ours == run_id
    assert sent.requests[0] == sent.requests[1]  # the same URL, the same text
    assert encodes == []  # the SDK took the text: nothing was encoded again


def test_an_input_that_is_not_plain_json_is_left_to_the_sdk() -> None:
    validated = GraphMemo().parse("tenant", _graph("x", 1), _CATALOG)
    odd = {"input": {"when": object()}, "run_id": "r", "tenant": "t", "callbacks": False}
    payload = _runs._input(validated, odd)
    assert not isinstance(payload, _runs._Input)
    assert payload == {"graph": validated.document, **odd}


def test_other_inputs_still_go_through_the_sdk_encoding() -> None:
    sent = _Sent()
    client = _runs._sdk_encoding(sent.client())
    asyncio.run(
        client.start_new(AGENT_GRAPH, instance_id="r", client_input={"graph": {"name": "g"}, "x": [1]})
    )
    asyncio.run(client.start_new(AGENT_GRAPH, instance_id="s"))
    assert [body for _, body in sent.requests] == ['{"graph": {"name": "g"}, "x": [1]}', None]
