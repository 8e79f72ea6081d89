"""GET /runs/{id} shows every node while the custom status stays compact (ADR 0014).

The custom status is read as the host stored it (the Durable API), and the host refuses one
over Azure's 16 KB of UTF-16, so these runs would also fail there if the status grew.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from convergio.api import _models as m
from convergio.api._run_view import Memo, ViewMemo
from convergio.api._views import NodeViews, billed_costs, run_view
from convergio.graph import STATUS_LIMIT_UTF16
from convergio.metering import UsageRecord
from tests._helpers import ROOT, HostProcess
from tests.api.conftest import APP, Api, agent, graph, new_key
from tests.api.test_run_agents import record
from tests.api.test_stream import read_events

FAULTS_APP = ROOT / "tests" / "api" / "_faults_app.py"
WAVE = 60  # enough agents that the run writes progress records into its history


def stored_status(host: HostProcess, run_id: str) -> dict[str, Any]:
    answer = httpx.get(host.durable_url(f"instances/{run_id}") + "&showInput=false", timeout=30)
    assert answer.status_code in (200, 202, 400), answer.text
    return dict(answer.json())


def utf16(value: Any) -> int:
    return len(json.dumps(value).encode("utf-16-le"))


def fan(n: int, *, last: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    agents = [agent(f"a{i:03d}", "say {{ input }}", on_failure="continue", **fields) for i in range(n)]
    sink = last or {}
    return graph(
        *agents,
        agent("sink", "sum up", depends_on=[a["id"] for a in agents], **sink),
        output="sink",
        max_parallel=16,
    )


def assert_shown(node: dict[str, Any], status: str) -> None:
    assert node["status"] == status, node
    assert node["attempts"] >= 1 and node["started_at"] and node["finished_at"], node
    if status == "completed":
        assert node["usage"]["total_tokens"] > 0 and node["error"] is None, node
    else:
        assert node["error"], node


def test_a_failed_run_shows_every_node_from_its_history_and_status(acme: Api, api_host: HostProcess) -> None:
    check = {"options": {"fail_first_n": 5}, "retry": {"attempts": 2}}
    spec = fan(WAVE, last=check)
    spec["agents"].append(agent("after", "publish", depends_on=["sink"]))
    spec["output"] = "after"
    run_id = acme.start(spec, "x")
    run = acme.wait(run_id, timeout=60)
    custom = stored_status(api_host, run_id)["customStatus"]
    assert run["status"] == "Failed", run["error"]
    assert custom["records"] > 0 and utf16(custom) < STATUS_LIMIT_UTF16
    assert custom["counts"] == {"completed": WAVE, "failed": 1, "skipped": 1}
    assert set(run["nodes"]) == {a["id"] for a in spec["agents"]}
    failed = run["nodes"]["sink"]
    assert_shown(failed, "failed")
    assert failed["attempts"] == 2 and "fail" in failed["error"].lower()
    for node_id in (f"a{i:03d}" for i in range(WAVE)):
        assert_shown(run["nodes"][node_id], "completed")
        assert run["nodes"][node_id]["cost_eur"] is not None
    assert run["nodes"]["after"]["status"] == "skipped"
    assert run["usage"]["total_tokens"] == sum(n["usage"]["total_tokens"] for n in run["nodes"].values())


def test_a_running_run_shows_every_node_and_agrees_with_its_final_output(
    acme: Api, api_host: HostProcess
) -> None:
    waiter = {"await_event": {"name": "go", "timeout_seconds": 60}}
    run_id = acme.start(fan(WAVE, last=waiter), "x")
    running = acme.wait_node(run_id, "sink", "awaiting_input", timeout=60)
    custom = stored_status(api_host, run_id)["customStatus"]
    assert running["status"] == "Running"
    assert custom["records"] > 0 and custom["awaiting_input"] == ["sink"]
    assert custom["counts"] == {"completed": WAVE, "awaiting_input": 1}
    assert len(custom["nodes"]) < WAVE  # the tail alone is not the table
    assert len(running["nodes"]) == WAVE + 1
    for node_id in (f"a{i:03d}" for i in range(WAVE)):
        assert_shown(running["nodes"][node_id], "completed")
    assert running["nodes"]["sink"]["attempts"] == 0 and running["nodes"]["sink"]["started_at"] is None
    assert acme.http.post(f"/runs/{run_id}/events/go", json={"approved": True}).status_code == 202
    final = acme.wait(run_id)
    assert final["status"] == "Completed"
    assert_shown(final["nodes"]["sink"], "completed")
    for node_id in (f"a{i:03d}" for i in range(WAVE)):
        assert running["nodes"][node_id] == final["nodes"][node_id]
    assert running["usage"]["total_tokens"] < final["usage"]["total_tokens"]


def test_nodes_of_a_record_not_yet_in_the_history_show_as_they_are(tmp_path: Path) -> None:
    """The status counts a sealed record at once; its echo completes later (here: held until
    the test lets it go) and the tail holds only part of its items. The view reads the rest
    from the record's scheduling event, so no node shows as it was before (the CI flake of
    the test above: nodes completed by the counts, ``running`` in the view)."""
    faults = tmp_path / "faults"
    faults.mkdir()
    (faults / "hold-records").touch()
    waiter = {"await_event": {"name": "go", "timeout_seconds": 30}}  # else it fails in 30 s
    with (
        HostProcess(FAULTS_APP, tmp_path, env={"CONVERGIO_TEST_FAULTS": str(faults)}) as host,
        Api(host.base_url, new_key(tmp_path, "Held School")) as api,
    ):
        run_id = api.start(fan(WAVE, last=waiter), "x")
        running = api.wait_node(run_id, "sink", "awaiting_input", timeout=60)
        custom = stored_status(host, run_id)["customStatus"]
        assert (faults / "records-held").exists()
        assert custom["records"] >= 2 and custom["confirmed"] == 0, custom  # every record open
        assert custom["counts"] == {"completed": WAVE, "awaiting_input": 1}
        assert sum(1 for k in custom["nodes"] if k != "sink") < WAVE  # the tail alone is not the table
        for node_id in (f"a{i:03d}" for i in range(WAVE)):
            assert_shown(running["nodes"][node_id], "completed")
        streamed: dict[str, str] = {}

        def release(event: dict[str, Any]) -> None:  # the stream shows every node as it is: go on
            if event["event"] == "node":
                streamed[event["data"]["node"]] = event["data"]["status"]
                done = sum(streamed.get(f"a{i:03d}") == "completed" for i in range(WAVE))
                if done == WAVE and (faults / "hold-records").exists():  # records open all along
                    (faults / "hold-records").unlink()
                    assert api.http.post(f"/runs/{run_id}/events/go", json={}).status_code == 202

        events = read_events(api, run_id, on_event=release)
        final = api.wait(run_id)
    assert final["status"] == "Completed"
    for node_id in (f"a{i:03d}" for i in range(WAVE)):
        assert running["nodes"][node_id] == final["nodes"][node_id]
    assert events[-1]["event"] == "run" and streamed["sink"] == "completed"


def test_a_1000_agent_run_keeps_its_stored_status_under_16_kb(tmp_path: Path) -> None:
    """Without replay verification (which replays the whole history at every step: O(n²) here)."""
    spec = fan(999)
    spec["max_parallel"] = 64
    with (
        HostProcess(APP, tmp_path, env={"CONVERGIO_REPLAY_VERIFY": "0"}) as host,
        Api(host.base_url, new_key(tmp_path, "Wide School")) as api,
    ):
        run_id = api.start(spec, "x")
        largest = 0
        while True:
            stored = stored_status(host, run_id)
            if stored.get("customStatus"):
                largest = max(largest, utf16(stored["customStatus"]))
            if stored["runtimeStatus"] in ("Completed", "Failed", "Terminated"):
                break
            time.sleep(0.05)
        run = api.run(run_id)
    assert stored["runtimeStatus"] == "Completed", stored["output"]
    assert 0 < largest < STATUS_LIMIT_UTF16
    assert stored["customStatus"]["counts"] == {"completed": 1000}
    assert stored["customStatus"]["records"] > 0
    assert len(run["nodes"]) == 1000
    assert all(n["status"] == "completed" and n["attempts"] == 1 for n in run["nodes"].values())


def test_the_newsletter_approval_works_with_events_as_azure_delivers_them(acme: Api) -> None:
    """The API raises events with the SDK; as on Azure, the run gets them as JSON text.

    A rejection only rejects if the run decoded the text back into the object it was.
    """
    week = {"week": "12", "highlights": ["science fair"]}
    run_id = acme.start(None, week, graph_ref="newsletter-approval")
    acme.wait_node(run_id, "publish", "awaiting_input", timeout=60)
    answer = acme.http.post(
        f"/runs/{run_id}/events/approval", json={"approved": True, "comment": "add the date"}
    )
    assert answer.status_code == 202, answer.text
    run = acme.wait(run_id, timeout=60)
    assert run["status"] == "Completed", run  # the comment reaching the prompt: test_control.py

    run_id = acme.start(None, week, graph_ref="newsletter-approval")
    acme.wait_node(run_id, "publish", "awaiting_input", timeout=60)
    acme.http.post(f"/runs/{run_id}/events/approval", json={"approved": False, "comment": "too long"})
    run = acme.wait(run_id, timeout=60)
    assert run["nodes"]["publish"]["status"] == "rejected"
    assert run["nodes"]["publish"]["error"] == "rejected by admin: too long"  # who said no, and why


# -- ETags and the kept view (issue 22): a poll costs O(what changed) -----------------------------


def _get(api: Api, run_id: str, etag: str | None = None) -> httpx.Response:
    return api.http.get(f"/runs/{run_id}", headers={"If-None-Match": etag} if etag else {})


def test_a_finished_run_answers_its_etag_with_304_and_the_same_bytes_again(acme: Api) -> None:
    run_id = acme.start(fan(3), "x")
    acme.wait(run_id)
    first, second = _get(acme, run_id), _get(acme, run_id)
    etag = first.headers["etag"]
    assert first.status_code == 200 and etag.startswith('"') and etag.endswith('"') and len(etag) > 20
    assert second.content == first.content and second.headers["etag"] == etag
    for condition in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = _get(acme, run_id, condition)
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag), condition
    assert _get(acme, run_id, '"something-else"').status_code == 200


def test_a_running_run_s_etag_changes_exactly_when_the_run_does(acme: Api) -> None:
    run_id = acme.start(
        graph(agent("a"), agent("gate", depends_on=["a"], await_event={"name": "go", "timeout_seconds": 60})),
        "x",
    )
    acme.wait_node(run_id, "gate", "awaiting_input")
    waiting = _get(acme, run_id)
    etag = waiting.headers["etag"]
    assert waiting.json()["status"] == "Running"
    assert _get(acme, run_id).headers["etag"] == etag  # nothing changed, nothing new
    assert _get(acme, run_id, etag).status_code == 304
    assert acme.http.post(f"/runs/{run_id}/events/go", json={"approved": True}).status_code == 202
    done = acme.wait(run_id)
    assert done["status"] == "Completed" and done["nodes"]["gate"]["status"] == "completed"
    after = _get(acme, run_id, etag)
    assert after.status_code == 200 and after.headers["etag"] != etag and after.json() == done


def test_a_purged_run_is_gone_though_its_view_was_kept(acme: Api) -> None:
    run_id = acme.start(fan(2), "x")
    acme.wait(run_id)
    etag = _get(acme, run_id).headers["etag"]
    assert acme.http.delete(f"/runs/{run_id}").status_code == 200
    assert _get(acme, run_id).status_code == 404
    assert _get(acme, run_id, etag).status_code == 404


def test_viewing_a_finished_run_repairs_an_index_entry_its_end_never_reached(
    acme: Api, api_home: Path
) -> None:
    run_id = acme.start(fan(2), "x")
    view = acme.wait(run_id)
    # As if the run's end activity had not written it (a run failing outside its own code).
    with sqlite3.connect(api_home / "tenants.sqlite3") as db:
        db.execute(
            "UPDATE runs SET status = 'Running', finished_at = NULL, usage = '{}' WHERE run_id = ?", (run_id,)
        )
    listed = {r["id"]: r for r in acme.http.get("/runs", params={"limit": 200}).json()["runs"]}
    assert listed[run_id]["status"] == "Running"
    assert acme.run(run_id) == view
    listed = {r["id"]: r for r in acme.http.get("/runs", params={"limit": 200}).json()["runs"]}
    assert listed[run_id]["status"] == "Completed" and listed[run_id]["usage"] == view["usage"]


def test_the_kept_views_are_bounded_by_size_least_recently_used_first() -> None:
    memo = ViewMemo(max_chars=100)

    def kept(body: str) -> Memo:
        return Memo("t", "2026-01-01", "key", body, '"tag"', final=True)

    memo.put("a", kept("x" * 40))
    memo.put("b", kept("x" * 40))
    assert memo.get("a") is not None  # a is now the most recently used
    memo.put("c", kept("x" * 40))  # 120 > 100: the least recently used (b) goes
    assert (memo.get("a") is not None, memo.get("b"), memo.get("c") is not None) == (True, None, True)
    memo.put("big", kept("x" * 101))  # larger than the whole bound: not kept, nothing evicted for it
    assert memo.get("big") is None and len(memo) == 2
    memo.put("a", kept("y" * 10))  # replacing frees the old body's room
    memo.put("d", kept("x" * 50))
    assert len(memo) == 3
    memo.forget("a")
    assert memo.get("a") is None and len(memo) == 2


def with_costs(view: m.RunView, records: Sequence[UsageRecord]) -> m.RunView:
    """The reference: costs added to a built view, one copy per node (the view before ADR 0045)."""
    costs = billed_costs(records)
    nodes = {k: v.model_copy(update=costs.of(k)) for k, v in view.nodes.items()}
    return view.model_copy(update={"nodes": nodes, **costs.totals()})


def test_a_view_built_with_its_costs_is_byte_equal_to_costs_added_after() -> None:
    """``run_view(..., costs=)`` (the poll path, no copy per node) must answer what
    ``with_costs`` on the built view answers, for every state and every kind of record."""
    billed = [
        record("a0", 0, "input_tokens", 10, "0.00012345"),
        record("a0", 0, "output_tokens", 5, "0.5"),
        record("a1/inner", 0, "output_tokens", 7, "1.25"),  # a sub-graph's usage counts for its node
        record("a2", 0, "input_tokens", 30, "0", unpriced=True),
        record("gone", 0, "tool_calls", 1, "2"),  # billed, though no node shows it: in the total only
    ]
    tail = {
        "graph": "g",
        "nodes": {
            "a0": {"status": "completed", "rev": 2, "attempts": 1},
            "a1": {"status": "running", "rev": 1},
        },
        "usage": {"prompt_tokens": 3},
    }
    table = {"a0": {"status": "completed", "attempts": 1}, "a1": {"status": "failed", "error": "no"}}
    cases: list[tuple[str, dict[str, Any], Any]] = [
        ("Running", tail, None),
        ("Terminated", tail | {"error": "cancelled"}, None),
        ("Failed", tail, "boom"),
        ("Completed", tail, {"nodes": table, "output": "x", "usage": {"prompt_tokens": 4}}),
    ]
    for state, custom, output in cases:
        body = {
            "name": "graph_orchestrator",
            "instanceId": "r",
            "runtimeStatus": state,
            "customStatus": custom,
            "output": output,
            "createdTime": "2026-12-05T10:00:00Z",
            "lastUpdatedTime": "2026-12-05T10:00:03Z",
        }
        status = DurableOrchestrationStatus.from_json(body)
        agents = ["a0", "a1", "a2", "a3"]
        for records in ([], [{"seq": 1, "nodes": {"a2": {"status": "completed", "rev": 1}}}]):
            built = run_view("r", status, agents=agents, records=records, costs=billed_costs(billed))
            after = with_costs(run_view("r", status, agents=agents, records=records), billed)
            assert built.model_dump_json() == after.model_dump_json(), state
    assert json.loads(built.model_dump_json())["cost_eur"] == "3.75012345"


def test_node_views_kept_between_rebuilds_equal_a_full_validation() -> None:
    """A rebuild re-validates only the changed entries: its view must be the full recomputation's,
    through a run's life (nodes start, change, finish, go) in any order of tables."""
    rng = random.Random(7)
    known = NodeViews()
    table: dict[str, dict[str, Any]] = {f"a{i}": {"status": "waiting"} for i in range(40)}
    for step in range(60):
        for node in rng.sample(sorted(table), 6):
            table[node] = {
                "status": rng.choice(["running", "completed", "failed", "retrying"]),
                "attempts": rng.randint(0, 3),
                "usage": {"prompt_tokens": rng.randint(0, 9), "total_tokens": rng.randint(0, 9)},
                "error": rng.choice([None, "no"]),
                "cost_eur": str(rng.randint(0, 5)),
            }
        if step % 7 == 0:
            table.pop(rng.choice(sorted(table)))
            table[f"b{step}"] = {"status": "waiting"}
        shown = {k: dict(v) for k, v in table.items()}  # equal entries, fresh objects, as each fold
        kept = m.RunView(id="r", graph="g", status="Running", nodes=known.views(shown))
        full = m.RunView(id="r", graph="g", status="Running", nodes=shown)
        assert kept.model_dump_json() == full.model_dump_json(), step
        assert list(kept.nodes) == list(shown)
