"""The run state machine, driven by a discrete-event simulator (virtual time, no host).

The simulator plays the durable runtime: it starts what the run asks for, fires
timers and completions in time order, and feeds them back. Agents are fake
functions of their input, so each test states exactly what every call does.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest

from tests.graph._sim import T0, Behaviour, Sim, agents, answer


def chain(n: int) -> dict[str, Any]:
    nodes = [{"id": "a0"}] + [{"id": f"a{i}", "depends_on": [f"a{i - 1}"]} for i in range(1, n)]
    return {"name": "chain", "agents": agents(*nodes)}


def test_chain_runs_in_order_and_outputs_flow_downstream() -> None:
    result = Sim(chain(3), answer).finish()
    assert result["status"] == "completed"
    assert result["output"] == "a2(a1=a1(a0=a0()))"
    nodes = result["nodes"]
    assert nodes["a0"]["finished_at"] <= nodes["a1"]["started_at"] <= nodes["a1"]["finished_at"]
    assert result["usage"]["total_tokens"] == 30


def test_ready_set_starts_a_dependent_as_soon_as_its_own_dependencies_end() -> None:
    graph = {
        "name": "ready",
        "agents": agents(
            {"id": "root"},
            {"id": "fast", "depends_on": ["root"]},
            {"id": "slow", "depends_on": ["root"]},
            {"id": "after_fast", "depends_on": ["fast"]},
            {"id": "join", "depends_on": ["after_fast", "slow"]},
        ),
    }
    durations = {"fast": 0.1, "slow": 5.0}
    sim = Sim(graph, lambda c: answer(c, seconds=durations.get(c["node_id"], 0.2)))
    result = sim.finish()
    nodes = result["nodes"]
    assert nodes["fast"]["started_at"] == nodes["slow"]["started_at"]  # fanned out together
    assert nodes["after_fast"]["started_at"] < nodes["slow"]["finished_at"]  # not level by level
    assert nodes["join"]["started_at"] >= nodes["slow"]["finished_at"]


def test_retry_counts_attempts_and_waits_the_backoff() -> None:
    graph = {"name": "r", "agents": agents({"id": "flaky", "retry": {"attempts": 3, "backoff_ms": 500}})}
    sim = Sim(graph, lambda c: (0.1, False, "boom\nstack") if c["attempt"] < 3 else answer(c))
    result = sim.finish()
    assert result["nodes"]["flaky"]["attempts"] == 3
    starts = sim.started["flaky"]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(starts)] == [0.6, 0.6]


def test_retries_exhausted_fail_the_run_with_the_first_line_of_the_error() -> None:
    graph = {"name": "r", "agents": agents({"id": "bad", "retry": {"attempts": 2}})}
    result = Sim(graph, lambda c: (0.1, False, "provider down\ntraceback...")).finish()
    assert result["status"] == "failed"
    assert result["nodes"]["bad"]["status"] == "failed"
    assert result["nodes"]["bad"]["error"] == "provider down"
    assert "bad" in (result["error"] or "")


def test_max_seconds_times_a_node_out_and_ignores_its_late_result() -> None:
    graph = {
        "name": "t",
        "agents": agents({"id": "slow", "budget": {"max_seconds": 1}, "on_failure": "continue"}),
    }
    sim = Sim(graph, lambda c: answer(c, seconds=10))
    result = sim.finish()
    node = result["nodes"]["slow"]
    assert node["status"] == "timed_out"
    assert sim.now - T0 == timedelta(seconds=1)
    assert result["status"] == "failed"  # the output agent did not complete


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("continue", {"c": "completed", "d": "completed"}),
        ("skip_dependents", {"c": "skipped", "d": "skipped"}),
    ],
)
def test_on_failure_continue_and_skip_dependents(policy: str, expected: dict[str, str]) -> None:
    graph = {
        "name": "f",
        "agents": agents(
            {"id": "a"},
            {"id": "b", "depends_on": ["a"], "on_failure": policy},
            {"id": "c", "depends_on": ["b"], "prompt": "{{ outputs.b }}"},
            {"id": "d", "depends_on": ["c"]},
            {"id": "side", "depends_on": ["a"]},
            {"id": "end", "depends_on": ["d", "side"], "on_failure": "continue"},
        ),
        "output": "side",
    }
    result = Sim(graph, lambda c: (0.1, False, "nope") if c["node_id"] == "b" else answer(c)).finish()
    states = {n: v["status"] for n, v in result["nodes"].items()}
    assert states["b"] == "failed"
    assert {"c": states["c"], "d": states["d"]} == expected
    assert states["side"] == "completed"
    if policy == "continue":
        assert result["outputs"]["c"] == "c(b=None)"


def test_fail_run_cancels_what_is_running_and_skips_what_has_not_started() -> None:
    graph = {
        "name": "f",
        "agents": agents({"id": "bad"}, {"id": "long"}, {"id": "after", "depends_on": ["long", "bad"]}),
        "output": "after",
    }
    sim = Sim(graph, lambda c: (0.1, False, "x") if c["node_id"] == "bad" else answer(c, seconds=30))
    result = sim.finish()
    states = {n: v["status"] for n, v in result["nodes"].items()}
    assert states == {"bad": "failed", "long": "cancelled", "after": "skipped"}
    assert sim.now - T0 == timedelta(seconds=0.1)


def test_run_budget_is_shared_by_parallel_nodes_and_caps_each_call() -> None:
    graph = {
        "name": "b",
        "budget": {"max_tokens": 900},
        "agents": agents(
            {"id": "p1"}, {"id": "p2"}, {"id": "p3"}, {"id": "j", "depends_on": ["p1", "p2", "p3"]}
        ),
    }
    sim = Sim(graph, lambda c: answer(c, tokens=c["limits"]["max_tokens"]))
    result = sim.finish()
    grants = {c["node_id"]: c["limits"]["max_tokens"] for c in sim.calls}
    # Four nodes to go, three start together: each gets a quarter, the last one the rest.
    assert grants == {"p1": 225, "p2": 225, "p3": 225, "j": 225}
    assert result["usage"]["total_tokens"] <= 900


def test_exhausted_run_budget_stops_a_node_before_it_calls_anything() -> None:
    graph = {
        "name": "b",
        "budget": {"max_tokens": 100},
        "agents": agents({"id": "a", "budget": {"max_tokens": 100}}, {"id": "b", "depends_on": ["a"]}),
    }
    sim = Sim(graph, lambda c: answer(c, tokens=100))
    result = sim.finish()
    assert result["nodes"]["b"]["status"] == "budget_exceeded"
    assert [c["node_id"] for c in sim.calls] == ["a"]


def test_budget_outcome_from_the_activity_follows_on_failure() -> None:
    graph = {"name": "b", "agents": agents({"id": "a", "budget": {"max_tool_calls": 1}})}
    outcome = {"status": "tool_limit", "error": "asked for 3 tool calls", "usage": {"tool_calls": 0}}
    result = Sim(graph, lambda c: (0.1, True, outcome)).finish()
    assert result["nodes"]["a"]["status"] == "tool_limit"
    assert result["status"] == "failed"


def approval_graph(timeout: float = 60) -> dict[str, Any]:
    return {
        "name": "h",
        "agents": agents(
            {"id": "draft"},
            {
                "id": "publish",
                "depends_on": ["draft"],
                "await_event": {"name": "approval", "timeout_seconds": timeout},
                "prompt": "{{ outputs.draft }} {{ event.comment }}",
            },
        ),
    }


def test_await_event_passes_the_human_input_to_the_agent() -> None:
    sim = Sim(approval_graph(), answer)
    while "approval" not in sim.waiting_events:
        assert sim.step()
    assert sim.run.status()["nodes"]["publish"]["status"] == "awaiting_input"
    sim.raise_event("approval", {"approved": True, "comment": "ok"}, after=5)
    result = sim.finish()
    assert result["status"] == "completed"
    assert sim.calls[-1]["event"] == {"approved": True, "comment": "ok"}


def test_await_event_rejection_and_timeout() -> None:
    sim = Sim(approval_graph(), answer)
    while "approval" not in sim.waiting_events:
        assert sim.step()
    sim.raise_event("approval", {"approved": False, "comment": "too long"}, after=1)
    result = sim.finish()
    assert result["nodes"]["publish"]["status"] == "rejected"
    assert "too long" in result["nodes"]["publish"]["error"]

    sim = Sim(approval_graph(timeout=30), answer)
    result = sim.finish()
    assert result["nodes"]["publish"]["status"] == "timed_out"
    assert sim.now == T0 + timedelta(seconds=30.1)


def supervisor_graph(max_rounds: int = 3) -> dict[str, Any]:
    return {
        "name": "s",
        "agents": [
            {"id": "boss", "kind": "supervisor", "prompt": "quiz on {{ input }}", "workers": ["w1", "w2"]}
            | {"max_rounds": max_rounds},
            {"id": "w1", "description": "writes questions"},
            {"id": "w2", "description": "checks answers", "retry": {"attempts": 2}},
        ],
    }


def boss_behaviour(rounds_wanted: int) -> Behaviour:
    def act(call: dict[str, Any]) -> tuple[float, bool, Any]:
        if call["node_id"] != "boss":
            if call["node_id"] == "w2" and call["attempt"] == 1:
                return 0.1, False, "flaky"
            return answer(call | {"outputs": {"task": call["task"]}})
        if len(call["rounds"]) < rounds_wanted and not call["final"]:
            n = len(call["rounds"])
            calls = [{"id": f"c{n}{w}", "worker": w, "task": f"t{n}{w}"} for w in ("w1", "w2")]
            return 0.1, True, {"status": "delegated", "calls": calls, "usage": {"tool_calls": 2}}
        done = [c["output"] for r in call["rounds"] for c in r]
        return 0.1, True, {"status": "completed", "output": " | ".join(done), "usage": {"total_tokens": 5}}

    return act


def test_supervisor_calls_workers_in_rounds_then_answers() -> None:
    sim = Sim(supervisor_graph(), boss_behaviour(2), "fractions")
    result = sim.finish()
    assert result["status"] == "completed"
    assert result["output"] == "w1(task=t0w1) | w2(task=t0w2) | w1(task=t1w1) | w2(task=t1w2)"
    nodes = result["nodes"]
    assert nodes["w1"]["calls"] == 2 and nodes["w2"]["attempts"] == 4  # one retry per round
    assert nodes["boss"]["usage"]["tool_calls"] == 4
    assert [c["final"] for c in sim.calls if c["node_id"] == "boss"] == [False, False, False]


def test_a_supervisors_parallel_worker_calls_share_the_run_budget() -> None:
    sim = Sim(supervisor_graph() | {"budget": {"max_tokens": 3000}}, boss_behaviour(1), "x")
    sim.finish()
    grants = [c["limits"]["max_tokens"] for c in sim.calls if c["node_id"] != "boss"][:2]
    assert grants == [1500, 1500], grants  # split between the two calls, not all to the first


def test_supervisor_is_told_to_finish_after_max_rounds() -> None:
    sim = Sim(supervisor_graph(max_rounds=1), boss_behaviour(5), "x")
    result = sim.finish()
    assert result["status"] == "completed"
    assert [c["final"] for c in sim.calls if c["node_id"] == "boss"] == [False, True]


def test_sub_graph_runs_as_a_child_with_its_context_and_budget() -> None:
    inner = {"name": "inner", "agents": agents({"id": "x"})}
    graph = {
        "name": "outer",
        "budget": {"max_tokens": 1000},
        "agents": agents(
            {"id": "a"},
            {"id": "sub", "kind": "graph", "graph": inner, "depends_on": ["a"], "prompt": None},
        ),
    }

    def act(call: dict[str, Any]) -> tuple[float, bool, Any]:
        if call["kind"] == "subgraph":
            usage = {"total_tokens": 7, "prompt_tokens": 3, "completion_tokens": 4}
            return 0.5, True, {"status": "completed", "output": call["input"]["context"]["a"], "usage": usage}
        return answer(call)

    sim = Sim(graph, act, {"topic": "t"})
    result = sim.finish()
    child = next(c for c in sim.calls if c["kind"] == "subgraph")
    assert child["input"] == {"topic": "t", "context": {"a": "a()"}}
    assert child["budget"]["max_tokens"] == 990  # the last node to start gets all that is left
    assert child["as_child"] is True
    assert result["output"] == "a()" and result["usage"]["total_tokens"] == 17


def test_run_max_seconds_ends_the_run() -> None:
    graph = chain(5) | {"budget": {"max_seconds": 1.5}}
    sim = Sim(graph, lambda c: answer(c, seconds=0.6))
    result = sim.finish()
    assert result["status"] == "failed" and "max_seconds" in (result["error"] or "")
    states = [n["status"] for n in result["nodes"].values()]
    assert states == ["completed", "completed", "cancelled", "skipped", "skipped"]
    assert sim.now == T0 + timedelta(seconds=1.5)


def _running(sim: Sim) -> int:
    return sum(node.status == "running" for node in sim.run.nodes.values())


def test_max_parallel_holds_ready_agents_until_a_slot_frees_in_order() -> None:
    workers = [{"id": f"w{i}"} for i in range(7)]
    graph = {
        "name": "capped",
        "max_parallel": 3,
        "agents": agents(*workers, {"id": "join", "depends_on": [w["id"] for w in workers]}),
    }
    durations = {"w0": 3.0, "w1": 1.0, "w2": 2.0}
    sim = Sim(graph, lambda c: answer(c, seconds=durations.get(c["node_id"], 1.0)))
    most = _running(sim)
    while sim.step():
        most = max(most, _running(sim))
    result = sim.run.result()
    assert result["status"] == "completed"
    assert most == 3
    # w1 ends first (t=1) and frees the slot w3 takes; w2 (t=2) frees w4's; and so on, in spec order.
    begun = {node: starts[0] - sim.started["w0"][0] for node, starts in sim.started.items()}
    assert [begun[f"w{i}"].total_seconds() for i in range(7)] == [0, 0, 0, 1, 2, 2, 3]
    assert sim.started["join"][0] - sim.started["w0"][0] == timedelta(seconds=4)


def test_a_node_waiting_for_an_event_holds_no_slot() -> None:
    graph = {
        "name": "waits",
        "max_parallel": 1,
        "output": "other",
        "agents": agents(
            {"id": "approve", "await_event": {"name": "ok", "timeout_seconds": 60}},
            {"id": "other"},
        ),
    }
    sim = Sim(graph, answer)
    assert "other" in sim.started  # not held behind the node waiting for its event
    sim.raise_event("ok", {"approved": True}, after=5)
    assert sim.finish()["status"] == "completed"


def test_status_is_the_whole_table_in_node_order_with_usage_totals() -> None:
    """After every completion the table matches the nodes (the compact status: test_progress.py)."""
    graph = {
        "name": "mixed",
        "max_parallel": 2,
        "agents": agents(
            {"id": "a"},
            {"id": "b", "retry": {"attempts": 2}},
            {"id": "c", "depends_on": ["a", "b"], "on_failure": "continue"},
            {"id": "d", "depends_on": ["c"]},
        ),
    }
    sim = Sim(
        graph, lambda c: (0.5, False, "boom") if c["node_id"] == "b" and c["attempt"] == 1 else answer(c)
    )
    while True:
        status = sim.run.status()
        fresh = {node_id: node.entry() for node_id, node in sim.run.nodes.items()}
        assert status["nodes"] == fresh
        assert list(status["nodes"]) == ["a", "b", "c", "d"]
        totals = {k: sum(n.usage[k] for n in sim.run.nodes.values()) for k in status["usage"]}
        assert status["usage"] == totals
        if not sim.step():
            break
    assert sim.run.result()["usage"]["total_tokens"] == 40
