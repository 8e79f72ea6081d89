"""Several processes on one durable store (ADR 0023), as real processes on loopback.

A host with a worker process, a worker killed with SIGKILL, an activity that outlives its
lease, and two hosts sharing one task hub while events reach one instance through both.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from convergio.host._events import EventType
from convergio.host._store import stored_events
from tests._helpers import HostProcess, start, wait_status

APP = Path(__file__).parent / "apps" / "scale_app" / "function_app.py"


def _runs(count_dir: Path, activity: str) -> list[dict[str, int]]:
    path = count_dir / f"{activity}.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _query(home: Path, sql: str, *args: object) -> list[Any]:
    """The first column of each row, read from the store's file as another process would."""
    db = sqlite3.connect(home / "durable.sqlite3")
    try:
        return [row[0] for row in db.execute(sql, args)]
    finally:
        db.close()


def _history(home: Path, instance_id: str) -> list[dict[str, Any]]:
    rows = _query(home, "SELECT event FROM history WHERE instance_id = ? ORDER BY seq", instance_id)
    return stored_events(rows)


def _recorded(home: Path, instance_id: str) -> set[int]:
    """Inputs of the activities whose result is committed (history or inbox)."""
    union = "SELECT event FROM history WHERE instance_id = ? UNION ALL "
    union += "SELECT event FROM inbox WHERE instance_id = ?"
    events = stored_events(_query(home, union, instance_id, instance_id))
    scheduled = EventType.TASK_SCHEDULED
    inputs = {e["EventId"]: json.loads(e["Input"]) for e in events if e["EventType"] == scheduled}
    return {inputs[e["TaskScheduledId"]] for e in events if e["EventType"] == EventType.TASK_COMPLETED}


def _held_by(home: Path, pid: int) -> set[int]:
    """Inputs of the work rows leased to a process (its owner token is ``host:pid:nonce``)."""
    return {
        json.loads(row) for row in _query(home, "SELECT input FROM work WHERE owner LIKE ?", f"%:{pid}:%")
    }


def _assert_consistent(history: list[dict[str, Any]], results: int) -> None:
    """Steps never interleave, every task is scheduled once and completed once."""
    open_step = False
    for event in history:
        if event["EventType"] == EventType.ORCHESTRATOR_STARTED:
            assert not open_step, "two steps interleaved"
            open_step = True
        elif event["EventType"] == EventType.ORCHESTRATOR_COMPLETED:
            assert open_step
            open_step = False
    scheduled = [e["EventId"] for e in history if e["EventType"] == EventType.TASK_SCHEDULED]
    completed = [e["TaskScheduledId"] for e in history if e["EventType"] == EventType.TASK_COMPLETED]
    assert len(scheduled) == len(set(scheduled)), "a task id was scheduled twice"
    assert sorted(completed) == sorted(scheduled) and len(completed) == results


def _workers_of(pid: int) -> list[int]:
    """The worker processes among a process's descendants (from /proc)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").iterdir():
            todo += [int(child) for child in (task / "children").read_text().split()]
        if parent != pid and b"convergio.host._worker_main" in Path(f"/proc/{parent}/cmdline").read_bytes():
            found.append(parent)
    return found


def _env(counts: Path, **extra: str) -> dict[str, str]:
    return {"COUNT_DIR": str(counts), "CONVERGIO_ACTIVITY_CONCURRENCY": "4", **extra}


def test_a_host_and_its_worker_process_run_a_wide_fan_out_once_each(tmp_path: Path) -> None:
    counts, home = tmp_path / "counts", tmp_path / "home"
    counts.mkdir()
    env = _env(counts, FUNCTIONS_WORKER_PROCESS_COUNT="2", WORK_DELAY="0.01")
    with HostProcess(APP, home, env) as host, host.client() as client:
        assert any(line.startswith("Worker processes: 2") for line in host.lines)
        urls = start(client, "fan_out", {"activity": "work", "count": 240})
        body = wait_status(client, urls["statusQueryGetUri"], timeout=120)
        assert host.process is not None
        host_pid = host.process.pid
    assert body["runtimeStatus"] == "Completed", body
    assert body["output"] == sum(i * 2 for i in range(240))
    runs = _runs(counts, "work")
    assert Counter(r["i"] for r in runs) == Counter(range(240)), "an item ran twice or never"
    pids = Counter(r["pid"] for r in runs)
    # The worker process runs the fan-out: the host hands it over (ADR 0029).
    assert len(pids) <= 2 and sum(n for pid, n in pids.items() if pid != host_pid) > 120, pids
    _assert_consistent(_history(home, urls["id"]), 240)


def _until_runs(counts: Path, activity: str, enough: int) -> None:
    deadline = time.monotonic() + 60
    while len(_runs(counts, activity)) < enough:
        assert time.monotonic() < deadline, f"{activity} never ran"
        time.sleep(0.01)


def _worker_ran(counts: Path, host_pid: int, enough: int) -> list[dict[str, int]]:
    """Wait until worker processes have run ``enough`` items; their runs."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        worker_runs = [r for r in _runs(counts, "work") if r["pid"] != host_pid]
        if len(worker_runs) >= enough:
            return worker_runs
        time.sleep(0.01)
    raise AssertionError("the worker process ran nothing")


