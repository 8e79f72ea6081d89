"""Functions named by their triggers, and orchestrators that are plain functions, as Azure runs them.

The Durable extension knows an orchestrator by its trigger's ``orchestration`` property (else the
function's name), an activity by ``activity``; an orchestrator whose invocation raises is Failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests._helpers import ROOT, HostProcess, wait_status

NAMED_APP = ROOT / "tests" / "apps" / "named_app" / "function_app.py"
# A custom-object envelope whose module does not exist: the SDK's get_input() cannot decode it.
UNDECODABLE = {"__class__": "Missing", "__module__": "no_such_module_here", "__data__": "{}"}


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    with HostProcess(NAMED_APP, tmp_path_factory.mktemp("home")) as host:
        yield host


def _run(host: HostProcess, name: str, payload: Any = None) -> dict[str, Any]:
    with host.client() as client:
        response = client.post(
            "/api/StartOrchestration",
            params={"orchestrationName": name},
            json=payload,
        )
        assert response.status_code == 202, response.text
        return wait_status(client, response.json()["statusQueryGetUri"])


def test_trigger_names_win_for_orchestrators_and_activities(named: HostProcess) -> None:
    body = _run(named, "HelloCities")
    assert body["runtimeStatus"] == "Completed", body
    assert body["name"] == "HelloCities"
    assert body["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hi London!"]


def test_the_python_names_of_renamed_functions_are_unknown(named: HostProcess) -> None:
    response = httpx.post(named.durable_url("orchestrators/hello_cities"))
    assert response.status_code in (400, 404), response.text
    assert "hello_cities" in response.text
    status = httpx.get(f"{named.base_url}/admin/host/status", params={"code": named.key("master")})
    functions = status.json()["functions"]
    assert {"HelloCities", "SayHello", "say_hello_plain", "Renamed"} <= set(functions)
    assert not {"hello_cities", "say_hello", "renamed_by_function_name"} & set(functions)


def test_the_function_name_decorator_names_an_orchestrator(named: HostProcess) -> None:
    body = _run(named, "Renamed")
    assert body["runtimeStatus"] == "Completed", body
    assert body["output"] == "Hello Paris!"


def test_a_plain_orchestrator_that_raises_fails_with_its_message(named: HostProcess) -> None:
    body = _run(named, "PlainRaises")
    assert body["runtimeStatus"] == "Failed", body
    assert "Orchestrator function 'PlainRaises' failed" in body["output"]
    assert "plain orchestrator went wrong" in body["output"]


def test_a_plain_orchestrator_whose_input_does_not_decode_fails(named: HostProcess) -> None:
    body = _run(named, "plain_input", UNDECODABLE)
    assert body["runtimeStatus"] == "Failed", body
    assert "Orchestrator function 'plain_input' failed" in body["output"]
    assert "no_such_module_here" in body["output"]


def test_a_generator_whose_input_does_not_decode_fails(named: HostProcess) -> None:
    body = _run(named, "generator_input", UNDECODABLE)
    assert body["runtimeStatus"] == "Failed", body
    assert "no_such_module_here" in body["output"]


def test_a_plain_orchestrator_returning_a_value_completes_with_it(named: HostProcess) -> None:
    assert _run(named, "plain_input", {"a": 1})["output"] == {"got": {"a": 1}}
    body = _run(named, "plain_answer")
    assert body["runtimeStatus"] == "Completed", body
    assert body["output"] == 42
