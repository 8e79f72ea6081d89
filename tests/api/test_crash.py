"""Kill the host mid-graph, restart it, and check the run completes without re-running finished nodes."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from convergio.host._store import stored_events
from convergio.metering import SqliteLedger
from tests._helpers import HostProcess
from tests.api.conftest import APP, Api, agent, graph, new_key
from tests.providers._servers import FakeAPI, chat_completion, slow_reply

_FINISHED = re.compile(r"agent (\S+)/(\S+) attempt (\d+): (\w+) after")
CALL_LINES = {"CONVERGIO_LOG_LEVELS": "convergio.agents=DEBUG"}
"""A log line for every agent call, routine ones included (they log at DEBUG): ``finished_calls``."""


def finished_calls(lines: list[str], run_id: str) -> list[str]:
    """Node ids whose agent call finished in this host's lifetime (from its log)."""
    return [m.group(2) for line in lines if (m := _FINISHED.search(line)) and m.group(1) == run_id]


def recorded_nodes(database: Path, run_id: str) -> set[str]:
    """Node ids whose run_agent completion was committed: to the run's history, or to its inbox
    (durable, waiting for the orchestrator's next step; never run again either)."""
    db = sqlite3.connect(database)
    try:
        events = stored_events(
            r[0]
            for table in ("history", "inbox")
            for r in db.execute(f"SELECT event FROM {table} WHERE instance_id = ?", (run_id,))
        )
    finally:
        db.close()
    scheduled = {
        e["EventId"]: json.loads(e["Input"])
        for e in events
        if e["EventType"] == 4 and e["Name"] == "run_agent"
    }
    done = (e["TaskScheduledId"] for e in events if e["EventType"] == 5)
    return {scheduled[task]["node_id"] for task in done if task in scheduled}


def test_kill_mid_graph_then_restart_completes_and_no_finished_node_runs_twice(tmp_path: Path) -> None:
    wide = [agent(f"w{i:02d}", options={"latency_ms": 250}, depends_on=["plan"]) for i in range(16)]
    spec = graph(
        agent("plan", options={"latency_ms": 100}),
        *wide,
        agent("review", "all done", depends_on=[w["id"] for w in wide]),
    )
    crash_and_resume(tmp_path, spec)


def test_a_run_on_a_tenant_connection_survives_a_crash_and_is_billed_exactly_what_the_server_reported(
    tmp_path: Path, fake_llm: FakeAPI
) -> None:
    fake_llm.reset()
    fake_llm.queue(*[slow_reply(0.25, chat_completion(f"answer {i}", usage=(20, 5))) for i in range(40)])
    connection = {
        "kind": "openai-compatible",
        "endpoint": f"{fake_llm.url}/v1",
        "model": "m",
        "key": "sk-crash-1",
    }
    wide = [agent(f"w{i:02d}", provider="llm", depends_on=["plan"]) for i in range(16)]
    spec = graph(
        agent("plan", provider="llm"),
        *wide,
        agent("review", "all done", provider="llm", depends_on=[w["id"] for w in wide]),
    )
    try:
        tokens = crash_and_resume(tmp_path, spec, connection=connection)
    finally:
        sent = len(fake_llm.seen)
        fake_llm.reset()
    assert tokens == 18 * 25  # each node billed once, with the server's own counts
    assert sent >= 18  # calls in flight at the kill were sent again: at least once, billed once


