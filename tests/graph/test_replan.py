"""Adaptive re-planning on the run state machine: the planner is a scripted agent, the simulator drives."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from convergio.errors import InvalidGraph
from convergio.graph import parse_graph
from convergio.graph._run import GraphRun
from tests.graph._sim import CATALOG, T0, Sim, answer


def lesson(**planner: Any) -> dict[str, Any]:
    """research -> draft -> review; ``draft`` is the node the tests make fail."""
    return {
        "name": "lesson",
        "planner": {"agent": "fixer", **planner},
        "agents": [
            {"id": "fixer", "instructions": "You repair plans."},
            {"id": "research", "prompt": "research {{ input }}"},
            {
                "id": "draft",
                "prompt": "draft {{ outputs.research }}",
                "depends_on": ["research"],
                "budget": {"max_tokens": 500},
                "retry": {"attempts": 2},
            },
            {"id": "review", "prompt": "review {{ outputs.draft }}", "depends_on": ["draft"]},
        ],
    }


def draft(**fields: Any) -> dict[str, Any]:
    spec = {"id": "draft", "prompt": "draft again {{ outputs.research }}", "depends_on": ["research"]}
    return spec | {"budget": {"max_tokens": 400}} | fields


Plan = Callable[[dict[str, Any]], Any]


def scripted(plans: list[Any], broken: Callable[[dict[str, Any]], bool]) -> tuple[Any, list[dict[str, Any]]]:
    """Agents answer, except ``broken`` calls (which fail); the planner answers ``plans`` in turn."""
    asked: list[dict[str, Any]] = []

    def act(call: dict[str, Any]) -> tuple[float, bool, Any]:
        if call["node_id"] == "fixer":
            asked.append(call)
            plan = plans[min(len(asked), len(plans)) - 1]
            text = plan if isinstance(plan, str) else "Here is my plan: " + json.dumps(plan) + " Good luck."
            return 0.5, True, {"status": "completed", "output": text, "usage": {"total_tokens": 20}}
        if broken(call):
            return 0.1, False, "provider down"
        return answer(call)

    return act, asked


def failing_draft(call: dict[str, Any]) -> bool:
    return call["node_id"] == "draft" and "again" not in call["agent"]["prompt"]


def calls(sim: Sim) -> dict[str, int]:
    counted: dict[str, int] = {}
    for call in sim.calls:
        counted[call["node_id"]] = counted.get(call["node_id"], 0) + 1
    return counted


def test_replace_runs_the_new_spec_of_the_failed_node_and_finished_nodes_never_rerun() -> None:
    plan = {"action": "replace", "reason": "retry with a simpler prompt", "agents": [draft()]}
    act, asked = scripted([plan], failing_draft)
    sim = Sim(lesson(), act, "volcanoes")
    result = sim.finish()
    assert result["status"] == "completed", result["error"]
    assert result["output"] == "review(draft=draft(research=research()))"
    assert calls(sim) == {"research": 1, "draft": 3, "fixer": 1, "review": 1}  # two failed attempts, one new
    assert result["nodes"]["draft"]["attempts"] == 3  # the ledger's step keys stay unique
    (replan,) = sim.run.status()["replans"]
    assert replan | {"at": None} == {
        "node": "draft",
        "status": "failed",
        "error": "provider down",
        "action": "replace",
        "reason": "retry with a simpler prompt",
        "changed": ["draft"],
        "removed": [],
        "at": None,
    }
    task = asked[0]["task"]
    assert "'draft'" in task and "provider down" in task and '"status":"completed"' in task
    assert result["nodes"]["fixer"]["usage"]["total_tokens"] == 20
    assert "fixer" not in result["outputs"]


def test_the_failed_nodes_dependents_wait_while_the_planner_thinks() -> None:
    act, _ = scripted([{"action": "replace", "reason": "again", "agents": [draft()]}], failing_draft)
    sim = Sim(lesson(), act, "x")
    while sim.run.status()["nodes"]["fixer"]["status"] != "running":
        assert sim.step()
    status = sim.run.status()["nodes"]
    assert (status["draft"]["status"], status["review"]["status"]) == ("failed", "waiting")
    assert not sim.run.finished
    assert sim.finish()["status"] == "completed"


def test_reroute_adds_a_node_and_rewires_the_waiting_ones() -> None:
    plan = {
        "action": "reroute",
        "reason": "skip the draft: review the research with a backup writer",
        "agents": [
            {"id": "backup", "prompt": "write {{ outputs.research }}", "depends_on": ["research"]}
            | {"budget": {"max_tokens": 300}},
            {"id": "review", "prompt": "review {{ outputs.backup }}", "depends_on": ["backup"]},
        ],
    }
    act, _ = scripted([plan], failing_draft)
    sim = Sim(lesson(), act, "x")
    result = sim.finish()
    assert result["status"] == "completed", result["error"]
    assert result["nodes"]["draft"]["status"] == "failed"
    assert result["output"] == "review(backup=backup(research=research()))"
    assert sim.run.status()["replans"][0]["changed"] == ["backup", "review"]


def test_reroute_can_remove_waiting_nodes_and_move_the_output() -> None:
    plan = {"action": "reroute", "reason": "publish the research", "remove": ["review"], "output": "research"}
    act, _ = scripted([plan], failing_draft)
    sim = Sim(lesson(), act, "x")
    result = sim.finish()
    assert result["status"] == "completed" and result["output"] == "research()"
    assert (
        result["nodes"]["review"] | {"status": "skipped", "error": "removed by a re-plan"}
        == result["nodes"]["review"]
    )


def test_stop_fails_the_run_with_the_planners_reason() -> None:
    act, _ = scripted([{"action": "stop", "reason": "the topic is out of scope"}], failing_draft)
    result = Sim(lesson(), act, "x").finish()
    assert result["status"] == "failed"
    assert "the planner stopped the run: the topic is out of scope" in result["error"]
    assert result["nodes"]["review"]["status"] == "skipped"


@pytest.mark.parametrize(
    ("plan", "why"),
    [
        ("I cannot help with that.", "holds no JSON object"),
        ('{"action": "replace", "reason": ', "not valid JSON"),
        ({"action": "rebuild", "reason": "x"}, "revision.action"),
        (
            {"action": "replace", "reason": "x", "agents": [draft(budget={"max_tokens": 5000})]},
            "max_tokens above",
        ),
        ({"action": "replace", "reason": "x", "agents": [draft(budget={})]}, "max_tokens above"),
        (
            {"action": "replace", "reason": "x", "agents": [draft(), {"id": "research", "prompt": "r"}]},
            "started",
        ),
        (
            {"action": "replace", "reason": "x", "agents": [{"id": "fixer", "prompt": "p"}, draft()]},
            "planner",
        ),
        ({"action": "replace", "reason": "x", "agents": [draft(tools=["shell"])]}, "unknown tool 'shell'"),
        ({"action": "replace", "reason": "x", "agents": [draft(provider="openai")]}, "unknown provider"),
        ({"action": "reroute", "reason": "x", "agents": [draft()]}, "replace it to run it again"),
        ({"action": "replace", "reason": "x", "agents": []}, "a replace gives a new spec for 'draft'"),
        (
            {
                "action": "replace",
                "reason": "x",
                "agents": [
                    draft(depends_on=["research", "review"]),
                    {"id": "review", "prompt": "r", "depends_on": ["draft"]},
                ],
            },
            "cycle",
        ),
        ({"action": "reroute", "reason": "x", "remove": ["research"]}, "only nodes that have not started"),
    ],
)
def test_an_invalid_revision_is_rejected_and_the_failure_stands(plan: Any, why: str) -> None:
    act, _ = scripted([plan], failing_draft)
    sim = Sim(lesson(), act, "x")
    result = sim.finish()
    assert result["status"] == "failed"
    assert result["error"] == "agent 'draft' ended failed: provider down"
    (replan,) = sim.run.status()["replans"]
    assert replan["action"] == "rejected" and why in replan["reason"], replan["reason"]
    assert calls(sim).get("review", 0) == 0


def test_a_tool_the_planner_grants_may_be_used_by_a_revision() -> None:
    plan = {"action": "replace", "reason": "count words", "agents": [draft(tools=["calculator"])]}
    act, _ = scripted([plan], failing_draft)
    result = Sim(lesson(tools=["calculator"]), act, "x").finish()
    assert result["status"] == "completed"


def test_replans_are_bounded_by_max_replans() -> None:
    plan = {
        "action": "replace",
        "reason": "try once more",
        "agents": [draft(prompt="still {{ outputs.research }}")],
    }
    act, asked = scripted([plan], lambda c: c["node_id"] == "draft")
    sim = Sim(lesson(max_replans=2), act, "x")
    result = sim.finish()
    assert len(asked) == 2 and len(sim.run.status()["replans"]) == 2
    assert result["status"] == "failed" and "draft" in result["error"]


@pytest.mark.parametrize("outcome", ["timed_out", "budget_exceeded"])
def test_time_and_budget_failures_also_ask_the_planner(outcome: str) -> None:
    graph = lesson()
    graph["agents"][2]["budget"] = {"max_tokens": 500, "max_seconds": 1}
    plan = {
        "action": "replace",
        "reason": "smaller",
        "agents": [draft(budget={"max_tokens": 99, "max_seconds": 1})],
    }

    def act_broken(call: dict[str, Any]) -> bool:
        return False

    act, _ = scripted([plan], act_broken)

    def behaviour(call: dict[str, Any]) -> tuple[float, bool, Any]:
        if failing_draft(call):
            if outcome == "timed_out":
                return 10, True, {"status": "completed", "output": "late", "usage": {}}
            return 0.1, True, {"status": "budget_exceeded", "error": "token budget", "usage": {}}
        return act(call)  # type: ignore[no-any-return]

    sim = Sim(graph, behaviour, "x")
    result = sim.finish()
    assert sim.run.status()["replans"][0]["status"] == outcome
    assert result["status"] == "completed"


def test_on_failure_continue_does_not_ask_the_planner() -> None:
    graph = lesson()
    graph["agents"][2]["on_failure"] = "continue"
    act, asked = scripted([{"action": "stop", "reason": "x"}], failing_draft)
    result = Sim(graph, act, "x").finish()
    assert asked == [] and result["status"] == "completed"


def test_a_replay_of_the_same_completions_rebuilds_the_same_revised_run() -> None:
    """What the orchestrator does after a crash mid-replan: replay history, then carry on."""
    plan = {"action": "replace", "reason": "again", "agents": [draft()]}
    act, _ = scripted([plan], failing_draft)
    sim = Sim(lesson(), act, "x")
    result = sim.finish()
    for cut in range(len(sim.history) + 1):
        replay = GraphRun(sim.request, T0)
        for token, ok, value, at in sim.history[:cut]:
            replay.complete(token, ok=ok, value=value, now=at)
        if cut == len(sim.history):
            assert replay.result() == result
        else:
            assert not replay.finished
    assert [c for c in sim.calls if c["node_id"] == "fixer"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda g: g["planner"].update(agent="ghost"), "planner.agent"),
        (lambda g: g["agents"][0].update(depends_on=["research"]), "agents[0]"),
        (lambda g: g["agents"][3].update(depends_on=["draft", "fixer"]), "agents[3].depends_on"),
        (lambda g: g.update(output="fixer"), "output"),
        (lambda g: g["planner"].update(tools=["shell"]), "planner.tools[0]"),
    ],
)
def test_planner_validation_names_the_path(change: Any, path: str) -> None:
    graph = lesson()
    change(graph)
    with pytest.raises(InvalidGraph) as caught:
        parse_graph(graph, CATALOG)
    assert path in {p["path"] for p in caught.value.details}, caught.value.details
