"""Trust boundaries (issue 18): hostile bodies, schemas and headers get coded 4xx answers, fast,
and the host keeps serving every tenant."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from convergio.cli import main as cli_main
from convergio.plugins import InvalidOutput, PluginHost, PluginRegistry
from convergio.tenants import tenant_id_for
from tests._helpers import HostProcess
from tests.api.conftest import Api, agent, graph
from tests.plugins._wat import module, write_plugin

EVIL = "a" * 40 + "!"
DEEP = b"[" * 100_000 + b"]" * 100_000


def _error(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json"), answer.headers
    error = answer.json()["error"]
    assert {"code", "message", "details"} <= set(error), error
    return dict(error)


def _paths(error: dict[str, Any]) -> dict[str, str]:
    return {d["path"]: d["message"] for d in error["details"]}


def _still_serving(api: Api) -> None:
    assert api.http.get("/graphs", timeout=5).status_code == 200


# -- item 4: catastrophic regexes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "status"),
    [
        ({"type": "string", "pattern": "^(a+)+$"}, 400),
        ({"type": "object", "patternProperties": {"^(a+)+$": {"type": "integer"}}}, 202),
        ({"type": "object", "patternProperties": {"^(a+)+$": {}}, "additionalProperties": False}, 400),
    ],
    ids=["pattern", "patternProperties", "additionalProperties"],
)
def test_a_catastrophic_pattern_is_answered_in_linear_time(
    acme: Api, schema: dict[str, Any], status: int
) -> None:
    """Backtracking took 10+ minutes on ``a * 40 + "!"`` and froze the host for every tenant."""
    run_input: Any = EVIL if schema["type"] == "string" else {EVIL: "x"}
    body = {"graph": graph(agent("a"), input_schema=schema), "input": run_input}
    began = time.monotonic()
    answer = acme.http.post("/runs", json=body, timeout=10)
    assert time.monotonic() - began < 5
    assert answer.status_code == status, answer.text
    if status == 400:
        assert _error(answer, 400)["details"][0]["path"].startswith("input")
    _still_serving(acme)


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ({"type": "string", "pattern": r"^(a)\1$"}, "graph.input_schema.pattern"),
        ({"properties": {"x": {"pattern": "(?=a)b"}}}, "graph.input_schema.properties.x.pattern"),
        ({"patternProperties": {"(?<!a)b": {}}}, "graph.input_schema.patternProperties.(?<!a)b"),
    ],
    ids=["backreference", "lookahead", "lookbehind"],
)
def test_a_pattern_re2_cannot_run_is_rejected_with_its_path(
    acme: Api, schema: dict[str, Any], path: str
) -> None:
    error = _error(
        acme.http.post("/runs", json={"graph": graph(agent("a"), input_schema=schema), "input": "x"}), 422
    )
    assert "linear-time" in _paths(error)[path], error


def test_validation_work_is_bounded(acme: Api) -> None:
    """2**30 evaluations asked for by a 30-level ``allOf`` ladder: refused within the budget."""
    defs: dict[str, Any] = {f"d{i}": {"allOf": [{"$ref": f"#/$defs/d{i + 1}"}] * 2} for i in range(30)}
    defs["d30"] = {"type": "integer"}
    schema = {"$defs": defs, "$ref": "#/$defs/d0"}
    began = time.monotonic()
    answer = acme.http.post(
        "/runs", json={"graph": graph(agent("a"), input_schema=schema), "input": 1}, timeout=10
    )
    assert time.monotonic() - began < 5
    assert "too much work" in _error(answer, 400)["message"]


# -- item 5: $ref never fetches ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ({"$ref": "file:///etc/passwd"}, "graph.input_schema.$ref"),
        (
            {"properties": {"a": {"$ref": "http://127.0.0.1:9/schema.json"}}},
            "graph.input_schema.properties.a.$ref",
        ),
        ({"items": {"$ref": "other.json#/x"}}, "graph.input_schema.items.$ref"),
        ({"$defs": {"a": {}}, "$ref": "#/$defs/missing"}, "graph.input_schema.$ref"),
    ],
    ids=["file", "http", "relative", "dangling-local"],
)
def test_only_local_references_are_allowed(acme: Api, schema: dict[str, Any], path: str) -> None:
    began = time.monotonic()
    answer = acme.http.post(
        "/runs", json={"graph": graph(agent("a"), input_schema=schema), "input": "x"}, timeout=10
    )
    assert time.monotonic() - began < 5
    error = _error(answer, 422)
    assert path in _paths(error), error
    assert "root:" not in answer.text


def test_local_references_still_work(acme: Api) -> None:
    schema = {
        "$defs": {"grade": {"type": "integer", "minimum": 1}},
        "properties": {"g": {"$ref": "#/$defs/grade"}},
    }
    spec = graph(agent("a"), input_schema=schema)
    assert _paths(_error(acme.http.post("/runs", json={"graph": spec, "input": {"g": 0}}), 400)) == {
        "input.g": "0 is less than the minimum of 1"
    }
    acme.wait(acme.start(spec, {"g": 3}))


# -- item 6: no commands from a tenant's request ---------------------------------------------------


def test_a_tenant_cannot_register_a_stdio_mcp_server(acme: Api, tmp_path: Path) -> None:
    """``transport: stdio`` ran the request's command as the host's user."""
    marker = tmp_path / "ran"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]
    for body, field in [
        ({"transport": "stdio", "command": command}, "transport"),
        ({"transport": "stdio", "command": command, "timeout_seconds": 5}, "transport"),
        ({"url": "http://127.0.0.1:9/mcp", "command": command}, "command"),
    ]:
        error = _error(acme.http.put("/tenants/me/mcp-servers/local", json=body), 422)
        assert error["code"] == "stdio_not_allowed" and field in _paths(error), error
        assert "operator" in error["message"]
    assert acme.http.get("/tenants/me/mcp-servers/local").status_code == 404
    assert not marker.exists()


def test_an_operator_stdio_server_shows_and_refreshes_through_the_api(acme: Api, api_home: Path) -> None:
    server = Path(__file__).parents[1] / "protocols" / "_stdio_server.py"
    tenant = tenant_id_for("Acme School")
    argv = ["mcp", "add-stdio", "--tenant", tenant, "--home", str(api_home), "ops"]
    assert cli_main([*argv, "--", sys.executable, str(server)]) == 0
    view = acme.http.get("/tenants/me/mcp-servers/ops").json()
    assert view["transport"] == "stdio" and view["operator"] is True, view
    assert [t["name"] for t in view["tools"]] == ["mcp.ops.reverse"]
    refreshed = acme.http.post("/tenants/me/mcp-servers/ops/refresh")
    assert refreshed.status_code == 200 and refreshed.json()["operator"] is True, refreshed.text
    assert acme.http.delete("/tenants/me/mcp-servers/ops").status_code == 200


# -- item 8: deep nesting ----------------------------------------------------------------------------

JSON_ROUTES = [
    ("POST", "/runs"),
    ("POST", "/hooks"),
    ("POST", "/callbacks"),
    ("PUT", "/tenants/me/connections/deep"),
    ("PUT", "/tenants/me/mcp-servers/deep"),
    ("POST", "/tenants/me/overage-consent"),
]


@pytest.mark.parametrize(("method", "route"), JSON_ROUTES)
@pytest.mark.parametrize("depth", [100_000, 65], ids=["very-deep", "just-too-deep"])
def test_deep_json_is_a_coded_400_on_every_json_route(acme: Api, method: str, route: str, depth: int) -> None:
    body = (
        DEEP if depth == 100_000 else json.dumps({"input": json.loads("[" * (depth - 1) + "]" * (depth - 1))})
    )
    answer = acme.http.request(method, route, content=body, headers={"content-type": "application/json"})
    error = _error(answer, 400)
    assert error["code"] == "invalid_request" and "deeper than 64" in error["message"], error
    assert "body" in _paths(error)


def test_deep_json_on_the_protocol_endpoints(api_host: HostProcess, acme: Api) -> None:
    headers = {
        "x-api-key": str(acme.http.headers["x-api-key"]),
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
    }
    deep_params = (
        b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": ' + DEEP[:200] + DEEP[-200:] + b"}"
    )
    for url in ("/api/mcp", "/api/a2a/lesson-plan"):
        for body in (DEEP, deep_params):
            answer = httpx.post(f"{api_host.base_url}{url}", content=body, headers=headers, timeout=30)
            assert answer.status_code < 500, (url, answer.text)
            assert answer.json(), answer.text  # JSON (a JSON-RPC error), never a bare 500
    _still_serving(acme)


def test_deep_json_to_event_grid_is_a_400(api_host: HostProcess) -> None:
    """Bodies under the parser's recursion limit but past 64 levels reached the functions."""
    url = f"{api_host.base_url}/runtime/webhooks/eventgrid?functionName=hook_event"
    url += f"&code={api_host.key('eventgrid_extension')}"
    nested = "[" * 500 + "]" * 500
    event = '{"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "data": ' + nested + "}"
    validation = json.dumps([{"id": "1", "data": json.dumps({"validationCode": json.loads(nested)})}])
    bodies: list[tuple[str, str | bytes]] = [
        ("Notification", event),
        ("Notification", DEEP),
        ("SubscriptionValidation", validation),
    ]
    for kind, body in bodies:
        answer = httpx.post(url, content=body, headers={"aeg-event-type": kind}, timeout=30)
        assert answer.status_code == 400, (kind, answer.text)
        assert answer.json()["error"]["code"] in ("invalid_json", "bad_request"), answer.text


