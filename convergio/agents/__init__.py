"""Agent calls: the core of the ``run_agent`` activity.

``run_agent(AgentCall) -> AgentOutcome`` renders an agent's prompt, calls its provider,
runs its tools (or, for a supervisor, asks which workers to call) and enforces the limits
the orchestrator gave it.
"""

from typing import TYPE_CHECKING

from convergio._lazy import lazy_exports

if TYPE_CHECKING:
    from ._bound import Allowance, Allowed, output_ceiling, prompt_bound
    from ._call import AgentCall, AgentOutcome, AgentStatus, Limits, RoundCall, WorkerRef
    from ._parse import parse_call
    from ._resolve import MANAGED, OFFLINE, ProviderResolver, Resolve, Target, offline_only
    from ._runner import MAX_TURNS, OUTPUT_CAP, run_agent

# Imported on first use (issue 22): the quotas name ``Allowed`` at import; the runner, its models,
# the providers and the secret stores serve an agent call, not the indexing of the app.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "._bound": ("Allowance", "Allowed", "output_ceiling", "prompt_bound"),
        "._call": ("AgentCall", "AgentOutcome", "AgentStatus", "Limits", "RoundCall", "WorkerRef"),
        "._parse": ("parse_call",),
        "._resolve": ("MANAGED", "OFFLINE", "ProviderResolver", "Resolve", "Target", "offline_only"),
        "._runner": ("MAX_TURNS", "OUTPUT_CAP", "run_agent"),
    },
)

__all__ = [
    "MANAGED",
    "OFFLINE",
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
    "Target",
    "WorkerRef",
    "offline_only",
    "output_ceiling",
    "parse_call",
    "prompt_bound",
    "run_agent",
]
