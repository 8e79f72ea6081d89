"""SIGKILL the host mid fan-out, restart it on the same home, and check exactly-once
for every activity whose completion had been recorded."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from pathlib import Path

from convergio.host._store import stored_events
from tests._helpers import DOCS_APP, HostProcess, executions, start, wait_status

FAN_OUT = 400


def _recorded_indexes(database: Path, instance_id: str) -> set[int]:
    """Inputs of the activities whose completion was committed (history or inbox)."""
    db = sqlite3.connect(database)
    try:
        events = stored_events(
            row[0]
            for row in db.execute(
                "SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,)
            )
        )
        events += [
            json.loads(row[0])
            for row in db.execute("SELECT event FROM inbox WHERE instance_id = ?", (instance_id,))
        ]
    finally:
        db.close()
    inputs = {e["EventId"]: json.loads(e["Input"]) for e in events if e["EventType"] == 4}
    return {inputs[e["TaskScheduledId"]] for e in events if e["EventType"] == 5}


def test_sigkill_mid_fan_out_then_restart_completes_without_rerunning_recorded_work(tmp_path: Path) -> None:
    counts, home = tmp_path / "counts", tmp_path / "home"
    counts.mkdir()
    env = {"COUNT_DIR": str(counts), "WORK_DELAY": "0.02", "CONVERGIO_ACTIVITY_CONCURRENCY": "8"}

    host = HostProcess(DOCS_APP, home, env).start()
    with host.client() as client:
        urls = start(client, "fan_out_fan_in", FAN_OUT)
    deadline = time.monotonic() + 60
    while len(executions(counts, "work")) < FAN_OUT // 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    host.kill()

    ran_before_kill = Counter(executions(counts, "work"))
    recorded = _recorded_indexes(home / "durable.sqlite3", urls["id"])
    assert FAN_OUT // 4 <= len(ran_before_kill) < FAN_OUT, "the kill must land mid fan-out"
    assert recorded and len(recorded) < FAN_OUT

    with HostProcess(DOCS_APP, home, env) as restarted, restarted.client() as client:
        status_url = urls["statusQueryGetUri"].replace(host.base_url, restarted.base_url)
        body = wait_status(client, status_url, timeout=120)

    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == sum(i * 2 for i in range(FAN_OUT))
    ran = Counter(executions(counts, "work"))
    assert set(ran) == set(range(FAN_OUT))
    assert all(ran[i] == 1 for i in recorded), "a recorded activity ran again"
    rerun = {i for i, n in ran.items() if n > 1}
    # Only work that was not yet recorded may run twice: what was running at the kill, and what
    # had finished but whose result the engine had not committed yet. How much of the latter
    # there is depends on how far the engine lags under load (the old bound of "the pool size"
    # failed 1 run in 4 on a busy machine), so the promise tested is the set, not a count.
    assert rerun <= set(ran_before_kill) - recorded
    assert len(rerun) < len(ran_before_kill)
