"""Retrying the failed agents of a run: kept outputs finish at once, the rest runs again."""

from __future__ import annotations

from typing import Any

from tests.graph._sim import Sim, agents, answer


def diamond() -> dict[str, Any]:
    return {
        "name": "diamond",
        "agents": agents(
            {"id": "plan"},
            {"id": "left", "depends_on": ["plan"]},
            {"id": "right", "depends_on": ["plan"]},
            {"id": "join", "depends_on": ["left", "right"]},
        ),
        "output": "join",
    }


def test_kept_outputs_are_not_called_again_and_flow_downstream() -> None:
    sim = Sim(diamond(), answer, reuse={"plan": "kept-plan", "left": "kept-left"})
    result = sim.finish()
    assert result["status"] == "completed"
    called = {call["node_id"] for call in sim.calls}
    assert called == {"right", "join"}  # plan and left were not run (nor billed) again
    assert result["outputs"]["plan"] == "kept-plan"
    assert result["output"] == "join(left=kept-left,right=right(plan=kept-plan))"
    assert result["nodes"]["plan"]["reused"] is True and result["nodes"]["plan"]["attempts"] == 0
    assert "reused" not in result["nodes"]["right"]
    assert result["usage"]["total_tokens"] == 20  # only the two agents that ran


def test_without_reuse_every_agent_runs() -> None:
    sim = Sim(diamond(), answer)
    sim.finish()
    assert len(sim.calls) == 4


def test_a_router_or_supervisor_is_never_kept() -> None:
    graph = {
        "name": "boss",
        "agents": agents({"id": "boss", "kind": "supervisor", "workers": ["w"]}, {"id": "w"}),
        "output": "boss",
    }
    sim = Sim(graph, answer, reuse={"boss": "old"})
    sim.finish()
    assert "boss" in {call["node_id"] for call in sim.calls}
