"""Graphs as A2A agents: the JSON-RPC surface over a graph-agents backend, on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.protocols._a2a_fake import MemoryAgents, memory_app
from tests.providers._servers import LoopbackServer

V1 = {"A2A-Version": "1.0"}


@pytest.fixture(scope="module")
def agents() -> MemoryAgents:
    return MemoryAgents()


@pytest.fixture(scope="module")
def http(agents: MemoryAgents) -> Iterator[httpx.Client]:
    with (
        LoopbackServer(memory_app(agents)) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        yield client


def rpc(http: httpx.Client, method: str, params: Any, *, headers: dict[str, str] = V1, id_: Any = 1) -> Any:
    answer = http.post(
        "/api/a2a/echo",
        json={"jsonrpc": "2.0", "id": id_, "method": method, "params": params},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def message(*parts: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"message": {"messageId": "m1", "role": "ROLE_USER", "parts": list(parts), **fields}}


def test_the_card_describes_the_graph_its_endpoint_and_the_api_key_scheme(http: httpx.Client) -> None:
    card = http.get("/api/a2a/echo/.well-known/agent-card.json").json()
    assert card["name"] == "echo"
    assert card["supportedInterfaces"][0]["url"] == f"{http.base_url}/api/a2a/echo"
    assert card["supportedInterfaces"][0]["protocolBinding"] == "JSONRPC"
    assert card["securitySchemes"]["apiKey"]["apiKeySecurityScheme"] == {
        "location": "header",
        "name": "x-api-key",
        "description": "the tenant's Convergio API key",
    }
    assert card["securityRequirements"] == [{"schemes": {"apiKey": {}}}]
    assert card["capabilities"]["streaming"] is True
    assert '"required": ["topic"]' in card["skills"][0]["description"]
    assert card["skills"][0]["examples"] == ["volcanoes"]


def test_an_unknown_graph_is_a_404_for_the_card_and_the_endpoint(http: httpx.Client) -> None:
    assert http.get("/api/a2a/nope/.well-known/agent-card.json").status_code == 404
    answer = http.post(
        "/api/a2a/nope", json={"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}
    )
    assert answer.status_code == 404
    assert "nope" in answer.json()["error"]["message"]


def test_send_message_waits_for_the_run_and_returns_its_output_as_an_artifact(
    http: httpx.Client, agents: MemoryAgents
) -> None:
    answer = rpc(http, "SendMessage", message({"text": '{"topic": "tides"}'}, contextId="ctx-1"))
    task = answer["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task["contextId"] == "ctx-1"
    assert task["artifacts"][0]["parts"] == [{"text": "echo: tides"}]
    assert agents.inputs[-1] == {"topic": "tides"}


def test_a_data_part_is_the_input_with_whole_numbers_kept_whole(
    http: httpx.Client, agents: MemoryAgents
) -> None:
    rpc(http, "SendMessage", message({"data": {"topic": "maps", "grade": 4}}))
    assert agents.inputs[-1] == {"topic": "maps", "grade": 4}
    assert isinstance(agents.inputs[-1]["grade"], int)


def test_return_immediately_answers_at_once_and_get_task_follows_the_run(http: httpx.Client) -> None:
    params = message({"text": '{"topic": "rivers"}'}, **{}) | {"configuration": {"returnImmediately": True}}
    task = rpc(http, "SendMessage", params)["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_SUBMITTED"
    states = [rpc(http, "GetTask", {"id": task["id"]})["result"]["status"]["state"] for _ in range(2)]
    assert states == ["TASK_STATE_WORKING", "TASK_STATE_COMPLETED"]


def test_a_failed_run_is_a_failed_task_with_its_error(http: httpx.Client) -> None:
    task = rpc(http, "SendMessage", message({"text": '{"topic": "fail"}'}))["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_FAILED"
    assert task["status"]["message"]["parts"][0]["text"] == "agent 'a' ended failed: boom"
    assert "artifacts" not in task


def test_a_run_awaiting_human_input_is_input_required(http: httpx.Client) -> None:
    task = rpc(http, "SendMessage", message({"text": '{"topic": "wait"}'}))["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    assert "approval" in task["status"]["message"]["parts"][0]["text"]


def test_cancel_terminates_a_working_task_and_refuses_an_ended_one(http: httpx.Client) -> None:
    params = message({"text": '{"topic": "slow"}'}) | {"configuration": {"returnImmediately": True}}
    task = rpc(http, "SendMessage", params)["result"]["task"]
    cancelled = rpc(http, "CancelTask", {"id": task["id"]})["result"]
    assert cancelled["status"]["state"] == "TASK_STATE_CANCELED"
    again = rpc(http, "CancelTask", {"id": task["id"]})
    assert again["error"]["code"] == -32002  # TaskNotCancelableError


def test_streaming_sends_the_task_then_its_changes_then_the_output(http: httpx.Client) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "SendStreamingMessage",
        "params": message({"text": '{"topic": "sky"}'}),
    }
    with http.stream("POST", "/api/a2a/echo", json=body, headers=V1) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[5:]) for line in answer.iter_lines() if line.startswith("data:")]
    results = [e["result"] for e in events]
    assert results[0]["task"]["status"]["state"] == "TASK_STATE_SUBMITTED"
    assert [next(iter(r)) for r in results[1:]] == ["statusUpdate", "artifactUpdate", "statusUpdate"]
    assert results[2]["artifactUpdate"]["artifact"]["parts"] == [{"text": "echo: sky"}]
    assert results[3]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert all(e["id"] == 7 for e in events)


def test_the_v0_3_method_names_are_served_too(http: httpx.Client) -> None:
    params = {
        "message": {
            "messageId": "m",
            "role": "user",
            "kind": "message",
            "parts": [{"kind": "text", "text": '{"topic": "old"}'}],
        }
    }
    result = rpc(http, "message/send", params, headers={})["result"]
    assert result["status"]["state"] == "completed"
    assert result["artifacts"][0]["parts"][0]["text"] == "echo: old"


# -- bad protocol input: protocol-correct JSON-RPC errors ------------------------------------


def test_malformed_json_is_a_parse_error(http: httpx.Client) -> None:
    answer = http.post("/api/a2a/echo", content=b'{"jsonrpc": "2.0", "id": 1, "method": ', headers=V1)
    assert answer.json()["error"]["code"] == -32700
    assert answer.json()["id"] is None


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"id": 1, "method": "GetTask", "params": {"id": "x"}}, "jsonrpc"),  # no jsonrpc member
        ({"jsonrpc": "1.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}, "jsonrpc"),
        ([{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}], "batch"),
        ([], "batch"),
        (5, "object"),
        ("GetTask", "object"),
        (None, "object"),
        ({"jsonrpc": "2.0", "id": 1}, "method"),
        ({"jsonrpc": "2.0", "id": 1, "method": 5}, "method"),
        ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "GetTask", "params": {"id": "x"}}, "id"),
        ({"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": 5}, "params"),
    ],
)
def test_a_body_that_is_not_one_json_rpc_2_request_is_an_invalid_request(
    http: httpx.Client, body: Any, names: str
) -> None:
    sent = json.dumps(body).encode()
    answer = http.post(
        "/api/a2a/echo", content=sent, headers=V1 | {"content-type": "application/json"}
    ).json()
    assert answer["error"]["code"] == -32600, answer
    assert names in answer["error"]["message"]
    assert answer["error"]["data"][0]["metadata"] == {}  # no parser text (it carried "parseError")
    expected_id = body.get("id") if isinstance(body, dict) and isinstance(body.get("id"), int) else None
    assert answer["id"] == expected_id


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("GetTask", [1], "params"),  # positional
        ("GetTask", {"id": {"nested": True}}, "id"),
        ("SendMessage", {"message": {"role": "ROLE_NOBODY", "parts": [{"text": "x"}]}}, "message.role"),
        ("SendMessage", {"message": {"parts": "x"}}, "message.parts"),
        ("SendMessage", {"message": {"parts": [{"text": 5}]}}, "message.parts.text"),
        ("tasks/get", {"id": {"nested": True}}, "id"),  # a 0.3 name: it answered -32600 with a pydantic dump
    ],
)
def test_params_of_the_wrong_shape_are_invalid_params_naming_the_field(
    http: httpx.Client, method: str, params: Any, field: str
) -> None:
    answer = rpc(http, method, params)
    assert answer["error"]["code"] == -32602, answer
    message = answer["error"]["message"]
    assert message.startswith(f"Invalid params: {field}"), message
    assert "validation error" not in message and "Failed to parse" not in message
    assert "errors.pydantic.dev" not in json.dumps(answer)


def test_an_unknown_method_is_method_not_found(http: httpx.Client) -> None:
    answer = rpc(http, "DoMagic", {}, id_="abc")
    assert answer == {"jsonrpc": "2.0", "id": "abc", "error": answer["error"]}
    assert answer["error"]["code"] == -32601


def test_input_the_graph_refuses_is_invalid_params_naming_the_field(http: httpx.Client) -> None:
    answer = rpc(http, "SendMessage", message({"text": "just words"}))
    assert answer["error"]["code"] == -32602
    assert "topic" in answer["error"]["message"]


def test_an_empty_message_is_invalid_params(http: httpx.Client) -> None:
    answer = rpc(http, "SendMessage", message({"text": "  "}))
    assert answer["error"]["code"] == -32602
    assert "message.parts" in answer["error"]["message"]


def test_an_unknown_task_is_task_not_found(http: httpx.Client) -> None:
    assert rpc(http, "GetTask", {"id": "no-such-run"})["error"]["code"] == -32001


def test_a_follow_up_message_to_a_task_is_unsupported(http: httpx.Client) -> None:
    answer = rpc(http, "SendMessage", message({"text": '{"topic": "x"}'}, taskId="t1"))
    assert answer["error"]["code"] == -32004


def test_push_notifications_are_unsupported(http: httpx.Client) -> None:
    config = {"taskId": "t", "url": "https://example.org/hook"}
    assert rpc(http, "CreateTaskPushNotificationConfig", config)["error"]["code"] == -32004


@pytest.mark.parametrize(
    ("body", "code"),
    [  # the A2A TCK's mandatory tests/mandatory/jsonrpc/test_json_rpc_compliance.py cases
        ({"jsonrpc": "aaa", "method": "SendMessage", "params": {}}, -32600),
        ({"jsonrpc": "2.0", "params": {}}, -32600),
        ({"jsonrpc": "2.0", "method": "SendMessageXXX", "id": "3", "params": {}}, -32601),
        ({"jsonrpc": "2.0", "method": "SendMessage", "params": {}, "id": {"bad": "type"}}, -32600),
        ({"jsonrpc": "2.0", "method": "SendMessage", "id": "4", "params": {"": "not_a_dict"}}, -32602),
        (
            {
                "jsonrpc": "2.0",
                "method": "SendMessage",
                "id": "5",
                "params": {"message": {"parts": "invalid"}},
            },
            -32602,
        ),
    ],
)
def test_the_tck_s_json_rpc_compliance_cases(http: httpx.Client, body: dict[str, Any], code: int) -> None:
    answer = http.post("/api/a2a/echo", json=body, headers=V1)
    assert answer.status_code == 200 and answer.json()["error"]["code"] == code, answer.text
