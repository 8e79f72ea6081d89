"""GET /runs/{id}/agents/{node}: each call of one agent (provider, model, usage, what the ledger billed,
errors), the prompt only on demand, to whoever may read the run; another tenant's run is a 404."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from convergio.api._run_agents import agent_detail
from convergio.metering import UsageRecord
from tests._helpers import HostProcess
from tests.api.conftest import Api, agent, graph, new_key
from tests.api.test_routing_replan import QUESTION, REVISION, help_desk


@pytest.fixture(scope="module")
def help_desk_run(acme: Api) -> str:
    run_id = acme.start(help_desk(), QUESTION)
    assert acme.wait(run_id, timeout=60)["status"] == "Completed"
    return run_id


def detail(api: Api, run_id: str, node: str, **params: str) -> dict[str, Any]:
    answer = api.http.get(f"/runs/{run_id}/agents/{node}", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_replaced_agent_shows_each_call_with_its_model_error_and_bill(
    acme: Api, help_desk_run: str
) -> None:
    math = detail(acme, help_desk_run, "math")
    assert math["run_id"] == help_desk_run and math["node"] == "math"
    *failed, last = math["attempts"]
    assert failed and all(a["status"] == "failed" for a in failed)
    assert all("simulated outage" in a["error"] for a in failed)
    assert all(a["billed"] is None for a in failed)  # the provider refused: nothing billed
    assert last["status"] == "completed" and last["error"] is None
    assert last["provider"] == "offline" and last["model"]
    assert last["usage"]["total_tokens"] > 0
    assert last["billed"]["tokens"] == last["usage"]["total_tokens"]
    assert float(last["billed"]["cost_eur"]) == 0  # the offline provider is priced at 0
    assert last["asked_at"] and last["answered_at"] and last["asked_at"] <= last["answered_at"]
    # The call records when it got a worker: what it waited for one is known after the fact.
    asked, began, answered = (
        datetime.fromisoformat(last[k]) for k in ("asked_at", "started_at", "answered_at")
    )
    assert asked <= began <= answered
    assert [a["step"] for a in math["attempts"]] == sorted(a["step"] for a in math["attempts"])
    assert "prompt" not in last  # prompts only on demand
    assert math["billed"]["tokens"] == acme.run(help_desk_run)["nodes"]["math"]["usage"]["total_tokens"]


def test_the_prompt_comes_on_demand_rendered_from_each_calls_own_input(acme: Api, help_desk_run: str) -> None:
    math = detail(acme, help_desk_run, "math", prompt="true")
    first, last = math["attempts"][0], math["attempts"][-1]
    assert first["prompt"]["text"] == f"Explain: {QUESTION['question']}"  # the plan before the re-plan
    assert last["prompt"]["text"] == "Answer this maths question step by step."  # the re-plan's agent
    fixer = detail(acme, help_desk_run, "fixer", prompt="1")
    (call,) = fixer["attempts"]
    assert json.loads(call["prompt"]["text"]) == REVISION  # the planner's own prompt, as rendered
    assert call["status"] == "completed" and call["provider"] == "offline"


def test_a_router_shows_its_scores_and_choice(acme: Api, help_desk_run: str) -> None:
    (call,) = detail(acme, help_desk_run, "triage", prompt="true")["attempts"]
    assert call["call"] == "route_request" and call["provider"] == "router"
    assert call["chosen"] == ["math"] and call["scores"]["math"] > call["scores"].get("writing", 0)
    assert call["prompt"]["text"] == QUESTION["question"]
    skipped = detail(acme, help_desk_run, "writing")
    assert skipped["attempts"] == [] and skipped["billed"]["tokens"] == 0  # routed away: never called


def test_unknown_agents_bad_flags_and_other_tenants_runs_are_refused(
    acme: Api, globex: Api, help_desk_run: str
) -> None:
    assert acme.http.get(f"/runs/{help_desk_run}/agents/nobody").status_code == 404
    assert acme.http.get(f"/runs/{help_desk_run}/agents/math", params={"prompt": "yes"}).status_code == 400
    foreign = globex.http.get(f"/runs/{help_desk_run}/agents/math", params={"prompt": "true"})
    assert foreign.status_code == 404 and "math" not in foreign.text
    assert globex.http.get(f"/runs/{'0' * 32}/agents/math").status_code == 404
    unsigned = globex.http.get(f"/runs/{help_desk_run}/agents/math", headers={"x-api-key": ""})
    assert unsigned.status_code == 401


@pytest.fixture(scope="module")
def school(api_host: HostProcess, api_home: Path) -> Iterator[dict[str, Api]]:
    admin = Api(api_host.base_url, new_key(api_home, "Agents School"))
    people = {"admin": admin}
    for name in ("ann", "ben"):
        made = admin.http.post("/tenants/me/members", json={"name": name, "role": "student"})
        assert made.status_code == 201, made.text
        people[name] = Api(api_host.base_url, made.json()["key"])
    assert admin.http.put("/graphs/lesson-plan/share").status_code == 200
    yield people
    for api in people.values():
        api.http.close()


def test_a_student_reads_their_own_runs_agents_and_prompts_only(school: dict[str, Api]) -> None:
    admin, ann, ben = school["admin"], school["ann"], school["ben"]
    anns = ann.start(graph_ref="lesson-plan", run_input={"topic": "fractions", "grade": 4})
    ann.wait(anns, timeout=60)
    mine = detail(ann, anns, "planner", prompt="true")
    assert "fractions" in mine["attempts"][-1]["prompt"]["text"]
    assert mine["attempts"][-1]["prompt"]["input"] == {"topic": "fractions", "grade": 4}
    assert mine["attempts"][-1]["prompt"]["instructions"]
    assert ben.http.get(f"/runs/{anns}/agents/planner", params={"prompt": "true"}).status_code == 404
    assert detail(admin, anns, "planner")["attempts"]  # a teacher or admin reads every run
    teachers = admin.start(graph(agent("a")), "secret plans")
    assert ann.http.get(f"/runs/{teachers}/agents/a", params={"prompt": "true"}).status_code == 404


# -- the fold itself, on histories the host would answer --------------------------------------


def record(
    node: str, step: int, unit: str, quantity: int, cost: str = "0", unpriced: bool = False
) -> UsageRecord:
    return UsageRecord(
        tenant_id="t",
        run_id="r",
        node_id=node,
        attempt=step,
        provider="openai",
        model="gpt-x",
        key_mode="byok",
        unit=unit,  # type: ignore[arg-type]
        quantity=quantity,
        unit_price=Decimal(0),
        cost=Decimal(cost),
        at="2026-12-05T10:00:02.000000Z",
        unpriced=unpriced,
    )


def call_input(node: str, step: int, prompt: str = "hello {{ input }}") -> str:
    agent_spec = {"id": node, "provider": "school", "prompt": prompt, "instructions": "be kind"}
    return json.dumps(
        {"run_id": "r", "node_id": node, "step": step, "attempt": step, "agent": agent_spec, "input": "Ada"}
    )


def test_a_call_billed_after_a_cancel_shows_although_the_run_never_saw_its_answer() -> None:
    history = [
        {"EventType": "ExecutionStarted", "Input": "{}"},
        {
            "EventType": "TaskCompleted",
            "FunctionName": "run_agent",
            "ScheduledTime": "2026-12-05T10:00:00Z",
            "Timestamp": "2026-12-05T10:00:01Z",
            "Input": call_input("a", 1),
            "Result": {
                "status": "completed",
                "usage": {"total_tokens": 7},
                "provider": "openai",
                "model": "gpt-x",
            },
        },
        {
            "EventType": "TaskScheduled",
            "Name": "run_agent",
            "Timestamp": "2026-12-05T10:00:01Z",
            "Input": call_input("b", 1),
        },
        {
            "EventType": "TaskScheduled",
            "Name": "run_agent",
            "Timestamp": "2026-12-05T10:00:01Z",
            "Input": call_input("c", 1),
        },
    ]
    records = [
        record("a", 1, "input_tokens", 5, "0.00000100"),
        record("a", 1, "output_tokens", 2, "0.00000200"),
        record("b", 1, "input_tokens", 40, unpriced=True),  # aborted in flight by the cancel: billed
        record("b", 2, "output_tokens", 3, unpriced=True),  # a step the history never asked for
    ]
    a = agent_detail(history, "a", records)
    assert a["billed"]["cost_eur"] == "0.00000300" and a["billed"]["tokens"] == 7
    (only,) = a["attempts"]
    assert only["billed"]["tokens"] == 7 and only["connection"] == "school" and only["model"] == "gpt-x"
    b = agent_detail(history, "b", records, with_prompt=True)
    asked, unanswered = b["attempts"]
    assert asked["status"] == "asked" and asked["answered_at"] is None and asked["asked_at"]
    assert asked["billed"]["unpriced_tokens"] == 40 and asked["model"] == "gpt-x"
    assert asked["prompt"] == {"input": "Ada", "instructions": "be kind", "text": "hello Ada", "error": None}
    assert unanswered["status"] == "unanswered" and unanswered["billed"]["tokens"] == 3
    assert b["billed"]["unpriced_tokens"] == 43
    c = agent_detail(history, "c", records)
    assert c["attempts"][0]["status"] == "asked" and c["attempts"][0]["billed"] is None
    assert c["billed"]["tokens"] == 0 and c["billed"]["cost_eur"] == "0"


def test_a_failed_attempt_keeps_its_error_and_a_bad_template_says_why() -> None:
    history = [
        {
            "EventType": "TaskFailed",
            "FunctionName": "run_agent",
            "ScheduledTime": "2026-12-05T10:00:00Z",
            "Timestamp": "2026-12-05T10:00:03Z",
            "Input": call_input("a", 1, prompt="{{ outputs.missing.deep }}"),
            "Reason": "Activity function 'run_agent' failed: ProviderError: unavailable: down",
        }
    ]
    (attempt,) = agent_detail(history, "a", [], with_prompt=True)["attempts"]
    assert attempt["status"] == "failed" and "unavailable: down" in attempt["error"]
    assert attempt["provider"] is None and attempt["connection"] == "school"
    assert attempt["prompt"]["text"] is None and attempt["prompt"]["error"]
    assert agent_detail(history, "z", [])["attempts"] == []


def test_a_result_that_records_its_start_and_tool_calls_shows_them() -> None:
    """``started_at`` and ``tools`` in a run_agent result (when the activity records them) come through."""
    result = {
        "status": "completed",
        "usage": {"total_tokens": 9, "tool_calls": 1},
        "provider": "openai",
        "model": "gpt-x",
        "started_at": "2026-12-05T10:00:03Z",
        "tools": [{"name": "word_count", "arguments": {"text": "a b"}, "result": "2"}, "junk"],
    }
    history = [
        {
            "EventType": "TaskCompleted",
            "FunctionName": "run_agent",
            "ScheduledTime": "2026-12-05T10:00:00Z",
            "Timestamp": "2026-12-05T10:00:04Z",
            "Input": call_input("a", 1),
            "Result": json.dumps(result),  # as Azure's extension may answer it: JSON text
        }
    ]
    (call,) = agent_detail(history, "a", [])["attempts"]
    assert call["started_at"] == "2026-12-05T10:00:03Z" and call["asked_at"] == "2026-12-05T10:00:00Z"
    assert call["tools"] == [{"name": "word_count", "arguments": {"text": "a b"}, "result": "2"}]
    assert call["usage"] == {"total_tokens": 9, "tool_calls": 1} and call["billed"] is None
