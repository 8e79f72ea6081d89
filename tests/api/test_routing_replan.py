"""A router and a planner end to end on the real app: decisions and re-plans in GET /runs/{id}, and a
SIGKILL while the planner thinks, after which the run resumes with the revision and redoes nothing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from convergio.host._store import stored_events
from tests._helpers import HostProcess
from tests.api.conftest import APP, Api, agent, graph, new_key
from tests.api.test_crash import CALL_LINES, finished_calls

# The offline provider echoes its prompt, so a planner whose prompt is a revision answers with it.
REVISION = {
    "action": "replace",
    "reason": "the maths tutor's provider is down: run it again without the outage",
    "agents": [
        {
            "id": "math",
            "description": "Maths tutor",
            "prompt": "Answer this maths question step by step.",
            "depends_on": ["triage"],
            "budget": {"max_tokens": 800},
        }
    ],
}


def help_desk(planner_latency_ms: int = 0) -> dict[str, Any]:
    tutor = {"depends_on": ["triage"], "budget": {"max_tokens": 800}}
    return graph(
        agent("intake", "Restate the question: {{ input.question }}"),
        agent(
            "triage",
            "{{ input.question }}",
            kind="router",
            depends_on=["intake"],
            route={"candidates": ["math", "writing"], "threshold": 0.05, "fallback": "writing"},
        ),
        agent(
            "math",
            "Explain: {{ input.question }}",
            description="Maths tutor: arithmetic, fractions, algebra, equations",
            examples=["How do I add fractions?", "Solve 2x + 3 = 7"],
            options={"fail_first_n": 5},  # a provider outage: it fails for good
            **tutor,
        ),
        agent(
            "writing",
            "Coach: {{ input.question }}",
            description="Writing coach: essays, grammar, spelling",
            examples=["Check the grammar of my essay"],
            **tutor,
        ),
        agent("reply", "{{ outputs.math }} {{ outputs.writing }}", depends_on=["math", "writing"]),
        agent(
            "fixer",
            json.dumps(REVISION),
            options={"output_tokens": 400, "latency_ms": planner_latency_ms},
        ),
        name="help-desk",
        planner={"agent": "fixer", "max_replans": 1},
    )


QUESTION = {"question": "How do I add fractions with different denominators?"}


def check_routed_and_replanned(run: dict[str, Any]) -> None:
    assert run["status"] == "Completed", run
    nodes = run["nodes"]
    assert nodes["writing"]["status"] == "skipped" and "not chosen" in nodes["writing"]["error"]
    assert nodes["math"]["status"] == "completed" and nodes["math"]["attempts"] == 2
    assert run["outputs"]["math"].startswith("offline-1: Answer this maths question")
    (decision,) = run["routes"].values()
    assert decision["chosen"] == ["math"] and decision["fallback"] is False
    assert decision["scores"]["math"] > decision["scores"].get("writing", 0)
    (replan,) = run["replans"]
    assert replan["node"] == "math" and replan["action"] == "replace"
    assert replan["reason"] == REVISION["reason"] and "simulated outage" in replan["error"]
    assert run["usage"]["total_tokens"] == sum(n["usage"]["total_tokens"] for n in nodes.values())


def test_router_and_replan_show_in_the_run(acme: Api) -> None:
    run = acme.wait(acme.start(help_desk(), QUESTION), timeout=60)
    check_routed_and_replanned(run)


def test_a_bad_router_spec_is_refused_with_its_path(acme: Api) -> None:
    spec = help_desk()
    spec["agents"][1]["route"]["fallback"] = "reply"
    answer = acme.http.post("/runs", json={"graph": spec, "input": QUESTION})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["path"] == "graph.agents[1].route.fallback"


def scheduled(database: Path, run_id: str, name: str) -> int:
    db = sqlite3.connect(database)
    try:
        rows = db.execute("SELECT event FROM history WHERE instance_id = ?", (run_id,)).fetchall()
    finally:
        db.close()
    return sum(1 for e in stored_events(r[0] for r in rows) if e["EventType"] == 4 and e["Name"] == name)


def test_kill_while_replanning_then_restart_resumes_with_the_revision(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key = new_key(home, "Replan School")
    first = HostProcess(APP, home, CALL_LINES).start()
    with Api(first.base_url, key) as api:
        run_id = api.start(help_desk(planner_latency_ms=2500), QUESTION)
        running = api.wait_node(run_id, "fixer", "running", timeout=60)
    first.kill()
    assert running["nodes"]["math"]["status"] == "failed" and running["replans"] == []
    assert running["nodes"]["reply"]["status"] == "waiting"  # held while the planner thinks

    with HostProcess(APP, home, CALL_LINES) as second, Api(second.base_url, key) as api:
        run = api.wait(run_id, timeout=60)
        after_restart = finished_calls(second.lines, run_id)
    check_routed_and_replanned(run)
    assert "intake" not in after_restart  # finished before the crash: never redone
    assert sorted(set(after_restart)) == ["fixer", "math", "reply"]
    assert scheduled(home / "durable.sqlite3", run_id, "route_request") == 1  # the decision was replayed