def test_plugin_output_nested_300k_deep_is_a_coded_tool_error(tmp_path: Path) -> None:
    n = 300_000
    prefix = '{\\"result\\":'
    deep = module(
        f"""    i32.const 16
    memory.grow
    drop
    i32.const 65536
    i32.const 128
    i32.const 10
    memory.copy
    i32.const 65546
    i32.const 91
    i32.const {n}
    memory.fill
    i32.const {65546 + n}
    i32.const 93
    i32.const {n}
    memory.fill
    i32.const {65546 + 2 * n}
    i32.const 125
    i32.store8
    i64.const {(65536 << 32) | (11 + 2 * n)}""",
        data=f'(data (i32.const 128) "{prefix}")',
    )
    with PluginHost() as host:
        registry = PluginRegistry(tmp_path / "installed", host=host)
        limits = {"memory_pages": 64, "output_bytes": 1 << 20}
        registry.install("tenant-a", write_plugin(tmp_path / "src", "deep", deep, limits=limits))
        with pytest.raises(InvalidOutput) as caught:
            registry.call_plugin_tool("tenant-a", "deep.run", {})
    assert caught.value.code == "invalid_output"
    assert "nested deeper than 64 levels" in caught.value.message


# -- item 11: the smaller ones ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "media", ["text/plain", "application/x-www-form-urlencoded", "text/html; charset=utf-8"]
)
def test_a_body_not_sent_as_json_is_a_415(acme: Api, media: str) -> None:
    body = json.dumps({"graph_ref": "lesson-plan", "input": {"topic": "x", "grade": 3}})
    error = _error(acme.http.post("/runs", content=body, headers={"content-type": media}), 415)
    assert error["code"] == "unsupported_media_type" and "body" in _paths(error)


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ({"budget": {"max_tokens": 10**400}}, "graph.agents[0].budget.max_tokens"),
        ({"budget": {"max_tool_calls": 10**30}}, "graph.agents[0].budget.max_tool_calls"),
        ({"options": {"max_tokens": 10**400}}, "graph.agents[0].options"),
    ],
    ids=["budget-tokens", "budget-tool-calls", "options"],
)
def test_huge_integers_are_refused_naming_the_field(acme: Api, field: dict[str, Any], path: str) -> None:
    error = _error(acme.http.post("/runs", json={"graph": graph(agent("a", **field)), "input": "x"}), 422)
    assert path in _paths(error), error


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b"[1, 2]", 400), (b'{"input": NaN}', 400), (b'"' + b"a" * (1 << 20) + b'"', 413)],
    ids=["not-json", "not-an-object", "nan", "too-large"],
)
def test_body_errors_always_carry_details(acme: Api, body: bytes, status: int) -> None:
    answer = acme.http.post("/runs", content=body, headers={"content-type": "application/json"})
    assert "body" in _paths(_error(answer, status))


