"""The Durable HTTP API answers as the extension's ``HttpApiHandler`` does: one test per row of
issue 21, point 5. Expected codes, headers and shapes come from the extension's source
(azure-functions-durable-extension: ``HttpApiHandler.cs``, ``DurableClient.cs``) and, where the
current extension differs from that source, from Microsoft's e2e test expectations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._helpers import ROOT, HostProcess, wait_status

APP = ROOT / "tests" / "apps" / "e2e_style_app" / "function_app.py"
WHOLE_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
JSON_NET_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$")


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    with HostProcess(APP, tmp_path_factory.mktemp("home")) as process:
        yield process


def _start(host: HostProcess, name: str, body: Any = None, instance_id: str = "") -> httpx.Response:
    path = f"orchestrators/{name}" + (f"/{instance_id}" if instance_id else "")
    return httpx.post(host.durable_url(path), json=body, timeout=30)


def _started(
    host: HostProcess, name: str, body: Any = None, wanted: set[str] | None = None
) -> dict[str, Any]:
    answer = _start(host, name, body)
    assert answer.status_code == 202, answer.text
    urls = dict(answer.json())
    with httpx.Client(timeout=30) as client:
        wait_status(client, urls["statusQueryGetUri"], wanted or {"Completed", "Failed", "Terminated"})
    return urls


def _url(urls: dict[str, Any], key: str, text: str = "test") -> str:
    return str(urls[key]).replace("{text}", text).replace("{eventName}", "Approval")


def test_status_of_a_running_instance_is_202_with_location_and_retry_after(host: HostProcess) -> None:
    urls = _started(host, "LongRunningOrchestrator", wanted={"Running"})
    answer = httpx.get(urls["statusQueryGetUri"], timeout=30)
    assert answer.status_code == 202
    assert answer.headers["Location"] == urls["statusQueryGetUri"]  # the request URL
    assert answer.headers["Retry-After"] == "5"
    assert answer.json()["runtimeStatus"] == "Running"


def test_status_of_failed_and_terminated_instances_is_200(host: HostProcess) -> None:
    failed = _started(host, "FailingOrchestrator")
    running = _started(host, "LongRunningOrchestrator", wanted={"Running"})
    assert httpx.post(_url(running, "terminatePostUri"), timeout=30).status_code == 202
    with httpx.Client(timeout=30) as client:
        wait_status(client, running["statusQueryGetUri"], {"Terminated"})
    for urls, status in ((failed, "Failed"), (running, "Terminated")):
        answer = httpx.get(urls["statusQueryGetUri"], timeout=30)
        assert (answer.status_code, answer.json()["runtimeStatus"]) == (200, status)
        assert "Location" not in answer.headers and "Retry-After" not in answer.headers
    asked = httpx.get(failed["statusQueryGetUri"] + "&returnInternalServerErrorOnFailure=true", timeout=30)
    assert asked.status_code == 500 and asked.json()["runtimeStatus"] == "Failed"


def test_unknown_instance_status_is_404_with_no_body(host: HostProcess) -> None:
    answer = httpx.get(host.durable_url("instances/nobody-here"), timeout=30)
    assert answer.status_code == 404 and answer.content == b""


def test_start_is_202_with_location_retry_after_and_the_check_status_urls(host: HostProcess) -> None:
    answer = _start(host, "HelloCities")
    assert answer.status_code == 202
    body = answer.json()
    assert answer.headers["Location"] == body["statusQueryGetUri"]
    assert answer.headers["Retry-After"] == "10"
    assert set(body) == {
        "id",
        "statusQueryGetUri",
        "sendEventPostUri",
        "terminatePostUri",
        "purgeHistoryDeleteUri",
        "restartPostUri",
        "suspendPostUri",
        "resumePostUri",
    }  # CreateCheckStatusResponse has no rewindPostUri


def test_start_of_an_unknown_orchestrator_or_a_bad_id_is_400(host: HostProcess) -> None:
    unknown = _start(host, "NoSuchOrchestrator")
    assert unknown.status_code == 400
    assert "NoSuchOrchestrator" in unknown.json()["ExceptionMessage"]
    bad_id = _start(host, "HelloCities", instance_id="@entity")
    assert bad_id.status_code == 400 and "must not start with @" in bad_id.json()["ExceptionMessage"]
    too_long = _start(host, "HelloCities", instance_id="x" * 257)
    assert too_long.status_code == 400 and "256" in too_long.json()["ExceptionMessage"]


def test_status_times_are_whole_seconds_and_history_times_json_net_form(host: HostProcess) -> None:
    urls = _started(host, "HelloCities")
    body = httpx.get(urls["statusQueryGetUri"] + "&showHistory=true", timeout=30).json()
    assert WHOLE_SECONDS.match(body["createdTime"]), body["createdTime"]
    assert WHOLE_SECONDS.match(body["lastUpdatedTime"]), body["lastUpdatedTime"]
    times = [e["Timestamp"] for e in body["historyEvents"]]
    times += [e["ScheduledTime"] for e in body["historyEvents"] if "ScheduledTime" in e]
    assert times and all(JSON_NET_TIME.match(t) for t in times), times


def test_show_input_false_keeps_the_key_as_null(host: HostProcess) -> None:
    urls = _started(host, "PlainInputEcho", '{"a": 1}')  # posted as a JSON string holding JSON
    shown = httpx.get(urls["statusQueryGetUri"], timeout=30).json()
    hidden = httpx.get(urls["statusQueryGetUri"] + "&showInput=false", timeout=30).json()
    assert shown["input"] == '{"a": 1}'
    assert "input" in hidden and hidden["input"] is None
    listed = httpx.get(host.durable_url("instances") + "&showInput=false", timeout=30).json()
    assert listed and all("input" in i and i["input"] is None for i in listed)


def test_history_events_have_the_extension_shape(host: HostProcess) -> None:
    urls = _started(host, "ExternalEventOrchestrator", wanted={"Running"})
    assert httpx.post(_url(urls, "sendEventPostUri"), json={"ok": True}, timeout=30).status_code == 202
    with httpx.Client(timeout=30) as client:
        wait_status(client, urls["statusQueryGetUri"])
    query = "&showHistory=true&showHistoryOutput=true"
    events = httpx.get(urls["statusQueryGetUri"] + query, timeout=30).json()["historyEvents"]
    kinds = [e["EventType"] for e in events]
    assert kinds == ["ExecutionStarted", "EventRaised", "ExecutionCompleted"]
    started, raised, completed = events
    assert started["FunctionName"] == "ExternalEventOrchestrator" and "Input" in started
    assert not {"OrchestrationInstance", "ParentInstance", "Version", "Tags"} & set(started)
    assert raised["Name"] == "Approval" and raised["Input"] == '{"ok":true}'  # the stored text
    assert completed["OrchestrationStatus"] == "Completed"
    assert completed["Result"] == {"value": {"ok": True}, "type": "dict"}  # parsed when shown
    assert all("EventId" not in e and "IsPlayed" not in e for e in events)

    cities = _started(host, "HelloCities")
    shown = httpx.get(cities["statusQueryGetUri"] + query, timeout=30).json()["historyEvents"]
    tasks = [e for e in shown if e["EventType"] == "TaskCompleted"]
    assert [t["FunctionName"] for t in tasks] == ["SayHello"] * 3
    assert [t["Result"] for t in tasks] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert all("ScheduledTime" in t and "Input" in t and "TaskScheduledId" not in t for t in tasks)
    assert "TaskScheduled" not in [e["EventType"] for e in shown]  # folded into their completions
    plain = httpx.get(cities["statusQueryGetUri"] + "&showHistory=true&showInput=false", timeout=30)
    assert all("Result" not in e and "Input" not in e for e in plain.json()["historyEvents"])


def test_history_shows_pending_tasks_and_timer_fired_without_timer_id(host: HostProcess) -> None:
    slow = _started(host, "SlowOrchestrator", wanted={"Running"})
    with httpx.Client(timeout=30) as client:
        pending: list[dict[str, Any]] = []
        for _ in range(100):  # until the step that schedules the activity has committed
            events = client.get(slow["statusQueryGetUri"] + "&showHistory=true").json()["historyEvents"]
            pending = [e for e in events if e["EventType"] == "TaskScheduled"]
            if pending:
                break
    assert [(e["Name"], e["Input"]) for e in pending] == [("Sleep", "3")]  # scheduled, not completed
    assert "Version" not in pending[0]
    timer = _started(host, "TimerOrchestrator")
    events = httpx.get(timer["statusQueryGetUri"] + "&showHistory=true", timeout=30).json()["historyEvents"]
    created = next(e for e in events if e["EventType"] == "TimerCreated")
    fired = next(e for e in events if e["EventType"] == "TimerFired")
    assert JSON_NET_TIME.match(created["FireAt"]) and JSON_NET_TIME.match(fired["FireAt"])
    assert "TimerId" not in fired


def test_suspend_and_resume_in_the_wrong_state_are_500_and_410_once_finished(host: HostProcess) -> None:
    urls = _started(host, "LongRunningOrchestrator", wanted={"Running"})
    resume_running = httpx.post(_url(urls, "resumePostUri"), timeout=30)
    assert resume_running.status_code == 500
    assert "Cannot resume" in resume_running.json()["ExceptionMessage"]
    assert httpx.post(_url(urls, "suspendPostUri"), timeout=30).status_code == 202
    with httpx.Client(timeout=30) as client:
        wait_status(client, urls["statusQueryGetUri"], {"Suspended"})
    suspend_suspended = httpx.post(_url(urls, "suspendPostUri"), timeout=30)
    assert suspend_suspended.status_code == 500
    assert "in the Suspended state" in suspend_suspended.json()["ExceptionMessage"]
    done = _started(host, "HelloCities")
    assert httpx.post(_url(done, "suspendPostUri"), timeout=30).status_code == 410
    assert httpx.post(_url(done, "resumePostUri"), timeout=30).status_code == 410
    assert httpx.post(host.durable_url("instances/nobody/suspend"), timeout=30).status_code == 404


def test_rewind_codes(host: HostProcess) -> None:
    unknown = httpx.post(host.durable_url("instances/nobody/rewind"), timeout=30)
    assert unknown.status_code == 404
    completed = _started(host, "HelloCities")
    running = _started(host, "LongRunningOrchestrator", wanted={"Running"})
    for urls in (completed, running):
        rewind = str(urls["statusQueryGetUri"]).replace("?", "/rewind?", 1)
        assert httpx.post(rewind, timeout=30).status_code == 412
    failed = _started(host, "FailingOrchestrator")
    rewind = str(failed["statusQueryGetUri"]).replace("?", "/rewind?", 1)
    assert httpx.post(rewind, timeout=30).status_code == 202  # its failed activity runs again
    with httpx.Client(timeout=30) as client:
        again = wait_status(client, failed["statusQueryGetUri"])
    assert again["runtimeStatus"] == "Failed" and "This activity failed" in again["output"]


def test_purge_of_a_running_instance_is_412(host: HostProcess) -> None:
    urls = _started(host, "LongRunningOrchestrator", wanted={"Running"})
    assert httpx.delete(urls["purgeHistoryDeleteUri"], timeout=30).status_code == 412
    assert httpx.get(urls["statusQueryGetUri"], timeout=30).status_code == 202  # still there
    done = _started(host, "HelloCities")
    purged = httpx.delete(done["purgeHistoryDeleteUri"], timeout=30)
    assert purged.status_code == 200 and purged.json() == {"instancesDeleted": 1}
    assert httpx.delete(done["purgeHistoryDeleteUri"], timeout=30).status_code == 404


def test_purge_by_filter_needs_created_time_from_and_honours_runtime_status(
    tmp_path: Path,
) -> None:
    with HostProcess(APP, tmp_path / "home") as own:
        completed = _started(own, "HelloCities")
        failed = _started(own, "FailingOrchestrator")
        running = _started(own, "LongRunningOrchestrator", wanted={"Running"})
        instances = own.durable_url("instances")
        missing = httpx.delete(instances, timeout=30)
        assert missing.status_code == 400 and "createdTimeFrom" in missing.json()
        since = "&createdTimeFrom=2000-01-01T00:00:00Z"
        only_failed = httpx.delete(instances + since + "&runtimeStatus=Failed", timeout=30)
        assert only_failed.status_code == 200 and only_failed.json() == {"instancesDeleted": 1}
        assert httpx.get(failed["statusQueryGetUri"], timeout=30).status_code == 404
        assert httpx.get(completed["statusQueryGetUri"], timeout=30).status_code == 200
        only_running = httpx.delete(instances + since + "&runtimeStatus=Running", timeout=30)
        assert only_running.status_code == 404  # a live instance is never purged
        future = httpx.delete(instances + "&createdTimeFrom=2999-01-01T00:00:00Z", timeout=30)
        assert future.status_code == 404
        rest = httpx.delete(instances + since, timeout=30)
        assert rest.status_code == 200 and rest.json() == {"instancesDeleted": 1}
        assert httpx.get(running["statusQueryGetUri"], timeout=30).status_code == 202


def test_restart_of_a_running_instance(host: HostProcess) -> None:
    urls = _started(host, "LongRunningOrchestrator", wanted={"Running"})
    restart = _url(urls, "restartPostUri")
    fresh = httpx.post(restart, timeout=30)  # restartWithNewInstanceId defaults to true
    assert fresh.status_code == 202 and fresh.json()["id"] != urls["id"]
    assert fresh.headers["Location"] == fresh.json()["statusQueryGetUri"]
    assert fresh.headers["Retry-After"] == "10"
    same = httpx.post(restart + "&restartWithNewInstanceId=false", timeout=30)
    assert same.status_code == 409  # the host refuses to replace a live instance
    done = _started(host, "HelloCities")
    again = httpx.post(_url(done, "restartPostUri") + "&restartWithNewInstanceId=false", timeout=30)
    assert again.status_code == 202 and again.json()["id"] == done["id"]
    unknown = httpx.post(host.durable_url("instances/nobody/restart"), timeout=30)
    assert unknown.status_code == 400 and "nobody" in unknown.json()["ExceptionMessage"]


def test_raise_event_codes(host: HostProcess) -> None:
    nobody = host.durable_url("instances/nobody/raiseEvent/x")
    assert httpx.post(nobody, json=1, timeout=30).status_code == 404
    done = _started(host, "HelloCities")
    assert httpx.post(_url(done, "sendEventPostUri"), json=1, timeout=30).status_code == 410
    urls = _started(host, "LongRunningOrchestrator", wanted={"Running"})
    plain = httpx.post(_url(urls, "sendEventPostUri"), content=b'"x"', headers={"content-type": "text/plain"})
    assert plain.status_code == 400
    assert plain.json()["Message"] == "Only application/json request content is supported"
    json_type = {"content-type": "application/json; charset=utf-8"}
    empty = httpx.post(_url(urls, "sendEventPostUri"), content=b"", headers=json_type)
    assert empty.status_code == 400 and empty.json()["Message"] == "Invalid JSON content"
    bad = httpx.post(_url(urls, "sendEventPostUri"), content=b"incr", headers=json_type)
    assert bad.status_code == 400
    deep = b"[" * 65 + b"]" * 65  # Json.NET's MaxDepth is 64
    event = _url(urls, "sendEventPostUri")
    assert httpx.post(event, content=deep, headers=json_type).status_code == 400
    assert httpx.post(event, content=deep[1:-1], headers=json_type).status_code == 202
