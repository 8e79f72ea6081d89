"""The safety reviewer as a guard in the real agent runner: what the provider receives, and blocks.

``run_agent`` runs with a toolbox of the built-ins and the tenant's plugins (as the process does)
and a provider that records every request before answering like the offline provider.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from convergio.agents import AgentCall, AgentOutcome, run_agent
from convergio.graph import AgentSpec
from convergio.plugins import PluginRegistry, PluginTools
from convergio.providers import Completion, CompletionRequest, OfflineProvider, Provider
from convergio.tools import BUILTINS, Toolbox
from tests.education.conftest import TENANT

PERSONAL = ("Maria", "Rossi", "maria.rossi@example.com", "333 123 4567")


class Recording(OfflineProvider):
    """The offline simulator, keeping every request it is sent."""

    def __init__(self) -> None:
        self.requests: list[CompletionRequest] = []

    def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        return super().complete(request)

    def texts(self) -> list[str]:
        return [message.content for request in self.requests for message in request.messages]


def run(registry: PluginRegistry, agent: dict[str, Any], run_input: Any) -> tuple[AgentOutcome, Recording]:
    provider = Recording()

    def resolve(tenant_id: str, name: str) -> Provider:
        assert (tenant_id, name) == (TENANT, "offline")
        return provider

    call = AgentCall(
        run_id="run-1", tenant=TENANT, node_id=agent["id"], agent=AgentSpec(**agent), input=run_input
    )
    outcome = run_agent(call, resolve=resolve, tools=Toolbox([BUILTINS, PluginTools(registry)]))
    return outcome, provider


def test_the_provider_never_receives_the_students_personal_data(edu_registry: PluginRegistry) -> None:
    agent = {
        "id": "tutor",
        "instructions": "You tutor the student Maria Rossi (maria.rossi@example.com).",
        "prompt": "Student: {{ input.student }}. Question: {{ input.question }}",
        "guards": ["edu-safety.review"],
        "tools": ["edu-format.format"],
    }
    question = "I'm Maria Rossi, call +39 333 123 4567 or maria.rossi@example.com: why is the sky blue?"
    outcome, provider = run(edu_registry, agent, {"student": "Maria Rossi", "question": question})
    assert outcome.status == "completed", outcome.error
    # Two turns: the model called edu-format.format, then answered; every text it saw was guarded.
    assert len(provider.requests) == 2
    seen = provider.texts()
    assert seen[0] == "You tutor the student [NAME] ([EMAIL])."
    assert seen[1] == ("Student: [NAME]. Question: I'm [NAME], call [PHONE] or [EMAIL]: why is the sky blue?")
    assert any(text.startswith("{") and "[NAME]" in text for text in seen[2:])  # the tool's result
    for text in [*seen, outcome.output or ""]:
        assert not any(item in text for item in PERSONAL), text
    assert "[PHONE]" in (outcome.output or "")
    # Guard calls are billed as tool calls: 2 opening texts + 1 tool result + 1 output, + the tool call.
    assert outcome.usage["tool_calls"] == 5


def test_an_answer_that_is_not_age_appropriate_fails_the_agent_with_the_reason(
    edu_registry: PluginRegistry,
) -> None:
    agent = {"id": "story", "prompt": "Retell: {{ input.text }}", "guards": ["edu-safety.review"]}
    outcome, provider = run(edu_registry, agent, {"text": "the pirate said shit and left"})
    assert len(provider.requests) == 1  # the prompt went through (redaction only)...
    assert outcome.status == "failed"  # ...the echoed answer did not
    assert outcome.output is None
    # (the simulator repeats the prompt to fill its answer, so the word comes back several times)
    assert re.fullmatch(
        r"blocked by guard edu-safety\.review \(output\): not age-appropriate for students: "
        r'explicit language \("s\*\*\*" and \d+ more flagged words\)',
        outcome.error or "",
    ), outcome.error


@pytest.mark.parametrize("guard", ["edu-safety.review", "edu-format.format"])
def test_a_guard_the_tenant_has_not_installed_stops_the_agent_before_any_provider_call(
    edu_registry: PluginRegistry, guard: str
) -> None:
    agent = {"id": "a", "prompt": "hello", "guards": [guard.replace("edu-", "edu-missing-")]}
    outcome, provider = run(edu_registry, agent, None)
    assert outcome.status == "failed" and "unknown tool" in (outcome.error or "")
    assert provider.requests == []
