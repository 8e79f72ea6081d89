"""A graph posted again is not validated again, yet every change of what validation reads is seen."""

from __future__ import annotations

from pathlib import Path

from tests._helpers import HostProcess
from tests.api.conftest import Api, agent, graph, new_key


def test_a_graph_posted_again_sees_its_catalog_and_input_change(
    api_host: HostProcess, api_home: Path
) -> None:
    with (
        Api(api_host.base_url, new_key(api_home, "Memo School")) as api,
        Api(api_host.base_url, new_key(api_home, "Memo Academy")) as other,
    ):
        assert api.http.put("/tenants/me/connections/mine", json={"kind": "offline"}).status_code == 201
        schema = {"type": "object", "required": ["topic"], "properties": {"topic": {"type": "string"}}}
        spec = graph(
            agent("a", "On {{ input.topic }}", provider="mine"),
            agent("b", "{{ outputs.a }}", depends_on=["a"]),
            input_schema=schema,
        )
        body = {"graph": spec, "input": {"topic": "tides"}}
        first = [api.http.post("/runs", json=body) for _ in range(3)]
        assert [a.status_code for a in first] == [202] * 3, first[-1].text
        bad_input = api.http.post("/runs", json={**body, "input": {}})  # the input is checked every time
        assert bad_input.status_code == 400, bad_input.text
        assert bad_input.json()["error"]["details"][0]["path"] == "input"
        # Another tenant, the same graph: its catalog has no connection "mine".
        foreign = other.http.post("/runs", json=body)
        assert foreign.status_code == 422, foreign.text
        refused = foreign.json()["error"]
        assert refused["details"][0]["path"] == "graph.agents[0].provider"
        for answer in first:  # before the connection goes: a run still on it would fail
            assert api.wait(answer.json()["id"])["status"] == "Completed"
        # The connection deleted: the graph posted again is refused as the other tenant's was.
        assert api.http.delete("/tenants/me/connections/mine").status_code == 200
        gone = api.http.post("/runs", json=body)
        assert gone.status_code == 422, gone.text
        assert gone.json()["error"] == refused
        # And back: accepted again, and it runs to the end from the kept document.
        assert api.http.put("/tenants/me/connections/mine", json={"kind": "offline"}).status_code == 201
        run_id = api.start(spec, {"topic": "tides"})
        run = api.wait(run_id)
        assert run["status"] == "Completed", run
        assert set(run["nodes"]) == {"a", "b"}
