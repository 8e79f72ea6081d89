"""Rewind of a failed instance, with Microsoft's RewindOrchestratorTests expectations: each rewind
runs the failed activity again (1 + rewinds times in all), successful activities run once, and
only failed instances rewind (404 unknown, 412 otherwise)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._helpers import ROOT, HostProcess, wait_status

APP = ROOT / "tests" / "apps" / "e2e_style_app" / "function_app.py"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    with HostProcess(APP, tmp_path_factory.mktemp("home")) as process:
        yield process


def _start(host: HostProcess, name: str, folder: Path) -> dict[str, Any]:
    answer = httpx.post(host.durable_url(f"orchestrators/{name}"), json={"dir": str(folder)}, timeout=30)
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def _rewind(host: HostProcess, urls: dict[str, Any]) -> httpx.Response:
    return httpx.post(str(urls["statusQueryGetUri"]).replace("?", "/rewind?reason=fixed&", 1), timeout=30)


def _status(host: HostProcess, urls: dict[str, Any], wanted: set[str]) -> dict[str, Any]:
    with httpx.Client(timeout=30) as client:
        return wait_status(client, urls["statusQueryGetUri"], wanted)


def _tally(folder: Path) -> Counter[str]:
    return Counter((folder / "tally.log").read_text().split())


@pytest.mark.parametrize("failures", [1, 2])
def test_a_rewound_chain_runs_only_the_failed_activity_again(
    host: HostProcess, tmp_path: Path, failures: int
) -> None:
    urls = _start(host, "RewindChain", tmp_path)
    for _ in range(failures - 1):  # rewound while still broken: it fails again
        assert "not fixed yet" in _status(host, urls, {"Failed"})["output"]
        assert _rewind(host, urls).status_code == 202
        assert httpx.get(urls["statusQueryGetUri"], timeout=30).json()["runtimeStatus"] in (
            "Running",
            "Failed",
        )
    failed = _status(host, urls, {"Failed"})
    assert "not fixed yet" in failed["output"]
    (tmp_path / "fixed").touch()
    assert _rewind(host, urls).status_code == 202
    done = _status(host, urls, {"Completed"})
    assert done["output"] == ["first", "fixed", "last"]
    assert _tally(tmp_path) == {"first": 1, "fixed_yet": failures + 1, "last": 1}
    events = httpx.get(urls["statusQueryGetUri"] + "&showHistory=true", timeout=30).json()["historyEvents"]
    assert [e["EventType"] for e in events].count("TaskFailed") == 0
    assert [e["FunctionName"] for e in events if e["EventType"] == "TaskCompleted"] == [
        "Tally",
        "FixedYet",
        "Tally",
    ]


def test_a_rewound_fan_out_keeps_the_results_of_its_other_branches(host: HostProcess, tmp_path: Path) -> None:
    urls = _start(host, "RewindFanOut", tmp_path)
    _status(host, urls, {"Failed"})
    (tmp_path / "fixed").touch()
    assert _rewind(host, urls).status_code == 202
    assert _status(host, urls, {"Completed"})["output"] == ["left", "fixed", "right"]
    assert _tally(tmp_path) == {"left": 1, "fixed_yet": 2, "right": 1}


def test_a_failure_the_orchestrator_caught_rewinds_to_before_it(host: HostProcess, tmp_path: Path) -> None:
    urls = _start(host, "RewindCaught", tmp_path)
    _status(host, urls, {"Failed"})
    assert _tally(tmp_path) == {"fixed_yet": 1, "cleanup": 1}
    (tmp_path / "fixed").touch()
    assert _rewind(host, urls).status_code == 202
    assert _status(host, urls, {"Completed"})["output"] == "fixed"
    assert _tally(tmp_path) == {"fixed_yet": 2, "cleanup": 1}


def test_what_the_host_cannot_rewind_is_501_and_stays_failed(host: HostProcess, tmp_path: Path) -> None:
    urls = _start(host, "RewindWithRetry", tmp_path)
    _status(host, urls, {"Failed"})
    answer = _rewind(host, urls)
    assert answer.status_code == 501 and "retry policy" in answer.json()["ExceptionMessage"]
    assert httpx.get(urls["statusQueryGetUri"], timeout=30).json()["runtimeStatus"] == "Failed"


def test_the_sdk_client_rewinds(host: HostProcess, tmp_path: Path) -> None:
    urls = _start(host, "RewindChain", tmp_path)
    _status(host, urls, {"Failed"})
    (tmp_path / "fixed").touch()
    with host.client() as client:
        answer = client.post("/api/RewindInstance", params={"instanceId": urls["id"]})
        assert answer.status_code == 200, answer.text
        assert wait_status(client, urls["statusQueryGetUri"])["runtimeStatus"] == "Completed"