def test_mcp_rejections_are_json(api_host: HostProcess, acme: Api) -> None:
    key = str(acme.http.headers["x-api-key"])
    headers = {
        "x-api-key": key,
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
    }
    big = httpx.post(f"{api_host.base_url}/api/mcp", content=b" " * (2 << 20), headers=headers, timeout=30)
    assert _error(big, 413)["code"] == "payload_too_large"
    plain = httpx.post(
        f"{api_host.base_url}/api/mcp", content=b"{}", headers={**headers, "content-type": "text/plain"}
    )
    assert _error(plain, 415)["code"] == "unsupported_media_type"


def test_a_405_says_what_is_allowed(api_host: HostProcess) -> None:
    answer = httpx.patch(f"{api_host.base_url}/api/v1/runs", timeout=10)
    assert answer.status_code == 405
    assert set(answer.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_every_route_is_in_the_openapi_document(acme: Api) -> None:
    paths = acme.http.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/tenants/me/connections/{name}",
        "/api/v1/tenants/me/mcp-servers/{name}",
        "/api/v1/tenants/me/mcp-servers/{name}/refresh",
        "/api/v1/usage",
        "/api/mcp",
        "/api/a2a/{graph}",
        "/api/a2a/{graph}/.well-known/agent-card.json",
    ):
        assert path in paths, path
    assert {"400", "401", "413", "415", "422"} <= set(paths["/api/v1/runs"]["post"]["responses"])


