"""The store's leases (ADR 0023), on real SQLite files shared by several connections."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from convergio.host._events import EventType, new_event
from convergio.host._leases import acquire_instance, claim_work, inbox_news, release_dead, renew
from convergio.host._records import new_record, started_event
from convergio.host._store import Message, StepConflict, StepWrite, Store

STAMP = "2026-01-01T00:00:00.000000Z"


def _instance(store: Store, instance_id: str = "i1") -> None:
    record = new_record(instance_id, "orch", None, STAMP, parent=None, version=None)
    store.create(
        record, Message(instance_id, record.execution_id, 0.0, started_event(record, STAMP)), replace=False
    )


def _schedule(store: Store, count: int, instance_id: str = "i1", **lease: object) -> None:
    record = store.get(instance_id)
    assert record is not None
    write = StepWrite(
        instance_id, work=[(record.execution_id, n, "work", json.dumps(n)) for n in range(count)]
    )
    for name, value in lease.items():
        setattr(write, name, value)
    store.commit_step(write)


_CLAIMER = """
import json, os, sys, time
from pathlib import Path
from convergio.host._leases import claim_work
from convergio.host._store import Store
store, go = Store(Path(sys.argv[1])), Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
ids = []
while batch := claim_work(store, sys.argv[3], 1e12, 2e12, 1):
    ids += [item.id for item in batch]
    time.sleep(0.001)  # let the others in, also on a loaded machine
print(json.dumps(ids))
"""


def test_concurrent_claims_from_several_processes_never_share_a_row(tmp_path: Path) -> None:
    path, go = tmp_path / "durable.sqlite3", tmp_path / "go"
    store = Store(path)
    _instance(store)
    _schedule(store, 400)
    claimers = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, str(path), str(go), f"owner{n}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    time.sleep(1.0)  # every claimer has imported and opened the store, waiting for the go
    go.touch()
    taken = [json.loads(claimer.communicate(timeout=60)[0]) for claimer in claimers]
    ids = [i for batch in taken for i in batch]
    assert len(ids) == len(set(ids)) == 400, "a row was claimed twice or never"
    assert sum(1 for batch in taken if batch) > 1, "the claims did not run side by side"


def test_a_leased_row_is_claimable_only_once_its_lease_ran_out_and_renewal_keeps_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "durable.sqlite3")
    _instance(store)
    now = time.time()
    _schedule(store, 2, owner="a", claim=1, lease_until=now + 100)
    assert [i.task_id for i in claim_work(store, "b", now + 1, now + 1000, 10)] == [1]  # free since commit
    assert claim_work(store, "c", now + 99, now + 1000, 10) == []  # a's lease runs until now + 100
    renew(store, "a", now + 200, instances=False)
    assert claim_work(store, "c", now + 150, now + 1000, 10) == []
    assert [i.task_id for i in claim_work(store, "c", now + 201, now + 1000, 10)] == [0]


def test_a_result_of_a_row_taken_over_is_recorded_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "durable.sqlite3")
    _instance(store)
    _schedule(store, 1)
    (first,) = claim_work(store, "a", 1e12, 10.0, 1)
    (again,) = claim_work(store, "b", 1e12, 2e12, 1)  # a's lease ran out: b runs it too
    result = new_event(EventType.TASK_COMPLETED, STAMP, TaskScheduledId=0, Result="1")
    assert store.complete_many([(again, result)], 0.0) == [again]
    assert store.complete_many([(first, result)], 0.0) == []  # late: dropped, not recorded twice
    _, inbox = store.step_input("i1", 1.0)
    completed = [m for _, _, m in inbox if m["EventType"] == EventType.TASK_COMPLETED]
    assert len(completed) == 1


def test_one_owner_at_a_time_holds_an_instance(tmp_path: Path) -> None:
    store = Store(tmp_path / "durable.sqlite3")
    assert acquire_instance(store, "i1", "a", 0.0, 10.0)
    assert not acquire_instance(store, "i1", "b", 5.0, 15.0)
    assert acquire_instance(store, "i1", "a", 6.0, 16.0)  # extended by its owner
    assert not acquire_instance(store, "i1", "b", 15.0, 25.0)
    assert acquire_instance(store, "i1", "b", 17.0, 27.0)  # a's lease ran out


def test_a_step_that_read_an_older_history_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "durable.sqlite3")
    _instance(store)
    store.commit_step(
        StepWrite("i1", history=[new_event(EventType.ORCHESTRATOR_STARTED, STAMP)], expected_len=0)
    )
    stale = StepWrite("i1", history=[new_event(EventType.ORCHESTRATOR_STARTED, STAMP)], expected_len=0)
    with pytest.raises(StepConflict):
        store.commit_step(stale)
    assert len(store.history("i1")) == 1


def test_a_pending_custom_status_never_overwrites_a_newer_step(tmp_path: Path) -> None:
    store = Store(tmp_path / "durable.sqlite3")
    _instance(store)
    store.commit_step(StepWrite("i1", history=[new_event(EventType.ORCHESTRATOR_STARTED, STAMP)]))
    store.commit_step(StepWrite("i1", updates={"custom_status": '"newer"'}))
    store.set_custom_status("i1", '"older"', history_len=0)  # made before the step of another process
    assert (record := store.get("i1")) is not None and record.custom_status == '"newer"'
    store.set_custom_status("i1", '"current"', history_len=1)
    assert (record := store.get("i1")) is not None and record.custom_status == '"current"'


def test_the_watch_sees_only_other_processes_messages(tmp_path: Path) -> None:
    path = tmp_path / "durable.sqlite3"
    mine, theirs = Store(path, origin="me"), Store(path, origin="them")
    _instance(mine, "a")
    mark, found = inbox_news(mine, 0, "me")
    assert found == []
    event = new_event(EventType.EVENT_RAISED, STAMP, Name="go", Input=None)
    theirs.send(Message("a", None, 42.0, event))
    mark, found = inbox_news(mine, mark, "me")
    assert found == [("a", 42.0)]
    assert inbox_news(mine, mark, "me") == (mark, [])


def test_leases_of_a_dead_process_of_this_machine_are_freed_at_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "durable.sqlite3")
    _instance(store)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    owner = f"{socket.gethostname()}:{int(dead.stdout)}:abc"
    _schedule(store, 2, owner=owner, claim=2, lease_until=2e12)
    live = f"{socket.gethostname()}:{os.getpid()}:def"
    assert acquire_instance(store, "i1", live, 0.0, 2e12)
    assert claim_work(store, "b", 1e12, 3e12, 10) == []
    assert release_dead(store) == 1
    assert len(claim_work(store, "b", 1e12, 3e12, 10)) == 2
    assert not acquire_instance(store, "i1", "b", 1e12, 3e12)  # a live owner keeps its lease
