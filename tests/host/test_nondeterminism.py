"""Changing what an orchestrator schedules under a recorded history fails the instance."""

from __future__ import annotations

from pathlib import Path

from tests._helpers import DOCS_APP, HostProcess, start, wait_status


def test_code_that_schedules_a_different_activity_on_replay_is_rejected(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with HostProcess(DOCS_APP, home) as host, host.client() as client:
        urls = start(client, "shifty")
        wait_status(client, urls["statusQueryGetUri"], {"Running"})
        history = []
        while not any(e["EventType"] == "TaskCompleted" for e in history):
            history = client.get(urls["statusQueryGetUri"] + "&showHistory=true").json()["historyEvents"]

    # Same instance, new code: the first call is now to another activity.
    with HostProcess(DOCS_APP, home, {"SHIFTY_ACTIVITY": "measure"}) as host, host.client() as client:
        status_url = host.durable_url(f"instances/{urls['id']}")
        event_url = host.durable_url(f"instances/{urls['id']}/raiseEvent/continue")
        assert client.post(event_url, json={}).status_code == 202
        body = wait_status(client, status_url)

    assert body["runtimeStatus"] == "Failed"
    assert (
        "Non-deterministic orchestrator 'shifty': history says task 0 was activity "
        "'say_hello', but the code now schedules activity 'measure'"
    ) in body["output"]
