"""The ``run_agent`` activity's input and output, as validated JSON models.

These cross the Durable boundary (orchestrator → activity → orchestrator), so they are
pydantic models that refuse unknown fields: a typo in the orchestrator fails loudly
instead of silently dropping a limit.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from convergio.graph import AgentSpec

__all__ = ["AgentCall", "AgentOutcome", "AgentStatus", "Limits", "RoundCall", "WorkerRef"]

AgentStatus = Literal["completed", "budget_exceeded", "tool_limit", "failed", "delegated"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Model):
    """What this one agent call may spend; ``None`` means no limit of that kind.

    The orchestrator passes what is left of the agent's (and the run's) budget, so 0 is
    allowed: it means nothing is left.
    """

    max_tokens: int | None = Field(default=None, ge=0, description="prompt + completion tokens")
    max_tool_calls: int | None = Field(default=None, ge=0)
    max_seconds: float | None = Field(default=None, ge=0)


class WorkerRef(_Model):
    """A worker a supervisor may delegate to, offered to its model as a tool."""

    name: str = Field(min_length=1, max_length=64)
    description: str = ""


class RoundCall(_Model):
    """One delegation of a past supervisor round, with what the worker returned."""

    id: str
    worker: str
    task: str
    output: str | None
    error: str | None = None


class AgentCall(_Model):
    """Everything one agent call needs; the ``run_agent`` activity's input."""

    run_id: str
    tenant: str = Field(default="", description="the tenant whose keys and quotas apply")
    node_id: str
    graph: str = Field(default="", description="the graph's name (telemetry)")
    attempt: int = Field(default=1, ge=1)
    step: int = Field(default=0, ge=0, description="the node's call counter across attempts, turns and calls")
    agent: AgentSpec
    input: JsonValue = None
    outputs: dict[str, JsonValue] = Field(default_factory=dict)
    event: JsonValue = None
    task: str | None = None
    workers: list[WorkerRef] = Field(default_factory=list)
    rounds: list[list[RoundCall]] = Field(default_factory=list)
    final: bool = False
    limits: Limits = Limits()


class AgentOutcome(_Model):
    """What one agent call produced; the ``run_agent`` activity's output.

    Statuses: ``completed`` (``output`` is the answer), ``delegated`` (a supervisor asks for
    ``calls``), ``budget_exceeded`` (tokens or time ran out; ``output`` may hold a partial
    answer), ``tool_limit`` (the model asked for more tool calls than allowed) and
    ``failed`` (a permanent error; retrying the same call cannot help).
    """

    status: AgentStatus
    output: str | None = None
    error: str | None = None
    usage: dict[str, int]
    calls: list[dict[str, str]] = Field(default_factory=list)
    provider: str
    model: str
    tools: list[dict[str, JsonValue]] = Field(
        default_factory=list,
        description="the tool calls made, with their guarded, clipped results (for who may read the run)",
    )

    def json_fields(self) -> dict[str, JsonValue]:
        """What ``model_dump(mode="json")`` gives, a tenth of its cost: every field holds JSON
        values already (validated as such) and pydantic keeps them in ``__dict__`` (no extras:
        they are forbidden). The lists and dicts are the outcome's own, not copies."""
        return dict(self.__dict__)
