"""Errors that say what is wrong, through a host subprocess running tests/apps/versioned_app.

* an activity's failure reaches its orchestrator as the extension reports it, ``Activity
  function '<name>' failed: <Type>: <message>``, with the user's frames and none of the host's;
* durable entities and ``call_http`` are not run here yet (ADR 0021): everything that would use
  them fails with that sentence, never with a ``JSONDecodeError`` or a silent "no such entity";
* a host.json that is not JSON stops the host naming the file and the line.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._helpers import ROOT, HostProcess, wait_status

APP = ROOT / "tests" / "apps" / "versioned_app"
ENTITIES = "durable entities are not supported by the embedded host yet (ADR 0021)"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    with HostProcess(APP / "function_app.py", tmp_path_factory.mktemp("home")) as process:
        yield process


def run(host: HostProcess, name: str) -> dict[str, Any]:
    with host.client() as client:
        response = client.get("/api/StartOrchestration", params={"orchestrationName": name})
        assert response.status_code == 202, response.text
        return wait_status(client, response.json()["statusQueryGetUri"])


def logged(host: HostProcess, text: str, timeout: float = 10) -> bool:
    """Has the host printed ``text``? Its output is read on another thread: allow it a moment."""
    deadline = time.monotonic() + timeout
    while not any(text in line for line in host.lines):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# -- activity failures -------------------------------------------------------------------------
def test_a_caught_activity_failure_reads_as_the_extension_reports_it(host: HostProcess) -> None:
    body = run(host, "CatchActivityException")
    assert body["runtimeStatus"] == "Completed", body
    output = body["output"]
    # The e2e localizer's prefix for Python, then the worker's "<Type>: <message>".
    assert output.startswith(
        "Caught exception: Activity function 'raise_exception' failed: InvalidOperationException: "
        "This activity failed"
    ), output
    assert 'activity_error_handling.py", line' in output and "in raise_exception" in output
    assert "convergio" not in output and "_engine" not in output and "concurrent" not in output


def test_an_uncaught_activity_failure_fails_the_orchestrator_without_host_frames(host: HostProcess) -> None:
    body = run(host, "RethrowActivityException")
    assert body["runtimeStatus"] == "Failed", body
    prefix = "Orchestrator function 'RethrowActivityException' failed: "
    assert body["output"].startswith(f"{prefix}Activity function 'raise_exception' failed: "), body
    assert "This activity failed" in body["output"]
    assert "convergio" not in body["output"]


def test_a_chained_cause_is_kept_and_host_frames_are_not(host: HostProcess) -> None:
    output = run(host, "CatchComplexActivityException")["output"]
    assert "More information about the failure" in output
    assert "The above exception was the direct cause of the following exception" in output
    assert "convergio" not in output


def test_an_async_activity_failure_has_no_event_loop_plumbing(host: HostProcess) -> None:
    output = run(host, "CatchAsyncActivityException")["output"]
    assert "This async activity failed" in output and "in raise_exception_async" in output
    assert "convergio" not in output and "asyncio" not in output and "concurrent" not in output


# -- entities and call_http (ADR 0021) ------------------------------------------------------------
def test_call_entity_in_an_orchestrator_fails_saying_entities_are_not_supported(host: HostProcess) -> None:
    body = run(host, "ThrowEntityOrchestration")
    assert body["runtimeStatus"] == "Failed", body
    assert (
        body["output"] == f"Orchestrator function 'ThrowEntityOrchestration' failed: call_entity: {ENTITIES}"
    )


def test_signal_entity_in_an_orchestrator_fails_saying_entities_are_not_supported(host: HostProcess) -> None:
    body = run(host, "SignalEntityOrchestration")
    assert body["runtimeStatus"] == "Failed", body
    assert f"signal_entity: {ENTITIES}" in body["output"]


def test_call_http_fails_saying_it_is_not_supported(host: HostProcess) -> None:
    body = run(host, "CallHttpOrchestration")
    assert body["runtimeStatus"] == "Failed", body
    assert "call_http: durable HTTP (call_http) is not supported by the embedded host yet" in body["output"]


@pytest.mark.parametrize("route", ["SignalCounter", "ReadCounter"])
def test_the_clients_entity_calls_fail_clearly(host: HostProcess, route: str) -> None:
    with host.client() as client:
        response = client.get(f"/api/{route}")
    # Not a JSONDecodeError, and not read_entity_state's "no such entity" (a 404): the SDK's
    # error for a status it does not expect, with the reason in the host's log.
    assert response.status_code == 500, response.text
    assert response.text == "Exception: The operation failed with an unexpected status code 501"
    verb = "signal" if route == "SignalCounter" else "read"
    assert logged(host, f"Cannot {verb} entity 'Counter@myCounter': {ENTITIES}")


def test_the_entity_endpoints_of_the_http_api_answer_501_with_the_reason(host: HostProcess) -> None:
    for path in ("entities/Counter/myCounter", "entities/Counter"):
        response = httpx.get(host.durable_url(path))
        assert response.status_code == 501, response.text
        assert ENTITIES in response.json()["Message"]


def test_entity_functions_are_listed_as_not_supported(host: HostProcess) -> None:
    assert f"  Counter: entityTrigger ({ENTITIES})" in host.lines


# -- settings files that are not JSON ---------------------------------------------------------------
def _start_fails(app: Path, home: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "convergio", "start", "--app", str(app), "--port", "0", "--home", str(home)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    return done.stderr


def test_a_host_json_that_is_not_json_stops_the_host_naming_it_and_the_line(tmp_path: Path) -> None:
    for source in APP.glob("*.py"):
        shutil.copy(source, tmp_path / source.name)
    broken = '{\n  "version": "2.0",\n  "extensions": {}\n}\n{"a": 1}\n'  # a second object on line 5
    (tmp_path / "host.json").write_text(broken)
    error = _start_fails(tmp_path / "function_app.py", tmp_path / "home")
    assert error == f"error: {tmp_path / 'host.json'} is not valid JSON: Extra data (line 5, column 1)\n"