# -- item 12: MCP transport security ------------------------------------------------------------------


def _tools_list(host: HostProcess, key: str | None, **headers: str) -> httpx.Response:
    sent = {"content-type": "application/json", "accept": "application/json, text/event-stream", **headers}
    if key:
        sent["x-api-key"] = key
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    return httpx.post(f"{host.base_url}/api/mcp", json=body, headers=sent, timeout=30)


def test_mcp_checks_the_origin(api_host: HostProcess, acme: Api) -> None:
    key = str(acme.http.headers["x-api-key"])
    assert _tools_list(api_host, key).status_code == 200  # no Origin: a non-browser client
    assert _tools_list(api_host, key, origin=api_host.base_url).status_code == 200  # same origin
    for origin in ("http://evil.example", "null", api_host.base_url.replace("127.0.0.1", "localhost") + "1"):
        answer = _tools_list(api_host, key, origin=origin)
        assert _error(answer, 403)["code"] == "origin_not_allowed", origin


def test_mcp_get_and_delete_answer_405_at_once(api_host: HostProcess, acme: Api) -> None:
    key = str(acme.http.headers["x-api-key"])
    for method in ("GET", "DELETE"):
        answer = httpx.request(
            method,
            f"{api_host.base_url}/api/mcp",
            headers={"x-api-key": key, "accept": "text/event-stream"},
            timeout=5,
        )
        assert answer.status_code == 405 and answer.headers["allow"] == "POST", answer.text


def test_a_401_says_how_to_authenticate(api_host: HostProcess) -> None:
    for answer in (httpx.get(f"{api_host.base_url}/api/v1/runs", timeout=10), _tools_list(api_host, None)):
        assert _error(answer, 401)["code"] == "unauthorized"
        assert "x-api-key" in answer.headers["www-authenticate"]


@pytest.mark.parametrize("segment", ["%09", "%0A", "%0D", "a%09b"])
def test_a_name_of_control_characters_reaches_its_route(acme: Api, segment: str) -> None:
    """The host routes on the decoded path as served: ``urlsplit`` would drop tabs and newlines
    (bpo-43882) and turn ``servers/%09`` into the list route, a 405 the API does not declare."""
    for method in ("GET", "DELETE"):
        answer = acme.http.request(method, f"/tenants/me/mcp-servers/{segment}")
        assert answer.status_code in (400, 404), (method, segment, answer.status_code, answer.text)
        _error(answer, answer.status_code)
