"""Tenants' tool schemas (plugin manifests, MCP servers) run on the bounded validator (issue 18.4-5):
a catastrophic pattern cannot freeze a call, and a ``$ref`` never fetches anything."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from convergio.plugins import InvalidManifest, PluginHost, PluginRegistry
from convergio.protocols._types import RemoteToolInfo
from convergio.protocols.mcp._source import _usable
from convergio.tools import Tool, ToolError, call_tool
from tests.plugins._wat import constant_answer, module, write_plugin

EVIL = "a" * 28 + "!"  # Python's re backtracks ~2**28 steps on ^(a+)+$: tens of seconds
CATASTROPHIC = {"type": "object", "properties": {"text": {"type": "string", "pattern": "^(a+)+$"}}}


class _Counter(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        body = json.dumps({"type": "integer"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def schema_server() -> Iterator[str]:
    """A loopback server that would hand out a schema: it must never be asked."""
    _Counter.hits = 0
    server = HTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/schema.json"
    server.shutdown()
    server.server_close()


def _echo(schema: dict[str, Any]) -> Tool:
    return Tool(name="echo", description="echo", parameters=schema, fn=lambda args: json.dumps(args))


def test_a_catastrophic_pattern_in_a_tool_schema_cannot_freeze_a_call() -> None:
    tool = _echo(CATASTROPHIC)
    began = time.monotonic()
    with pytest.raises(ToolError, match=r"^echo: invalid text: .*does not match"):
        call_tool(tool, {"text": EVIL})
    assert call_tool(tool, {"text": "aaa"}) == '{"text": "aaa"}'
    assert time.monotonic() - began < 1


def test_a_ref_to_a_url_is_refused_and_nothing_is_fetched(schema_server: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text('{"type": "string", "const": "the-secret-content"}')
    for ref in (schema_server, secret.as_uri()):
        tool = _echo({"type": "object", "properties": {"n": {"$ref": ref}}})
        with pytest.raises(ToolError, match=r"unresolvable reference") as caught:
            call_tool(tool, {"n": 1})
        assert "the-secret-content" not in str(caught.value)
    assert _Counter.hits == 0


def test_local_references_in_a_tool_schema_still_work() -> None:
    schema = {
        "type": "object",
        "$defs": {"grade": {"type": "integer", "minimum": 1}},
        "properties": {"g": {"$ref": "#/$defs/grade"}},
    }
    with pytest.raises(ToolError, match=r"invalid g: 0 is less than the minimum of 1"):
        call_tool(_echo(schema), {"g": 0})
    assert call_tool(_echo(schema), {"g": 2}) == '{"g": 2}'


def _plugin(tmp_path: Path, name: str, schema: dict[str, Any]) -> Path:
    data, body = constant_answer('{"result": "ok"}')
    tools = [{"name": "run", "description": "run it", "input_schema": schema}]
    return write_plugin(tmp_path / "src", name, module(body, data=data), tools=tools)


def test_plugin_manifests_refuse_remote_refs_and_check_arguments_in_linear_time(
    tmp_path: Path, schema_server: str
) -> None:
    with PluginHost() as host:
        registry = PluginRegistry(tmp_path / "installed", host=host)
        remote = {"type": "object", "properties": {"n": {"$ref": schema_server}}}
        with pytest.raises(InvalidManifest, match=r"only local references"):
            registry.install("tenant-a", _plugin(tmp_path, "remote", remote))
        lookaround = {"type": "object", "properties": {"t": {"type": "string", "pattern": "(?=a)b"}}}
        with pytest.raises(InvalidManifest, match=r"linear-time"):
            registry.install("tenant-a", _plugin(tmp_path, "lookaround", lookaround))
        registry.install("tenant-a", _plugin(tmp_path, "evil", CATASTROPHIC))
        began = time.monotonic()
        with pytest.raises(ValueError, match=r"evil\.run: invalid text"):
            registry.call_plugin_tool("tenant-a", "evil.run", {"text": EVIL})
        assert time.monotonic() - began < 1
        assert registry.call_plugin_tool("tenant-a", "evil.run", {"text": "aa"}) == "ok"
    assert _Counter.hits == 0


def test_an_mcp_tool_schema_that_refers_outside_itself_is_not_used(schema_server: str) -> None:
    remote = RemoteToolInfo("t", "", {"type": "object", "properties": {"n": {"$ref": schema_server}}})
    assert _usable(remote).input_schema == {"type": "object"}
    kept = RemoteToolInfo("t", "", CATASTROPHIC)
    assert _usable(kept) == kept  # RE2 runs it in linear time at call time
    assert _Counter.hits == 0