def crash_and_resume(tmp_path: Path, spec: dict[str, Any], connection: dict[str, Any] | None = None) -> int:
    """Start the run, SIGKILL the host mid-graph, restart it; check nothing finished re-ran
    and the ledger bills every node once. Returns the tokens billed."""
    home = tmp_path / "home"
    key = new_key(home, "Crash School")
    env = {"CONVERGIO_ACTIVITY_CONCURRENCY": "4", **CALL_LINES}
    first = HostProcess(APP, home, env).start()
    with Api(first.base_url, key) as api:
        if connection is not None:
            answer = api.http.put("/tenants/me/connections/llm", json=connection)
            assert answer.status_code == 201, answer.text
        run_id = api.start(spec, "crash me")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = [n for n, v in api.run(run_id)["nodes"].items() if v["status"] == "completed"]
            if len(done) >= 5:
                break
            time.sleep(0.02)
    first.kill()

    recorded = recorded_nodes(home / "durable.sqlite3", run_id)
    assert 5 <= len(recorded) < 18, recorded  # the kill landed mid-graph
    assert "review" not in recorded

    with HostProcess(APP, home, env) as second, Api(second.base_url, key) as api:
        run = api.wait(run_id, timeout=60)
        after_restart = finished_calls(second.lines, run_id)

    assert run["status"] == "Completed", run
    assert all(node["status"] == "completed" for node in run["nodes"].values())
    assert not recorded & set(after_restart), recorded & set(after_restart)  # finished work never re-ran
    assert len(after_restart) == len(set(after_restart))  # nothing ran twice after the restart either
    assert set(after_restart) | recorded == set(run["nodes"])
    assert run["usage"]["total_tokens"] == sum(n["usage"]["total_tokens"] for n in run["nodes"].values())
    # The ledger bills every node exactly once, even those that ran again after the restart.
    ledger = SqliteLedger(home / "usage.sqlite3")
    records = ledger.query("crash-school", run_id=run_id)
    ledger.close()
    tokens = sum(r.quantity for r in records if r.unit in ("input_tokens", "output_tokens"))
    assert tokens == run["usage"]["total_tokens"]
    assert sorted({r.node_id for r in records}) == sorted(run["nodes"])
    assert len({(r.node_id, r.unit) for r in records}) == len(records)  # one record per node and unit
    return int(tokens)


def test_a_kill_mid_fan_out_on_the_loop_bills_each_node_once(
    tmp_path: Path,
) -> None:
    """Instant agents run together on a pool thread's event loop and write their usage in one
    ledger commit per turn (ADR 0065): a kill between a turn's ledger commit and its results'
    commit leaves calls billed whose results are lost. They run again after the restart, and
    the ledger keeps the first delivery's records: every node billed exactly once."""
    home = tmp_path / "home"
    key = new_key(home, "Loop Crash School")
    wide = [agent(f"w{i:03d}", "say {{ input }}") for i in range(600)]
    spec = graph(*wide, agent("sum", "all done", depends_on=[w["id"] for w in wide]), max_parallel=200)
    usage = home / "usage.sqlite3"
    first = HostProcess(APP, home, {"CONVERGIO_REPLAY_VERIFY": "0"}).start()
    with Api(first.base_url, key) as api:
        run_id = api.start(spec, "crash me")
        billed_at_kill = _billed_nodes(usage, run_id, at_least=60)
    first.kill()
    recorded = recorded_nodes(home / "durable.sqlite3", run_id)
    billed = _billed_nodes(usage, run_id, at_least=0)
    # Mid-run; here usually the first wave of 200 billed in one commit and 0 or 1 result recorded.
    assert billed_at_kill >= 60 and len(recorded) < 601, (billed_at_kill, len(recorded))

    with HostProcess(APP, home, {"CONVERGIO_REPLAY_VERIFY": "0"}) as second, Api(second.base_url, key) as api:
        run = api.wait(run_id, timeout=120)
    assert run["status"] == "Completed", run
    ledger = SqliteLedger(usage)
    records = ledger.query("loop-crash-school", run_id=run_id)
    ledger.close()
    assert billed <= len({r.node_id for r in records}) == 601
    assert len(records) == 2 * 601  # input and output tokens, once per node: none billed twice
    assert sum(int(r.quantity) for r in records) == run["usage"]["total_tokens"]


def _billed_nodes(usage: Path, run_id: str, *, at_least: int) -> int:
    """How many nodes of the run the ledger has billed, waiting (up to 60 s) for ``at_least``."""
    deadline = time.monotonic() + 60
    while True:
        try:
            db = sqlite3.connect(f"file:{usage}?mode=ro", uri=True)
            try:
                found = db.execute(
                    "SELECT COUNT(DISTINCT node_id) FROM usage WHERE run_id = ?", (run_id,)
                ).fetchone()[0]
            finally:
                db.close()
        except sqlite3.OperationalError:  # not created yet
            found = 0
        if found >= at_least or time.monotonic() > deadline:
            return int(found)
        time.sleep(0.002)
