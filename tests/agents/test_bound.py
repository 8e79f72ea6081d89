"""Every provider request carries a ``max_tokens`` the budgets can pay (ADR 0016)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from convergio.agents import AgentCall, Allowed, Limits, output_ceiling, prompt_bound, run_agent
from convergio.graph import AgentSpec
from convergio.providers import (
    Completion,
    CompletionRequest,
    Message,
    ToolCall,
    ToolSpec,
    Usage,
    count_message_tokens,
)


class Recorder:
    """A provider that answers from a script and records every request."""

    name = "openai"
    default_model = "gpt-4o"

    def __init__(self, *answers: Completion) -> None:
        self.answers = list(answers)
        self.requests: list[CompletionRequest] = []

    def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        return self.answers.pop(0)


@dataclass
class FixedAllowance:
    """Pays for ``tokens`` output tokens per request, and records what it was asked."""

    tokens: int
    model: str | None = None
    asked: list[dict[str, Any]] = field(default_factory=list)

    def allow(self, *, model: str, prompt_tokens: int, want: int, used: Usage) -> Allowed:
        self.asked.append({"model": model, "prompt": prompt_tokens, "want": want, "used": used})
        return Allowed(min(self.tokens, want), self.model, "" if self.tokens else "budget_exhausted: test")


def _call(limits: Limits | None = None, **agent: Any) -> AgentCall:
    limits = limits or Limits()
    spec = AgentSpec(**{"id": "a", "prompt": "Write about {{ input }}.", "provider": "gpt", **agent})
    return AgentCall(run_id="r", node_id="a", agent=spec, input="budgets", limits=limits)


def _answer(text: str = "done", finish: str = "stop", usage: Usage | None = None) -> Completion:
    return Completion(text, (), usage or Usage(20, 10), finish, "gpt-4o")


def test_a_call_with_no_budget_still_carries_the_models_own_limit() -> None:
    provider = Recorder(_answer())
    assert run_agent(_call(), resolve=lambda t, n: provider).status == "completed"
    assert provider.requests[0].max_output_tokens == output_ceiling("openai", "gpt-4o") == 16384
    assert output_ceiling("openai", "gpt-4o-2024-08-06") == 16384  # a dated snapshot
    assert output_ceiling("openai-compatible", "llama") == 4096  # unknown: a safe default


def test_every_request_of_a_tool_loop_stays_within_the_allowance() -> None:
    asks = Completion(
        "", (ToolCall("c1", "calculator", {"expression": "2+2"}),), Usage(30, 5), "tool_calls", "gpt-4o"
    )
    provider = Recorder(asks, asks, _answer())
    allowance = FixedAllowance(700)
    outcome = run_agent(_call(tools=["calculator"]), resolve=lambda t, n: provider, allowance=allowance)
    assert outcome.status == "completed"
    assert [r.max_output_tokens for r in provider.requests] == [700, 700, 700]
    assert [a["want"] for a in allowance.asked] == [16384] * 3
    assert [a["used"].completion_tokens for a in allowance.asked] == [0, 5, 10]  # what the call used so far
    for request, asked in zip(provider.requests, allowance.asked, strict=True):
        assert asked["prompt"] == prompt_bound(request.messages, request.tools)
        assert asked["prompt"] >= count_message_tokens(request.messages)  # an upper bound, never short


def test_the_least_of_the_token_budget_the_model_limit_and_the_money() -> None:
    provider = Recorder(_answer(), _answer(), _answer())
    run_agent(_call(Limits(max_tokens=500)), resolve=lambda t, n: provider, allowance=FixedAllowance(10_000))
    run_agent(_call(Limits(max_tokens=10**6)), resolve=lambda t, n: provider, allowance=FixedAllowance(10**6))
    run_agent(_call(Limits(max_tokens=10**6)), resolve=lambda t, n: provider, allowance=FixedAllowance(300))
    prompt = count_message_tokens(provider.requests[0].messages)
    assert [r.max_output_tokens for r in provider.requests] == [500 - prompt, 16384, 300]


def test_nothing_affordable_means_no_request_and_budget_exceeded() -> None:
    provider = Recorder()
    outcome = run_agent(_call(), resolve=lambda t, n: provider, allowance=FixedAllowance(0))
    assert (outcome.status, outcome.error) == ("budget_exceeded", "budget_exhausted: test")
    assert provider.requests == []


def test_an_answer_cut_at_what_the_money_pays_is_budget_exceeded_with_the_partial_text() -> None:
    provider = Recorder(_answer("half an ans", "length", Usage(20, 40)))
    outcome = run_agent(_call(), resolve=lambda t, n: provider, allowance=FixedAllowance(40))
    assert (outcome.status, outcome.output) == ("budget_exceeded", "half an ans")
    assert "40 output tokens" in (outcome.error or "")


def test_a_downgrade_the_allowance_names_is_the_model_asked() -> None:
    provider = Recorder(_answer())
    run_agent(
        _call(model="gpt-4o"), resolve=lambda t, n: provider, allowance=FixedAllowance(100, "gpt-4o-mini")
    )
    assert provider.requests[0].model == "gpt-4o-mini"


def test_the_prompt_bound_counts_bytes_so_it_never_undercounts() -> None:
    text = "naïve 東京 🙂 tokens"
    messages = [Message("system", "be brief"), Message("user", text)]
    tools = (ToolSpec("t", "a tool", {"type": "object"}),)
    assert prompt_bound(messages) >= len(text.encode()) > count_message_tokens(messages)
    assert prompt_bound(messages, tools) > prompt_bound(messages)
