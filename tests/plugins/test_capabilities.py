"""Capabilities: linked only when granted, scoped to the tenant and plugin, refusals go to the guest."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from convergio.plugins import (
    Capabilities,
    HTTPCapability,
    InvalidPlugin,
    KVCapability,
    LLMCapability,
    LLMRequest,
    LogCapability,
    PluginGrants,
    PluginRegistry,
    PluginToolError,
    UngrantedImport,
)
from tests.plugins._wat import ASK_LLM, write_plugin
from tests.plugins.conftest import EXAMPLES, TENANT
from tests.providers._servers import LoopbackServer

NOTES = Capabilities(kv=KVCapability(), log=LogCapability())


def test_kv_is_private_to_each_tenant(registry: PluginRegistry) -> None:
    for tenant in (TENANT, "tenant-b"):
        registry.install(tenant, EXAMPLES / "kv-notes")
        registry.grant(PluginGrants(tenant_id=tenant, plugin="kv-notes", capabilities=NOTES))
    registry.call_plugin_tool(TENANT, "kv-notes.put", {"key": "k", "value": 'a "secret" of A'})
    registry.call_plugin_tool("tenant-b", "kv-notes.put", {"key": "k", "value": "B's"})
    assert registry.call_plugin_tool(TENANT, "kv-notes.get", {"key": "k"}) == 'a "secret" of A'
    assert registry.call_plugin_tool("tenant-b", "kv-notes.get", {"key": "k"}) == "B's"
    registry.remove("tenant-b", "kv-notes")
    registry.install("tenant-b", EXAMPLES / "kv-notes")
    registry.grant(PluginGrants(tenant_id="tenant-b", plugin="kv-notes", capabilities=NOTES))
    with pytest.raises(PluginToolError, match="no note under that key"):
        registry.call_plugin_tool("tenant-b", "kv-notes.get", {"key": "k"})
    assert registry.call_plugin_tool(TENANT, "kv-notes.get", {"key": "k"}) == 'a "secret" of A'


def test_kv_refuses_values_over_the_cap_to_the_guest(tmp_path: Path, registry: PluginRegistry) -> None:
    registry.install(TENANT, EXAMPLES / "kv-notes")
    registry.grant(PluginGrants(tenant_id=TENANT, plugin="kv-notes", capabilities=NOTES))
    assert registry.kv is not None
    registry.kv.value_bytes = 8
    with pytest.raises(PluginToolError, match="the store refused the note"):
        registry.call_plugin_tool(TENANT, "kv-notes.put", {"key": "k", "value": "x" * 9})


def test_log_goes_to_the_logger(registry: PluginRegistry, caplog: pytest.LogCaptureFixture) -> None:
    registry.install(TENANT, EXAMPLES / "kv-notes")
    registry.grant(PluginGrants(tenant_id=TENANT, plugin="kv-notes", capabilities=NOTES))
    with caplog.at_level(logging.INFO, logger="convergio.plugins"):
        registry.call_plugin_tool(TENANT, "kv-notes.put", {"key": "k", "value": "v"})
    assert "plugin kv-notes (tenant tenant-a): kv-notes: saved a note" in caplog.text


def test_kv_granted_without_log_is_refused_naming_the_log_import(registry: PluginRegistry) -> None:
    registry.install(TENANT, EXAMPLES / "kv-notes")
    registry.grant(
        PluginGrants(tenant_id=TENANT, plugin="kv-notes", capabilities=Capabilities(kv=KVCapability()))
    )
    with pytest.raises(UngrantedImport, match=r"convergio\.log") as caught:
        registry.call_plugin_tool(TENANT, "kv-notes.get", {"key": "k"})
    assert caught.value.import_name == "convergio.log"


def test_a_grant_cannot_exceed_the_request(registry: PluginRegistry) -> None:
    registry.install(TENANT, EXAMPLES / "web-fetch")
    with pytest.raises(InvalidPlugin, match="http host"):
        registry.grant(
            PluginGrants(
                tenant_id=TENANT,
                plugin="web-fetch",
                capabilities=Capabilities(http=HTTPCapability(hosts=["evil.test"])),
            )
        )
    with pytest.raises(InvalidPlugin, match="'kv' is not requested"):
        registry.grant(PluginGrants(tenant_id=TENANT, plugin="web-fetch", capabilities=NOTES))


def _page(request: Request) -> Response:
    return PlainTextResponse(f"hello from {request.url.path}")


def _redirect(request: Request) -> Response:
    return RedirectResponse("http://example.org/elsewhere", status_code=302)


def test_http_fetch_reaches_granted_hosts_only(tmp_path: Path, registry: PluginRegistry) -> None:
    app = Starlette(routes=[Route("/page", _page), Route("/moved", _redirect)])
    with LoopbackServer(app) as server:
        granted = f"127.0.0.1:{server.port}"
        source = tmp_path / "web-fetch"
        source.mkdir()
        manifest = json.loads((EXAMPLES / "web-fetch" / "plugin.json").read_text())
        manifest["capabilities"]["http"]["hosts"] = [granted, "localhost"]
        (source / "plugin.json").write_text(json.dumps(manifest))
        (source / "web_fetch.wat").write_text((EXAMPLES / "web-fetch" / "web_fetch.wat").read_text())
        registry.install(TENANT, source)
        grant = Capabilities(http=HTTPCapability(hosts=[granted]))
        registry.grant(PluginGrants(tenant_id=TENANT, plugin="web-fetch", capabilities=grant))

        ok = json.loads(
            registry.call_plugin_tool(TENANT, "web-fetch.fetch", {"url": f"http://{granted}/page"})
        )
        assert ok["status"] == 200 and ok["body"] == "hello from /page"

        moved = json.loads(
            registry.call_plugin_tool(TENANT, "web-fetch.fetch", {"url": f"http://{granted}/moved"})
        )
        assert moved["status"] == 302 and moved["headers"]["location"] == "http://example.org/elsewhere"

        for url in (f"http://localhost:{server.port}/page", "http://example.org/", "file:///etc/passwd"):
            refused = json.loads(registry.call_plugin_tool(TENANT, "web-fetch.fetch", {"url": url}))
            assert refused["error"]["code"] in {"host_not_granted", "bad_request"}, url
        assert "not granted" in registry.call_plugin_tool(
            TENANT, "web-fetch.fetch", {"url": "http://example.org/"}
        )

        # Hosted, a grant cannot open the platform's own network (metadata endpoint, loopback).
        registry.public_only = True
        for url in (f"http://{granted}/page", "http://169.254.169.254/metadata/identity"):
            if "169.254" in url:
                grant = Capabilities(http=HTTPCapability(hosts=[granted, "169.254.169.254"]))
                manifest["capabilities"]["http"]["hosts"] = [granted, "169.254.169.254"]
                (source / "plugin.json").write_text(json.dumps(manifest))
                registry.install(TENANT, source)
                registry.grant(PluginGrants(tenant_id=TENANT, plugin="web-fetch", capabilities=grant))
            refused = json.loads(registry.call_plugin_tool(TENANT, "web-fetch.fetch", {"url": url}))
            assert refused["error"]["code"] == "host_not_public", (url, refused)


def test_llm_complete_goes_through_the_injected_callable(tmp_path: Path, registry: PluginRegistry) -> None:
    requests: list[LLMRequest] = []

    def complete(request: LLMRequest) -> str:
        requests.append(request)
        return f"echo: {request.prompt}"

    source = write_plugin(
        tmp_path / "src",
        "ask",
        ASK_LLM,
        capabilities={"llm": {"max_tokens": 50}},
        tools=[
            {
                "name": "run",
                "description": "ask the model",
                "input_schema": {"type": "object", "properties": {"prompt": {"type": "string"}}},
            }
        ],
    )
    registry.install(TENANT, source)
    registry.grant(
        PluginGrants(
            tenant_id=TENANT, plugin="ask", capabilities=Capabilities(llm=LLMCapability(max_tokens=20))
        )
    )
    answer = registry.call_plugin_tool(TENANT, "ask.run", {"prompt": "hi"}, llm=complete)
    assert json.loads(answer) == {"text": "echo: hi"}
    assert requests == [LLMRequest(prompt="hi", system=None, max_tokens=20)]
    without = json.loads(registry.call_plugin_tool(TENANT, "ask.run", {"prompt": "hi"}))
    assert without["error"]["code"] == "unavailable"
