"""A graph-agents backend in memory (runs end after a few reads), served on loopback."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from a2a.utils.errors import TaskNotCancelableError

from convergio.protocols.a2a import AgentInfo, GraphAgentHandler, RunSnapshot, build_a2a_app

SCHEMA = {"type": "object", "required": ["topic"], "properties": {"topic": {"type": "string"}}}


@dataclass
class _Run:
    graph: str
    topic: str
    context_id: str
    reads: int = 0
    cancelled: bool = False


class MemoryAgents:
    """One graph, ``echo``: a run completes on its ``finish_after``-th read, answering ``echo: <topic>``;
    a topic ``fail`` fails it and a topic ``wait`` pauses it for human input."""

    def __init__(self, finish_after: int = 2) -> None:
        self.finish_after = finish_after
        self.runs: dict[str, _Run] = {}
        self.inputs: list[Any] = []

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
        self.runs[run_id] = _Run(graph, run_input["topic"], context_id or run_id)
        return RunSnapshot(run_id, "submitted", context_id=context_id or run_id)

    async def status(self, graph: str, run_id: str) -> RunSnapshot | None:
        run = self.runs.get(run_id)
        if run is None or run.graph != graph:
            return None
        run.reads += 1
        return self._snapshot(run_id, run)

    async def cancel(self, graph: str, run_id: str) -> RunSnapshot | None:
        run = self.runs.get(run_id)
        if run is None or run.graph != graph:
            return None
        if self._snapshot(run_id, run).state != "working":
            raise TaskNotCancelableError(f"task {run_id!r} has ended")
        run.cancelled = True
        return self._snapshot(run_id, run)

    def _snapshot(self, run_id: str, run: _Run) -> RunSnapshot:
        base = RunSnapshot(run_id, "working", context_id=run.context_id)
        if run.cancelled:
            return RunSnapshot(run_id, "canceled", context_id=run.context_id, error="cancelled through A2A")
        if run.reads < self.finish_after:
            return base
        if run.topic == "fail":
            return RunSnapshot(
                run_id, "failed", context_id=run.context_id, error="agent 'a' ended failed: boom"
            )
        if run.topic == "wait":
            return RunSnapshot(run_id, "input_required", context_id=run.context_id, waiting_for=("approval",))
        return RunSnapshot(run_id, "completed", context_id=run.context_id, output=f"echo: {run.topic}")


def memory_app(agents: MemoryAgents, **timings: float) -> Any:
    handler = GraphAgentHandler(lambda: agents, **{"poll_s": 0.01, **timings})
    return build_a2a_app(lambda: agents, prefix="/api/a2a", version="test", handler=handler)