def test_work_of_a_stalled_worker_runs_again_after_a_lease_and_recorded_work_never(tmp_path: Path) -> None:
    """A worker that stops (SIGSTOP: alive, its pipe open) sends no heartbeat: after a lease
    of silence its host kills it and runs what it had not sent back (ADR 0029)."""
    counts, home = tmp_path / "counts", tmp_path / "home"
    counts.mkdir()
    env = _env(
        counts, FUNCTIONS_WORKER_PROCESS_COUNT="2", WORK_DELAY="0.05", CONVERGIO_HOST_LEASE_SECONDS="2"
    )
    with HostProcess(APP, home, env) as host, host.client() as client:
        assert host.process is not None
        host_pid = host.process.pid
        urls = start(client, "fan_out", {"activity": "work", "count": 200})
        worker = _worker_ran(counts, host_pid, 20)[0]["pid"]
        os.kill(worker, signal.SIGSTOP)
        stopped_at = time.time()
        time.sleep(0.3)  # the host commits the results the worker sent before it stopped
        recorded = _recorded(home, urls["id"])
        assert time.time() - stopped_at < 1.3  # its heartbeat runs every 0.67 s: not missed yet
        started_by_worker = {r["i"] for r in _runs(counts, "work") if r["pid"] == worker}
        body = wait_status(client, urls["statusQueryGetUri"], timeout=120)
    assert body["runtimeStatus"] == "Completed", body
    assert body["output"] == sum(i * 2 for i in range(200))
    runs = _runs(counts, "work")
    ran = Counter(r["i"] for r in runs)
    assert set(ran) == set(range(200))
    assert recorded and all(ran[i] == 1 for i in recorded), "a recorded activity ran again"
    assert {i for i, n in ran.items() if n > 1} <= started_by_worker - recorded
    # The worker had all the fan-out but its head (the host's idle threads'); what it had not
    # sent back ran in the host, once the host had heard nothing from it for a lease (2 s,
    # from its last line: 1.33 s at least).
    pending = set(range(200)) - recorded
    assert pending, "the worker stalled after the fan-out's end"
    again = [r for r in runs if r["pid"] == host_pid and r["t"] > stopped_at]
    assert {r["i"] for r in again} == pending
    assert min(r["t"] for r in again) >= stopped_at + 1.3
    _assert_consistent(_history(home, urls["id"]), 200)


def test_a_killed_worker_is_replaced_and_its_work_runs_again_at_once_not_after_its_lease(
    tmp_path: Path,
) -> None:
    """kill -9 of a worker mid fan-out: its host sees it exit, frees its leases (60 s here) at
    once and starts another; nothing recorded runs again, every result is recorded once."""
    counts, home = tmp_path / "counts", tmp_path / "home"
    counts.mkdir()
    env = _env(
        counts, FUNCTIONS_WORKER_PROCESS_COUNT="2", WORK_DELAY="0.02", CONVERGIO_HOST_LEASE_SECONDS="60"
    )
    with HostProcess(APP, home, env) as host, host.client() as client:
        assert host.process is not None
        host_pid = host.process.pid
        urls = start(client, "fan_out", {"activity": "work", "count": 400})
        worker = _worker_ran(counts, host_pid, 40)[0]["pid"]
        os.kill(worker, signal.SIGKILL)
        killed_at = time.monotonic()
        recorded = _recorded(home, urls["id"])
        started_by_worker = {r["i"] for r in _runs(counts, "work") if r["pid"] == worker}
        body = wait_status(client, urls["statusQueryGetUri"], timeout=120)
        took = time.monotonic() - killed_at
        replacements = [pid for pid in _workers_of(host_pid) if pid != worker]
    assert body["runtimeStatus"] == "Completed", body
    assert body["output"] == sum(i * 2 for i in range(400))
    assert took < 20, f"the run waited for the killed worker's leases ({took:.1f} s)"
    assert len(replacements) == 1, replacements
    ran = Counter(r["i"] for r in _runs(counts, "work"))
    assert set(ran) == set(range(400))
    assert recorded and all(ran[i] == 1 for i in recorded), "a recorded activity ran again"
    assert {i for i, n in ran.items() if n > 1} <= started_by_worker - recorded
    _assert_consistent(_history(home, urls["id"]), 400)


