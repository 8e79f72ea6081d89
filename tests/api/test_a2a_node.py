"""Graph nodes of ``kind: a2a`` end to end: a graph on one host delegates to a graph agent on a
second Convergio host on loopback, and waits for long remote tasks durably (timers + polls)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convergio.host._store import stored_events
from tests._helpers import HostProcess
from tests.api.conftest import APP, Api, graph, new_key
from tests.providers._servers import LoopbackServer

REMOTE_GRAPHS = {
    "echo": {"latency_ms": 0},
    "slow-echo": {"latency_ms": 2500},
    "slower-echo": {"latency_ms": 5000},
}


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HostProcess, Api]]:
    """A second Convergio host with its own graph library and its own tenant."""
    home = tmp_path_factory.mktemp("remote-home")
    graphs = tmp_path_factory.mktemp("remote-graphs")
    for name, options in REMOTE_GRAPHS.items():
        spec = {
            "name": name,
            "description": f"Answers about a topic ({name}).",
            "input_schema": {
                "type": "object",
                "required": ["topic"],
                "properties": {"topic": {"type": "string"}},
            },
            "agents": [{"id": "answer", "prompt": "Answer about {{ input.topic }}", "options": options}],
        }
        (graphs / f"{name}.json").write_text(json.dumps(spec))
    key = new_key(home, "Remote School")
    with (
        HostProcess(APP, home, {"CONVERGIO_GRAPHS_DIR": str(graphs)}) as host,
        Api(host.base_url, key) as api,
    ):
        yield host, api


@pytest.fixture(scope="module")
def linked(acme: Api, remote: tuple[HostProcess, Api]) -> Api:
    """Acme holds the remote tenant's key in a connection named ``remote``."""
    host, api = remote
    key = api.http.headers["x-api-key"]
    body = {"kind": "openai-compatible", "endpoint": f"{host.base_url}/api", "key": key}
    answer = acme.http.put("/tenants/me/connections/remote", json=body)
    assert answer.status_code in (200, 201), answer.text
    return acme


def delegate(host: HostProcess, remote_graph: str, **node: Any) -> dict[str, Any]:
    a2a = {
        "id": "remote",
        "kind": "a2a",
        "url": f"{host.base_url}/api/a2a/{remote_graph}",
        "connection": "remote",
        "prompt": '{"topic": "{{ input.topic }}"}',
        "options": {"poll_seconds": 0.3},
        "budget": {"max_seconds": 60},
        **node,
    }
    review = {"id": "review", "prompt": "Review: {{ outputs.remote }}", "depends_on": ["remote"]}
    return graph(a2a, review, name="delegating")


def remote_runs(api: Api, graph_name: str) -> list[dict[str, Any]]:
    return [
        r for r in api.http.get("/runs", params={"limit": 200}).json()["runs"] if r["graph"] == graph_name
    ]


def scheduled(database: Path, run_id: str) -> list[str]:
    """Names of the activities the run's history scheduled, in order."""
    db = sqlite3.connect(database)
    try:
        rows = db.execute("SELECT event FROM history WHERE instance_id = ?", (run_id,)).fetchall()
    finally:
        db.close()
    events = stored_events(r[0] for r in rows)
    return [e["Name"] for e in events if e["EventType"] == 4]


def test_a_graph_node_calls_a_graph_agent_on_another_host(
    linked: Api, remote: tuple[HostProcess, Api], api_home: Path
) -> None:
    host, remote_api = remote
    run_id = linked.start(delegate(host, "echo"), {"topic": "volcanoes"})
    run = linked.wait(run_id, timeout=60)
    assert run["status"] == "Completed", run
    [their] = [r for r in remote_runs(remote_api, "echo")]
    theirs = remote_api.run(their["id"])
    assert run["outputs"]["remote"] == theirs["output"]
    assert "volcanoes" in theirs["output"]
    assert f"Review: {theirs['output'][:40]}" in run["output"]  # the answer flowed downstream
    assert scheduled(api_home / "durable.sqlite3", run_id).count("a2a_send") == 1


def test_a_long_remote_task_is_polled_on_durable_timers_and_sent_once(
    linked: Api, remote: tuple[HostProcess, Api], api_home: Path
) -> None:
    host, remote_api = remote
    run_id = linked.start(delegate(host, "slow-echo"), {"topic": "glaciers"})
    run = linked.wait(run_id, timeout=60)
    assert run["status"] == "Completed", run
    names = scheduled(api_home / "durable.sqlite3", run_id)
    assert names.count("a2a_send") == 1
    assert names.count("a2a_poll") >= 2  # it waited, then polled the same task
    [their] = remote_runs(remote_api, "slow-echo")
    assert run["outputs"]["remote"] == remote_api.run(their["id"])["output"]


def test_a_remote_task_slower_than_the_node_budget_times_the_node_out(
    linked: Api, remote: tuple[HostProcess, Api]
) -> None:
    host, _ = remote
    run_id = linked.start(delegate(host, "slower-echo", budget={"max_seconds": 1.5}), {"topic": "x"})
    run = linked.wait(run_id, timeout=60)
    assert run["status"] == "Failed"
    assert run["nodes"]["remote"]["status"] == "timed_out"


