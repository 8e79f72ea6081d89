"""A stand-in for the ``run_agent`` activity: one node attempt, in a fresh context, knowing only the call."""

from __future__ import annotations

import contextvars
from decimal import Decimal

from convergio.agents import AgentCall, AgentOutcome, Resolve, offline_only, run_agent
from convergio.telemetry import agent_call_span

COST_EUR = Decimal("0.0025")


def activity(call: AgentCall, *, graph: str, resolve: Resolve = offline_only) -> AgentOutcome:
    """Run ``call`` under its node span as the real activity would, in an empty context."""

    def body() -> AgentOutcome:
        with agent_call_span(call, graph=graph) as span:
            outcome = run_agent(call, resolve=resolve)
            span.set_outcome(
                status=outcome.status,
                usage=outcome.usage,
                cost_eur=COST_EUR,
                model=outcome.model,
                provider=outcome.provider,
            )
            return outcome

    return contextvars.Context().run(body)