def test_an_activity_longer_than_its_lease_runs_once_while_its_process_lives(tmp_path: Path) -> None:
    counts, home = tmp_path / "counts", tmp_path / "home"
    counts.mkdir()
    env = _env(
        counts,
        FUNCTIONS_WORKER_PROCESS_COUNT="2",
        CONVERGIO_HOST_LEASE_SECONDS="1",
        CONVERGIO_ACTIVITY_CONCURRENCY="2",
        SLOW_DELAY="3",
    )
    with HostProcess(APP, home, env) as host, host.client() as client:
        alone = start(client, "fan_out", {"activity": "slow", "count": 1})  # a lone item: the host's
        _until_runs(counts, "slow", 1)
        urls = start(client, "fan_out", {"activity": "slow", "count": 6})  # the worker's
        bodies = [wait_status(client, u["statusQueryGetUri"], timeout=60) for u in (alone, urls)]
    assert [b["runtimeStatus"] for b in bodies] == ["Completed"] * 2, bodies
    runs = _runs(counts, "slow")
    assert Counter(r["i"] for r in runs) == Counter([0, *range(6)]), "a leased activity ran twice"
    assert len({r["pid"] for r in runs}) == 2


def test_two_hosts_on_one_store_step_an_instance_one_at_a_time(tmp_path: Path) -> None:
    counts, home = tmp_path / "counts", tmp_path / "home"
    counts.mkdir()
    events = 60
    with HostProcess(APP, home, _env(counts)) as first, HostProcess(APP, home, _env(counts)) as second:
        with first.client() as client:
            urls = start(client, "collect", events)
        clients = [httpx.Client(base_url=h.base_url, timeout=30) for h in (first, second)]

        def send(n: int) -> None:
            answer = clients[n % 2].post(f"/api/instances/{urls['id']}/events/tick{n}", json=n)
            assert answer.status_code == 202, answer.text

        threads = [threading.Thread(target=send, args=(n,)) for n in range(events)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        status = urls["statusQueryGetUri"].replace(first.base_url, second.base_url)
        body = wait_status(clients[1], status, timeout=120)
        for client in clients:
            client.close()
    assert body["runtimeStatus"] == "Completed", body
    assert sorted(int(v) for v in body["output"]) == list(range(events)), "an event lost or delivered twice"
    history = _history(home, urls["id"])
    assert sum(1 for e in history if e["EventType"] == EventType.EVENT_RAISED) == events
    _assert_consistent(history, events)
    assert Counter(r["i"] for r in _runs(counts, "work")) == Counter(range(1, events + 1))


def test_a_worker_count_out_of_range_is_refused_at_start(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "convergio", "start", "--app", str(APP), "--port", "0"]
    command += ["--home", str(tmp_path / "home")]
    flag = subprocess.run(
        [*command, "--workers", "0"], capture_output=True, text=True, timeout=60, check=False
    )
    assert flag.returncode == 2 and "workers must be >= 1" in flag.stderr
    env = {**os.environ, "FUNCTIONS_WORKER_PROCESS_COUNT": "11"}
    setting = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=env)
    assert setting.returncode == 2
    assert "FUNCTIONS_WORKER_PROCESS_COUNT must be between 1 and 10" in setting.stderr


def test_worker_processes_end_with_their_host_even_after_kill_9(tmp_path: Path) -> None:
    host = HostProcess(APP, tmp_path / "home", _env(tmp_path, FUNCTIONS_WORKER_PROCESS_COUNT="3")).start()
    assert host.process is not None
    workers = _workers_of(host.process.pid)
    assert len(workers) == 2, workers
    host.kill()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.05)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    for pid in alive:  # reaped by init once they exit; a zombie counts as ended
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        assert state == "Z", f"worker {pid} outlived its host"


def test_a_worker_drops_the_queued_work_of_a_terminated_instance(tmp_path: Path) -> None:
    """The host tells its workers which executions ended (ADR 0029), as its own pool knows (ADR 0017)."""
    counts, home = tmp_path / "counts", tmp_path / "home"
    counts.mkdir()
    env = _env(counts, FUNCTIONS_WORKER_PROCESS_COUNT="2", CONVERGIO_ACTIVITY_CONCURRENCY="2", SLOW_DELAY="1")
    with HostProcess(APP, home, env) as host, host.client() as client:
        urls = start(client, "fan_out", {"activity": "slow", "count": 12})
        _until_runs(counts, "slow", 2)  # the worker's two threads have started; ten items queued
        answer = client.post(urls["terminatePostUri"].replace("{text}", "enough"))
        assert answer.status_code == 202, answer.text
        body = wait_status(client, urls["statusQueryGetUri"], timeout=60)
        time.sleep(2.5)  # the two running end; a queued item would have started by now
    assert body["runtimeStatus"] == "Terminated", body
    assert len(_runs(counts, "slow")) <= 4, "the worker ran the queued work of a terminated instance"