def test_a_wrong_key_fails_the_node_and_no_key_leaks(linked: Api, remote: tuple[HostProcess, Api]) -> None:
    host, _ = remote
    answer = linked.http.put(
        "/tenants/me/connections/badkey",
        json={"kind": "openai-compatible", "endpoint": f"{host.base_url}/api", "key": "sk-wrong-key-123"},
    )
    assert answer.status_code in (200, 201)
    run_id = linked.start(delegate(host, "echo", connection="badkey"), {"topic": "x"})
    run = linked.wait(run_id, timeout=60)
    assert run["status"] == "Failed"
    error = run["nodes"]["remote"]["error"]
    assert "401" in error and "sk-wrong" not in error


@pytest.mark.parametrize("status", [401, 403])
def test_a_remote_that_refuses_the_key_fails_the_node_after_one_request(
    linked: Api, remote: tuple[HostProcess, Api], status: int
) -> None:
    """401/403 is not worth retrying: the node's three attempts must not become three requests."""
    calls: list[str] = []

    async def refusing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        calls.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    _, remote_api = remote
    key = str(remote_api.http.headers["x-api-key"])
    with LoopbackServer(refusing) as server:
        node = {"url": f"{server.url}/api/a2a/echo", "retry": {"attempts": 3, "backoff_ms": 0}}
        spec = delegate(remote[0], "echo", **node)
        run = linked.wait(linked.start(spec, {"topic": "x"}), timeout=60)
    assert run["status"] == "Failed"
    remote_node = run["nodes"]["remote"]
    assert (remote_node["status"], remote_node["attempts"]) == ("failed", 1)
    assert f"HTTP {status}" in remote_node["error"] and key not in remote_node["error"]
    assert calls == ["GET /api/a2a/echo/.well-known/agent-card.json"]


def test_remote_input_errors_fail_the_node_without_retrying(
    linked: Api, remote: tuple[HostProcess, Api]
) -> None:
    host, _ = remote
    spec = delegate(host, "echo", prompt="no json here", retry={"attempts": 3})
    run = linked.wait(linked.start(spec, {"topic": "x"}), timeout=60)
    assert run["nodes"]["remote"]["status"] == "failed"
    assert run["nodes"]["remote"]["attempts"] == 1
    assert "is not of type 'object'" in run["nodes"]["remote"]["error"]


@pytest.mark.parametrize(
    ("node", "path", "message"),
    [
        ({"url": None}, "agents[0].url", "needs the remote agent's url"),
        ({"url": "ftp://host/x"}, "agents[0].url", "http(s)"),
        ({"connection": "nope"}, "agents[0].connection", "unknown connection"),
        ({"tools": ["word_count"]}, "agents[0].kind", "no tools"),
        ({"options": {"poll_seconds": 0}}, "agents[0].options.poll_seconds", "seconds"),
        ({"kind": "agent"}, "agents[0].kind", "need kind: a2a"),
    ],
)
def test_a_bad_a2a_node_is_refused_naming_the_field(
    linked: Api, remote: tuple[HostProcess, Api], node: dict[str, Any], path: str, message: str
) -> None:
    host, _ = remote
    spec = delegate(host, "echo", **node)
    spec["agents"][0] = {k: v for k, v in spec["agents"][0].items() if v is not None}
    answer = linked.http.post("/runs", json={"graph": spec, "input": {"topic": "x"}})
    assert answer.status_code == 422, answer.text
    problems = answer.json()["error"]["details"]
    assert any(p["path"] == f"graph.{path}" and message in p["message"] for p in problems), problems


def test_a_crash_while_waiting_resumes_polling_the_same_remote_task(
    tmp_path: Path, remote: tuple[HostProcess, Api]
) -> None:
    host, remote_api = remote
    home = tmp_path / "home"
    key = new_key(home, "Crash School")
    before = {r["id"] for r in remote_runs(remote_api, "slower-echo")}
    first = HostProcess(APP, home).start()
    with Api(first.base_url, key) as api:
        body = {
            "kind": "openai-compatible",
            "endpoint": f"{host.base_url}/api",
            "key": remote_api.http.headers["x-api-key"],
        }
        assert api.http.put("/tenants/me/connections/remote", json=body).status_code == 201
        run_id = api.start(delegate(host, "slower-echo", options={"poll_seconds": 0.5}), {"topic": "tides"})
        deadline = time.monotonic() + 30
        while "a2a_poll" not in scheduled(home / "durable.sqlite3", run_id):
            assert time.monotonic() < deadline, "the node never started polling"
            time.sleep(0.05)
    first.kill()
    with HostProcess(APP, home) as second, Api(second.base_url, key) as api:
        run = api.wait(run_id, timeout=60)
    assert run["status"] == "Completed", run
    names = scheduled(home / "durable.sqlite3", run_id)
    assert names.count("a2a_send") == 1  # never re-sent
    [theirs] = [r for r in remote_runs(remote_api, "slower-echo") if r["id"] not in before]
    assert run["outputs"]["remote"] == remote_api.run(theirs["id"])["output"]
