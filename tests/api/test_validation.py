"""Bad graphs and bad requests: a clear 4xx naming the field, and nothing started or stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from convergio.retention import RETENTION_INSTANCE
from tests._helpers import HostProcess
from tests.api.conftest import Api, agent, graph


def rejected(api: Api, body: Any, status: int = 422) -> dict[str, Any]:
    answer = api.http.post("/runs", json=body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    return dict(answer.json()["error"])


CASES = {
    "cycle": (
        graph(agent("a", depends_on=["c"]), agent("b", depends_on=["a"]), agent("c", depends_on=["b"])),
        "graph.agents[0].depends_on",
        "cycle: a -> c -> b -> a",
    ),
    "unknown dependency": (
        graph(agent("a"), agent("b", depends_on=["ghost"])),
        "graph.agents[1].depends_on[0]",
        "unknown agent 'ghost'",
    ),
    "duplicate id": (graph(agent("a"), agent("a")), "graph.agents[1].id", "duplicate id 'a'"),
    "unknown provider": (
        graph(agent("a", provider="skynet")),
        "graph.agents[0].provider",
        "unknown provider",
    ),
    "unknown tool": (graph(agent("a", tools=["word_count", "laser"])), "graph.agents[0].tools[1]", "'laser'"),
    "unknown guard": (graph(agent("a", guards=["laser"])), "graph.agents[0].guards[0]", "'laser'"),
    "unknown graph guard": (graph(agent("a"), guards=["laser"]), "graph.guards[0]", "'laser'"),
    "missing prompt": (graph({"id": "a"}), "graph.agents[0].prompt", "prompt is required"),
    "negative budget": (
        graph(agent("a", budget={"max_tool_calls": -1})),
        "graph.agents[0].budget.max_tool_calls",
        "greater than or equal to 0",
    ),
    "negative run budget": (
        graph(agent("a"), budget={"max_seconds": -5}),
        "graph.budget.max_seconds",
        "greater than 0",
    ),
    "too big": (graph(*[agent(f"n{i}") for i in range(1001)]), "graph.agents", "the limit is 1000"),
    "unknown field": (graph(agent("a", colour="red")), "graph.agents[0].colour", "Extra inputs"),
    "prompt uses a non-dependency": (
        graph(agent("a"), agent("b", "{{ outputs.a }}")),
        "graph.agents[1].prompt",
        "'a' is not in depends_on",
    ),
    "bad template": (graph(agent("a", "{{ input. }}")), "graph.agents[0].prompt", "syntax error"),
    "several ends, no output": (graph(agent("a"), agent("b")), "graph.output", "several agents end"),
    "sub-graph by unknown name": (
        graph({"id": "s", "kind": "graph", "graph_ref": "nope"}),
        "graph.agents[0].graph_ref",
        "unknown graph 'nope'",
    ),
    "error inside a sub-graph": (
        graph({"id": "s", "kind": "graph", "graph": graph(agent("x", depends_on=["y"]))}),
        "graph.agents[0].graph.agents[0].depends_on[0]",
        "unknown agent 'y'",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_invalid_graphs_are_rejected_with_the_path_of_the_bad_field(acme: Api, case: str) -> None:
    spec, path, message = CASES[case]
    before = acme.http.get("/runs").json()
    error = rejected(acme, {"graph": spec, "input": "x"})
    assert error["code"] == "invalid_graph"
    paths = {d["path"]: d["message"] for d in error["details"]}
    assert path in paths, error
    assert message in paths[path], error
    assert acme.http.get("/runs").json() == before  # nothing stored, nothing started


def test_input_must_match_the_graphs_input_schema(acme: Api) -> None:
    error = rejected(acme, {"graph_ref": "lesson-plan", "input": {"topic": "x", "grade": "five"}}, 400)
    assert error["details"][0]["path"] == "input.grade"
    error = rejected(acme, {"graph_ref": "lesson-plan", "input": {"grade": 3}}, 400)
    assert "'topic' is a required property" in error["message"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"graph_ref": "lesson-plan", "graph": {}}', 400, "exactly one of graph or graph_ref"),
        (b'{"graph_ref": 7}', 400, "graph_ref"),
        (b'{"graph_ref": "lesson-plan", "inputs": {}}', 400, "inputs"),
        (b'{"graph_ref": "missing"}', 422, "unknown graph 'missing'"),
        (b'{"graph_ref": "x", "input": "' + b"a" * (1 << 20) + b'"}', 413, "limit"),
    ],
)
def test_malformed_requests(acme: Api, body: bytes, status: int, words: str) -> None:
    answer = acme.http.post("/runs", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.text
    assert words in answer.text


def test_rejections_start_no_orchestration(acme: Api, api_host: HostProcess) -> None:
    instances = api_host.durable_url("instances")

    def runs() -> list[Any]:  # the retention singleton (ADR 0018) may start on a first request
        return [i for i in httpx.get(instances).json() if i["instanceId"] != RETENTION_INSTANCE]

    before = runs()
    rejected(acme, {"graph": graph(agent("a", depends_on=["a"])), "input": None})
    rejected(acme, {"graph_ref": "lesson-plan", "input": {"grade": 3}}, 400)
    assert runs() == before


def test_openapi_document_is_generated_from_the_models(acme: Api) -> None:
    doc = acme.http.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert {"/api/v1/runs", "/api/v1/runs/{id}", "/api/v1/runs/{id}/cancel", "/api/v1/graphs"} <= set(
        doc["paths"]
    )
    schemas = doc["components"]["schemas"]
    assert {"RunRequest", "RunView", "GraphSpec", "AgentSpec", "Budget", "ErrorBody"} <= set(schemas)
    assert set(schemas["AgentSpec"]["properties"]) >= {
        "depends_on",
        "budget",
        "retry",
        "on_failure",
        "await_event",
    }
    assert schemas["AgentSpec"]["additionalProperties"] is False


def test_graph_library(acme: Api) -> None:
    graphs = {g["name"]: g for g in acme.http.get("/graphs").json()["graphs"]}
    assert {"lesson-plan", "quiz-builder", "newsletter-approval"} <= set(graphs)
    assert graphs["lesson-plan"]["agents"] == 5
    assert graphs["lesson-plan"]["input_schema"]["required"] == ["topic", "grade"]
    spec = acme.http.get("/graphs/quiz-builder").json()
    assert spec["agents"][0]["kind"] == "supervisor"
    assert acme.http.get("/graphs/nope").status_code == 404
