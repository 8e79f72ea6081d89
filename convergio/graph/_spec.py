"""The graph spec: the public contract of a team of agents, as data.

Field names are part of the API (JSON and YAML files, ``POST /api/v1/runs``);
rename nothing without a version bump. Structural rules that need the whole
graph (cycles, references, limits) live in ``_validate``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

__all__ = [
    "AgentSpec",
    "AwaitEvent",
    "Budget",
    "GraphSpec",
    "NodeKind",
    "OnFailure",
    "Planner",
    "Retry",
    "Route",
]

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
NodeKind = Literal["agent", "supervisor", "graph", "router", "a2a"]
OnFailure = Literal["fail_run", "continue", "skip_dependents"]

_TEXT_LIMIT = 100_000
MAX_TOKENS = 1_000_000_000
MAX_TOOL_CALLS = 100_000
MAX_OPTION_INT = 2**53
"""Integers in ``options`` stay exact in every JSON reader (JavaScript's safe range)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Budget(_Model):
    """Limits that are enforced, not reported. ``None`` means no limit of that kind."""

    max_tokens: int | None = Field(
        default=None, ge=1, le=MAX_TOKENS, description="prompt + completion tokens"
    )
    max_seconds: float | None = Field(default=None, gt=0, le=7 * 24 * 3600)
    max_tool_calls: int | None = Field(default=None, ge=0, le=MAX_TOOL_CALLS)


class Retry(_Model):
    """Attempts in all (1 = no retry) and a fixed back-off between them."""

    attempts: int = Field(default=1, ge=1, le=10)
    backoff_ms: int = Field(default=0, ge=0, le=3_600_000)


class AwaitEvent(_Model):
    """Wait for human input (an external event) before the agent runs."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    timeout_seconds: float = Field(gt=0, le=30 * 24 * 3600)


class Route(_Model):
    """kind router: the candidates it chooses among by intent (see ADR 0006)."""

    candidates: list[NodeId] = Field(min_length=1, max_length=1000, description="agents that depend on it")
    top_k: int = Field(default=1, ge=1, le=100, description="how many candidates run at most")
    threshold: float = Field(default=0.1, ge=0, le=1, description="the least score a chosen candidate has")
    fallback: NodeId | None = Field(default=None, description="a candidate that runs when none scores enough")


class Planner(_Model):
    """Adaptive re-planning: the agent asked for a revised plan when a node fails for good."""

    agent: NodeId
    max_replans: int = Field(default=2, ge=1, le=10)
    providers: list[str] = Field(default_factory=list, max_length=16, description="beyond the graph's own")
    tools: list[str] = Field(default_factory=list, max_length=64, description="beyond the graph's own")


class AgentSpec(_Model):
    """One node of the graph: an agent, a supervisor over workers, or a sub-graph."""

    id: NodeId
    kind: NodeKind = "agent"
    description: str = Field(default="", max_length=2_000)
    instructions: str = Field(default="", max_length=_TEXT_LIMIT, description="the system prompt")
    prompt: str | None = Field(
        default=None,
        max_length=_TEXT_LIMIT,
        description="Jinja template over `input`, `outputs.<dependency>`, `event` and `task`",
    )
    provider: str = "offline"
    model: str | None = None
    options: dict[str, JsonValue] = Field(default_factory=dict, max_length=64)
    tools: list[str] = Field(default_factory=list, max_length=64)
    guards: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="tools every text passes through on its way to the model and every answer "
        "passes through on its way out (redaction, content checks); the graph's guards come first",
    )
    depends_on: list[NodeId] = Field(default_factory=list)
    budget: Budget = Budget()
    retry: Retry = Retry()
    on_failure: OnFailure = "fail_run"
    await_event: AwaitEvent | None = None
    workers: list[NodeId] = Field(default_factory=list, description="supervisor only: agents it may call")
    max_rounds: int = Field(default=3, ge=1, le=20, description="supervisor only")
    graph: GraphSpec | None = Field(default=None, description="kind graph: the sub-graph, inline")
    graph_ref: str | None = Field(default=None, description="kind graph: a named graph instead")
    examples: list[Annotated[str, Field(max_length=2_000)]] = Field(
        default_factory=list, max_length=50, description="requests it suits (routing)"
    )
    route: Route | None = Field(default=None, description="kind router only")
    url: str | None = Field(
        default=None, max_length=2_000, description="kind a2a: the remote agent's base URL (card under it)"
    )
    connection: str | None = Field(
        default=None, max_length=64, description="kind a2a: a tenant connection whose key is sent"
    )

    @field_validator("options")
    @classmethod
    def _bounded_numbers(cls, options: dict[str, JsonValue]) -> dict[str, JsonValue]:
        stack: list[JsonValue] = [options]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                stack += value.values()
            elif isinstance(value, list):
                stack += value
            elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_OPTION_INT:
                raise ValueError(f"integers in options must be within ±2**53, not {str(value)[:20]}...")
        return options


class GraphSpec(_Model):
    """A graph of agents; ``output`` names the agent whose output is the run's."""

    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=2_000)
    agents: list[AgentSpec] = Field(min_length=1)
    output: str | None = None
    budget: Budget = Budget()
    guards: list[str] = Field(default_factory=list, max_length=8, description="guards of every agent")
    input_schema: dict[str, Any] | None = None
    planner: Planner | None = None
    max_parallel: int = Field(
        default=64,
        ge=1,
        le=1000,
        description="agents running at once; ready agents beyond it wait for a free slot, in order",
    )
