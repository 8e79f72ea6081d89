"""Rate limits are waited out inside the activity when the wait is short; otherwise they go up."""

from __future__ import annotations

import pytest

from convergio.agents import AgentCall, run_agent
from convergio.graph import AgentSpec
from convergio.providers import Completion, CompletionRequest, Provider, ProviderError, Usage


class Scripted(Provider):
    """A provider that fails with the given errors, then answers."""

    name = "scripted"
    default_model = "scripted-1"

    def __init__(self, errors: list[ProviderError]) -> None:
        self.errors = errors
        self.calls = 0

    def complete(self, request: CompletionRequest) -> Completion:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return Completion("fine", (), Usage(prompt_tokens=3, completion_tokens=1), "stop", "scripted-1")


def call() -> AgentCall:
    return AgentCall(run_id="r", node_id="a", agent=AgentSpec(id="a", prompt="hi", provider="scripted"))


def limited(after: float | None) -> ProviderError:
    return ProviderError("rate_limited", "slow down", retry_after_s=after)


def test_short_rate_limits_are_waited_out_in_the_activity() -> None:
    provider = Scripted([limited(0.01), limited(0.02)])
    outcome = run_agent(call(), resolve=lambda tenant, name: provider)
    assert outcome.status == "completed" and provider.calls == 3
    assert outcome.usage["total_tokens"] == 4


@pytest.mark.parametrize(
    "errors", [[limited(60.0)], [limited(0.0)] * 4, [ProviderError("unavailable", "down")]]
)
def test_long_or_repeated_limits_go_up_to_the_orchestrator(errors: list[ProviderError]) -> None:
    provider = Scripted(list(errors))
    with pytest.raises(ProviderError) as raised:
        run_agent(call(), resolve=lambda tenant, name: provider)
    assert raised.value.code == errors[0].code
    assert provider.calls == min(len(errors), 4)
