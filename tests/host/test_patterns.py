"""Docs-style orchestrations driven through the HTTP API of a running host."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests._helpers import HostProcess, executions, start, wait_status


def test_http_trigger_route_params_query_and_methods(docs_host: HostProcess) -> None:
    with docs_host.client() as client:
        assert client.get("/api/hello/Ada").text == "Hello, Ada!"
        assert client.get("/api/hello", params={"name": "Lin"}).text == "Hello, Lin!"
        assert client.post("/api/hello/Ada").status_code == 405
        assert client.get("/api/nope").status_code == 404


def test_chaining_returns_results_in_order(docs_host: HostProcess) -> None:
    with docs_host.client() as client:
        urls = start(client, "chaining")
        body = wait_status(client, urls["statusQueryGetUri"])
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


def test_fan_out_fan_in_of_500(docs_host: HostProcess, count_dir: Path) -> None:
    before = len(executions(count_dir, "work"))
    with docs_host.client() as client:
        urls = start(client, "fan_out_fan_in", 500)
        body = wait_status(client, urls["statusQueryGetUri"], timeout=120)
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == sum(i * 2 for i in range(500))
    assert len(executions(count_dir, "work")) - before == 500


def test_retry_succeeds_after_failures_and_gives_up_after_max_attempts(
    docs_host: HostProcess, count_dir: Path
) -> None:
    with docs_host.client() as client:
        urls = start(client, "retrying")
        body = wait_status(client, urls["statusQueryGetUri"])
    assert body["runtimeStatus"] == "Completed", body
    first, second = body["output"]
    assert first == "a ok after 3 attempts"
    assert second.startswith("gave up: Activity function 'flaky' failed: RuntimeError: flaky failure 3")
    attempts = executions(count_dir, "flaky")
    assert attempts.count("a") == 3 and attempts.count("b") == 3


def test_sub_orchestrations_run_and_return(docs_host: HostProcess) -> None:
    with docs_host.client() as client:
        urls = start(client, "parent")
        body = wait_status(client, urls["statusQueryGetUri"])
        named = client.get(urls["statusQueryGetUri"].replace(urls["id"], urls["id"] + "-named"))
    assert body["runtimeStatus"] == "Completed", body
    hello = ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert body["output"] == {"children": [hello, sum(i * 2 for i in range(5))], "named": hello}
    assert named.json()["runtimeStatus"] == "Completed"


def test_durable_timer_waits(docs_host: HostProcess) -> None:
    with docs_host.client() as client:
        began = time.monotonic()
        urls = start(client, "sleeper", 1.5)
        body = wait_status(client, urls["statusQueryGetUri"])
        elapsed = time.monotonic() - began
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] >= 1.5
    assert elapsed >= 1.5


def test_external_event_beats_the_timeout(docs_host: HostProcess) -> None:
    """The docs' client raises the event with the SDK, which encodes the value twice: as on Azure,
    the orchestrator gets a string holding JSON (azure-functions-durable-python issue 295)."""
    with docs_host.client() as client:
        urls = start(client, "approval", 30)
        wait_status(client, urls["statusQueryGetUri"], {"Running"})
        raised = client.post(f"/api/instances/{urls['id']}/events/Approval", json={"by": "teacher"})
        assert raised.status_code == 202
        body = wait_status(client, urls["statusQueryGetUri"], timeout=10)
    assert body["output"] == {"approved": json.dumps({"by": "teacher"})}


def test_a_hand_posted_event_body_arrives_as_the_value_posted(docs_host: HostProcess) -> None:
    """Straight to the extension's raiseEvent URL, a JSON object arrives as the object."""
    with docs_host.client() as client:
        for posted in ({"by": "teacher"}, "plain words"):
            urls = start(client, "approval", 30)
            wait_status(client, urls["statusQueryGetUri"], {"Running"})
            raised = client.post(urls["sendEventPostUri"].replace("{eventName}", "Approval"), json=posted)
            assert raised.status_code == 202
            body = wait_status(client, urls["statusQueryGetUri"], timeout=10)
            assert body["output"] == {"approved": posted}


def test_a_custom_status_over_16_kb_of_utf16_fails_the_orchestration(docs_host: HostProcess) -> None:
    """Azure's extension refuses it (SetCustomStatus) and the orchestration fails: so does the host."""
    with docs_host.client() as client:
        fits = wait_status(client, start(client, "bloated", 8_000)["statusQueryGetUri"])
        urls = start(client, "bloated", 9_000)
        refused = wait_status(client, urls["statusQueryGetUri"])
    assert fits["runtimeStatus"] == "Completed" and fits["customStatus"] == "x" * 8_000
    assert refused["runtimeStatus"] == "Failed"
    assert "must not exceed 16 KB" in refused["output"] and "17 KB" in refused["output"]
    assert refused["customStatus"] is None  # never stored


def test_timeout_beats_the_missing_event(docs_host: HostProcess) -> None:
    with docs_host.client() as client:
        urls = start(client, "approval", 1)
        body = wait_status(client, urls["statusQueryGetUri"])
    assert body["output"] == {"timed_out": True}


def test_event_raised_before_the_wait_is_buffered(docs_host: HostProcess) -> None:
    with docs_host.client() as client:
        urls = start(client, "reporter")
        client.post(urls["sendEventPostUri"].replace("{eventName}", "go"), json={"early": True})
        body = wait_status(client, urls["statusQueryGetUri"])
    assert body["runtimeStatus"] == "Completed"
    assert body["customStatus"] == {"stage": "done"}


