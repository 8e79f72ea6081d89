"""A terminated instance's queued activities do not run (ADR 0017).

Azure runs an activity message even for an instance that has ended and discards the result;
the embedded host drops such work before it starts, so a cancelled fan-out frees the activity
threads for other instances at once instead of after every queued item has run.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests._helpers import DOCS_APP, HostProcess, executions, start, wait_status


@pytest.fixture
def slow_host(tmp_path: Path) -> HostProcess:
    env = {"COUNT_DIR": str(tmp_path), "WORK_DELAY": "0.5", "CONVERGIO_ACTIVITY_CONCURRENCY": "4"}
    return HostProcess(DOCS_APP, tmp_path / "home", env)


def test_queued_work_of_a_terminated_instance_never_starts(slow_host: HostProcess, tmp_path: Path) -> None:
    with slow_host as host, host.client() as client:
        urls = start(client, "fan_out_fan_in", 40)
        wait_status(client, urls["statusQueryGetUri"], {"Running"})
        time.sleep(0.3)  # the first 4 items are running, 36 wait in the pool's queue
        answer = client.post(f"/api/instances/{urls['id']}/terminate", params={"reason": "stop"})
        assert answer.status_code == 202
        assert wait_status(client, urls["statusQueryGetUri"])["runtimeStatus"] == "Terminated"
        time.sleep(2.0)  # 4 threads x 0.5 s: 16 more items would have run by now
        ran = len(executions(tmp_path, "work"))
        # Then the threads are free: another instance's work starts at once.
        started = time.monotonic()
        body = wait_status(client, start(client, "fan_out_fan_in", 4)["statusQueryGetUri"])
        took = time.monotonic() - started
    assert ran <= 8, ran  # those running at the terminate, and at most one batch racing it
    assert body["runtimeStatus"] == "Completed" and took < 2.0, took
