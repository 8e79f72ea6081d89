"""Tools from other sources than the built-ins, guards around every text, streaming deltas."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from convergio.agents import AgentCall, Limits, run_agent
from convergio.graph import AgentSpec
from convergio.providers import (
    Completion,
    CompletionRequest,
    StreamEvent,
    Usage,
    get_provider,
)
from convergio.tools import (
    BUILTINS,
    Tool,
    Toolbox,
    ToolContext,
    ToolError,
    UnknownTool,
    model_names,
)

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_TEXT_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "stage": {"enum": ["prompt", "output"]}},
    "required": ["text", "stage"],
}


@dataclass
class Recorder:
    """The offline provider, keeping every request it was sent."""

    requests: list[CompletionRequest] = field(default_factory=list)
    spent: Usage = field(default_factory=Usage)
    name: str = "offline"
    default_model: str = "offline-1"

    def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        completion = get_provider("offline").complete(request)
        self.spent += completion.usage
        return completion

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        completion = self.complete(request)
        words = completion.text.split(" ")
        for i, word in enumerate(words):
            yield StreamEvent(delta=word if i == 0 else " " + word)
        estimated = Usage(completion.usage.prompt_tokens, completion.usage.completion_tokens, estimated=True)
        yield StreamEvent(completion=Completion(completion.text, (), estimated, "stop", completion.model))

    def seen(self) -> str:
        return "\n".join(m.content for r in self.requests for m in r.messages)


class TenantTools:
    """A second source: tools named ``notes.*`` that act for the calling tenant."""

    def __init__(self) -> None:
        self.contexts: list[ToolContext] = []

    def tool_names(self, tenant_id: str) -> frozenset[str]:
        return frozenset({"notes.lookup", "notes.ask", "notes.redact", "notes.block"})

    def bind(self, name: str, context: ToolContext) -> Tool | None:
        self.contexts.append(context)
        if name == "notes.lookup":
            return Tool(name, "look a note up", {"type": "object"}, lambda _: f"note of {context.tenant_id}")
        if name == "notes.ask":
            assert context.complete is not None
            ask = context.complete
            return Tool(name, "ask the model", {"type": "object"}, lambda _: ask("summarise x", None, 5))
        if name == "notes.redact":
            return Tool(name, "redact emails", _TEXT_SCHEMA, lambda a: EMAIL.sub("[email]", a["text"]))
        if name == "notes.block":
            return Tool(name, "block outputs", _TEXT_SCHEMA, _block_outputs)
        return None


def _block_outputs(arguments: dict[str, Any]) -> str:
    blocked = arguments["stage"] == "output"
    return json.dumps({"text": arguments["text"], "blocked": blocked, "reason": "not for children"})


def _call(agent: dict[str, Any], **fields: Any) -> AgentCall:
    spec = {"id": "writer", "prompt": "Write to {{ input.who }}.", **agent}
    return AgentCall(
        run_id="run-1",
        tenant="acme",
        node_id="writer",
        agent=AgentSpec(**spec),
        input={"who": "ada@school.org"},
        **fields,
    )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def box() -> tuple[Toolbox, TenantTools]:
    source = TenantTools()
    return Toolbox([BUILTINS, source]), source


def _run(call: AgentCall, recorder: Recorder, box: tuple[Toolbox, TenantTools], **kw: Any) -> Any:
    return run_agent(call, resolve=lambda tenant, name: recorder, tools=box[0], **kw)


def test_a_toolbox_joins_its_sources_and_names_what_it_knows(box: tuple[Toolbox, TenantTools]) -> None:
    toolbox, _ = box
    assert {"calculator", "notes.lookup"} <= toolbox.tool_names("acme")
    with pytest.raises(UnknownTool, match=r"unknown tool 'nope' \(known: calculator, keywords, notes.ask"):
        toolbox.bind(["nope"], ToolContext("acme"))


def test_model_facing_names_are_safe_and_never_clash() -> None:
    names = model_names(["notes.lookup", "notes_lookup", "calculator", "x" * 80])
    assert list(names) == ["notes_lookup", "notes_lookup_2", "calculator", "x" * 64]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", n) for n in names)
    assert names["notes_lookup"] == "notes.lookup" and names["notes_lookup_2"] == "notes_lookup"


def test_a_tenant_tool_is_bound_to_the_call_and_offered_under_a_safe_name(
    recorder: Recorder, box: tuple[Toolbox, TenantTools]
) -> None:
    outcome = _run(_call({"tools": ["notes.lookup", "calculator"]}), recorder, box)
    assert outcome.status == "completed"
    assert [t.name for t in recorder.requests[0].tools] == ["notes_lookup", "calculator"]
    assert "notes_lookup returned note of acme" in (outcome.output or "")
    assert outcome.usage["tool_calls"] == 2
    assert box[1].contexts[0].tenant_id == "acme" and box[1].contexts[0].node_id == "writer"


def test_a_tool_may_ask_the_agents_model_and_the_tokens_count_for_the_agent(
    recorder: Recorder, box: tuple[Toolbox, TenantTools]
) -> None:
    outcome = _run(_call({"tools": ["notes.ask"], "options": {"output_tokens": 4}}), recorder, box)
    assert outcome.status == "completed"
    asked = [r for r in recorder.requests if r.messages[-1].content == "summarise x"]
    assert len(asked) == 1 and asked[0].tools == () and asked[0].max_output_tokens == 5
    assert len(recorder.requests) == 3  # the tool call turn, the tool's question, the answer
    assert outcome.usage["total_tokens"] == recorder.spent.total_tokens


def test_a_tools_question_cannot_break_the_agents_token_budget(
    recorder: Recorder, box: tuple[Toolbox, TenantTools]
) -> None:
    outcome = _run(_call({"tools": ["notes.ask"]}, limits=Limits(max_tokens=20)), recorder, box)
    assert outcome.status == "budget_exceeded"
    assert len(recorder.requests) == 1  # the question did not fit what was left: never sent
    assert outcome.usage["total_tokens"] == recorder.spent.total_tokens <= 20


def test_guards_rewrite_every_text_before_the_model_sees_it(
    recorder: Recorder, box: tuple[Toolbox, TenantTools]
) -> None:
    agent = {
        "instructions": "Reply to teacher@school.org",
        "guards": ["notes.redact"],
        "tools": ["notes.lookup"],
    }
    outcome = _run(_call(agent), recorder, box)
    assert outcome.status == "completed"
    seen = recorder.seen()
    assert "@school.org" not in seen and seen.count("[email]") >= 2
    assert "@" not in (outcome.output or "")
    # system, user, one tool result and the output: four guard calls, billed as tool calls
    assert outcome.usage["tool_calls"] == 1 + 4


def test_a_guard_that_blocks_the_output_fails_the_agent_with_its_reason(
    recorder: Recorder, box: tuple[Toolbox, TenantTools]
) -> None:
    outcome = _run(_call({"guards": ["notes.block"]}), recorder, box)
    assert outcome.status == "failed"
    assert outcome.error == "blocked by guard notes.block (output): not for children"
    assert outcome.output is None


def test_a_guard_that_fails_stops_the_text_before_any_provider_call(recorder: Recorder) -> None:
    def broken(_: dict[str, Any]) -> str:
        raise ToolError("cannot check")

    class Broken:
        def tool_names(self, tenant_id: str) -> frozenset[str]:
            return frozenset({"broken"})

        def bind(self, name: str, context: ToolContext) -> Tool | None:
            return Tool("broken", "fails", _TEXT_SCHEMA, broken)

    outcome = run_agent(
        _call({"guards": ["broken"]}), resolve=lambda t, n: recorder, tools=Toolbox([Broken()])
    )
    assert outcome.status == "failed" and outcome.error == "guard broken: cannot check"
    assert recorder.requests == []


def test_streaming_passes_every_delta_on_and_keeps_the_estimated_mark(
    recorder: Recorder, box: tuple[Toolbox, TenantTools]
) -> None:
    deltas: list[str] = []
    outcome = _run(_call({"options": {"output_tokens": 9}}), recorder, box, on_text=deltas.append)
    assert outcome.status == "completed"
    assert len(deltas) > 1 and "".join(deltas) == outcome.output
    assert outcome.usage["estimated"] is True


def test_a_stream_without_a_completion_is_a_bad_response(box: tuple[Toolbox, TenantTools]) -> None:
    class Cut(Recorder):
        def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
            yield StreamEvent(delta="half an ans")

    outcome = run_agent(_call({}), resolve=lambda t, n: Cut(), tools=box[0], on_text=lambda _: None)
    assert outcome.status == "failed"
    assert outcome.error == "bad_response: the stream ended without a completion"


def test_an_agent_with_guards_is_not_streamed_so_nothing_unchecked_leaks(
    recorder: Recorder, box: tuple[Toolbox, TenantTools]
) -> None:
    deltas: list[str] = []
    outcome = _run(_call({"guards": ["notes.redact"]}), recorder, box, on_text=deltas.append)
    assert outcome.status == "completed" and deltas == []
    assert "[email]" in (outcome.output or "") and "@" not in (outcome.output or "")
