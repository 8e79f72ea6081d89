"""GET /runs/{id}/graph: a run carries its graph's shape, inline graphs included (issue 23.2)."""

from __future__ import annotations

from tests.api.conftest import Api, agent, graph


def test_an_inline_run_gives_its_edges_and_a_library_run_its_spec(acme: Api, globex: Api) -> None:
    spec = graph(
        agent("draft", "write about {{ input }}"),
        agent("check", "check", depends_on=["draft"]),
        agent("polish", "polish", depends_on=["draft", "check"]),
        name="inline-only",
        output="polish",
    )
    run_id = acme.start(spec, "tides")
    shape = acme.http.get(f"/runs/{run_id}/graph")
    assert shape.status_code == 200, shape.text
    body = shape.json()
    assert body["name"] == "inline-only"
    assert {a["id"]: a.get("depends_on", []) for a in body["agents"]} == {
        "draft": [],
        "check": ["draft"],
        "polish": ["draft", "check"],
    }
    assert acme.http.get("/graphs/inline-only").status_code == 404  # the library cannot give it
    # Another tenant's run is as unknown as one that does not exist.
    foreign, unknown = globex.http.get(f"/runs/{run_id}/graph"), acme.http.get("/runs/nope/graph")
    assert foreign.status_code == 404 and unknown.status_code == 404
    assert foreign.json()["error"]["code"] == "not_found"

    library = acme.start(None, {"topic": "fractions", "grade": 4}, graph_ref="lesson-plan")
    named = acme.http.get(f"/runs/{library}/graph").json()
    assert named["name"] == "lesson-plan"
    assert named == acme.http.get("/graphs/lesson-plan").json()
    acme.wait(run_id)
    acme.wait(library)
