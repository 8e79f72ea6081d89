"""``GET /runs?waiting=true``: runs that wait for human input, and a cancel's who and why (issue 23).

On the real app and host: the orchestration tells the run index when a run starts waiting (an
activity, from orchestration version 1.1 on), the API when it raised the answer; an instance
started by the older code (no version) replays as before and makes no such call.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from convergio.tenants import open_tenant_store
from tests._helpers import HostProcess
from tests.api.conftest import Api, agent, graph, school_of

APPROVAL = "newsletter-approval"
WEEK = {"week": "12", "highlights": ["trip"]}


@pytest.fixture(scope="module")
def school(api_host: HostProcess, api_home: Path) -> Iterator[dict[str, Api]]:
    """An admin, a teacher and two students of one tenant; the approval graph shared with students."""
    people = school_of(api_host, api_home, "Waiting School")
    assert people["teacher"].http.put(f"/graphs/{APPROVAL}/share").status_code == 200
    yield people
    for api in people.values():
        api.http.close()


def waiting(api: Api, value: str = "true") -> list[str]:
    answer = api.http.get("/runs", params={"waiting": value})
    assert answer.status_code == 200, answer.text
    runs = answer.json()["runs"]
    assert all(r["awaiting_input"] is (value == "true") for r in runs)
    return [r["id"] for r in runs]


def until(check: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


def history(host: HostProcess, run_id: str) -> list[dict[str, Any]]:
    params = {"showHistory": "true", "showInput": "true", "code": host.key()}
    body = httpx.get(f"{host.base_url}/runtime/webhooks/durabletask/instances/{run_id}", params=params).json()
    return list(body["historyEvents"])


def activities(host: HostProcess, run_id: str) -> list[str]:
    return [str(e.get("FunctionName")) for e in history(host, run_id) if e["EventType"].startswith("Task")]


def test_an_approval_is_listed_as_waiting_until_a_teacher_answers(
    school: dict[str, Api], api_host: HostProcess
) -> None:
    teacher, ann, ben = school["teacher"], school["ann"], school["ben"]
    run_id = ann.start(graph_ref=APPROVAL, run_input=WEEK)
    ann.wait_node(run_id, "publish", "awaiting_input")
    until(lambda: run_id in waiting(teacher), "the teacher's list shows it waiting")
    assert run_id in waiting(ann)  # her own run waits (for a teacher)
    assert run_id not in waiting(ben)  # another student's run is not his to see
    assert run_id not in waiting(teacher, "false")
    listed = teacher.http.get("/runs").json()["runs"]
    assert [r["awaiting_input"] for r in listed if r["id"] == run_id] == [True]
    assert ben.http.post(f"/runs/{run_id}/events/approval", json={"approved": True}).status_code == 403
    assert ann.http.post(f"/runs/{run_id}/events/approval", json={"approved": True}).status_code == 403
    answer = teacher.http.post(f"/runs/{run_id}/events/approval", json={"approved": True, "comment": "ok"})
    assert answer.status_code == 202, answer.text
    assert run_id not in waiting(teacher)  # at once: the API counted the answer
    assert teacher.wait(run_id)["status"] == "Completed"
    assert run_id not in waiting(teacher) and run_id in waiting(teacher, "false")
    assert "emit_run_event" in activities(api_host, run_id)  # version 1.1 announced the wait


def test_two_waits_leave_the_list_only_when_both_are_answered(acme: Api) -> None:
    both = graph(
        agent("a", await_event={"name": "first", "timeout_seconds": 60}),
        agent("b", await_event={"name": "second", "timeout_seconds": 60}),
        agent("out", depends_on=["a", "b"]),
        output="out",
    )
    run_id = acme.start(both, "x")
    acme.wait_node(run_id, "b", "awaiting_input")
    until(lambda: run_id in waiting(acme), "listed as waiting")
    assert acme.http.post(f"/runs/{run_id}/events/first", json={}).status_code == 202
    assert run_id in waiting(acme)  # the second wait is still open
    acme.wait_node(run_id, "a", "completed")
    assert run_id in waiting(acme)  # the first agent ran; its answered wait stays answered
    assert acme.http.post(f"/runs/{run_id}/events/second", json={}).status_code == 202
    assert run_id not in waiting(acme)
    assert acme.wait(run_id)["status"] == "Completed"


def test_an_answer_sent_before_the_wait_is_never_listed_as_waiting(acme: Api) -> None:
    """The answer lands before the orchestration announces the wait (Durable keeps the event)."""
    early = graph(
        agent("slow", options={"latency_ms": 1500}),
        agent("go", depends_on=["slow"], await_event={"name": "go", "timeout_seconds": 60}),
        output="go",
    )
    run_id = acme.start(early, "x")
    acme.wait_node(run_id, "slow", "running")
    assert acme.http.post(f"/runs/{run_id}/events/go", json={}).status_code == 202  # node "waiting"
    seen: list[bool] = []

    def done() -> bool:
        seen.append(run_id in waiting(acme))
        return bool(acme.run(run_id)["status"] == "Completed")

    until(done, "the run completed")
    assert seen and not any(seen)


def test_a_waiting_filter_that_is_not_a_boolean_is_a_400(acme: Api) -> None:
    answer = acme.http.get("/runs", params={"waiting": "yes"})
    assert answer.status_code == 400 and answer.json()["error"]["details"][0]["path"] == "waiting"


def test_an_instance_of_the_older_code_replays_as_before(
    acme: Api, api_host: HostProcess, api_home: Path
) -> None:
    """Started without a version (as before host.json's defaultVersion): no index call, same steps."""
    current = acme.start(
        graph(agent("publish", await_event={"name": "approval", "timeout_seconds": 60})), "x"
    )
    acme.wait_node(current, "publish", "awaiting_input")
    payload = next(e for e in history(api_host, current) if e["EventType"] == "ExecutionStarted")["Input"]
    old_id = f"old{current[3:]}"
    payload = payload.replace(current, old_id) if isinstance(payload, str) else payload
    store = open_tenant_store(api_home)
    store.record_run("acme-school", old_id, "test-graph")
    started = httpx.post(
        api_host.durable_url(f"orchestrators/agent_graph/{old_id}") + "&version=",
        content=payload if isinstance(payload, str) else None,
        json=None if isinstance(payload, str) else payload,
        headers={"Content-Type": "application/json"},
    )
    assert started.status_code == 202, started.text
    acme.wait_node(old_id, "publish", "awaiting_input")
    assert acme.http.post(f"/runs/{old_id}/events/approval", json={}).status_code == 202
    assert acme.wait(old_id)["status"] == "Completed"
    assert "emit_run_event" not in activities(api_host, old_id)  # exactly the old code's steps
    assert "emit_run_event" in activities(api_host, current)
    assert old_id not in waiting(acme)
    acme.http.post(f"/runs/{current}/events/approval", json={})


def test_a_cancel_s_reason_is_kept_as_bounded_text_and_shown(school: dict[str, Api]) -> None:
    teacher, ann = school["teacher"], school["ann"]
    run_id = ann.start(graph_ref=APPROVAL, run_input=WEEK)
    ann.wait_node(run_id, "publish", "awaiting_input")
    hostile = {"reason": "<b>wrong week</b>\n\u202eoops sk-abcdefghijklmnopqrst " + "z" * 3000}
    assert teacher.http.post(f"/runs/{run_id}/cancel", json=hostile).status_code == 400  # over 2000
    bad = teacher.http.post(f"/runs/{run_id}/cancel", json={"reason": 42})
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["path"] == "reason"
    hostile["reason"] = hostile["reason"][:1000]
    assert teacher.http.post(f"/runs/{run_id}/cancel", json=hostile).status_code == 202
    listed = next(r for r in ann.http.get("/runs").json()["runs"] if r["id"] == run_id)
    who = teacher.http.get("/me").json()["member"]["id"]
    assert listed["status"] == "Terminated" and listed["cancelled_by"] == who
    assert listed["cancel_reason"].startswith("<b>wrong week</b> oops [redacted] zzz")
    assert len(listed["cancel_reason"]) == 200 and listed["awaiting_input"] is False
    view = teacher.run(run_id)
    assert (view["cancelled_by"], view["cancel_reason"]) == (who, listed["cancel_reason"])
    plain = ann.start(graph_ref=APPROVAL, run_input=WEEK)
    assert teacher.http.post(f"/runs/{plain}/cancel").status_code == 202  # no body: no reason
    listed = next(r for r in teacher.http.get("/runs").json()["runs"] if r["id"] == plain)
    assert (listed["cancelled_by"], listed["cancel_reason"]) == (who, None)
