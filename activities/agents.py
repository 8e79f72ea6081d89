"""The ``run_agent`` activity: one agent call (prompt → provider → tools), thin by design.

Around the call: the tenant's monthly quotas are reserved first (a managed key may be
downgraded or throttled), the provider key is resolved by reference at call time (it never
appears in the activity's input or output), the usage goes to the ledger before the activity
returns (keyed so a redelivered or replayed call never bills twice), and the call is one
telemetry span in its run's trace.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from convergio.agents import AgentCall, AgentOutcome, run_agent
from convergio.metering import meter_call
from convergio.quotas import Admission
from convergio.streams import TextChannel
from convergio.telemetry import agent_call_span
from convergio.wiring import Components, components


def run_agent_activity(call: dict[str, Any]) -> dict[str, Any]:
    """Validate the orchestrator's call, admit it, run it, meter it, return the outcome as JSON."""
    parts = components()
    agent_call = AgentCall.model_validate(call)
    with agent_call_span(agent_call, graph=agent_call.graph) as span:
        admission = _admit(parts, agent_call)
        if admission is not None and not admission.decision.allowed:
            span.set_outcome(status="budget_exceeded")
            refused = AgentOutcome(
                status="budget_exceeded", error=admission.decision.reason, usage={}, provider="", model=""
            )
            return refused.model_dump(mode="json")
        if admission is not None and admission.model and admission.model != agent_call.agent.model:
            agent = agent_call.agent.model_copy(update={"model": admission.model})
            agent_call = agent_call.model_copy(update={"agent": agent})
        cost = Decimal(0)
        text = _text_channel(parts, agent_call)
        try:
            outcome = run_agent(agent_call, resolve=parts.resolver, tools=parts.toolbox, on_text=text)
            cost = meter_call(
                parts.ledger,
                parts.prices,
                tenant_id=agent_call.tenant,
                run_id=agent_call.run_id,
                node_id=agent_call.node_id,
                step=agent_call.step,
                provider=outcome.provider,
                model=outcome.model,
                usage=outcome.usage,
                key_mode=admission.key_mode if admission else "byok",
            )
        finally:
            if text is not None:
                text.close()
            if admission is not None:
                parts.guard.settle(admission, cost)
        span.set_outcome(
            status=outcome.status,
            usage=outcome.usage,
            cost_eur=cost,
            model=outcome.model,
            provider=outcome.provider,
        )
    return outcome.model_dump(mode="json")


def _text_channel(parts: Components, call: AgentCall) -> TextChannel | None:
    """Where the agent's text goes as it streams, when someone watches the run (else no streaming)."""
    if not parts.streams.watched(call.run_id):
        return None
    return TextChannel(parts.streams, call.run_id, call.node_id, call.attempt)


def _admit(parts: Components, call: AgentCall) -> Admission | None:
    """Reserve against the tenant's quotas, once per call however often it is delivered;
    ``None`` when the provider name does not resolve (``run_agent`` then reports that as the
    node's error)."""
    try:
        kind, default_model, key_mode = parts.resolver.describe(call.tenant, call.agent.provider)
    except (LookupError, ValueError):
        return None
    return parts.guard.admit(
        call.tenant,
        call=f"{call.run_id}\x1f{call.node_id}\x1f{call.step}\x1f{call.attempt}",
        key_mode=key_mode,
        provider=kind,
        model=call.agent.model or default_model,
        max_tokens=call.limits.max_tokens,
        now=datetime.now(UTC),
    )
