"""Routers on the run state machine: the real ``route_request`` activity scores, the simulator drives."""

from __future__ import annotations

from typing import Any

import pytest

from activities.routing import route_request_activity
from convergio.errors import InvalidGraph
from convergio.graph import RouteCall, decide, parse_graph
from tests.graph._sim import CATALOG, Sim, answer

TUTORS = [
    {
        "id": "math",
        "description": "Mathematics tutor: arithmetic, fractions, algebra, equations, geometry.",
        "examples": ["How do I add fractions?", "Solve 3x + 2 = 11", "What is the area of a triangle?"],
    },
    {
        "id": "writing",
        "description": "Writing coach: essays, grammar, spelling, punctuation, paragraphs.",
        "examples": ["Check the grammar of my essay", "How do I write a good introduction paragraph?"],
    },
    {
        "id": "science",
        "description": "Science teacher: biology, chemistry, physics, plants, animals, experiments.",
        "examples": ["Why do plants need sunlight?", "What happens in a chemical reaction?"],
    },
]


def help_desk(**route: Any) -> dict[str, Any]:
    """A router over three tutors (each with a follow-up step) and a reply that joins them."""
    candidates = [t["id"] for t in TUTORS]
    return {
        "name": "help-desk",
        "agents": [
            {
                "id": "triage",
                "kind": "router",
                "prompt": "{{ input }}",
                "route": {"candidates": candidates, **route},
            },
            *({"prompt": "answer {{ input }}", "depends_on": ["triage"], **t} for t in TUTORS),
            {"id": "math_check", "prompt": "check {{ outputs.math }}", "depends_on": ["math"]},
            {
                "id": "reply",
                "prompt": "{{ outputs.math_check }} {{ outputs.writing }} {{ outputs.science }}",
                "depends_on": ["math_check", "writing", "science"],
            },
        ],
    }


def behaviour(call: dict[str, Any]) -> tuple[float, bool, Any]:
    if call["node_id"] == "triage":
        return 0.01, True, route_request_activity({k: v for k, v in call.items() if k != "kind"})
    return answer(call)


def run(question: str, **route: Any) -> tuple[Sim, dict[str, Any]]:
    sim = Sim(help_desk(**route), behaviour, question)
    return sim, sim.finish()


def states(result: dict[str, Any]) -> dict[str, str]:
    return {n: v["status"] for n, v in result["nodes"].items()}


def test_the_router_runs_the_best_candidate_and_routes_the_others_away() -> None:
    sim, result = run("How do I add two fractions with different denominators?")
    assert result["status"] == "completed"
    assert states(result) == {
        "triage": "completed",
        "math": "completed",
        "writing": "skipped",
        "science": "skipped",
        "math_check": "completed",
        "reply": "completed",
    }
    assert result["nodes"]["writing"]["error"] == "not chosen by router 'triage'"
    decision = sim.run.status()["routes"]["triage"]
    assert decision["chosen"] == ["math"] and decision["fallback"] is False
    scores = decision["scores"]
    assert next(iter(scores)) == "math" and scores["math"] > max(
        scores.get("writing", 0), scores.get("science", 0)
    )
    assert result["outputs"]["triage"]["chosen"] == ["math"]
    assert [c["node_id"] for c in sim.calls] == ["triage", "math", "math_check", "reply"]


def test_a_branch_of_an_unchosen_candidate_is_routed_away_and_the_join_still_runs() -> None:
    _, result = run("Please check the grammar and spelling of my essay paragraph")
    assert states(result)["writing"] == "completed"
    assert states(result)["math_check"] == "skipped"
    assert "routed away" in result["nodes"]["math_check"]["error"]
    assert result["output"].startswith("reply(math_check=None,science=None,writing=writing(triage=")


def test_the_choice_is_deterministic() -> None:
    question = "Why do leaves of plants turn towards the sunlight?"
    decisions = [run(question)[0].run.status()["routes"]["triage"] for _ in range(3)]
    assert decisions[0]["chosen"] == ["science"]
    assert decisions[0] == decisions[1] == decisions[2]


def test_top_k_runs_several_candidates() -> None:
    sim, result = run("essay about plants and sunlight experiments", top_k=2, threshold=0.0)
    chosen = sim.run.status()["routes"]["triage"]["chosen"]
    assert len(chosen) == 2 and chosen[0] == "science"
    assert sorted(n for n in ("math", "writing", "science") if states(result)[n] == "completed") == sorted(
        chosen
    )


def test_below_the_threshold_the_fallback_runs() -> None:
    sim, result = run("zzqx vvkj", threshold=0.5, fallback="writing")
    decision = sim.run.status()["routes"]["triage"]
    assert decision == decision | {"chosen": ["writing"], "fallback": True}
    assert states(result)["writing"] == "completed" and states(result)["math"] == "skipped"


def test_below_the_threshold_with_no_fallback_the_router_fails() -> None:
    _, result = run("zzqx vvkj", threshold=0.5)
    assert states(result)["triage"] == "failed"
    assert "threshold 0.5" in result["nodes"]["triage"]["error"]
    assert result["status"] == "failed"
    assert {states(result)[n] for n in ("math", "writing", "science", "reply")} == {"skipped"}


def test_decide_takes_the_top_k_over_the_threshold_in_ranking_order() -> None:
    call = RouteCall.model_validate(
        {
            "run_id": "r",
            "node_id": "t",
            "prompt": "x",
            "candidates": [{"id": "a"}, {"id": "b"}, {"id": "c"}],
            "route": {"candidates": ["a", "b", "c"], "top_k": 2, "threshold": 0.3, "fallback": "c"},
        }
    )
    assert decide(call, "x", [(1, 0.9), (0, 0.5), (2, 0.4)]).chosen == ["b", "a"]
    assert decide(call, "x", [(1, 0.9), (0, 0.1)]).chosen == ["b"]
    low = decide(call, "x", [(0, 0.2)])
    assert (low.chosen, low.fallback, low.scores) == (["c"], True, {"a": 0.2})


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (lambda g: g["agents"][1].update(depends_on=[]), "agents[0].route.candidates[0]", "must depend on"),
        (lambda g: g["agents"][0]["route"].update(fallback="reply"), "agents[0].route.fallback", "one of"),
        (lambda g: g["agents"][0]["route"].update(candidates=["nobody"]), "candidates[0]", "unknown agent"),
        (lambda g: g["agents"][0].pop("route"), "agents[0].route", "needs route.candidates"),
        (lambda g: g["agents"][1].update(route={"candidates": ["x"]}), "agents[1].route", "kind: router"),
    ],
)
def test_router_validation_names_the_path(change: Any, path: str, message: str) -> None:
    graph = help_desk()
    change(graph)
    with pytest.raises(InvalidGraph) as caught:
        parse_graph(graph, CATALOG)
    assert any(path in p["path"] and message in p["message"] for p in caught.value.details), (
        caught.value.details
    )
