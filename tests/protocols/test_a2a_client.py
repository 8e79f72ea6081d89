"""The A2A client adapter (``A2APeer``) against a real A2A server on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from a2a.server.request_handlers.response_helpers import agent_card_to_dict

from convergio.protocols import Endpoint
from convergio.protocols.a2a import A2APeer, AgentInfo, RemoteRejected, agent_card
from tests.protocols._a2a_fake import MemoryAgents, memory_app
from tests.providers._servers import LoopbackServer

KEY = "test-key-1234"


def _keyed(app: Any) -> Any:
    """The app behind an API-key check, as Convergio's endpoints are."""

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"x-api-key") != KEY.encode():
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    return guarded


@pytest.fixture(scope="module")
def agents() -> MemoryAgents:
    return MemoryAgents(finish_after=2)


@pytest.fixture(scope="module")
def url(agents: MemoryAgents) -> Iterator[str]:
    with LoopbackServer(_keyed(memory_app(agents))) as server:
        yield f"{server.url}/api/a2a/echo"


def peer(url: str, key: str = KEY, **options: Any) -> A2APeer:
    return A2APeer(Endpoint("a2a", url, headers={"x-api-key": key}, timeout_s=5), **options)


def test_send_returns_at_once_and_get_follows_the_task_to_its_output(url: str, agents: MemoryAgents) -> None:
    agent = peer(url)
    task = agent.send('{"topic": "glaciers"}', context_id="ctx-9")
    assert (task.state, task.done, task.context_id) == ("submitted", False, "ctx-9")
    assert agents.runs[task.id].reads == 0  # it did not wait for the run
    assert agent.get(task.id).state == "working"
    final = agent.get(task.id)
    assert (final.state, final.output, final.done) == ("completed", "echo: glaciers", True)


def test_a_failed_remote_task_carries_its_error(url: str) -> None:
    agent = peer(url)
    task = agent.send('{"topic": "fail"}')
    agent.get(task.id)
    final = agent.get(task.id)
    assert (final.state, final.error, final.output) == ("failed", "agent 'a' ended failed: boom", None)


def test_cancel(url: str) -> None:
    agent = peer(url)
    task = agent.send('{"topic": "slow"}')
    assert agent.cancel(task.id).state == "canceled"


def test_an_unknown_task_is_a_lookup_error(url: str) -> None:
    with pytest.raises(LookupError):
        peer(url).get("no-such-task")


def test_input_the_agent_refuses_is_rejected_not_retryable(url: str) -> None:
    with pytest.raises(RemoteRejected, match="topic"):
        peer(url).send("not json at all")


def test_a_wrong_key_is_rejected_at_once_not_retryable(url: str) -> None:
    with pytest.raises(RemoteRejected, match="HTTP 401") as caught:
        peer(url, key="wrong").send('{"topic": "x"}')
    assert "wrong" not in str(caught.value) and "credentials" in str(caught.value)


class Refusing:
    """An A2A agent that serves its card but answers every JSON-RPC call ``status``, counting them
    (as an agent whose card is public and whose endpoint checks the key does)."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.calls: list[str] = []
        self.url = ""  # the JSON-RPC URL the card names, once the server's port is known

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.calls.append(f"{scope['method']} {scope['path']}")
        if scope["path"].endswith("agent-card.json"):
            card = agent_card_to_dict(agent_card(AgentInfo("echo"), self.url, version="1"))
            body, status = json.dumps(card).encode(), 200
        else:
            body, status = b'{"error": "no"}', self.status
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_at_the_json_rpc_endpoint_is_rejected_after_one_call(status: int) -> None:
    agent = Refusing(status)
    with LoopbackServer(agent) as server:
        agent.url = f"{server.url}/rpc"
        with pytest.raises(RemoteRejected, match=f"HTTP {status}"):
            peer(f"{server.url}/a").send("hi")
    assert agent.calls == ["GET /a/.well-known/agent-card.json", "POST /rpc"]


@pytest.mark.parametrize("status", [500, 503])
def test_a_server_error_stays_retryable(status: int) -> None:
    agent = Refusing(status)
    with LoopbackServer(agent) as server:
        agent.url = f"{server.url}/rpc"
        with pytest.raises(ConnectionError) as caught:
            peer(f"{server.url}/a").send("hi")
    assert not isinstance(caught.value, RemoteRejected)


def test_an_agent_that_is_not_there_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectionError):
        peer(f"http://127.0.0.1:{port}/api/a2a/echo").send("hi")


def test_every_url_passes_the_check_the_card_s_own_included(url: str) -> None:
    seen: list[str] = []

    def refuse_rpc(target: str) -> None:
        seen.append(target)
        if len(seen) > 1:
            raise ValueError("endpoint host is private")

    with pytest.raises(RemoteRejected, match="private"):
        peer(url, check_url=refuse_rpc).send('{"topic": "x"}')
    assert seen == [url, url]  # the base URL, then the JSON-RPC URL the card names

    def refuse_all(target: str) -> None:
        raise ValueError("no")

    with pytest.raises(ValueError):
        peer(url, check_url=refuse_all)


def test_it_works_from_a_thread_that_runs_an_event_loop(url: str) -> None:
    async def inside() -> str:
        return peer(url).send('{"topic": "loops"}').state

    assert asyncio.run(inside()) == "submitted"


def test_an_endpoint_of_another_protocol_is_refused() -> None:
    with pytest.raises(ValueError):
        A2APeer(Endpoint("mcp", "http://127.0.0.1:1/mcp"))
