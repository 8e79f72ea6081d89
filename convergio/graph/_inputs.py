"""What the run hands each durable task it starts: the inputs of agent calls, sub-graphs, A2A calls.

Pure functions of the run's state (read, never changed), kept apart from the state machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convergio.budget import Grant

from ._a2a import A2A_POLL, A2A_SEND, a2a_call
from ._node import Node, lesser

if TYPE_CHECKING:
    from ._run import GraphRun

__all__ = ["a2a_input", "agent_input", "subgraph_input"]

_ROUND_KEYS = ("id", "worker", "task", "output", "error")


def agent_input(run: GraphRun, node: Node, call: dict[str, Any], grant: Grant) -> dict[str, Any]:
    """What ``run_agent`` is given for one attempt of a node (or of a supervisor's call to a worker)."""
    spec = node.spec
    # A plain agent (no workers, no rounds: nearly every call) skips the comprehensions, each a
    # function made and called per call in this Python: a fifth of the input's build.
    workers = [run.nodes[w].spec for w in spec.workers] if spec.workers else []
    rounds = node.rounds
    return {
        "run_id": run.run_id,
        "tenant": run.tenant,
        "node_id": spec.id,
        "graph": run.spec.name,
        "attempt": call["attempt"],
        "step": node.attempts,
        "agent": run.agent_json(spec),
        "input": run.input,
        "outputs": {d: run.nodes[d].output for d in spec.depends_on} if spec.depends_on else {},
        "event": node.event,
        "task": call.get("task"),
        "workers": [{"name": w.id, "description": w.description} for w in workers] if workers else [],
        "rounds": [[{k: c.get(k) for k in _ROUND_KEYS} for c in r] for r in rounds] if rounds else [],
        "final": len(rounds) >= spec.max_rounds,
        "limits": {
            "max_tokens": grant.tokens,
            "max_tool_calls": grant.tool_calls,
            "max_seconds": spec.budget.max_seconds,
        },
    }


def subgraph_input(run: GraphRun, node: Node, grant: Grant) -> dict[str, Any]:
    """The input of a ``kind: graph`` node's sub-orchestration: its budget is capped by the grant."""
    spec = node.spec
    context = {d: run.nodes[d].output for d in spec.depends_on}
    run_input = dict(run.input) if isinstance(run.input, dict) else {"input": run.input}
    if context:
        run_input["context"] = context
    assert spec.graph is not None  # validation inlines every sub-graph
    budget = spec.graph.budget.model_dump()
    budget["max_tokens"] = lesser(budget.get("max_tokens"), grant.tokens)
    budget["max_tool_calls"] = lesser(budget.get("max_tool_calls"), grant.tool_calls)
    return {
        "graph": spec.graph.model_dump(mode="json", exclude_none=True),
        "input": run_input,
        "run_id": f"{run.run_id}/{spec.id}",
        "tenant": run.tenant,
        "budget": budget,
        "as_child": True,
    }


def a2a_input(run: GraphRun, node: Node, call: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``a2a_send`` until the remote task exists, ``a2a_poll`` after (a retry polls, never re-sends)."""
    spec = node.spec
    request = {
        "run_id": run.run_id,
        "tenant": run.tenant,
        "graph": run.spec.name,
        "node_id": spec.id,
        "step": node.attempts,
    }
    context = {"input": run.input, "outputs": {d: run.nodes[d].output for d in spec.depends_on}}
    body = a2a_call(request, spec, call, context | {"event": node.event})
    return (A2A_POLL if "task_id" in body else A2A_SEND), body
