"""The ``run_agent`` activity: one agent call (prompt → provider → tools), thin by design.

Provider keys are resolved here, at call time, from the tenant's connection name: they never
appear in the activity's input or output. The call's usage goes to the ledger before the
activity returns, keyed so a redelivered or replayed call never bills twice.
"""

from typing import Any

from convergio.agents import AgentCall, run_agent
from convergio.metering import meter_call
from convergio.wiring import components


def run_agent_activity(call: dict[str, Any]) -> dict[str, Any]:
    """Validate the orchestrator's call, run it, meter it, return the outcome as JSON."""
    parts = components()
    agent_call = AgentCall.model_validate(call)
    outcome = run_agent(agent_call, resolve=parts.resolver)
    meter_call(
        parts.ledger,
        parts.prices,
        tenant_id=agent_call.tenant,
        run_id=agent_call.run_id,
        node_id=agent_call.node_id,
        step=agent_call.step,
        provider=outcome.provider,
        model=outcome.model,
        usage=outcome.usage,
    )
    return outcome.model_dump(mode="json")
