"""Budgets, retries, failure policies, human input, cancel, tenants: through the HTTP API."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests._helpers import HostProcess
from tests.api.conftest import Api, agent, graph, new_key

# -- budgets: enforced, each outcome following on_failure --------------------------------


def test_max_tokens_caps_the_call_and_ends_budget_exceeded(acme: Api) -> None:
    spec = graph(agent("wordy", options={"output_tokens": 500}, budget={"max_tokens": 60}))
    run = acme.wait(acme.start(spec, "a long essay please"))
    node = run["nodes"]["wordy"]
    assert run["status"] == "Failed" and node["status"] == "budget_exceeded", run
    assert 0 < node["usage"]["total_tokens"] <= 60  # the provider call was capped
    assert "wordy" in run["error"]


def test_max_seconds_times_out_with_a_durable_timer(acme: Api) -> None:
    spec = graph(
        agent("slow", options={"latency_ms": 3000}, budget={"max_seconds": 0.5}, on_failure="continue"),
        agent("after", "got: {{ outputs.slow }}", depends_on=["slow"]),
    )
    run = acme.wait(acme.start(spec, "x"))
    assert run["nodes"]["slow"]["status"] == "timed_out", run
    assert "max_seconds" in run["nodes"]["slow"]["error"]
    assert run["status"] == "Completed"  # on_failure: continue
    assert "None" in run["output"]


def test_too_many_tool_calls_end_tool_limit(acme: Api) -> None:
    spec = graph(
        agent(
            "counter",
            tools=["word_count", "keywords"],
            budget={"max_tool_calls": 1},
            on_failure="skip_dependents",
        ),
        agent("next", "{{ outputs.counter }}", depends_on=["counter"]),
        agent("other"),
        output="other",
    )
    run = acme.wait(acme.start(spec, "count the words in this sentence"))
    assert run["status"] == "Completed", run
    assert run["nodes"]["counter"]["status"] == "tool_limit"
    assert run["nodes"]["next"]["status"] == "skipped"
    assert run["nodes"]["counter"]["usage"]["tool_calls"] == 0


def test_run_budget_caps_the_sum_across_parallel_nodes(acme: Api) -> None:
    wide = [
        agent(f"w{i}", options={"output_tokens": 400, "latency_ms": 100}, on_failure="continue")
        for i in range(4)
    ]
    spec = graph(
        *wide, agent("sum", "done", depends_on=[f"w{i}" for i in range(4)]), budget={"max_tokens": 600}
    )
    run = acme.wait(acme.start(spec, "write a lot"))
    assert run["usage"]["total_tokens"] <= 600, run["usage"]
    statuses = {n: v["status"] for n, v in run["nodes"].items()}
    assert "budget_exceeded" in statuses.values(), statuses


def test_tool_calls_are_counted(acme: Api) -> None:
    spec = graph(agent("calc", "What is 12 * 7?", tools=["calculator"]))
    run = acme.wait(acme.start(spec, None))
    assert run["status"] == "Completed", run
    assert run["nodes"]["calc"]["usage"]["tool_calls"] == 1
    assert run["usage"]["tool_calls"] == 1


def test_retries_until_success(acme: Api) -> None:
    spec = graph(agent("flaky", options={"fail_first_n": 2}, retry={"attempts": 3, "backoff_ms": 100}))
    run = acme.wait(acme.start(spec, "x"))
    assert run["status"] == "Completed", run
    assert run["nodes"]["flaky"]["attempts"] == 3


def test_retries_exhausted_fail_the_run(acme: Api) -> None:
    spec = graph(agent("down", options={"fail_first_n": 5}, retry={"attempts": 2}))
    run = acme.wait(acme.start(spec, "x"))
    assert run["status"] == "Failed"
    assert run["nodes"]["down"]["status"] == "failed" and run["nodes"]["down"]["attempts"] == 2
    assert "unavailable" in run["nodes"]["down"]["error"]


# -- human in the loop -----------------------------------------------------------------


def approval(timeout: float = 60) -> dict[str, object]:
    return graph(
        agent("draft", "Draft about {{ input }}"),
        agent(
            "publish",
            "With {{ event.comment }}, publish {{ outputs.draft }}",
            depends_on=["draft"],
            await_event={"name": "approval", "timeout_seconds": timeout},
        ),
    )


def test_human_approval_flows_into_the_agent(acme: Api) -> None:
    run_id = acme.start(approval(), "field trip")
    run = acme.wait_node(run_id, "publish", "awaiting_input")
    assert run["status"] == "Running"
    answer = acme.http.post(f"/runs/{run_id}/events/approval", json={"approved": True, "comment": "lovely"})
    assert answer.status_code == 202, answer.text
    run = acme.wait(run_id)
    assert run["status"] == "Completed", run
    assert "lovely" in run["output"]
    again = acme.http.post(f"/runs/{run_id}/events/approval", json={})
    assert again.status_code == 409


def test_human_rejection_and_unknown_event(acme: Api) -> None:
    run_id = acme.start(approval(), "field trip")
    acme.wait_node(run_id, "publish", "awaiting_input")
    assert acme.http.post(f"/runs/{run_id}/events/nope", json={}).status_code == 404
    acme.http.post(f"/runs/{run_id}/events/approval", json={"approved": False, "comment": "wrong date"})
    run = acme.wait(run_id)
    assert run["status"] == "Failed"
    assert run["nodes"]["publish"]["status"] == "rejected"
    assert "wrong date" in run["nodes"]["publish"]["error"]


def test_human_input_times_out(acme: Api) -> None:
    run = acme.wait(acme.start(approval(timeout=1), "x"))
    assert run["status"] == "Failed"
    assert run["nodes"]["publish"]["status"] == "timed_out"
    assert "approval" in run["nodes"]["publish"]["error"]


# -- cancel and purge ------------------------------------------------------------------


def test_cancel_stops_the_run(acme: Api) -> None:
    run_id = acme.start(
        graph(agent("long", options={"latency_ms": 5000}), agent("b", depends_on=["long"])), "x"
    )
    acme.wait_node(run_id, "long", "running")
    answer = acme.http.post(f"/runs/{run_id}/cancel", json={"reason": "changed my mind"})
    assert answer.status_code == 202, answer.text
    run = acme.wait(run_id, timeout=10)
    assert run["status"] == "Terminated"
    assert run["nodes"]["long"]["status"] == "cancelled"
    assert acme.http.post(f"/runs/{run_id}/cancel").status_code == 409


def test_purge_a_finished_run(acme: Api) -> None:
    run_id = acme.start(graph(agent("a", options={"latency_ms": 1000})), "x")
    assert acme.http.delete(f"/runs/{run_id}").status_code == 409  # still running
    acme.wait(run_id)
    assert acme.http.delete(f"/runs/{run_id}").status_code == 200
    assert acme.http.get(f"/runs/{run_id}").status_code == 404
    assert acme.http.delete(f"/runs/{run_id}").status_code == 404


# -- tenants ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "cvg_not-a-real-key", ""])
def test_no_key_or_a_bad_key_is_401_json(api_host: HostProcess, key: str | None) -> None:
    with Api(api_host.base_url, key) as api:
        check_unauthorized(api)


def check_unauthorized(api: Api) -> None:
    for method, path in (("POST", "/runs"), ("GET", "/runs"), ("GET", "/runs/x"), ("GET", "/graphs")):
        answer = api.http.request(
            method, path, json={"graph_ref": "lesson-plan"} if method == "POST" else None
        )
        assert answer.status_code == 401, (method, path, answer.text)
        assert answer.json()["error"]["code"] == "unauthorized"


def test_a_tenant_never_sees_another_tenants_runs(acme: Api, globex: Api) -> None:
    run_id = acme.start(approval(), "secret plans")
    acme.wait_node(run_id, "publish", "awaiting_input")
    for method, path in (
        ("GET", f"/runs/{run_id}"),
        ("POST", f"/runs/{run_id}/cancel"),
        ("POST", f"/runs/{run_id}/events/approval"),
        ("DELETE", f"/runs/{run_id}"),
    ):
        answer = globex.http.request(method, path, json={} if method == "POST" else None)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["error"]["code"] == "not_found"
    assert run_id not in {r["id"] for r in globex.http.get("/runs").json()["runs"]}
    assert run_id in {r["id"] for r in acme.http.get("/runs", params={"limit": 200}).json()["runs"]}
    assert acme.run(run_id)["status"] == "Running"  # globex's attempts changed nothing
    acme.http.post(f"/runs/{run_id}/cancel")


def test_list_runs_filters_and_pages(api_host: HostProcess, api_home: Path) -> None:
    with Api(api_host.base_url, new_key(api_home, "Lister")) as api:
        check_listing(api)
    assert httpx.get(f"{api_host.base_url}/api/v1/openapi.json").status_code == 200  # a public document


def check_listing(api: Api) -> None:
    ids = [api.start(graph(agent("a")), i) for i in range(3)]
    failed = api.start(graph(agent("a", options={"fail_first_n": 1})), "x")
    for run_id in [*ids, failed]:
        api.wait(run_id)
    page = api.http.get("/runs", params={"limit": 2}).json()
    assert [r["id"] for r in page["runs"]] == [failed, ids[2]] and page["next_offset"] == 2
    rest = api.http.get("/runs", params={"limit": 2, "offset": 2}).json()
    assert [r["id"] for r in rest["runs"]] == [ids[1], ids[0]] and rest["next_offset"] is None
    only_failed = api.http.get("/runs", params={"status": "Failed"}).json()["runs"]
    assert [r["id"] for r in only_failed] == [failed]
    assert api.http.get("/runs", params={"status": "Weird"}).status_code == 400
    assert api.http.get("/runs", params={"limit": "lots"}).status_code == 400
    assert all(r["graph"] == "test-graph" for r in page["runs"])
