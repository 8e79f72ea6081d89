"""Whether a store is shared (ADR 0029): a process alone on its store has its watch read nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from convergio.host._events import EventType, new_event
from convergio.host._leases import claim_work, release
from convergio.host._sharing import Presence, Sharing
from convergio.host._store import Message, Store, WorkItem
from convergio.host._workers import (
    WorkerProcesses,
    _Worker,
    decode_items,
    decode_results,
    encode_items,
    encode_results,
)
from tests.host.test_leases import STAMP, _instance, _schedule

_HOLDER = """
import sys, time
from pathlib import Path
from convergio.host._sharing import Presence
presence = Presence(Path(sys.argv[1]))
print("in", flush=True)
sys.stdin.readline()
"""


def _other_process(path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline() == "in\n"
    return holder


def _end(holder: subprocess.Popen[str]) -> None:
    holder.communicate(timeout=10)  # its stdin closes: it exits


def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_presence_tells_a_process_alone_from_one_sharing_its_store(tmp_path: Path) -> None:
    path = tmp_path / "durable.sqlite3"
    mine = Presence(path)
    assert mine.alone()
    second = Presence(path)  # another engine of this process on the same file
    assert not mine.alone() and not second.alone()
    second.close()
    assert mine.alone()
    holder = _other_process(path)
    assert not mine.alone()
    assert not mine.alone()  # a failed look keeps this process's own shared lock
    _end(holder)
    assert mine.alone()  # the lock went with its process
    mine.close()
    assert Presence(None).alone()


def test_the_watch_reads_the_store_only_while_another_process_has_it_open(tmp_path: Path) -> None:
    path = tmp_path / "durable.sqlite3"
    mine, theirs = Store(path, origin="me"), Store(path, origin="them")
    _instance(mine, "a")
    woken: list[tuple[str, float]] = []
    sharing = Sharing(mine, "me", 30.0, lambda instance, at: woken.append((instance, at)))
    sharing.start()
    try:
        time.sleep(0.3)  # several rounds of the watch, backing off to 50 ms
        assert sharing.reads == 0, "a process alone read the store for other processes' messages"
        holder = _other_process(path)
        try:
            theirs.send(
                Message("a", None, 42.0, new_event(EventType.EVENT_RAISED, STAMP, Name="go", Input=None))
            )
            _until(lambda: ("a", 42.0) in woken)  # seen within a round of the watch
            assert sharing.reads > 0
        finally:
            _end(holder)
        time.sleep(0.1)  # alone again: the reads stop
        reads = sharing.reads
        time.sleep(0.3)
        assert sharing.reads == reads
    finally:
        sharing.stop()


def test_a_worker_process_results_cross_its_pipe_unchanged() -> None:
    event = new_event(EventType.TASK_COMPLETED, STAMP, TaskScheduledId=3, Result='{"a": "x\\ny"}')
    done = [(WorkItem(7, "i1", "e1", 3, "work", '"input"'), event)]
    lines = encode_results(done).split(b"\n")
    assert lines[-1] == b"" and len(lines) == 2
    assert decode_results(lines[:-1]) == [(WorkItem(7, "i1", "e1", 3, "work", None), event)]


def test_work_and_ended_executions_cross_the_pipe_to_a_worker() -> None:
    items = [WorkItem(7, "i1", "e1", 3, "work", '"input"'), WorkItem(8, "i1", "e1", 4, "work", None)]
    lines = [*encode_items(items).split(b"\n"), json.dumps("e0").encode()]
    assert decode_items(lines) == (items, ["e0"])


def test_released_leases_of_a_gone_worker_are_claimable_at_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "durable.sqlite3")
    _instance(store)
    _schedule(store, 3, owner="h:1:gone", claim=2, lease_until=2e12)
    assert [i.task_id for i in claim_work(store, "b", 1e12, 3e12, 10)] == [2]
    release(store, ["h:1:gone"])
    assert sorted(i.task_id for i in claim_work(store, "b", 1e12, 3e12, 10)) == [0, 1]


def _assigner(outstanding: list[int], *, host_idle: bool) -> tuple[WorkerProcesses, list[WorkItem]]:
    """Worker processes with fake workers (no process) holding ``outstanding`` items each."""
    here: list[WorkItem] = []
    workers = WorkerProcesses(
        len(outstanding),
        app=Path("app.py"),
        store=Path("store"),
        concurrency=4,
        lease_s=30.0,
        run_here=here.extend,
        host_idle=lambda: host_idle,
    )
    for n, count in enumerate(outstanding):
        worker = _Worker(process=None, owner=f"w{n}")  # type: ignore[arg-type]
        worker.outstanding = {-1 - i: WorkItem(-1 - i, "x", "e", i, "work", None) for i in range(count)}
        workers._workers.append(worker)
    return workers, here


def _handed(workers: WorkerProcesses) -> list[list[int]]:
    """The task ids each fake worker was sent, in order."""
    sent = []
    for worker in workers._workers:
        frames = []
        while not worker.outbox.empty():
            frame = worker.outbox.get()
            assert frame is not None
            frames.append(frame)
        sent.append([item.task_id for item in decode_items(b"".join(frames).split(b"\n"))[0]])
    return sent


def test_the_host_keeps_a_steps_first_item_only_while_the_machine_is_nearly_idle() -> None:
    """A chain's next node runs in the host at once, what the step scheduled besides it goes to
    a worker, and the next node stays in the host while that one item is still out (ADR 0039);
    with the host's pool busy or a worker busier, all of a step's work goes to the workers."""
    items = [WorkItem(i, "i1", "e1", i, "work", '"x"') for i in range(1, 4)]
    for outstanding in (0, 1):  # nothing out, or a chain's progress write
        workers, here = _assigner([outstanding], host_idle=True)
        workers.assign(items)
        assert [i.task_id for i in here] == [1] and _handed(workers) == [[2, 3]]
    workers, here = _assigner([0], host_idle=False)  # the host's pool runs something
    workers.assign(items)
    assert here == [] and _handed(workers) == [[1, 2, 3]]
    workers, here = _assigner([0, 2], host_idle=True)  # a worker runs a fan-out's share
    workers.assign(items)
    assert here == [] and _handed(workers) == [[1, 3], [2]]  # the least loaded first
    workers, here = _assigner([], host_idle=True)  # no worker (all gone): the host runs it all
    workers.assign(items)
    assert [i.task_id for i in here] == [1, 2, 3]


def test_a_chains_step_stays_whole_in_a_nearly_idle_host() -> None:
    """A chain's node and the progress write scheduled beside it run in the host as in one
    process: the worker is not woken for a chain (ADR 0054); busier, the step goes out whole."""
    step = [WorkItem(i, "i1", "e1", i, "work", '"x"') for i in (1, 2)]
    for outstanding in (0, 1):
        workers, here = _assigner([outstanding], host_idle=True)
        workers.assign(step)
        assert [i.task_id for i in here] == [1, 2] and _handed(workers) == [[]]
    workers, here = _assigner([0], host_idle=False)
    workers.assign(step)
    assert here == [] and _handed(workers) == [[1, 2]]
    workers, here = _assigner([2, 2], host_idle=True)
    workers.assign(step)
    assert here == [] and _handed(workers) == [[1], [2]]


def test_an_ended_executions_items_stop_counting_as_a_workers_load() -> None:
    """A worker drops the queued items of an execution that ended and sends no result for them:
    they leave its load at once, else a chain's next node would never stay in the host again."""
    workers, here = _assigner([2], host_idle=True)  # two items of execution "e", queued
    other = WorkItem(5, "i2", "e2", 1, "work", '"x"')
    workers.assign([other])
    assert here == [] and _handed(workers) == [[1]]  # the worker looked busy: it got the node
    workers._workers[0].outstanding.pop(other.id)  # its result came back
    workers.finished("e")
    assert workers._workers[0].outstanding == {}
    assert workers._workers[0].outbox.get_nowait() == b'"e"\n'  # the worker is told to drop them
    workers.assign([other])
    assert here == [other] and _handed(workers) == [[]]
    workers.finished("e2")  # nothing of it out: the worker is not told
    assert workers._workers[0].outbox.empty()
