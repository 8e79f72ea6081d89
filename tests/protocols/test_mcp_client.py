"""The MCP adapter against real MCP servers: the SDK's own server on loopback, and over stdio."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from convergio.protocols import Endpoint, McpServerRecord, McpServerRegistry, McpToolSource
from convergio.protocols.mcp import McpToolServer
from convergio.secrets import LocalSecretStore
from convergio.tenants import SqliteTenantStore
from convergio.tools import ToolContext, ToolError, call_tool
from tests.protocols._tool_server import TOKEN_HEADER, ToolServer

TOKEN = "docs-token-0123456789abcdef"


@pytest.fixture(scope="module")
def docs() -> Iterator[ToolServer]:
    with ToolServer(token=TOKEN) as server:
        yield server


def _server(docs: ToolServer, timeout_s: float = 10, token: str | None = TOKEN) -> McpToolServer:
    headers = {TOKEN_HEADER: token} if token else {}
    return McpToolServer(Endpoint("mcp", docs.url, headers=headers, timeout_s=timeout_s), "MCP server 'docs'")


def test_lists_the_servers_tools_with_their_schemas(docs: ToolServer) -> None:
    tools = {tool.name: tool for tool in _server(docs).list_tools()}
    assert set(tools) == {"add", "shout", "broken", "slow"}
    assert tools["add"].description == "Add two integers."
    assert tools["add"].input_schema["required"] == ["a", "b"]
    assert tools["add"].input_schema["properties"]["a"]["type"] == "integer"


def test_calls_a_tool_and_gets_its_text(docs: ToolServer) -> None:
    assert _server(docs).call_tool("add", {"a": 2, "b": 40}) == "42"
    assert docs.calls[-1] == ("add", {"a": 2, "b": 40})


def test_a_tool_error_is_a_value_error_with_the_tools_message(docs: ToolServer) -> None:
    with pytest.raises(ValueError, match=r"the index is offline"):
        _server(docs).call_tool("broken", {})


def test_an_unknown_tool_is_refused_not_a_connection_failure(docs: ToolServer) -> None:
    with pytest.raises(ValueError, match=r"nope") as caught:
        _server(docs).call_tool("nope", {})
    assert not isinstance(caught.value, ConnectionError)


def test_missing_headers_are_a_connection_error_that_names_the_server_not_its_url(docs: ToolServer) -> None:
    refused = docs.refused
    with pytest.raises(ConnectionError) as caught:
        _server(docs, token=None).list_tools()
    assert docs.refused > refused
    assert "'docs'" in str(caught.value) and docs.url not in str(caught.value)


def test_an_unreachable_server_is_a_connection_error() -> None:
    server = McpToolServer(Endpoint("mcp", "http://127.0.0.1:9/mcp", timeout_s=5), "MCP server 'gone'")
    with pytest.raises(ConnectionError, match=r"'gone' could not be reached"):
        server.list_tools()


def test_a_slow_tool_times_out_at_the_endpoints_timeout(docs: ToolServer) -> None:
    started = time.monotonic()
    with pytest.raises(ConnectionError, match=r"did not answer within 0\.5 s"):
        _server(docs, timeout_s=0.5).call_tool("slow", {"seconds": 3})
    assert time.monotonic() - started < 2.5


def test_a_local_stdio_server_is_listed_and_called() -> None:
    script = Path(__file__).with_name("_stdio_server.py")
    server = McpToolServer(
        Endpoint("mcp", transport="stdio", command=(sys.executable, str(script)), timeout_s=30), "local"
    )
    assert [tool.name for tool in server.list_tools()] == ["reverse"]
    assert server.call_tool("reverse", {"text": "abc"}) == "cba"


# -- the tool source: registered servers' tools as mcp.<server>.<tool> -------------------------


@pytest.fixture()
def source(tmp_path: Path) -> McpToolSource:
    store = SqliteTenantStore(tmp_path / "tenants.sqlite3")
    store.add_tenant("Acme")
    store.add_tenant("Globex")
    return McpToolSource(McpServerRegistry(store), LocalSecretStore(tmp_path / "secrets"), hosted=False)


def _register(source: McpToolSource, docs: ToolServer, tenant: str = "acme") -> McpServerRecord:
    record = McpServerRecord(tenant, "docs", docs.url, headers={TOKEN_HEADER: "fp"}, timeout_s=5)
    source.put_headers(tenant, "docs", {TOKEN_HEADER: TOKEN})
    return source.registry.put(source.listed(record))


def test_registered_tools_are_named_per_server_and_per_tenant(
    source: McpToolSource, docs: ToolServer
) -> None:
    _register(source, docs)
    assert source.tool_names("acme") == {"mcp.docs.add", "mcp.docs.shout", "mcp.docs.broken", "mcp.docs.slow"}
    assert source.tool_names("globex") == frozenset()
    assert source.bind("mcp.docs.add", ToolContext(tenant_id="globex")) is None
    assert source.bind("word_count", ToolContext(tenant_id="acme")) is None
    assert source.bind("mcp.docs.missing", ToolContext(tenant_id="acme")) is None


def test_a_bound_tool_calls_the_server_with_the_stored_headers(
    source: McpToolSource, docs: ToolServer
) -> None:
    _register(source, docs)
    tool = source.bind("mcp.docs.shout", ToolContext(tenant_id="acme", timeout_s=5))
    assert tool is not None and tool.description == "Shout a text back."
    assert call_tool(tool, {"text": "hello"}) == "HELLO!"


def test_bad_arguments_never_reach_the_server(source: McpToolSource, docs: ToolServer) -> None:
    _register(source, docs)
    tool = source.bind("mcp.docs.add", ToolContext(tenant_id="acme"))
    assert tool is not None
    calls = len(docs.calls)
    with pytest.raises(ToolError, match=r"mcp\.docs\.add: invalid"):
        call_tool(tool, {"a": "two", "b": 1})
    assert len(docs.calls) == calls


def test_tool_failures_and_timeouts_become_tool_errors(source: McpToolSource, docs: ToolServer) -> None:
    _register(source, docs)
    broken = source.bind("mcp.docs.broken", ToolContext(tenant_id="acme"))
    slow = source.bind("mcp.docs.slow", ToolContext(tenant_id="acme", timeout_s=0.3))
    spent = source.bind("mcp.docs.add", ToolContext(tenant_id="acme", timeout_s=0.0))
    assert broken is not None and slow is not None and spent is not None
    with pytest.raises(ToolError, match=r"the index is offline"):
        call_tool(broken, {})
    with pytest.raises(ToolError, match=r"did not answer within 0\.3 s"):
        call_tool(slow, {"seconds": 3})
    with pytest.raises(ToolError, match=r"no time left"):
        call_tool(spent, {"a": 1, "b": 2})


def test_hosted_mode_refuses_stdio_and_private_endpoints(tmp_path: Path, docs: ToolServer) -> None:
    store = SqliteTenantStore(tmp_path / "tenants.sqlite3")
    hosted = McpToolSource(McpServerRegistry(store), LocalSecretStore(tmp_path / "s"), hosted=True)
    with pytest.raises(ValueError, match=r"^transport: "):
        hosted.check(McpServerRecord("acme", "local", None, transport="stdio", command=("python",)))
    with pytest.raises(ValueError, match=r"^url: "):
        hosted.check(McpServerRecord("acme", "docs", docs.url))
    with pytest.raises(ValueError, match=r"^url: "):
        hosted.check(McpServerRecord("acme", "meta", "https://169.254.169.254/mcp"))
