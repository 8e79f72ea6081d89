"""MCP end to end on the embedded host: Convergio's graphs as MCP tools for the ``mcp`` package's
own client, and a tenant's MCP server's tools used by a graph's agent, metered like any tool."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from convergio.metering import SqliteLedger
from convergio.tenants import tenant_id_for
from tests._helpers import HostProcess
from tests.api.conftest import Api, agent, graph, new_key
from tests.protocols._tool_server import TOKEN_HEADER, ToolServer

T = TypeVar("T")
TOKEN = "docs-secret-token-" + "x7Qp" * 6
SCHOOL = "Mcp School"


def _mcp(
    host: HostProcess, key: str | None, action: Callable[[Client], Awaitable[T]], mode: str = "auto"
) -> T:
    """Connect the SDK's own client to ``/api/mcp`` over HTTP on loopback and do ``action``."""

    async def main() -> T:
        headers = {"x-api-key": key} if key else {}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(f"{host.base_url}/api/mcp", http_client=http), mode=mode) as c,
        ):
            return await action(c)

    return asyncio.run(main())


def _key(api: Api) -> str:
    return str(api.http.headers["x-api-key"])


def _view(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result
    return dict(json.loads(result.content[0].text))  # type: ignore[union-attr]


def test_an_mcp_client_lists_the_graphs_runs_one_and_gets_its_result(
    api_host: HostProcess, acme: Api
) -> None:
    async def work(client: Client) -> tuple[list[Any], dict[str, Any], CallToolResult]:
        tools = (await client.list_tools()).tools
        started = _view(await client.call_tool("run.lesson-plan", {"topic": "fractions", "grade": 4}))
        done = _view(await client.call_tool("get_run", {"run_id": started["id"], "wait_seconds": 30}))
        bad = await client.call_tool("run.lesson-plan", {"topic": "fractions"})
        return tools, done, bad

    tools, done, bad = _mcp(api_host, _key(acme), work)
    by_name = {tool.name: tool for tool in tools}
    assert {"run.lesson-plan", "run.quiz-builder", "run.newsletter-approval", "get_run"} <= set(by_name)
    schema = acme.http.get("/graphs").json()["graphs"]
    lesson = next(g for g in schema if g["name"] == "lesson-plan")
    assert by_name["run.lesson-plan"].input_schema == lesson["input_schema"]

    assert done["status"] == "Completed", done
    assert done["output"] and "fractions" in json.dumps(done["outputs"])
    # The same run, read through the REST API: one code path, one tenant.
    rest = acme.run(done["id"])
    assert rest["status"] == "Completed" and rest["output"] == done["output"]
    assert rest["usage"] == done["usage"]
    # A bad input is a tool error naming the field, and starts nothing.
    assert bad.is_error and "grade" in bad.content[0].text  # type: ignore[union-attr]


def test_a_tenant_cannot_follow_another_tenants_run(api_host: HostProcess, acme: Api, globex: Api) -> None:
    async def start(client: Client) -> dict[str, Any]:
        return _view(await client.call_tool("run.quiz-builder", {"topic": "volcanoes"}))

    run = _mcp(api_host, _key(acme), start)
    foreign = _mcp(api_host, _key(globex), _peek(run["id"]))
    unknown = _mcp(api_host, _key(globex), _peek("no-such-run"))
    assert foreign.is_error and unknown.is_error
    assert foreign.content[0].text.replace(run["id"], "ID") == unknown.content[0].text.replace(  # type: ignore[union-attr]
        "no-such-run", "ID"
    )
    assert globex.http.get(f"/runs/{run['id']}").status_code == 404
    assert acme.wait(run["id"])["status"] == "Completed"


def _peek(run_id: str) -> Callable[[Client], Awaitable[CallToolResult]]:
    async def action(client: Client) -> CallToolResult:
        return await client.call_tool("get_run", {"run_id": run_id})

    return action


def test_handshake_era_clients_are_served_too(api_host: HostProcess, acme: Api) -> None:
    async def names(client: Client) -> tuple[str, list[str]]:
        return client.protocol_version, [t.name for t in (await client.list_tools()).tools]

    version, tools = _mcp(api_host, _key(acme), names, mode="legacy")
    assert version.startswith("20") and "get_run" in tools


def _rpc(host: HostProcess, key: str | None, body: bytes, modern: bool = False) -> httpx.Response:
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    if key:
        headers["x-api-key"] = key
    if modern:  # the 2026-07-28 era routes on headers that repeat the body's method and name
        headers["mcp-protocol-version"] = "2026-07-28"
        try:
            sent = json.loads(body)
            headers["mcp-method"] = sent["method"]
            if "name" in sent["params"]:
                headers["mcp-name"] = sent["params"]["name"]
        except ValueError:
            pass
    return httpx.post(f"{host.base_url}/api/mcp", content=body, headers=headers, timeout=30)


def _call(method: str, params: dict[str, Any] | None = None, modern: bool = False) -> bytes:
    params = dict(params or {})
    if modern:  # the 2026-07-28 era carries its envelope in every request
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    return json.dumps({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).encode()


@pytest.mark.parametrize("modern", [False, True])
def test_bad_protocol_input_gets_protocol_errors(api_host: HostProcess, acme: Api, modern: bool) -> None:
    key = _key(acme)
    malformed = _rpc(api_host, key, b'{"jsonrpc": "2.0", "id": 1, "method": ', modern)
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == -32700

    unknown_tool = _rpc(api_host, key, _call("tools/call", {"name": "nope", "arguments": {}}, modern), modern)
    assert unknown_tool.json()["id"] == 7 and unknown_tool.json()["error"]["code"] == -32602
    assert "nope" in unknown_tool.json()["error"]["message"]

    unknown_method = _rpc(api_host, key, _call("resources/teleport", None, modern), modern)
    assert unknown_method.json()["id"] == 7 and unknown_method.json()["error"]["code"] == -32601


def _post(host: HostProcess, key: str, body: bytes, era: str | None) -> httpx.Response:
    headers = {"content-type": "application/json", "accept": "application/json", "x-api-key": key}
    if era is not None:
        headers["mcp-protocol-version"] = era
    return httpx.post(f"{host.base_url}/api/mcp", content=body, headers=headers, timeout=30)


ERAS = [None, "2025-06-18", "2026-07-28"]  # no header (handshake era), a handshake version, the modern one


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("body", "code", "names"),
    [
        ([{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}], -32600, "batch"),
        ([], -32600, "batch"),
        (5, -32600, "one JSON-RPC request object"),
        ("tools/list", -32600, "one JSON-RPC request object"),
        ({"jsonrpc": "2.0", "id": 1}, -32600, "method"),
        ({"jsonrpc": "1.0", "id": 1, "method": "tools/list"}, -32600, "jsonrpc"),
        (
            {"jsonrpc": "2.0", "id": {"a": 1}, "method": "tools/list"},
            -32600,
            "id",
        ),  # was taken for a notification
        ({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": [1]}, -32602, "params"),
    ],
)
def test_a_body_that_is_not_one_message_gets_the_json_rpc_error_naming_what_is_wrong(
    api_host: HostProcess, acme: Api, era: str | None, body: Any, code: int, names: str
) -> None:
    answer = _post(api_host, _key(acme), json.dumps(body).encode(), era)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and names in error["message"], error
    assert "validation error" not in answer.text.lower() and "pydantic" not in answer.text


@pytest.mark.parametrize(
    ("modern", "params", "field"),
    [
        (False, {"name": 5, "arguments": {}}, "name"),  # (the modern era answers this one -32020:
        (False, {"arguments": {}}, "name"),  #            Mcp-Name must match a string name)
        (False, {"name": "get_run", "arguments": "run-1"}, "arguments"),
        (True, {"arguments": {}}, "name"),
        (True, {"name": "get_run", "arguments": "run-1"}, "arguments"),
    ],
)
def test_bad_params_are_invalid_params_naming_the_member(
    api_host: HostProcess, acme: Api, modern: bool, params: dict[str, Any], field: str
) -> None:
    body = json.loads(_call("tools/call", params, modern))
    headers = {"content-type": "application/json", "accept": "application/json", "x-api-key": _key(acme)}
    if modern:
        headers |= {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call"}
        if isinstance(params.get("name"), str):
            headers["mcp-name"] = params["name"]
    answer = httpx.post(f"{api_host.base_url}/api/mcp", json=body, headers=headers, timeout=30)
    error = answer.json()["error"]
    assert answer.json()["id"] == 7 and error["code"] == -32602, answer.text
    assert error["message"].startswith(f"Invalid params: {field}: "), error
    assert "pydantic" not in answer.text


def test_server_info_names_convergio_and_its_version(api_host: HostProcess, acme: Api) -> None:
    async def info(client: Client) -> tuple[str, str]:
        server = client.server_info
        assert server is not None
        return server.name, server.version

    from convergio import __version__

    assert __version__ and _mcp(api_host, _key(acme), info, mode="legacy") == ("convergio", __version__)
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    answer = _post(api_host, _key(acme), json.dumps(initialize).encode(), None)
    assert answer.json()["result"]["serverInfo"] == {"name": "convergio", "version": __version__}


def test_the_endpoint_needs_a_tenants_key(api_host: HostProcess) -> None:
    for key in (None, "cvg_not-a-real-key"):
        answer = _rpc(api_host, key, _call("tools/list"))
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"


# -- a tenant's MCP server, used by a graph -----------------------------------------------------


@pytest.fixture(scope="module")
def docs() -> Iterator[ToolServer]:
    with ToolServer(token=TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def school(api_host: HostProcess, api_home: Path) -> Iterator[Api]:
    with Api(api_host.base_url, new_key(api_home, SCHOOL)) as api:
        yield api


def test_a_graph_uses_a_tool_of_the_tenants_mcp_server_and_the_calls_are_metered(
    api_host: HostProcess, api_home: Path, school: Api, globex: Api, docs: ToolServer
) -> None:
    body = {"url": docs.url, "headers": {TOKEN_HEADER: TOKEN}, "timeout_seconds": 10}
    created = school.http.put("/tenants/me/mcp-servers/docs", json=body)
    assert created.status_code == 201, created.text
    view = created.json()
    assert {t["name"] for t in view["tools"]} == {
        "mcp.docs.add",
        "mcp.docs.shout",
        "mcp.docs.broken",
        "mcp.docs.slow",
    }
    assert TOKEN[-4:] in view["headers"][TOKEN_HEADER]
    listed = school.http.get("/tenants/me/mcp-servers")
    assert [s["name"] for s in listed.json()["servers"]] == ["docs"]

    spec = graph(agent("writer", "Shout about {{ input }}", tools=["mcp.docs.shout"]), output="writer")
    run = school.wait(school.start(spec, "volcanoes"))
    assert run["status"] == "Completed", run
    shouted = [args["text"] for name, args in docs.calls if name == "shout"]
    assert shouted, docs.calls
    assert f"{shouted[-1].upper()}!" in run["output"]
    assert run["nodes"]["writer"]["usage"]["tool_calls"] == 1 and run["usage"]["tool_calls"] == 1
    ledger = SqliteLedger(api_home / "usage.sqlite3")
    try:
        metered = [r for r in ledger.query(tenant_id_for(SCHOOL), run_id=run["id"]) if r.unit == "tool_calls"]
    finally:
        ledger.close()
    assert sum(r.quantity for r in metered) == 1

    # max_tool_calls holds for MCP tools like any other: the server is never called.
    calls = len(docs.calls)
    limited = graph(
        agent("writer", "Shout about {{ input }}", tools=["mcp.docs.shout"], budget={"max_tool_calls": 0}),
        output="writer",
    )
    run = school.wait(school.start(limited, "x"))
    assert run["nodes"]["writer"]["status"] == "tool_limit", run
    assert len(docs.calls) == calls

    # A tool error reaches the model as text; the run goes on.
    failing = graph(agent("writer", "Try {{ input }}", tools=["mcp.docs.broken"]), output="writer")
    run = school.wait(school.start(failing, "x"))
    assert run["status"] == "Completed" and "the index is offline" in run["output"], run

    # Another tenant has no such tool; the token went nowhere but the server.
    assert globex.http.post("/runs", json={"graph": spec, "input": "x"}).status_code == 422
    answers = [created.text, listed.text, school.http.get("/tenants/me/mcp-servers/docs").text]
    for text in [*answers, "\n".join(api_host.lines)]:
        assert TOKEN not in text

    refreshed = school.http.post("/tenants/me/mcp-servers/docs/refresh")
    assert refreshed.status_code == 200 and refreshed.json()["refreshed_at"] > view["refreshed_at"]
    assert school.http.delete("/tenants/me/mcp-servers/docs").status_code == 200
    gone = school.http.post("/runs", json={"graph": spec, "input": "x"})
    assert gone.status_code == 422 and "mcp.docs.shout" in gone.text


def test_registration_checks_each_field(api_host: HostProcess, school: Api, docs: ToolServer) -> None:
    bad = [
        ("Bad_Name", {"url": docs.url}, "name", 400),
        ("docs", {}, "url", 400),
        ("docs", {"url": "http://example.com/mcp"}, "url", 400),
        ("docs", {"url": docs.url, "command": ["python"]}, "command", 422),
        ("docs", {"transport": "stdio", "url": docs.url}, "transport", 422),
        ("docs", {"url": docs.url, "headers": {"content-type": "x"}}, "headers.content-type", 400),
        ("docs", {"url": docs.url, "colour": "red"}, "colour", 400),
        ("docs", {"url": docs.url}, "url", 502),  # no token: the server refuses to list its tools
        ("docs", {"url": "http://127.0.0.1:9/mcp"}, "url", 502),
    ]
    for name, body, field, status in bad:
        answer = school.http.put(f"/tenants/me/mcp-servers/{name}", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert field in [d["path"] for d in answer.json()["error"]["details"]], (body, answer.text)
    assert school.http.get("/tenants/me/mcp-servers/docs").status_code == 404
