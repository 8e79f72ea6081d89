"""An app written the way Microsoft's Python e2e app is (tests/apps/e2e_style_app), through a host
subprocess, with the values Azure gives it (issue 21, point 4, and the e2e expectations).

Where the expected value is surprising it is Azure's, read from the extension's source:

* a hand-raised event delivers the body's JSON value (``"incr"`` arrives as ``incr``; a string
  holding JSON stays a string); anything but ``application/json`` is a 400;
* the SDK's ``raise_event(v)`` delivers the *string* ``json.dumps(v)``: it encodes twice
  (azure-functions-durable-python issue 295);
* the SDK's ``start_new(v)`` delivers ``v``, and the status shows ``json.dumps(v)``;
* a hand-posted start body reaches ``get_input()`` as Azure hands it over: an object or a JSON
  string holding JSON decodes, a bare ``5`` or ``"hello"`` makes ``get_input()`` raise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests._helpers import ROOT, HostProcess, wait_status

APP = ROOT / "tests" / "apps" / "e2e_style_app" / "function_app.py"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    with HostProcess(APP, tmp_path_factory.mktemp("home")) as process:
        yield process


@pytest.fixture
def client(host: HostProcess) -> Iterator[httpx.Client]:
    with host.client() as http:
        yield http


def _check_status(client: httpx.Client, answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def _finish(client: httpx.Client, urls: dict[str, Any]) -> dict[str, Any]:
    return wait_status(client, urls["statusQueryGetUri"])


def _waiting(client: httpx.Client, host: HostProcess) -> dict[str, Any]:
    started = client.post(host.durable_url("orchestrators/ExternalEventOrchestrator"))
    urls = _check_status(client, started)
    wait_status(client, urls["statusQueryGetUri"], {"Running"})
    return urls


def test_hello_cities_runs_by_its_trigger_names(client: httpx.Client) -> None:
    urls = _check_status(
        client, client.post("/api/StartOrchestration", params={"orchestrationName": "HelloCities"})
    )
    body = _finish(client, urls)
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


HAND_RAISED = [
    (b'"incr"', "incr"),  # the HTTP API docs' own example
    (b"5", 5),
    (b"1.5", 1.5),
    (b"true", True),
    (b"null", None),
    (b'[1, "a", {"b": null}]', [1, "a", {"b": None}]),
    (b'{"by": "teacher", "n": 2}', {"by": "teacher", "n": 2}),
    (b'"{\\"a\\": 1}"', '{"a": 1}'),  # a JSON string holding JSON stays a string
    (b'  {"x": "\xc3\xa9"}  trailing', {"x": "é"}),  # JToken.Load reads the first value only
]


@pytest.mark.parametrize(
    ("body", "delivered"), HAND_RAISED, ids=[b.decode(errors="replace") for b, _ in HAND_RAISED]
)
def test_a_hand_raised_event_delivers_the_json_value_posted(
    client: httpx.Client, host: HostProcess, body: bytes, delivered: Any
) -> None:
    urls = _waiting(client, host)
    event = urls["sendEventPostUri"].replace("{eventName}", "Approval")
    raised = client.post(event, content=body, headers={"content-type": "application/json"})
    assert raised.status_code == 202, raised.text
    output = _finish(client, urls)["output"]
    assert output == {"value": delivered, "type": type(delivered).__name__}


def test_a_text_plain_event_is_a_bad_request_and_is_not_delivered(
    client: httpx.Client, host: HostProcess
) -> None:
    urls = _waiting(client, host)
    event = urls["sendEventPostUri"].replace("{eventName}", "Approval")
    refused = client.post(event, content=b'"incr"', headers={"content-type": "text/plain"})
    assert refused.status_code == 400
    assert client.get(urls["statusQueryGetUri"]).json()["runtimeStatus"] == "Running"
    client.post(event, json="then json")
    assert _finish(client, urls)["output"]["value"] == "then json"


SDK_RAISED: list[Any] = ["incr", 5, 1.5, True, None, [1, "a"], {"by": "teacher"}]


@pytest.mark.parametrize("value", SDK_RAISED, ids=[json.dumps(v) for v in SDK_RAISED])
def test_the_sdk_raise_event_delivers_its_value_encoded_twice(
    client: httpx.Client, host: HostProcess, value: Any
) -> None:
    urls = _waiting(client, host)
    sent = client.post("/api/SendExternalEvent_HttpStart", json={"instanceId": urls["id"], "data": value})
    assert sent.status_code == 200, sent.text
    assert _finish(client, urls)["output"] == {"value": json.dumps(value), "type": "str"}


def test_the_sdk_raise_event_to_a_finished_or_unknown_instance_raises(client: httpx.Client) -> None:
    urls = _check_status(
        client, client.post("/api/StartOrchestration", params={"orchestrationName": "HelloCities"})
    )
    _finish(client, urls)
    gone = client.post("/api/SendExternalEvent_HttpStart", json={"instanceId": urls["id"], "data": 1})
    assert gone.status_code == 400 and "is gone" in gone.text  # the SDK's message for a 410
    unknown = client.post("/api/SendExternalEvent_HttpStart", json={"instanceId": "nobody", "data": 1})
    assert unknown.status_code == 400 and "No instance with ID nobody found" in unknown.text


SDK_STARTED: list[Any] = ["hello", 5, 1.5, False, None, [1, 2], {"a": {"b": [1]}}]


@pytest.mark.parametrize("orchestrator", ["PlainInputEcho", "InputEcho"])
@pytest.mark.parametrize("value", SDK_STARTED, ids=[json.dumps(v) for v in SDK_STARTED])
def test_the_sdk_start_new_delivers_its_input_and_the_status_shows_it_serialised(
    client: httpx.Client, orchestrator: str, value: Any
) -> None:
    started = client.post("/api/StartWithInput", json={"orchestrationName": orchestrator, "input": value})
    body = _finish(client, _check_status(client, started))
    assert body["runtimeStatus"] == "Completed", body
    assert body["output"]["value"] == value and body["output"]["type"] == type(value).__name__
    assert body["input"] == (None if value is None else json.dumps(value))


HAND_STARTED_OK = [
    (b'{"a": 1}', {"a": 1}, {"a": 1}),
    (b'"{\\"a\\": 1}"', {"a": 1}, '{"a": 1}'),
    (b'"5"', 5, "5"),
    (b"null", None, None),
    (b"", None, None),
]


@pytest.mark.parametrize(("body", "value", "shown"), HAND_STARTED_OK)
def test_a_hand_posted_start_input_that_azure_decodes(
    client: httpx.Client, host: HostProcess, body: bytes, value: Any, shown: Any
) -> None:
    started = client.post(host.durable_url("orchestrators/InputEcho"), content=body)  # no content type needed
    status = _finish(client, _check_status(client, started))
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"]["value"] == value
    assert status["input"] == shown


HAND_STARTED_FAILING = [
    (b"5", 5, "not int"),
    (b"[1, 2]", [1, 2], "not list"),
    (b"true", True, "not bool"),
    (b'"hello"', "hello", "Expecting value"),
]


@pytest.mark.parametrize("orchestrator", ["PlainInputEcho", "InputEcho"])
@pytest.mark.parametrize(("body", "shown", "why"), HAND_STARTED_FAILING)
def test_a_hand_posted_start_input_that_get_input_cannot_decode_fails_as_on_azure(
    client: httpx.Client, host: HostProcess, orchestrator: str, body: bytes, shown: Any, why: str
) -> None:
    started = client.post(host.durable_url(f"orchestrators/{orchestrator}"), content=body)
    status = _finish(client, _check_status(client, started))
    assert status["runtimeStatus"] == "Failed"
    assert f"Orchestrator function '{orchestrator}' failed" in status["output"] and why in status["output"]
    assert status["input"] == shown


def test_a_start_body_that_is_not_json_is_a_bad_request(client: httpx.Client, host: HostProcess) -> None:
    answer = client.post(host.durable_url("orchestrators/InputEcho"), content=b"{not json")
    assert answer.status_code == 400 and answer.json()["Message"] == "Invalid JSON content"


def test_the_sdk_status_model_sees_what_azure_returns(client: httpx.Client) -> None:
    started = client.post("/api/StartWithInput", json={"orchestrationName": "InputEcho", "input": {"k": 1}})
    urls = _check_status(client, started)
    _finish(client, urls)
    seen = client.get("/api/GetStatus", params={"instanceId": urls["id"]}).json()
    assert seen["found"] is True
    assert seen["input"] == '{"k": 1}'  # the serialised input, as Azure's status shows it
    assert seen["output"]["value"] == {"k": 1}
    assert seen["history"] is None  # the SDK reads "history"; the extension answers "historyEvents"
    assert [e["EventType"] for e in seen["historyEvents"]][-1] == "ExecutionCompleted"
    missing = client.get("/api/GetStatus", params={"instanceId": "nobody"}).json()
    assert missing["found"] is False  # a 404 with no body: the SDK's falsy status


def test_instance_management_through_the_sdk_client(client: httpx.Client, host: HostProcess) -> None:
    """Microsoft's SuspendResumeTests / TerminateOrchestratorTests expectations for Python."""
    waiting = _waiting(client, host)
    instance = {"instanceId": waiting["id"]}
    resume_running = client.post("/api/ResumeInstance", params=instance)
    assert resume_running.status_code == 400 and "unexpected status code 500" in resume_running.text
    assert client.post("/api/SuspendInstance", params=instance).status_code == 200
    wait_status(client, waiting["statusQueryGetUri"], {"Suspended"})
    suspend_suspended = client.post("/api/SuspendInstance", params=instance)
    assert suspend_suspended.status_code == 400 and "unexpected status code 500" in suspend_suspended.text
    assert client.post("/api/ResumeInstance", params=instance).status_code == 200
    wait_status(client, waiting["statusQueryGetUri"], {"Running"})
    purge_running = client.post("/api/PurgeOrchestrationHistory", params=instance)
    assert purge_running.status_code == 500  # the SDK raises on the extension's 412
    assert client.post("/api/TerminateInstance", params=instance).status_code == 200
    wait_status(client, waiting["statusQueryGetUri"], {"Terminated"})
    # The Python SDK swallows the 410 for a finished instance (Microsoft's e2e tests note it).
    for action in ("SuspendInstance", "ResumeInstance", "TerminateInstance"):
        assert client.post(f"/api/{action}", params=instance).status_code == 200, action
    rewind = client.post("/api/RewindInstance", params=instance)
    assert rewind.status_code == 400 and "412" in rewind.text
    purged = client.post("/api/PurgeOrchestrationHistory", params=instance)
    assert (purged.status_code, purged.text) == (200, "Purged 1 records")
    again = client.post("/api/PurgeOrchestrationHistory", params=instance)
    assert (again.status_code, again.text) == (200, "Purged 0 records")  # a 404 is 0 to the SDK
    unknown = client.post("/api/SuspendInstance", params={"instanceId": "nobody"})
    assert unknown.status_code == 400 and "No instance with ID 'nobody' found." in unknown.text


def test_the_management_payload_carries_every_url(client: httpx.Client) -> None:
    payload = client.get("/api/ManagementPayload", params={"instanceId": "abc"}).json()
    assert payload["id"] == "abc"
    for key in (
        "statusQueryGetUri",
        "sendEventPostUri",
        "terminatePostUri",
        "rewindPostUri",
        "purgeHistoryDeleteUri",
    ):
        assert "/runtime/webhooks/durabletask/instances/abc" in payload[key], key
