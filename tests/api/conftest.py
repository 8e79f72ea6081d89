"""A real host running the real app (function_app.py), and API clients for two tenants."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from convergio.tenants import open_tenant_store
from tests._helpers import ROOT, HostProcess
from tests.providers._servers import FakeAPI, LoopbackServer

APP = ROOT / "function_app.py"
FINAL = {"Completed", "Failed", "Terminated"}


class Api:
    """One tenant's view of the API."""

    def __init__(self, base_url: str, key: str | None) -> None:
        headers = {"x-api-key": key} if key else {}
        self.http = httpx.Client(base_url=f"{base_url}/api/v1", headers=headers, timeout=30)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def start(self, graph: dict[str, Any] | None = None, run_input: Any = None, **body: Any) -> str:
        payload = (
            {"graph": graph, "input": run_input, **body}
            if graph is not None
            else {"input": run_input, **body}
        )
        answer = self.http.post("/runs", json=payload)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def run(self, run_id: str) -> dict[str, Any]:
        answer = self.http.get(f"/runs/{run_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def wait(self, run_id: str, statuses: set[str] = FINAL, timeout: float = 30) -> dict[str, Any]:
        return self._poll(run_id, lambda run: run["status"] in statuses, f"status in {statuses}", timeout)

    def wait_node(self, run_id: str, node: str, status: str, timeout: float = 30) -> dict[str, Any]:
        def reached(run: dict[str, Any]) -> bool:
            return bool(run["nodes"].get(node, {}).get("status") == status)

        return self._poll(run_id, reached, f"node {node} {status}", timeout)

    def _poll(
        self, run_id: str, done: Callable[[dict[str, Any]], bool], what: str, timeout: float
    ) -> dict[str, Any]:
        deadline, run = time.monotonic() + timeout, {}
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if done(run):
                return run
            time.sleep(0.05)
        raise AssertionError(f"run never reached {what}: {run}")


def new_key(home: Path, name: str) -> str:
    return open_tenant_store(home).add_tenant(name)[1]


def school_of(host: HostProcess, home: Path, name: str) -> dict[str, Api]:
    """A new tenant's admin (the CLI's key), a teacher and two students (ann, ben), each with a key."""
    admin = Api(host.base_url, new_key(home, name))
    people = {"admin": admin}
    for member, role in (("teacher", "teacher"), ("ann", "student"), ("ben", "student")):
        made = admin.http.post("/tenants/me/members", json={"name": member, "role": role})
        assert made.status_code == 201, made.text
        people[member] = Api(host.base_url, made.json()["key"])
    return people


@pytest.fixture(scope="package")
def api_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api-home")


@pytest.fixture(scope="package")
def api_host(api_home: Path) -> Iterator[HostProcess]:
    with HostProcess(APP, api_home) as host:
        yield host


@pytest.fixture(scope="package")
def acme(api_host: HostProcess, api_home: Path) -> Iterator[Api]:
    with Api(api_host.base_url, new_key(api_home, "Acme School")) as api:
        yield api


@pytest.fixture(scope="package")
def globex(api_host: HostProcess, api_home: Path) -> Iterator[Api]:
    with Api(api_host.base_url, new_key(api_home, "Globex Academy")) as api:
        yield api


@pytest.fixture(scope="package")
def fake_llm() -> Iterator[FakeAPI]:
    """A provider API on loopback (OpenAI, Azure, Anthropic wire formats) that records requests."""
    api = FakeAPI()
    with LoopbackServer(api.app) as server:
        api.url = server.url
        yield api


def agent(node_id: str, prompt: str = "work on {{ input }}", **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "prompt": prompt, **fields}


def graph(*agents: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": fields.pop("name", "test-graph"), "agents": list(agents), **fields}
