"""Graphs as A2A agents end to end: the official a2a-sdk client against the real app on the host."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.client.errors import A2AClientError
from a2a.helpers.proto_helpers import get_artifact_text, new_data_part
from a2a.types import a2a_pb2 as pb
from a2a.utils.errors import InvalidParamsError, TaskNotFoundError

from convergio.tenants import open_tenant_store
from tests._helpers import HostProcess
from tests.api.conftest import Api

T = TypeVar("T")
LESSON = {"topic": "fractions", "grade": 4}


def agent_url(host: HostProcess, graph: str = "lesson-plan") -> str:
    return f"{host.base_url}/api/a2a/{graph}"


def with_client(url: str, api: Api, call: Callable[[Any, pb.AgentCard], Awaitable[T]], **config: Any) -> T:
    """Resolve the card with the tenant's key, build the SDK client from it, make one call."""

    async def go() -> T:
        headers = {"x-api-key": api.http.headers["x-api-key"]}
        async with httpx.AsyncClient(headers=headers, timeout=60) as http:
            card = await A2ACardResolver(http, url).get_agent_card()
            client = ClientFactory(ClientConfig(httpx_client=http, **config)).create(card)
            return await call(client, card)

    return asyncio.run(go())


def send(url: str, api: Api, run_input: Any, **configuration: Any) -> pb.Task:
    request = pb.SendMessageRequest(
        message=pb.Message(message_id="m1", role=pb.ROLE_USER, parts=[new_data_part(run_input)]),
        configuration=pb.SendMessageConfiguration(**configuration),
    )

    async def call(client: Any, card: pb.AgentCard) -> pb.Task:
        events = [event async for event in client.send_message(request)]
        assert events[-1].HasField("task")
        task: pb.Task = events[-1].task
        return task

    return with_client(url, api, call, streaming=False)


def get(url: str, api: Api, task_id: str) -> pb.Task:
    async def call(client: Any, card: pb.AgentCard) -> pb.Task:
        task: pb.Task = await client.get_task(pb.GetTaskRequest(id=task_id))
        return task

    return with_client(url, api, call)


def cancel(url: str, api: Api, task_id: str) -> pb.Task:
    async def call(client: Any, card: pb.AgentCard) -> pb.Task:
        task: pb.Task = await client.cancel_task(pb.CancelTaskRequest(id=task_id))
        return task

    return with_client(url, api, call)


def test_the_sdk_client_reads_the_card_and_runs_the_graph_to_completion(
    api_host: HostProcess, acme: Api
) -> None:
    url = agent_url(api_host)

    async def card_only(client: Any, card: pb.AgentCard) -> pb.AgentCard:
        return card

    card = with_client(url, acme, card_only)
    assert card.name == "lesson-plan"
    assert card.supported_interfaces[0].url == url
    assert card.security_schemes["apiKey"].api_key_security_scheme.name == "x-api-key"
    assert "grade" in card.skills[0].description

    task = send(url, acme, LESSON)
    assert task.status.state == pb.TASK_STATE_COMPLETED, task
    run = acme.run(task.id)  # the task is the durable run
    assert run["status"] == "Completed"
    assert get_artifact_text(task.artifacts[0]) == run["output"]
    assert "fractions" in run["output"]


def list_tasks(url: str, api: Api, **fields: Any) -> pb.ListTasksResponse:
    async def call(client: Any, card: pb.AgentCard) -> pb.ListTasksResponse:
        listed: pb.ListTasksResponse = await client.list_tasks(pb.ListTasksRequest(**fields))
        return listed

    return with_client(url, api, call)


