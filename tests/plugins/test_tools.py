"""Plugin tools in agents: named ``plugin.tool``, bound per call, limited and metered like built-ins."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from convergio.agents import AgentCall, AgentOutcome, Limits, run_agent
from convergio.graph import AgentSpec
from convergio.plugins import (
    Capabilities,
    LLMCapability,
    PluginGrants,
    PluginHost,
    PluginRegistry,
    PluginTools,
)
from convergio.plugins import Limits as PluginLimits
from convergio.providers import Completion, CompletionRequest, get_provider
from convergio.tools import BUILTINS, Toolbox, ToolContext, ToolError, call_tool
from tests.plugins._wat import ASK_LLM, SPIN, constant_answer, module, write_plugin
from tests.plugins.conftest import EXAMPLES, TENANT


class Offline:
    """The offline provider, counting the requests it answers."""

    name = "offline"
    default_model = "offline-1"

    def __init__(self) -> None:
        self.requests: list[CompletionRequest] = []

    def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        return get_provider("offline").complete(request)


def _run(registry: PluginRegistry, provider: Offline, tools: list[str], **limits: Any) -> AgentOutcome:
    call = AgentCall(
        run_id="run-1",
        tenant=TENANT,
        node_id="writer",
        agent=AgentSpec(id="writer", prompt="Measure: {{ input }}", tools=tools),
        input="Plugins are tools.",
        limits=Limits(**limits),
    )
    toolbox = Toolbox([BUILTINS, PluginTools(registry)])
    return run_agent(call, resolve=lambda tenant, name: provider, tools=toolbox)


def test_plugin_tools_are_named_per_tenant(registry: PluginRegistry) -> None:
    source = PluginTools(registry)
    registry.install(TENANT, EXAMPLES / "text-stats")
    registry.install(TENANT, EXAMPLES / "kv-notes")
    assert source.tool_names(TENANT) == {"text-stats.stats", "kv-notes.put", "kv-notes.get"}
    assert source.tool_names("tenant-b") == frozenset()
    assert source.bind("text-stats.stats", ToolContext("tenant-b")) is None
    assert source.bind("text-stats.nope", ToolContext(TENANT)) is None
    assert source.bind("calculator", ToolContext(TENANT)) is None
    assert source.bind("mcp.server.tool", ToolContext(TENANT)) is None


def test_an_agent_calls_a_plugin_tool_and_the_call_is_counted(registry: PluginRegistry) -> None:
    registry.install(TENANT, EXAMPLES / "text-stats")
    outcome = _run(registry, Offline(), ["text-stats.stats", "word_count"])
    assert outcome.status == "completed", outcome
    assert outcome.output is not None
    # The offline model calls each offered tool once, then reports what each returned.
    assert 'text-stats_stats returned {"chars":' in outcome.output
    assert outcome.usage["tool_calls"] == 2


def test_plugin_calls_count_against_max_tool_calls(registry: PluginRegistry) -> None:
    registry.install(TENANT, EXAMPLES / "text-stats")
    outcome = _run(registry, Offline(), ["text-stats.stats", "word_count"], max_tool_calls=1)
    assert outcome.status == "tool_limit"
    assert outcome.error == "the model asked for 2 tool call(s); 1 of 1 left"


def test_an_ungranted_capability_fails_the_agent_saying_what_to_grant(registry: PluginRegistry) -> None:
    registry.install(TENANT, EXAMPLES / "kv-notes")
    outcome = _run(registry, Offline(), ["kv-notes.put"])
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert "imports convergio." in outcome.error and "'kv' capability" in outcome.error, outcome.error
    assert "PUT /api/v1/plugins/kv-notes/grants" in outcome.error


def test_llm_complete_is_the_agents_own_model_and_budget(tmp_path: Path, registry: PluginRegistry) -> None:
    schema = {"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]}
    tools = [{"name": "run", "description": "ask", "input_schema": schema}]
    registry.install(
        TENANT, write_plugin(tmp_path / "src", "ask", ASK_LLM, capabilities={"llm": {}}, tools=tools)
    )
    registry.grant(
        PluginGrants(
            tenant_id=TENANT, plugin="ask", capabilities=Capabilities(llm=LLMCapability(max_tokens=7))
        )
    )
    provider = Offline()
    outcome = _run(registry, provider, ["ask.run"])
    assert outcome.status == "completed", outcome
    # Turn 1 calls the tool, the plugin asks the agent's model once, turn 2 answers.
    assert len(provider.requests) == 3
    asked = provider.requests[1]
    assert asked.tools == () and asked.max_output_tokens == 7
    assert outcome.output is not None and 'ask_run returned {"text":' in outcome.output
    # The plugin's completion is billed with the agent: three requests' prompt tokens.
    prompts = sum(get_provider("offline").complete(r).usage.prompt_tokens for r in provider.requests)
    assert outcome.usage["prompt_tokens"] == prompts


def test_a_hostile_plugin_fails_its_tool_call_and_the_agent_goes_on(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    registry.install(TENANT, write_plugin(tmp_path / "src", "spin", SPIN, limits={"fuel": 5_000_000}))
    registry.install(TENANT, EXAMPLES / "text-stats")
    outcome = _run(registry, Offline(), ["spin.run", "text-stats.stats"])
    assert outcome.status == "completed", outcome
    assert outcome.output is not None
    assert (
        "spin_run returned error: spin.run: plugin 'spin' ran out of fuel (5000000 units)" in outcome.output
    )
    assert 'text-stats_stats returned {"chars":' in outcome.output
    assert outcome.usage["tool_calls"] == 2


def test_a_plugin_gets_no_more_wall_time_than_the_agent_has_left(tmp_path: Path) -> None:
    ceilings = PluginLimits(fuel=10_000_000_000, memory_pages=64, wall_time_ms=10_000, output_bytes=1024)
    with PluginHost(ceilings=ceilings) as host:
        registry = PluginRegistry(tmp_path / "installed", host=host)
        limits = {"fuel": 10_000_000_000, "wall_time_ms": 10_000}
        registry.install(TENANT, write_plugin(tmp_path / "src", "spin", SPIN, limits=limits))
        tool = PluginTools(registry).bind("spin.run", ToolContext(TENANT, timeout_s=0.3))
        assert tool is not None
        started = time.monotonic()
        with pytest.raises(ToolError, match=r"plugin 'spin' ran over its \d+ ms wall time"):
            tool.fn({})
        assert time.monotonic() - started < 2.0
        with pytest.raises(ToolError, match="no time left"):
            tool.fn({})


def test_a_plugin_error_answer_is_a_tool_error(tmp_path: Path, registry: PluginRegistry) -> None:
    data, body = constant_answer('{"error": "the text is empty"}')
    registry.install(TENANT, write_plugin(tmp_path / "src", "picky", module(body, data=data)))
    tool = PluginTools(registry).bind("picky.run", ToolContext(TENANT))
    assert tool is not None
    with pytest.raises(ToolError, match=r"^picky\.run: the text is empty$"):
        call_tool(tool, {})
