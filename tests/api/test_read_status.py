"""``read_status`` leaves the input out when asked, on any backend the SDK client talks to.

The SDK sends ``showInput`` only when it is true and the extension defaults it to true, so a
plain ``get_status`` carried the run's whole request; ``read_status`` says ``showInput=false``.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from convergio.api._status_reads import read_status

BODY = {
    "name": "AgentGraph",
    "instanceId": "r1",
    "runtimeStatus": "Running",
    "input": None,
    "customStatus": {"rev": 3},
    "output": None,
    "createdTime": "2026-01-01T00:00:00Z",
    "lastUpdatedTime": "2026-01-01T00:00:01Z",
}


class Client:
    """The SDK client's parts ``read_status`` uses: its bindings' RPC URL and its GET function."""

    def __init__(self, code: int = 202) -> None:
        self.urls: list[str] = []
        self.code = code
        self._orchestration_bindings = SimpleNamespace(rpc_base_url="http://127.0.0.1:1/rpc/durabletask/")

    async def _get_async_request(self, url: str) -> list[Any]:
        self.urls.append(url)
        return [self.code, BODY if self.code != 404 else ""]

    async def get_status(self, run_id: str, **flags: bool) -> Any:
        self.urls.append(f"sdk {run_id} {sorted(flags)}")
        return SimpleNamespace(runtime_status="Running")


def test_a_read_without_input_says_so_and_reads_the_status_as_the_sdk_does() -> None:
    client = Client()
    status = asyncio.run(read_status(client, "r1", show_input=False))
    assert client.urls == ["http://127.0.0.1:1/rpc/durabletask/instances/r1?showInput=false"]
    assert status.runtime_status is not None and status.runtime_status.value == "Running"
    assert status.custom_status == {"rev": 3} and status.input_ is None


def test_a_history_read_without_input_keeps_its_other_flags() -> None:
    client = Client()
    asyncio.run(read_status(client, "r1", show_input=False, show_history=True, show_history_output=True))
    assert client.urls == [
        "http://127.0.0.1:1/rpc/durabletask/instances/r1?showHistory=True&showHistoryOutput=True&showInput=false"
    ]


def test_a_read_with_input_is_the_sdks_own() -> None:
    client = Client()
    asyncio.run(read_status(client, "r1", show_input=True, show_history=True))
    assert client.urls == ["sdk r1 ['show_history', 'show_input']"]


def test_an_unknown_run_reads_as_the_sdk_reads_it_and_an_unexpected_code_raises() -> None:
    status = asyncio.run(read_status(Client(404), "r1", show_input=False))
    assert status.runtime_status is None
    with pytest.raises(Exception, match="unexpected status code 503"):
        asyncio.run(read_status(Client(503), "r1", show_input=False))


@pytest.mark.parametrize(
    "body",
    [
        BODY,
        BODY
        | {"createdTime": "2026-01-01T00:00:00.1234567Z", "lastUpdatedTime": "2026-01-01T01:02:03+01:00"},
        BODY | {"createdTime": "2026-01-01 00:00:00", "lastUpdatedTime": None, "runtimeStatus": "Completed"},
        BODY | {"createdTime": "Jan 1 2026 10:00 UTC", "historyEvents": [{"EventType": "ExecutionStarted"}]},
        BODY | {"runtimeStatus": None, "output": {"nodes": {}}},
        "",
    ],
)
def test_a_status_is_read_as_the_sdk_reads_it(body: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the app's parse installed (ADR 0069) a status reads as the SDK's own dateutil reads it."""
    import sys

    from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus
    from dateutil.parser import parse

    import convergio.api  # noqa: F401 - installs it, as the app does
    from convergio._history_times import parse_history_time

    module = sys.modules["azure.durable_functions.models.DurableOrchestrationStatus"]
    assert module.dt_parse is parse_history_time
    ours = DurableOrchestrationStatus.from_json(body)
    monkeypatch.setattr(module, "dt_parse", parse)  # the SDK as it ships
    sdks = DurableOrchestrationStatus.from_json(body)
    assert vars(ours) == vars(sdks)
    for mine, theirs in [
        (ours.created_time, sdks.created_time),
        (ours.last_updated_time, sdks.last_updated_time),
    ]:
        assert mine == theirs and getattr(mine, "isoformat", str)() == getattr(theirs, "isoformat", str)()
