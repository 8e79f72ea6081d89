"""One agent call end to end on the offline provider: prompts, limits, tools, supervisors."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from pydantic import ValidationError

import convergio.agents as agents
from convergio.agents import MAX_TURNS, AgentCall, AgentOutcome, Limits, RoundCall, WorkerRef, run_agent
from convergio.graph import AgentSpec
from convergio.providers import (
    MESSAGE_OVERHEAD,
    Completion,
    CompletionRequest,
    Message,
    ProviderError,
    ToolCall,
    Usage,
    count_message_tokens,
    count_tokens,
)
from convergio.providers import _registry as provider_registry

TOPIC = "durable agents on Azure"


def _call(agent: dict[str, Any] | None = None, **fields: Any) -> AgentCall:
    spec = {"id": "writer", "prompt": "Write about {{ input.topic }}.", **(agent or {})}
    return AgentCall(
        run_id="run-1", node_id=spec["id"], agent=AgentSpec(**spec), input={"topic": TOPIC}, **fields
    )


def _prompt_tokens(*contents: str) -> int:
    return sum(MESSAGE_OVERHEAD + count_tokens(content) for content in contents)


def test_public_surface_is_pinned() -> None:
    assert sorted(agents.__all__) == [
        "AgentCall",
        "AgentOutcome",
        "AgentStatus",
        "Allowance",
        "Allowed",
        "Limits",
        "MANAGED",
        "MAX_TURNS",
        "OFFLINE",
        "OUTPUT_CAP",
        "ProviderResolver",
        "Resolve",
        "RoundCall",
        "Target",
        "WorkerRef",
        "offline_only",
        "output_ceiling",
        "parse_call",
        "prompt_bound",
        "run_agent",
    ]


# -- the call and its outcome -------------------------------------------------------------


def test_an_agent_completes_with_its_usage() -> None:
    outcome = run_agent(_call({"options": {"output_tokens": 12}}))
    assert outcome.status == "completed"
    assert outcome.output == "offline-1: Write about durable agents on Azure. Write"
    assert count_tokens(outcome.output) == 12
    prompt = _prompt_tokens("Write about durable agents on Azure.")
    assert outcome.usage == {
        "prompt_tokens": prompt,
        "completion_tokens": 12,
        "total_tokens": prompt + 12,
        "tool_calls": 0,
    }
    assert (outcome.provider, outcome.model, outcome.error, outcome.calls) == (
        "offline",
        "offline-1",
        None,
        [],
    )


def test_the_same_call_gives_the_same_outcome() -> None:
    call = _call({"tools": ["calculator", "keywords"], "instructions": "Be precise."})
    assert run_agent(call) == run_agent(call)


def test_instructions_become_the_system_message() -> None:
    plain = run_agent(_call())
    briefed = run_agent(_call({"instructions": "Be brief, be exact."}))
    extra = briefed.usage["prompt_tokens"] - plain.usage["prompt_tokens"]
    assert extra == MESSAGE_OVERHEAD + count_tokens("Be brief, be exact.")


def test_upstream_outputs_and_events_flow_into_the_prompt() -> None:
    agent = {
        "id": "editor",
        "prompt": "Edit {{ outputs.research }} for {{ event.reader }}",
        "depends_on": ["research"],
        "await_event": {"name": "approve", "timeout_seconds": 60},
    }
    outcome = run_agent(_call(agent, outputs={"research": "the research notes"}, event={"reader": "Ada"}))
    assert outcome.output is not None
    assert outcome.output.startswith("offline-1: Edit the research notes for Ada")


def test_a_model_and_json_round_trip_like_the_activity_does() -> None:
    call = _call({"model": "sim-large"}, attempt=2, limits=Limits(max_tokens=500))
    again = AgentCall.model_validate(json.loads(call.model_dump_json()))
    assert again == call
    body = run_agent(again).model_dump(mode="json")
    assert AgentOutcome.model_validate(json.loads(json.dumps(body))).model == "sim-large"
    assert body["output"].startswith("sim-large: Write about")


def test_calls_refuse_unknown_fields_and_impossible_values() -> None:
    data = json.loads(_call().model_dump_json())
    with pytest.raises(ValidationError, match="bogus"):
        AgentCall.model_validate({**data, "bogus": 1})
    with pytest.raises(ValidationError, match="attempt"):
        AgentCall.model_validate({**data, "attempt": 0})
    with pytest.raises(ValidationError, match="max_tool_calls"):
        Limits(max_tool_calls=-1)


# -- permanent failures -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "error"),
    [
        ({"prompt": "Write about {{ input.missing }}."}, "prompt references a missing value"),
        ({"provider": "nope"}, "unknown provider 'nope'"),
        ({"tools": ["search"]}, "unknown tool 'search'"),
        ({"prompt": None}, "the agent has no prompt and was given no task"),
        ({"kind": "graph", "graph_ref": "other"}, "sub-graph node"),
        ({"options": {"output_tokens": 0}}, "bad_request: offline option output_tokens must be"),
    ],
)
def test_permanent_errors_are_failed_outcomes(agent: dict[str, Any], error: str) -> None:
    outcome = run_agent(_call(agent))
    assert outcome.status == "failed"
    assert outcome.error is not None and error in outcome.error
    assert outcome.output is None


def test_a_retryable_provider_error_is_raised_for_the_orchestrator_to_retry() -> None:
    call = _call({"options": {"fail_first_n": 2}})
    for attempt in (1, 2):
        with pytest.raises(ProviderError) as info:
            run_agent(call.model_copy(update={"attempt": attempt}))
        assert info.value.retryable
    assert run_agent(call.model_copy(update={"attempt": 3})).status == "completed"


# -- token budget -------------------------------------------------------------------------


def test_a_prompt_that_does_not_fit_the_budget_is_never_sent() -> None:
    # fail_first_n would raise if the provider were called at all.
    outcome = run_agent(_call({"options": {"fail_first_n": 1}}, limits=Limits(max_tokens=5)))
    assert outcome.status == "budget_exceeded"
    assert outcome.error is not None and "token budget" in outcome.error
    assert outcome.usage["total_tokens"] == 0


def test_an_answer_cut_by_the_budget_is_budget_exceeded_with_the_partial_output() -> None:
    prompt = _prompt_tokens("Write about durable agents on Azure.")
    outcome = run_agent(_call(limits=Limits(max_tokens=prompt + 5)))
    assert outcome.status == "budget_exceeded"
    assert outcome.output == "offline-1: Write"
    assert outcome.usage["total_tokens"] == prompt + 5


def test_an_answer_that_exactly_fits_the_budget_completes() -> None:
    prompt = _prompt_tokens("Write about durable agents on Azure.")
    outcome = run_agent(_call({"options": {"output_tokens": 10}}, limits=Limits(max_tokens=prompt + 10)))
    assert outcome.status == "completed"
    assert outcome.usage["total_tokens"] == prompt + 10


def test_the_budget_spans_every_turn_of_the_tool_loop() -> None:
    free = run_agent(_call({"tools": ["calculator"]}))
    assert free.status == "completed"
    tight = run_agent(
        _call({"tools": ["calculator"]}, limits=Limits(max_tokens=free.usage["total_tokens"] - 1))
    )
    assert tight.status == "budget_exceeded"
    assert tight.usage["tool_calls"] == 1
    assert tight.usage["total_tokens"] == free.usage["total_tokens"] - 1


# -- tools --------------------------------------------------------------------------------

SUMS = {"prompt": "We sold 12 apples and 30 pears. What is the total?"}


def test_the_tool_loop_runs_the_tools_and_the_answer_reports_their_results() -> None:
    outcome = run_agent(
        _call({**SUMS, "tools": ["calculator", "word_count"], "options": {"output_tokens": 30}})
    )
    assert outcome.status == "completed"
    assert outcome.output is not None
    assert outcome.output.startswith(
        "offline-1: calculator returned 42; word_count returned words: 11, sentences: 2, characters: 50."
    )
    assert outcome.usage["tool_calls"] == 2
    # The outcome keeps each call and what it returned, for the run's agent view (issue 23.6).
    assert [t["name"] for t in outcome.tools] == ["calculator", "word_count"]
    assert outcome.tools[0]["result"] == "42" and "12" in str(outcome.tools[0]["arguments"])


def test_the_tool_log_is_bounded_in_entries_and_characters() -> None:
    huge = "9" * 1200
    outcome = run_agent(_call({"prompt": f"Double {huge}", "tools": ["calculator"]}))
    assert len(outcome.tools) == 1
    assert len(str(outcome.tools[0]["arguments"])) <= 1000 and str(outcome.tools[0]["result"]).startswith(
        "error:"
    )
    many = run_agent(
        _call({**SUMS, "tools": ["calculator"], "options": {"tool_calls_per_round": 25, "output_tokens": 5}})
    )
    assert many.usage["tool_calls"] == 25 and len(many.tools) == 20


def test_a_tool_error_is_shown_to_the_model_not_raised() -> None:
    huge = "9" * 1200  # the calculator's schema caps expressions at 1000 characters
    outcome = run_agent(_call({"prompt": f"Double {huge}", "tools": ["calculator"]}))
    assert outcome.status == "completed"
    assert outcome.output is not None
    assert outcome.output.startswith("offline-1: calculator returned error: calculator: invalid expression:")
    assert outcome.usage["tool_calls"] == 1


def test_asking_for_more_tool_calls_than_allowed_is_tool_limit_and_runs_none() -> None:
    agent = {**SUMS, "tools": ["calculator", "word_count"]}
    outcome = run_agent(_call(agent, limits=Limits(max_tool_calls=1)))
    assert outcome.status == "tool_limit"
    assert outcome.error == "the model asked for 2 tool call(s); 1 of 1 left"
    assert outcome.usage["tool_calls"] == 0
    assert outcome.usage["completion_tokens"] > 0
    assert run_agent(_call(agent, limits=Limits(max_tool_calls=2))).status == "completed"


def test_the_tool_limit_counts_calls_across_rounds() -> None:
    agent = {**SUMS, "tools": ["calculator"], "options": {"tool_rounds": 2}}
    outcome = run_agent(_call(agent, limits=Limits(max_tool_calls=1)))
    assert outcome.status == "tool_limit"
    assert outcome.usage["tool_calls"] == 1


def test_a_model_that_never_stops_calling_tools_fails_after_the_turn_cap() -> None:
    outcome = run_agent(_call({**SUMS, "tools": ["calculator"], "options": {"tool_rounds": 100}}))
    assert outcome.status == "failed"
    assert outcome.error == f"no final answer after {MAX_TURNS} model turns"
    assert outcome.usage["tool_calls"] == MAX_TURNS


# -- time ---------------------------------------------------------------------------------


def test_a_slow_provider_is_stopped_at_max_seconds() -> None:
    started = time.monotonic()
    outcome = run_agent(_call({"options": {"latency_ms": 3000}}, limits=Limits(max_seconds=0.1)))
    assert outcome.status == "budget_exceeded"
    assert outcome.error == "time budget of 0.1s spent"
    assert time.monotonic() - started < 2.0


def test_no_time_left_means_no_call() -> None:
    outcome = run_agent(_call({"options": {"fail_first_n": 1}}, limits=Limits(max_seconds=0)))
    assert outcome.status == "budget_exceeded"


# -- workers and supervisors --------------------------------------------------------------


def test_a_worker_without_a_prompt_works_on_its_task() -> None:
    outcome = run_agent(_call({"id": "counter", "prompt": None}, task="Count the apples in the basket"))
    assert outcome.output is not None
    assert outcome.output.startswith("offline-1: Count the apples in the basket")


BOSS = {
    "id": "boss",
    "kind": "supervisor",
    "workers": ["research", "writer"],
    "prompt": "Report on {{ input.topic }}",
}
TEAM = [WorkerRef(name="research", description="finds facts"), WorkerRef(name="writer")]


def test_a_supervisor_delegates_then_answers_with_what_its_workers_returned() -> None:
    first = run_agent(_call(BOSS, workers=TEAM))
    assert first.status == "delegated"
    assert first.calls == [
        {"id": "call_1_1", "worker": "research", "task": "Report on durable agents on Azure"},
        {"id": "call_1_2", "worker": "writer", "task": "Report on durable agents on Azure"},
    ]
    assert first.usage["tool_calls"] == 2
    assert first.output is None

    rounds = [
        [
            RoundCall(id="call_1_1", worker="research", task="find", output="FACTS-7"),
            RoundCall(id="call_1_2", worker="writer", task="draft", output=None, error="timed out"),
        ]
    ]
    second = run_agent(_call(BOSS, workers=TEAM, rounds=rounds))
    assert second.status == "completed"
    assert second.output is not None
    assert second.output.startswith("offline-1: research returned FACTS-7; writer returned error: timed out.")
    assert second.calls == []
    assert second.usage["prompt_tokens"] > first.usage["prompt_tokens"]


def test_a_supervisor_on_its_final_turn_is_offered_no_workers() -> None:
    outcome = run_agent(_call(BOSS, workers=TEAM, final=True))
    assert outcome.status == "completed"
    assert outcome.calls == []
    assert outcome.usage["tool_calls"] == 0


def test_a_supervisor_over_its_tool_limit_delegates_nothing() -> None:
    outcome = run_agent(_call(BOSS, workers=TEAM, limits=Limits(max_tool_calls=1)))
    assert outcome.status == "tool_limit"
    assert outcome.calls == []


def test_a_supervisor_with_tools_of_its_own_fails_clearly() -> None:
    outcome = run_agent(_call({**BOSS, "tools": ["calculator"]}, workers=TEAM))
    assert outcome.status == "failed"
    assert outcome.error is not None and "give them to a worker" in outcome.error


# -- models that misbehave (a scripted provider, registered for the test) -----------------


class Scripted:
    """A provider that answers with a fixed completion and records what it was asked."""

    name = "scripted"
    default_model = "script-1"

    def __init__(self, completion: Completion) -> None:
        self.completion = completion
        self.requests: list[CompletionRequest] = []

    def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        return self.completion


def _script(monkeypatch: pytest.MonkeyPatch, completion: Completion) -> Scripted:
    provider = Scripted(completion)
    monkeypatch.setitem(provider_registry._FACTORIES, "scripted", lambda: provider)
    return provider


def _asks(*calls: ToolCall, text: str = "") -> Completion:
    return Completion(text, calls, Usage(10, 5), "tool_calls", "script-1")


@pytest.mark.parametrize(
    ("calls", "error"),
    [
        ((ToolCall("c1", "hacker", {"task": "x"}),), "unknown worker 'hacker' (workers: research, writer)"),
        ((ToolCall("c1", "research", {"topic": "x"}),), "call to 'research' has no task"),
        ((ToolCall("c1", "research", {"task": "a"}), ToolCall("c1", "writer", {"task": "b"})), "'c1' twice"),
    ],
)
def test_a_supervisor_model_that_calls_badly_fails_the_call(
    monkeypatch: pytest.MonkeyPatch, calls: tuple[ToolCall, ...], error: str
) -> None:
    _script(monkeypatch, _asks(*calls))
    outcome = run_agent(_call({**BOSS, "provider": "scripted"}, workers=TEAM))
    assert outcome.status == "failed"
    assert outcome.error is not None and error in outcome.error
    assert (outcome.provider, outcome.model) == ("scripted", "script-1")


def test_a_final_turn_that_only_calls_workers_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = _script(monkeypatch, _asks(ToolCall("c1", "research", {"task": "more"})))
    outcome = run_agent(_call({**BOSS, "provider": "scripted"}, workers=TEAM, final=True))
    assert outcome.status == "failed"
    assert provider.requests[0].tools == ()


def test_a_tool_the_agent_was_not_given_is_answered_with_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = _script(monkeypatch, _asks(ToolCall("c1", "word_count", {"text": "a b"})))
    outcome = run_agent(
        _call({"provider": "scripted", "tools": ["calculator"]}, limits=Limits(max_tool_calls=1))
    )
    assert outcome.status == "tool_limit"  # the second turn asks again; the first was answered
    second = provider.requests[1].messages
    assert second[-1] == Message(
        "tool", "error: tool 'word_count' is not available to this agent", tool_call_id="c1"
    )


def test_usage_a_provider_reports_over_the_budget_is_budget_exceeded(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = _script(monkeypatch, Completion("fine", (), Usage(900, 20), "stop", "script-1"))
    outcome = run_agent(_call({"provider": "scripted"}, limits=Limits(max_tokens=100)))
    assert outcome.status == "budget_exceeded"
    assert outcome.output == "fine"
    request = provider.requests[0]
    assert request.max_output_tokens == 100 - count_message_tokens(request.messages)


def test_a_length_stop_that_our_budget_did_not_cause_completes(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = _script(monkeypatch, Completion("cut short", (), Usage(10, 5), "length", "script-1"))
    outcome = run_agent(_call({"provider": "scripted"}))
    assert (outcome.status, outcome.output) == ("completed", "cut short")
    assert provider.requests[0].max_output_tokens == 4096  # no budget: the model's limit (unknown: default)


# -- logging ------------------------------------------------------------------------------


def test_logs_carry_ids_and_sizes_never_prompts_or_outputs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="convergio.agents")
    secret = "zanzibar-quartz"
    outcome = run_agent(_call({**SUMS, "prompt": f"{secret} 12 and 30", "tools": ["calculator"]}))
    assert outcome.output is not None and secret in outcome.output
    records = [r for r in caplog.records if r.name == "convergio.agents"]
    assert any("run-1/writer" in r.getMessage() and "completed" in r.getMessage() for r in records)
    assert all(secret not in r.getMessage() for r in records)
    assert all(isinstance(r.msg, str) and "%" in r.msg for r in records)


def test_a_routine_outcome_is_logged_at_debug_and_an_unusual_one_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="convergio.agents")
    run_agent(_call())
    run_agent(_call({"id": "tight"}, limits=Limits(max_tokens=5)))
    ends = {
        r.getMessage().split(" ")[1]: r.levelno
        for r in caplog.records
        if r.name == "convergio.agents" and "model turn(s)" in r.getMessage()
    }
    assert ends == {"run-1/writer": logging.DEBUG, "run-1/tight": logging.INFO}


def test_an_outcomes_json_fields_are_its_json_dump() -> None:
    """The ``run_agent`` activity returns ``json_fields()`` as the outcome's JSON (no dump's copies)."""
    outcomes = [
        run_agent(_call({**SUMS, "tools": ["calculator"]})),  # tool calls: JSON values in ``tools``
        run_agent(_call(BOSS, workers=TEAM)),  # delegated: ``calls``
        run_agent(_call({"id": "tight"}, limits=Limits(max_tokens=5))),  # an error, no output
        AgentOutcome(
            status="completed",
            output="x",
            usage={"prompt_tokens": 1, "estimated": True},  # validated: True is 1 in a dict[str, int]
            provider="p",
            model="m",
            tools=[{"n": [1, 2.5, None, True, {"k": "v"}]}],
        ),
    ]
    for outcome in outcomes:
        assert outcome.json_fields() == outcome.model_dump(mode="json")
        assert json.dumps(outcome.json_fields()) == json.dumps(outcome.model_dump(mode="json"))
    # json_fields hands pydantic's own values over: right only while every field holds JSON values
    # (no nested model, date or decimal). A new field must be checked here first.
    assert set(AgentOutcome.model_fields) == {
        "status",
        "output",
        "error",
        "usage",
        "calls",
        "provider",
        "model",
        "tools",
    }
    copied = outcomes[0].model_copy(update={"usage": {"prompt_tokens": 2}})  # as ``execute`` makes them
    assert copied.json_fields() == copied.model_dump(mode="json")
