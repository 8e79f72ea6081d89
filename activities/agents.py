"""The ``run_agent`` activity: one agent call (prompt → provider → tools), thin by design.

Provider keys are resolved here, at call time, from the tenant's connection name: they never
appear in the activity's input or output.
"""

from typing import Any

from convergio.agents import AgentCall, run_agent
from convergio.wiring import components


def run_agent_activity(call: dict[str, Any]) -> dict[str, Any]:
    """Validate the orchestrator's call, run it, return the outcome as JSON."""
    outcome = run_agent(AgentCall.model_validate(call), resolve=components().resolver)
    return outcome.model_dump(mode="json")
