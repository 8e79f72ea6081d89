"""A graph-agents backend in memory (runs end after a few reads), served on loopback."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from a2a.utils.errors import TaskNotCancelableError

from convergio.protocols import TaskState
from convergio.protocols.a2a import AgentInfo, GraphAgentHandler, RunSnapshot, build_a2a_app

SCHEMA = {"type": "object", "required": ["topic"], "properties": {"topic": {"type": "string"}}}


@dataclass
class _Run:
    graph: str
    topic: str
    context_id: str
    created: datetime
    reads: int = 0
    cancelled: bool = False
    updated: datetime | None = None


class MemoryAgents:
    """One graph, ``echo``: a run completes on its ``finish_after``-th read, answering ``echo: <topic>``;
    a topic ``fail`` fails it and a topic ``wait`` pauses it for human input."""

    def __init__(self, finish_after: int = 2) -> None:
        self.finish_after = finish_after
        self.runs: dict[str, _Run] = {}
        self.inputs: list[Any] = []
        self.clock: datetime | None = None

    def describe(self, graph: str) -> AgentInfo | None:
        if graph != "echo":
            return None
        return AgentInfo(
            name="echo", description="Echoes a topic.", input_schema=SCHEMA, examples=("volcanoes",)
        )

    async def start(self, graph: str, run_input: Any, *, context_id: str) -> RunSnapshot:
        self.inputs.append(run_input)
        if not isinstance(run_input, dict) or not isinstance(run_input.get("topic"), str):
            raise ValueError("input: 'topic' is a required property")
        run_id = uuid.uuid4().hex
        self.runs[run_id] = _Run(graph, run_input["topic"], context_id or run_id, self.now())
        return RunSnapshot(run_id, "submitted", context_id=context_id or run_id)

    async def status(self, graph: str, run_id: str) -> RunSnapshot | None:
        run = self.runs.get(run_id)
        if run is None or run.graph != graph:
            return None
        run.reads += 1
        return self._snapshot(run_id, run)

    async def runs_of(self, graph: str) -> list[RunSnapshot]:
        """Every run of ``graph``, as it is now (listing reads nothing: no run moves on)."""
        return [self._snapshot(run_id, run) for run_id, run in self.runs.items() if run.graph == graph]

    def now(self) -> datetime:
        """The fake's clock: real time, or ``clock`` when a test sets it."""
        return self.clock or datetime.now(UTC)

    async def cancel(self, graph: str, run_id: str) -> RunSnapshot | None:
        run = self.runs.get(run_id)
        if run is None or run.graph != graph:
            return None
        if self._snapshot(run_id, run).state != "working":
            raise TaskNotCancelableError(f"task {run_id!r} has ended")
        run.cancelled = True
        run.updated = self.now()
        return self._snapshot(run_id, run)

    def _snapshot(self, run_id: str, run: _Run) -> RunSnapshot:
        if run.cancelled:
            return _at(run_id, run, "canceled", error="cancelled through A2A")
        if run.reads < self.finish_after:
            return _at(run_id, run, "working")
        if run.topic == "fail":
            return _at(run_id, run, "failed", error="agent 'a' ended failed: boom")
        if run.topic == "wait":
            return _at(run_id, run, "input_required", waiting_for=("approval",))
        return _at(run_id, run, "completed", output=f"echo: {run.topic}")


def _at(run_id: str, run: _Run, state: TaskState, **fields: Any) -> RunSnapshot:
    updated = run.updated or run.created
    return RunSnapshot(
        run_id, state, context_id=run.context_id, created_at=run.created, updated_at=updated, **fields
    )


def memory_app(agents: MemoryAgents, **timings: float) -> Any:
    handler = GraphAgentHandler(lambda: agents, **{"poll_s": 0.01, **timings})
    return build_a2a_app(lambda: agents, prefix="/api/a2a", version="test", handler=handler)
