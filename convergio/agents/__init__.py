"""Agent calls: the core of the ``run_agent`` activity.

``run_agent(AgentCall) -> AgentOutcome`` renders an agent's prompt, calls its provider,
runs its tools (or, for a supervisor, asks which workers to call) and enforces the limits
the orchestrator gave it.
"""

from ._bound import Allowance, Allowed, output_ceiling, prompt_bound
from ._call import AgentCall, AgentOutcome, AgentStatus, Limits, RoundCall, WorkerRef
from ._resolve import MANAGED, ProviderResolver, Resolve, offline_only
from ._runner import MAX_TURNS, OUTPUT_CAP, run_agent

__all__ = [
    "MANAGED",
    "MAX_TURNS",
    "OUTPUT_CAP",
    "AgentCall",
    "AgentOutcome",
    "AgentStatus",
    "Allowance",
    "Allowed",
    "Limits",
    "ProviderResolver",
    "Resolve",
    "RoundCall",
    "WorkerRef",
    "offline_only",
    "output_ceiling",
    "prompt_bound",
    "run_agent",
]
