"""``ListTasks`` (A2A 1.0, section 3.1.4) over the graph-agents backend, on loopback.

The cases mirror the A2A TCK's mandatory ``tests/mandatory/protocol/test_tasks_list_method.py``
(basic listing, filters, pagination, history length, artifacts, invalid values), asserted more
tightly where the backend makes the expected answer exact (a fake clock, a fresh backend).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.protocols._a2a_fake import MemoryAgents, _Run, memory_app
from tests.providers._servers import LoopbackServer

V1 = {"A2A-Version": "1.0"}
T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture()
def agents() -> MemoryAgents:
    return MemoryAgents()


@pytest.fixture()
def http(agents: MemoryAgents) -> Iterator[httpx.Client]:
    with (
        LoopbackServer(memory_app(agents)) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        yield client


def call(http: httpx.Client, method: str, params: Any) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    answer = http.post("/api/a2a/echo", json=body, headers=V1)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def listed(http: httpx.Client, **params: Any) -> dict[str, Any]:
    answer = call(http, "ListTasks", params)
    assert "result" in answer, answer
    result: dict[str, Any] = answer["result"]
    return result


def refused(http: httpx.Client, **params: Any) -> str:
    answer = call(http, "ListTasks", params)
    assert answer["error"]["code"] == -32602, answer
    message: str = answer["error"]["message"]
    return message


def start(
    http: httpx.Client, agents: MemoryAgents, topic: str = "x", context: str = "", at: Any = None
) -> str:
    """A task left working (started with returnImmediately; listing never moves a run on)."""
    agents.clock = at
    fields: dict[str, Any] = {
        "messageId": uuid.uuid4().hex,
        "role": "ROLE_USER",
        "parts": [{"data": {"topic": topic}}],
    }
    if context:
        fields["contextId"] = context
    params = {"message": fields, "configuration": {"returnImmediately": True}}
    task_id: str = call(http, "SendMessage", params)["result"]["task"]["id"]
    return task_id


# -- basic listing -------------------------------------------------------------------------------


def test_every_task_is_listed_with_the_response_fields_the_spec_requires(
    http: httpx.Client, agents: MemoryAgents
) -> None:
    task_id = start(http, agents, "tides", context="ctx-a")
    result = listed(http)
    assert set(result) == {"tasks", "nextPageToken", "pageSize", "totalSize"}
    assert (result["totalSize"], result["pageSize"], result["nextPageToken"]) == (1, 1, "")
    [task] = result["tasks"]
    assert (task["id"], task["contextId"], task["status"]["state"]) == (
        task_id,
        "ctx-a",
        "TASK_STATE_WORKING",
    )
    assert task["status"]["timestamp"].endswith("Z")


def test_no_match_is_an_empty_page_with_an_empty_token(http: httpx.Client, agents: MemoryAgents) -> None:
    start(http, agents, context="somewhere")
    assert listed(http, contextId="nowhere") == {
        "tasks": [],
        "nextPageToken": "",
        "pageSize": 0,
        "totalSize": 0,
    }


def test_tasks_come_newest_status_first_and_an_update_moves_a_task_up(
    http: httpx.Client, agents: MemoryAgents
) -> None:
    first = start(http, agents, at=T0)
    second = start(http, agents, at=T0 + timedelta(seconds=1))
    third = start(http, agents, at=T0 + timedelta(seconds=2))
    assert [t["id"] for t in listed(http)["tasks"]] == [third, second, first]
    agents.clock = T0 + timedelta(seconds=3)
    call(http, "CancelTask", {"id": first})
    tasks = listed(http)["tasks"]
    assert [t["id"] for t in tasks] == [first, third, second]
    assert tasks[0]["status"]["timestamp"] == "2026-05-01T12:00:03Z"


def test_tasks_updated_in_the_same_second_come_latest_started_first(
    http: httpx.Client, agents: MemoryAgents
) -> None:
    started = [start(http, agents, at=T0.replace(microsecond=100_000 * i)) for i in range(5)]
    assert [t["id"] for t in listed(http)["tasks"]] == started[::-1]


# -- filters -------------------------------------------------------------------------------------


def test_context_id_keeps_that_conversation_s_tasks_only(http: httpx.Client, agents: MemoryAgents) -> None:
    mine = [start(http, agents, context="ctx-1") for _ in range(2)]
    start(http, agents, context="ctx-2")
    result = listed(http, contextId="ctx-1")
    assert sorted(t["id"] for t in result["tasks"]) == sorted(mine)
    assert result["totalSize"] == 2


def test_status_keeps_tasks_in_that_state_only(http: httpx.Client, agents: MemoryAgents) -> None:
    working = start(http, agents)
    cancelled = start(http, agents)
    call(http, "CancelTask", {"id": cancelled})
    by_state = {
        state: [t["id"] for t in listed(http, status=state)["tasks"]]
        for state in ("TASK_STATE_WORKING", "TASK_STATE_CANCELED", "TASK_STATE_COMPLETED")
    }
    assert by_state == {
        "TASK_STATE_WORKING": [working],
        "TASK_STATE_CANCELED": [cancelled],
        "TASK_STATE_COMPLETED": [],
    }
    assert len(listed(http, status="TASK_STATE_UNSPECIFIED")["tasks"]) == 2  # no filter


def test_status_timestamp_after_keeps_tasks_updated_at_or_after_it(
    http: httpx.Client, agents: MemoryAgents
) -> None:
    start(http, agents, at=T0)
    later = start(http, agents, at=T0 + timedelta(seconds=10, microseconds=250_000))
    # At or after, to the second: the status times here are whole seconds on Azure.
    for after in ("2026-05-01T12:00:10Z", "2026-05-01T12:00:10.900+00:00", "2026-05-01T14:00:10.5+02:00"):
        assert [t["id"] for t in listed(http, statusTimestampAfter=after)["tasks"]] == [later], after
    assert listed(http, statusTimestampAfter="2026-05-01T12:00:11Z")["tasks"] == []
    assert listed(http, statusTimestampAfter="2026-05-01T12:00:00Z")["totalSize"] == 2


def test_filters_combine(http: httpx.Client, agents: MemoryAgents) -> None:
    wanted = start(http, agents, context="ctx-9")
    other = start(http, agents, context="ctx-9")
    call(http, "CancelTask", {"id": other})
    start(http, agents, context="ctx-8")
    result = listed(http, contextId="ctx-9", status="TASK_STATE_WORKING")
    assert [t["id"] for t in result["tasks"]] == [wanted] and result["totalSize"] == 1


# -- pages ---------------------------------------------------------------------------------------


def test_pages_follow_the_token_to_the_last_page_each_task_once_in_order(
    http: httpx.Client, agents: MemoryAgents
) -> None:
    started = [start(http, agents, at=T0 + timedelta(seconds=i)) for i in range(5)]
    seen, sizes, token = [], [], None
    while token != "":
        page = listed(http, pageSize=2, **({"pageToken": token} if token else {}))
        assert page["totalSize"] == 5
        seen += [t["id"] for t in page["tasks"]]
        sizes.append(page["pageSize"])
        token = page["nextPageToken"]
    assert seen == started[::-1] and sizes == [2, 2, 1]


def test_a_page_larger_than_the_matches_is_the_last_page(http: httpx.Client, agents: MemoryAgents) -> None:
    for _ in range(3):
        start(http, agents, context="ctx-3")
    page = listed(http, contextId="ctx-3", pageSize=10)
    assert (page["totalSize"], page["pageSize"], len(page["tasks"]), page["nextPageToken"]) == (3, 3, 3, "")


def test_the_default_page_is_50(http: httpx.Client, agents: MemoryAgents) -> None:
    for i in range(60):
        start(http, agents, at=T0 + timedelta(seconds=i))
    page = listed(http)
    assert (page["totalSize"], page["pageSize"], len(page["tasks"])) == (60, 50, 50)
    rest = listed(http, pageToken=page["nextPageToken"])
    assert (rest["pageSize"], rest["nextPageToken"]) == (10, "")
    assert not {t["id"] for t in page["tasks"]} & {t["id"] for t in rest["tasks"]}


# -- history and artifacts -----------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 3, 100])
def test_history_length_is_accepted_and_no_task_carries_more(
    http: httpx.Client, agents: MemoryAgents, length: int
) -> None:
    start(http, agents)
    tasks = listed(http, historyLength=length)["tasks"]
    assert len(tasks) == 1 and len(tasks[0].get("history", [])) <= length


def test_artifacts_only_when_asked_for(http: httpx.Client, agents: MemoryAgents) -> None:
    done = start(http, agents, "maps")
    for _ in range(2):
        call(http, "GetTask", {"id": done})  # the fake's run completes on its second read
    [task] = listed(http)["tasks"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED" and "artifacts" not in task
    [task] = listed(http, includeArtifacts=True)["tasks"]
    assert task["artifacts"][0]["parts"][0]["text"] == "echo: maps"


# -- invalid values: -32602 naming the field -----------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"pageToken": "invalid-token-xyz"}, "pageToken"),
        ({"pageToken": "t1.bm90IGpzb24"}, "pageToken"),  # our prefix, not our token
        ({"status": "INVALID_STATUS"}, "status"),
        ({"status": 42}, "status"),
        ({"pageSize": -1}, "pageSize"),
        ({"pageSize": 0}, "pageSize"),
        ({"pageSize": 101}, "pageSize"),
        ({"pageSize": "many"}, "pageSize"),
        ({"historyLength": -1}, "historyLength"),
        ({"statusTimestampAfter": "-1"}, "statusTimestampAfter"),
        ({"statusTimestampAfter": "yesterday"}, "statusTimestampAfter"),
        ({"includeArtifacts": "yes"}, "includeArtifacts"),
        ({"contextId": {"nested": True}}, "contextId"),
    ],
)
def test_an_invalid_value_is_invalid_params_naming_the_field(
    http: httpx.Client, params: dict[str, Any], field: str
) -> None:
    message = refused(http, **params)
    assert message.startswith(f"Invalid params: {field}: "), message
    assert "Failed to parse" not in message and "line " not in message  # no parser text


def test_a_task_of_another_graph_is_never_listed(http: httpx.Client, agents: MemoryAgents) -> None:
    agents.runs["elsewhere"] = _Run("other-graph", "x", "ctx", T0)
    mine = start(http, agents)
    assert [t["id"] for t in listed(http)["tasks"]] == [mine]
    assert call(http, "GetTask", {"id": "elsewhere"})["error"]["code"] == -32001
