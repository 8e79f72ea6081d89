"""Run creation (ADR 0017): runs that never started, Idempotency-Key, and a second message to a busy run."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from convergio.tenants import open_tenant_store
from tests._helpers import HostProcess
from tests.api.conftest import Api, agent, graph, new_key

SPEC = graph(agent("only"))


# -- a crash between recording a run and starting it ---------------------------------------------


def _ghost(home: Path, tenant: str, run_id: str, age_s: float) -> None:
    """What a kill between ``record_run`` and ``start_new`` leaves: an indexed run with no instance."""
    stamp = (datetime.now(UTC) - timedelta(seconds=age_s)).isoformat(timespec="microseconds")
    open_tenant_store(home).record_run(tenant, run_id, "test-graph", created_at=stamp)


def test_a_run_that_never_started_reads_as_failed_and_can_be_cancelled_and_deleted(
    api_host: HostProcess, api_home: Path
) -> None:
    with Api(api_host.base_url, new_key(api_home, "Ghost School")) as api:
        _ghost(api_home, "ghost-school", "ghost-1", age_s=3600)
        run = api.http.get("/runs/ghost-1")
        listed = api.http.get("/runs").json()["runs"]
        assert run.status_code == 200, run.text
        assert run.json()["status"] == "Failed" and "never started" in run.json()["error"]
        assert [(r["id"], r["status"]) for r in listed] == [("ghost-1", "Failed")]
        cancel = api.http.post("/runs/ghost-1/cancel")
        assert (cancel.status_code, cancel.json()["status"]) == (202, "Terminated")
        after = api.http.get("/runs/ghost-1").json()
        assert after["status"] == "Terminated" and after["error"] == "cancelled before it started"
        assert api.http.post("/runs/ghost-1/cancel").status_code == 409
        assert api.http.delete("/runs/ghost-1").status_code == 200
        assert api.http.get("/runs/ghost-1").status_code == 404
        assert api.http.get("/runs").json()["runs"] == []

        _ghost(api_home, "ghost-school", "ghost-2", age_s=3600)
        assert api.http.delete("/runs/ghost-2").status_code == 200  # deleted without a cancel too
        _ghost(api_home, "ghost-school", "starting-1", age_s=0)
        assert api.http.get("/runs/starting-1").json()["status"] == "Pending"  # still starting
        assert api.http.delete("/runs/starting-1").status_code == 409
        assert api.http.post("/runs/starting-1/cancel").status_code == 202
        assert api.http.delete("/runs/starting-1").status_code == 200


# -- Idempotency-Key ------------------------------------------------------------------------------


def _post(api: Api, key: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    answer = api.http.post("/runs", json=body, headers={"Idempotency-Key": key})
    return answer.status_code, answer.json()


def test_the_same_key_starts_one_run_and_answers_the_same_body_again(acme: Api, globex: Api) -> None:
    body = {"graph": SPEC, "input": {"n": 1}}
    first = _post(acme, "order-1", body)
    again = _post(acme, "order-1", {"input": {"n": 1}, "graph": SPEC})  # key order does not matter
    assert first[0] == again[0] == 202 and first[1] == again[1]
    assert acme.wait(str(first[1]["id"]))["status"] == "Completed"
    assert _post(acme, "order-1", body)[1] == first[1]  # after it finished: still that run
    other = _post(acme, "order-1", {"graph": SPEC, "input": {"n": 2}})
    assert other[0] == 422 and other[1]["error"]["code"] == "idempotency_key_reused"
    elsewhere = _post(globex, "order-1", body)  # another tenant's key space
    assert elsewhere[0] == 202 and elsewhere[1]["id"] != first[1]["id"]
    assert acme.http.get(f"/runs/{elsewhere[1]['id']}").status_code == 404
    bad = acme.http.post("/runs", json=body, headers={"Idempotency-Key": "x" * 256})
    assert bad.status_code == 400


def test_concurrent_requests_with_one_key_start_one_run(api_host: HostProcess, api_home: Path) -> None:
    with Api(api_host.base_url, new_key(api_home, "Race School")) as api:
        body = {"graph": graph(agent("only", options={"latency_ms": 300})), "input": "race"}
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: _post(api, "same-key", body), range(8)))
        assert {code for code, _ in answers} == {202}
        assert len({str(b["id"]) for _, b in answers}) == 1
        run_id = str(answers[0][1]["id"])
        assert api.wait(run_id)["status"] == "Completed"
        assert [r["id"] for r in api.http.get("/runs").json()["runs"]] == [run_id]
        status = httpx.get(api_host.durable_url(f"instances/{run_id}") + "&showHistory=true").json()
        started = [e for e in status["historyEvents"] if e.get("EventType") == "ExecutionStarted"]
        assert len(started) == 1  # one instance, started once


def test_a_key_used_again_after_its_record_expired_and_was_swept_starts_a_new_run(
    api_host: HostProcess, api_home: Path
) -> None:
    with Api(api_host.base_url, new_key(api_home, "Sweep School")) as api:
        body = {"graph": SPEC, "input": {"n": 1}}
        first = _post(api, "nightly", body)[1]
        assert api.wait(str(first["id"]))["status"] == "Completed"
        store = open_tenant_store(api_home)
        tenant = store.identify(api.http.headers["x-api-key"])
        assert tenant is not None
        keys = store.records("idempotency")
        [(name, record)] = keys.items(tenant.tenant.id)
        assert record["run_id"] == first["id"] and "expires_at" in record
        assert keys.delete_if(tenant.tenant.id, name, record)  # what the retention sweep does
        again = _post(api, "nightly", body)
        assert again[0] == 202 and again[1]["id"] != first["id"]  # not the old run's id again
        assert api.wait(str(again[1]["id"]))["status"] == "Completed"
        assert api.http.get(f"/runs/{first['id']}").json()["status"] == "Completed"  # untouched


# -- a second message to a busy run ---------------------------------------------------------------


def test_an_event_for_a_node_that_already_got_its_input_is_refused_with_409(acme: Api) -> None:
    spec = graph(
        agent("gate", await_event={"name": "approval", "timeout_seconds": 60}, options={"latency_ms": 1500})
    )
    run_id = acme.start(spec, "x")
    early = acme.http.post(f"/runs/{run_id}/events/approval", json={"approved": True})
    assert early.status_code == 202  # before or at the wait: delivered there
    acme.wait_node(run_id, "gate", "running")
    busy = acme.http.post(f"/runs/{run_id}/events/approval", json={"approved": True})
    assert busy.status_code == 409 and "busy" in busy.json()["error"]["message"]
    assert acme.wait(run_id)["status"] == "Completed"
