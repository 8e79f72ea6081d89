"""The ``run_agent`` activity: one agent call (prompt → provider → tools), thin by design."""

from typing import Any

from convergio.agents import AgentCall, run_agent


def run_agent_activity(call: dict[str, Any]) -> dict[str, Any]:
    """Validate the orchestrator's call, run it, return the outcome as JSON."""
    return run_agent(AgentCall.model_validate(call)).model_dump(mode="json")