def test_caught_activity_failure_lets_the_orchestration_continue(docs_host: HostProcess) -> None:
    with docs_host.client() as client:
        urls = start(client, "careful")
        body = wait_status(client, urls["statusQueryGetUri"])
    assert body["output"] == {"caught": True, "then": "Hello after failure!"}


def test_uncaught_activity_failure_fails_the_orchestration(docs_host: HostProcess) -> None:
    with docs_host.client() as client:
        urls = start(client, "careless")
        body = wait_status(client, urls["statusQueryGetUri"])
        status_code = client.get(urls["statusQueryGetUri"]).status_code
    assert body["runtimeStatus"] == "Failed"
    assert "Orchestrator function 'careless' failed" in body["output"]
    assert "kaboom" in body["output"]
    assert status_code == 200  # the extension answers 200 for Failed (500 only when asked)


def test_continue_as_new_restarts_with_new_input_and_fresh_history(docs_host: HostProcess) -> None:
    with docs_host.client() as client:
        urls = start(client, "counter", 0)
        body = wait_status(client, urls["statusQueryGetUri"])
        history = client.get(urls["statusQueryGetUri"] + "&showHistory=true").json()["historyEvents"]
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == 3
    assert body["input"] == "3"  # as on Azure: the SDK serialised it, the status shows that text
    started = [e for e in history if e["EventType"] == "ExecutionStarted"]
    assert len(started) == 1  # only the last execution's history is kept


def test_custom_status_is_visible_while_running(docs_host: HostProcess) -> None:
    with docs_host.client() as client:
        urls = start(client, "reporter")
        running = wait_status(client, urls["statusQueryGetUri"], {"Running"})
        deadline = time.monotonic() + 10
        while running["customStatus"] is None and time.monotonic() < deadline:
            running = client.get(urls["statusQueryGetUri"]).json()
        assert running["customStatus"] == {"stage": "waiting"}
        client.post(f"/api/instances/{urls['id']}/events/go", json=True)
        body = wait_status(client, urls["statusQueryGetUri"])
    assert body["customStatus"] == {"stage": "done"}
    assert body["output"] == "Hello reporter!"


def test_terminate_stops_a_waiting_instance(docs_host: HostProcess) -> None:
    with docs_host.client() as client:
        urls = start(client, "forever")
        wait_status(client, urls["statusQueryGetUri"], {"Running"})
        assert (
            client.post(
                f"/api/instances/{urls['id']}/terminate", params={"reason": "teacher said stop"}
            ).status_code
            == 202
        )
        body = wait_status(client, urls["statusQueryGetUri"])
        again = client.post(urls["terminatePostUri"].replace("{text}", "again"))
    assert body["runtimeStatus"] == "Terminated"
    assert body["output"] == "teacher said stop"
    assert again.status_code == 410


def test_purge_deletes_a_finished_instance(docs_host: HostProcess) -> None:
    with docs_host.client() as client:
        urls = start(client, "chaining")
        wait_status(client, urls["statusQueryGetUri"])
        assert client.delete(f"/api/instances/{urls['id']}").json() == {"deleted": 1}
        assert client.get(urls["statusQueryGetUri"]).status_code == 404
        assert client.delete(f"/api/instances/{urls['id']}").json() == {"deleted": 0}


def test_sdk_client_reads_status_with_history(docs_host: HostProcess) -> None:
    """The extension answers ``historyEvents``; the SDK's status model reads ``history``, so on
    Azure ``status.history`` is None (the events land in ``status.historyEvents``): here too."""
    with docs_host.client() as client:
        urls = start(client, "chaining")
        wait_status(client, urls["statusQueryGetUri"])
        status = client.get(f"/api/instances/{urls['id']}").json()
        events = client.get(urls["statusQueryGetUri"] + "&showHistory=true").json()["historyEvents"]
    assert status["runtimeStatus"] == "Completed"
    assert status["instanceId"] == urls["id"]
    assert status["history"] is None
    completed = [e for e in events if e["EventType"] == "TaskCompleted"]
    assert [e["FunctionName"] for e in completed] == ["say_hello"] * 3


def test_suspend_holds_events_until_resume(docs_host: HostProcess) -> None:
    with docs_host.client() as client:
        urls = start(client, "reporter")
        wait_status(client, urls["statusQueryGetUri"], {"Running"})
        assert client.post(urls["suspendPostUri"].replace("{text}", "pause")).status_code == 202
        wait_status(client, urls["statusQueryGetUri"], {"Suspended"})
        client.post(urls["sendEventPostUri"].replace("{eventName}", "go"), json=1)
        time.sleep(0.5)
        assert client.get(urls["statusQueryGetUri"]).json()["runtimeStatus"] == "Suspended"
        assert client.post(urls["resumePostUri"].replace("{text}", "go on")).status_code == 202
        body = wait_status(client, urls["statusQueryGetUri"])
    assert body["runtimeStatus"] == "Completed"


def test_the_last_step_of_a_burst_stores_the_custom_status(docs_host: HostProcess) -> None:
    """While completions keep coming the host may skip storing the status; never the last time."""
    with docs_host.client() as client:
        urls = start(client, "tally", 200)
        deadline = time.monotonic() + 30
        status = None
        while status != {"done": 200} and time.monotonic() < deadline:
            status = client.get(urls["statusQueryGetUri"]).json()["customStatus"]
            time.sleep(0.05)
        assert status == {"done": 200}  # waiting for "go" now: nothing else would store it
        client.post(f"/api/instances/{urls['id']}/events/go", json=True)
        body = wait_status(client, urls["statusQueryGetUri"])
    assert body["output"] == 200
