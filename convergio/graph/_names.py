"""The durable names a run uses, and its terminal statuses, apart from the state machine.

The API's route modules name these at import; keeping them here lets ``import function_app``
skip the state machine (``_run``) and the re-planner's models it imports (issue 22).
"""

from __future__ import annotations

__all__ = ["AGENT_GRAPH", "RECORD_RUN", "RECORD_TASK", "RUN_AGENT", "TERMINAL"]

RUN_AGENT = "run_agent"
AGENT_GRAPH = "agent_graph"
RECORD_RUN = "record_run"
RECORD_TASK = "progress:"
"""The token prefix of a progress record's task (``take_records``); the run's own are ``t<n>``."""
TERMINAL = frozenset(
    {"completed", "failed", "timed_out", "budget_exceeded", "tool_limit", "rejected", "skipped", "cancelled"}
)