def send_in(url: str, api: Api, run_input: Any, context_id: str) -> str:
    """Start a task in conversation ``context_id`` at once; its id."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendMessage",
        "params": {
            "message": {
                "messageId": context_id,
                "role": "ROLE_USER",
                "contextId": context_id,
                "parts": [{"data": run_input}],
            },
            "configuration": {"returnImmediately": True},
        },
    }
    answer = api.http.post(url, json=body, headers={"A2A-Version": "1.0"})
    task_id: str = answer.json()["result"]["task"]["id"]
    return task_id


def test_list_tasks_shows_the_tenant_s_runs_of_that_graph_and_no_one_else_s(
    api_host: HostProcess, acme: Api, globex: Api
) -> None:
    quiz, lesson = agent_url(api_host, "quiz-builder"), agent_url(api_host, "lesson-plan")
    ours = [send_in(quiz, acme, {"topic": f"tides {i}"}, "ctx-shared") for i in range(3)]
    theirs = send_in(quiz, globex, {"topic": "tides"}, "ctx-shared")
    send_in(lesson, acme, LESSON, "ctx-shared")
    for run_id in ours:
        acme.wait(run_id)
    globex.wait(theirs)

    mine = list_tasks(quiz, acme, context_id="ctx-shared")
    assert sorted(t.id for t in mine.tasks) == sorted(ours) and mine.total_size == 3
    assert mine.next_page_token == "" and mine.page_size == 3
    assert [t.id for t in list_tasks(quiz, globex, context_id="ctx-shared").tasks] == [theirs]
    stamps = [t.status.timestamp.ToDatetime() for t in mine.tasks]
    assert stamps == sorted(stamps, reverse=True) and all(s.year >= 2026 for s in stamps)
    assert all(t.status.state == pb.TASK_STATE_COMPLETED and not t.artifacts for t in mine.tasks)

    # Pages of one, followed to the end, give each task once; artifacts when asked for.
    seen, token = [], ""
    while True:
        page = list_tasks(
            quiz, acme, context_id="ctx-shared", page_size=1, page_token=token, include_artifacts=True
        )
        seen += [t.id for t in page.tasks]
        assert all(get_artifact_text(t.artifacts[0]) == acme.run(t.id)["output"] for t in page.tasks)
        token = page.next_page_token
        if not token:
            break
    assert seen == [t.id for t in mine.tasks]
    # Filters the runs do not match leave nothing.
    assert list_tasks(quiz, acme, context_id="ctx-shared", status=pb.TASK_STATE_WORKING).total_size == 0


def test_list_tasks_refuses_invalid_values_naming_the_field(api_host: HostProcess, acme: Api) -> None:
    url = agent_url(api_host)
    for params, field in (
        ({"pageSize": 0}, "pageSize"),
        ({"status": "DONE"}, "status"),
        ({"pageToken": "x"}, "pageToken"),
    ):
        body = {"jsonrpc": "2.0", "id": 4, "method": "ListTasks", "params": params}
        answer = acme.http.post(url, json=body, headers={"A2A-Version": "1.0"}).json()
        assert answer["id"] == 4 and answer["error"]["code"] == -32602, answer
        assert answer["error"]["message"].startswith(f"Invalid params: {field}: ")


def test_a_task_started_at_once_is_followed_with_get_task(api_host: HostProcess, acme: Api) -> None:
    url = agent_url(api_host)
    task = send(url, acme, LESSON, return_immediately=True)
    assert task.status.state in (pb.TASK_STATE_SUBMITTED, pb.TASK_STATE_WORKING)
    acme.wait(task.id)
    done = get(url, acme, task.id)
    assert done.status.state == pb.TASK_STATE_COMPLETED
    assert get_artifact_text(done.artifacts[0]) == acme.run(task.id)["output"]


def test_another_tenant_can_neither_get_nor_cancel_the_task(
    api_host: HostProcess, api_home: Path, acme: Api, globex: Api
) -> None:
    url = agent_url(api_host, "newsletter-approval")
    task = send(url, acme, {"week": "12"}, return_immediately=True)
    with pytest.raises(TaskNotFoundError):
        get(url, globex, task.id)
    with pytest.raises(TaskNotFoundError):
        cancel(url, globex, task.id)
    acme.wait_node(task.id, "publish", "awaiting_input")
    assert get(url, acme, task.id).status.state == pb.TASK_STATE_INPUT_REQUIRED
    assert cancel(url, acme, task.id).status.state == pb.TASK_STATE_CANCELED
    assert acme.wait(task.id)["status"] == "Terminated"
    assert get(url, acme, task.id).status.state == pb.TASK_STATE_CANCELED
    # Who started and who cancelled it are kept as for the HTTP API's runs.
    view = acme.http.get(f"/runs/{task.id}").json()
    assert view["cancelled_by"] == "admin" and view["cancel_reason"] == "cancelled through A2A"
    record = open_tenant_store(api_home).run(task.id)
    assert record is not None and record.started_by.startswith("key:")


def test_a_task_of_another_graph_is_not_found_here(api_host: HostProcess, acme: Api) -> None:
    task = send(agent_url(api_host), acme, LESSON, return_immediately=True)
    with pytest.raises(TaskNotFoundError):
        get(agent_url(api_host, "quiz-builder"), acme, task.id)


def test_input_the_schema_refuses_is_invalid_params_and_starts_nothing(
    api_host: HostProcess, acme: Api
) -> None:
    before = [r["id"] for r in acme.http.get("/runs").json()["runs"]]
    with pytest.raises(InvalidParamsError, match="grade"):
        send(agent_url(api_host), acme, {"topic": "fractions"})
    assert [r["id"] for r in acme.http.get("/runs").json()["runs"]] == before


def test_every_request_needs_the_tenant_s_key(api_host: HostProcess) -> None:
    with httpx.Client(base_url=api_host.base_url, timeout=10) as http:
        card = http.get("/api/a2a/lesson-plan/.well-known/agent-card.json")
        assert card.status_code == 401
        assert card.headers["www-authenticate"].startswith("ApiKey")
        body = {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}
        rpc = http.post(
            "/api/a2a/lesson-plan", json=body, headers={"x-api-key": "nope", "A2A-Version": "1.0"}
        )
        assert rpc.status_code == 401
        assert "nope" not in rpc.text


def test_an_unknown_graph_is_a_404(api_host: HostProcess, acme: Api) -> None:
    answer = acme.http.get(f"{api_host.base_url}/api/a2a/nothing/.well-known/agent-card.json")
    assert answer.status_code == 404
    with pytest.raises(A2AClientError, match="404"):
        send(agent_url(api_host, "nothing"), acme, LESSON)


def test_bad_json_rpc_through_the_functions_app_gets_json_rpc_errors(
    api_host: HostProcess, acme: Api
) -> None:
    url, v1 = "/api/a2a/lesson-plan", {"A2A-Version": "1.0"}
    post = acme.http.post
    parse = post(f"{api_host.base_url}{url}", content=b"{not json", headers=v1).json()
    assert parse["error"]["code"] == -32700
    unknown = post(
        f"{api_host.base_url}{url}", json={"jsonrpc": "2.0", "id": 3, "method": "Nope"}, headers=v1
    )
    assert unknown.status_code == 200
    assert unknown.json() == {"jsonrpc": "2.0", "id": 3, "error": unknown.json()["error"]}
    assert unknown.json()["error"]["code"] == -32601
    batch = post(
        f"{api_host.base_url}{url}", json=[{"jsonrpc": "2.0", "id": 3, "method": "GetTask"}], headers=v1
    )
    assert batch.json()["error"]["code"] == -32600 and "batch" in batch.json()["error"]["message"]
    bare = post(f"{api_host.base_url}{url}", json=7, headers=v1)
    assert bare.json()["error"]["code"] == -32600


def test_streaming_is_buffered_but_complete(api_host: HostProcess, acme: Api) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "SendStreamingMessage",
        "params": {"message": {"messageId": "s", "role": "ROLE_USER", "parts": [{"data": LESSON}]}},
    }
    answer = acme.http.post(
        f"{api_host.base_url}/api/a2a/lesson-plan", json=body, headers={"A2A-Version": "1.0"}
    )
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[5:]) for line in answer.text.splitlines() if line.startswith("data:")]
    kinds = [next(iter(e["result"])) for e in events]
    assert kinds[0] == "task" and kinds[-2:] == ["artifactUpdate", "statusUpdate"]
    assert events[-1]["result"]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"
