"""Each graph pattern, end to end through the HTTP API on the real app."""

from __future__ import annotations

from datetime import datetime

from tests.api.conftest import Api, agent, graph


def t(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_sequential_chain_passes_outputs_downstream(acme: Api) -> None:
    spec = graph(
        agent("research", "Collect facts about {{ input.topic }}"),
        agent("outline", "Outline an essay from: {{ outputs.research }}", depends_on=["research"]),
        agent("write", "Write the essay from: {{ outputs.outline }}", depends_on=["outline"]),
    )
    run = acme.wait(acme.start(spec, {"topic": "photosynthesis"}))
    assert run["status"] == "Completed", run
    assert "photosynthesis" in run["output"]  # came through three agents
    assert run["outputs"]["outline"] != run["outputs"]["research"]
    nodes = run["nodes"]
    assert [nodes[n]["status"] for n in ("research", "outline", "write")] == ["completed"] * 3
    assert t(nodes["research"]["finished_at"]) <= t(nodes["outline"]["started_at"])
    assert t(nodes["outline"]["finished_at"]) <= t(nodes["write"]["started_at"])
    total = sum(n["usage"]["total_tokens"] for n in nodes.values())
    assert total == run["usage"]["total_tokens"] > 0
    assert all(n["usage"]["prompt_tokens"] > 0 and n["attempts"] == 1 for n in nodes.values())


def test_parallel_branches_really_overlap(acme: Api) -> None:
    branches = [agent(f"b{i}", options={"latency_ms": 600}, depends_on=["start"]) for i in range(3)]
    spec = graph(
        agent("start"),
        *branches,
        agent("join", "{{ outputs.b0 }} {{ outputs.b1 }} {{ outputs.b2 }}", depends_on=["b0", "b1", "b2"]),
    )
    run = acme.wait(acme.start(spec, "x"))
    assert run["status"] == "Completed", run
    nodes = run["nodes"]
    spans = [(t(nodes[f"b{i}"]["started_at"]), t(nodes[f"b{i}"]["finished_at"])) for i in range(3)]
    latest_start = max(s for s, _ in spans)
    earliest_end = min(e for _, e in spans)
    assert latest_start < earliest_end, spans  # all three were running at the same moment
    wall = (max(e for _, e in spans) - min(s for s, _ in spans)).total_seconds()
    assert wall < 1.5, wall  # three 0.6 s calls, not 1.8 s in a row


def test_a_fast_branch_dependent_starts_before_a_slow_sibling_finishes(acme: Api) -> None:
    spec = graph(
        agent("root"),
        agent("fast", depends_on=["root"], options={"latency_ms": 50}),
        agent("slow", depends_on=["root"], options={"latency_ms": 1500}),
        agent("after_fast", "{{ outputs.fast }}", depends_on=["fast"], options={"latency_ms": 50}),
        agent("join", "{{ outputs.after_fast }} {{ outputs.slow }}", depends_on=["after_fast", "slow"]),
    )
    run = acme.wait(acme.start(spec, "x"))
    assert run["status"] == "Completed", run
    nodes = run["nodes"]
    assert t(nodes["after_fast"]["started_at"]) < t(nodes["slow"]["finished_at"])
    assert t(nodes["after_fast"]["finished_at"]) < t(nodes["slow"]["finished_at"])
    assert t(nodes["join"]["started_at"]) >= t(nodes["slow"]["finished_at"])


def test_supervisor_worker_quiz_builder(acme: Api) -> None:
    run = acme.wait(acme.start(None, {"topic": "fractions", "questions": 3}, graph_ref="quiz-builder"))
    assert run["status"] == "Completed", run
    nodes = run["nodes"]
    assert nodes["quizmaster"]["status"] == "completed"
    assert nodes["question_writer"]["calls"] >= 1 and nodes["answer_checker"]["calls"] >= 1
    assert nodes["question_writer"]["status"] == "completed"
    # Delegations are the supervisor's tool calls, metered as such.
    delegated = nodes["question_writer"]["calls"] + nodes["answer_checker"]["calls"]
    assert nodes["quizmaster"]["usage"]["tool_calls"] == delegated
    assert "fractions" in run["output"]


def test_sub_graph_inline_and_by_name(acme: Api) -> None:
    inner = graph(
        agent("a", "Summarise {{ input.context.intro }} about {{ input.topic }}"),
        agent("b", "Polish {{ outputs.a }}", depends_on=["a"]),
        name="inner",
    )
    spec = graph(
        agent("intro", "Introduce {{ input.topic }}"),
        {"id": "detail", "kind": "graph", "graph": inner, "depends_on": ["intro"]},
        {"id": "lesson", "kind": "graph", "graph_ref": "lesson-plan", "depends_on": ["intro"]},
        agent("final", "{{ outputs.detail }} / {{ outputs.lesson }}", depends_on=["detail", "lesson"]),
    )
    run = acme.wait(acme.start(spec, {"topic": "volcanoes", "grade": 5}), timeout=60)
    assert run["status"] == "Completed", run
    nodes = run["nodes"]
    assert nodes["detail"]["status"] == nodes["lesson"]["status"] == "completed"
    assert nodes["lesson"]["usage"]["total_tokens"] > nodes["intro"]["usage"]["total_tokens"]
    assert "volcanoes" in run["outputs"]["detail"]
    assert run["usage"]["total_tokens"] == sum(n["usage"]["total_tokens"] for n in nodes.values())


def test_named_graph_with_its_input_schema(acme: Api) -> None:
    run = acme.wait(acme.start(None, {"topic": "the water cycle", "grade": 4}, graph_ref="lesson-plan"))
    assert run["status"] == "Completed", run
    assert run["graph"] == "lesson-plan"
    assert set(run["nodes"]) == {"planner", "content", "activities", "assessment", "reviewer"}
    assert run["nodes"]["activities"]["usage"]["tool_calls"] >= 1
